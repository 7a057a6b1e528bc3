#!/usr/bin/env python3
"""A TCP relay that delays traffic, for MultiHostTests: link delay and jitter without sch_netem.

Every connection accepted on --listen gets its own connection to --target. Each chunk read from
either side is held for a delay drawn uniformly from [delay - jitter, delay + jitter] ms and then
written to the other side. Each direction is a FIFO: a chunk is released at
max(arrival + sampled delay, release time of the chunk before it), so order is kept and every
chunk is held between delay - jitter and delay + jitter. The jitter draws come from one RNG
seeded with --seed (the sequence is repeatable; which chunk gets which draw depends on arrival
order).

Accounting goes to --stats as JSON (rewritten every half second while traffic flows and on
SIGTERM/SIGINT): connections relayed (accepted and joined to the target), chunks and bytes
relayed, the mean/min/max scheduled delay, and the mean measured hold (from reading a chunk to
writing it, which includes scheduling lag). The file exists as soon as the relay listens. Each
connection's opening and end are printed. Standard library only.
"""
import argparse
import asyncio
import json
import os
import random
import signal


class Stats:
    def __init__(self):
        self.connections = 0
        self.chunks = 0
        self.bytes = 0
        self.scheduled_ms_sum = 0.0
        self.scheduled_ms_min = None
        self.scheduled_ms_max = None
        self.held_ms_sum = 0.0
        self.dirty = True

    def record(self, size, scheduled_ms, held_ms):
        self.chunks += 1
        self.bytes += size
        self.scheduled_ms_sum += scheduled_ms
        self.held_ms_sum += held_ms
        self.scheduled_ms_min = scheduled_ms if self.scheduled_ms_min is None else min(self.scheduled_ms_min, scheduled_ms)
        self.scheduled_ms_max = scheduled_ms if self.scheduled_ms_max is None else max(self.scheduled_ms_max, scheduled_ms)
        self.dirty = True

    def write(self, path):
        n = self.chunks
        doc = {
            "connections": self.connections,
            "chunks": n,
            "bytes": self.bytes,
            "mean_delay_ms": self.scheduled_ms_sum / n if n else 0.0,
            "min_delay_ms": self.scheduled_ms_min or 0.0,
            "max_delay_ms": self.scheduled_ms_max or 0.0,
            "mean_held_ms": self.held_ms_sum / n if n else 0.0,
        }
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
            f.write("\n")
        os.replace(tmp, path)  # readers never see a half-written file
        self.dirty = False


class Relay:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.accepted = 0

    def sample_ms(self):
        a = self.args
        return self.rng.uniform(a.delay_ms - a.jitter_ms, a.delay_ms + a.jitter_ms)

    async def pump(self, reader, writer):
        """One direction: a reader task fills the FIFO, this coroutine drains it on schedule."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def fill():
            last_release = 0.0
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    arrival = loop.time()
                    release = max(arrival + self.sample_ms() / 1000, last_release)
                    last_release = release
                    queue.put_nowait((arrival, release, data))
            except (ConnectionError, OSError):
                pass
            queue.put_nowait(None)  # end of this direction: forward the EOF after the data

        filler = asyncio.create_task(fill())
        forwarded = 0
        try:
            while True:
                item = await queue.get()
                if item is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                arrival, release, data = item
                wait = release - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                now = loop.time()
                writer.write(data)
                await writer.drain()
                self.stats.record(len(data), (release - arrival) * 1000, (now - arrival) * 1000)
                forwarded += len(data)
        finally:
            filler.cancel()
        return forwarded

    async def handle(self, client_reader, client_writer):
        self.accepted += 1
        n = self.accepted
        peer = client_writer.get_extra_info("peername")
        print(f"connection {n} from {peer[0]}:{peer[1]}", flush=True)
        try:
            server_reader, server_writer = await asyncio.open_connection(self.args.target_host, self.args.target_port)
        except OSError as e:
            print(f"connection {n}: target unreachable: {e}", flush=True)
            client_writer.close()
            return
        # Counted once both ends are up: a client retrying while the target is gone is not traffic.
        self.stats.connections += 1
        self.stats.dirty = True
        outcome = "closed"
        try:
            # If either direction fails (a reset), both connections go: like a broken link.
            up, down = await asyncio.gather(self.pump(client_reader, server_writer), self.pump(server_reader, client_writer))
            outcome = f"closed: {up} bytes to the target, {down} back"
        except (ConnectionError, OSError) as e:
            outcome = f"broken: {e!r}"
        finally:
            print(f"connection {n} {outcome}", flush=True)
            for w in (client_writer, server_writer):
                w.close()

    async def main(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        # A parent may hand down a mask blocking these; the test stops the relay with SIGTERM.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        server = await asyncio.start_server(self.handle, self.args.listen_host, self.args.listen_port, reuse_address=True)
        self.stats.write(self.args.stats)
        print(f"delay relay: {self.args.listen_host}:{self.args.listen_port} -> "
              f"{self.args.target_host}:{self.args.target_port}, "
              f"{self.args.delay_ms} ms ± {self.args.jitter_ms} ms, seed {self.args.seed}", flush=True)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
            if self.stats.dirty:
                self.stats.write(self.args.stats)
        server.close()
        self.stats.write(self.args.stats)
        s = self.stats
        print(f"delay relay: {s.chunks} chunks, {s.bytes} bytes over {s.connections} connections, "
              f"mean delay {s.scheduled_ms_sum / max(s.chunks, 1):.2f} ms", flush=True)


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=address, required=True, help="HOST:PORT to accept on")
    p.add_argument("--target", type=address, required=True, help="HOST:PORT to forward to")
    p.add_argument("--delay-ms", type=float, default=20.0)
    p.add_argument("--jitter-ms", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stats", required=True, help="JSON accounting file")
    args = p.parse_args()
    if args.jitter_ms < 0 or args.jitter_ms > args.delay_ms:
        p.error("need 0 <= jitter-ms <= delay-ms")
    args.listen_host, args.listen_port = args.listen
    args.target_host, args.target_port = args.target
    asyncio.run(Relay(args).main())


if __name__ == "__main__":
    main()
