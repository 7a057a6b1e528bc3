#!/usr/bin/env python3
"""A plaintext peer that never reads, for HostilePeerTests: it floods the server and leaves.

Two floods, each on one DEALER that never calls recv (so everything the server answers stays
queued towards it):
  heartbeats  --count N            N HEARTBEATs (12 bytes each) from an unregistered connection;
                                   the server answers each with RESET.
  hellos      --count N --claims C N HELLOs, each with C pinned claims outside the topology
                                   (indices from --first upwards, every other one, so no two are
                                   adjacent); the server answers each with a WELCOME.
After sending it prints "sent N messages" and holds the connection open for --hold seconds
(still never reading), then closes it without waiting for anything queued (linger 0) and prints
"closed". It speaks the frame format of docs/PROTOCOL.md, section 2, at --version. Needs
python3-zmq (Debian) and the standard library only.
"""
import argparse
import signal
import struct
import sys
import time
import zlib

import zmq

HELLO, HEARTBEAT = 1, 7


def frame(version, kind, body=b""):
    head = b"AVRY" + struct.pack("<HBB", version, kind, 0) + body
    return head + struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF)


def hello(version, name, indices):
    raw = name.encode()
    # Protocol 5: name, role (0 trainer), claims.
    body = struct.pack("<q", len(raw)) + raw + b"\x00" + struct.pack("<q", len(indices))
    body += b"".join(b"\x01" + struct.pack("<qQ", i, 0) for i in indices)
    return frame(version, HELLO, body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("flood", choices=["heartbeats", "hellos"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--claims", type=int, default=0)
    p.add_argument("--first", type=int, default=1_000_000)
    p.add_argument("--hold", type=float, default=0)
    a = p.parse_args()
    # A parent may hand down a mask blocking these (Foundation's Process keeps the test runner's);
    # the tests stop the peer with SIGTERM, which must end it at once, even mid-hold.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 0)   # queue everything we send: the flood must reach the server
    s.setsockopt(zmq.RCVHWM, 1)   # and keep as little of its answers as libzmq allows
    s.setsockopt(zmq.LINGER, 0)
    s.connect(a.endpoint)
    if a.flood == "heartbeats":
        message = frame(a.version, HEARTBEAT)
    else:
        message = hello(a.version, "hostile", [a.first + 2 * i for i in range(a.claims)])
    for _ in range(a.count):
        s.send(message)
    print(f"sent {a.count} messages", flush=True)
    time.sleep(a.hold)
    s.close(linger=0)
    ctx.term()
    print("closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
