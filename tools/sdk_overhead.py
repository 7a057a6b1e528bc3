#!/usr/bin/env python3
"""The Python SDK's per-round overhead, sockets included: a ZeroMQ ROUTER (the server's role,
on a thread of this process) sends MODEL + TRAIN; the SDK's connection receives and decodes
them, the tensors are cut into named arrays, checked and flattened back (the app's fit is the
identity plus a constant, so nothing but the SDK is timed), the delta is encoded and the UPDATE
sent, and the ROUTER receives it. Printed per step, median of the rounds.

    .venv/bin/python tools/sdk_overhead.py [--rounds 30] [--encoding f32|f16|int8|topk]

Two tensor sets: the 199,210-parameter MLP 784-200-200-10 and an 11.2M-parameter set with
ResNet-18's tensor sizes (conv and linear weights, no BatchNorm)."""
import argparse
import statistics
import threading
import time

import numpy as np
import zmq

from aviary_client import client_work, wire
from aviary_client.compressor import DeltaCompressor
from aviary_client.deltas import DeltaFormat, Encoding
from aviary_client.messages import Model, Train, Update
from aviary_client.residual_history import ResidualHistory
from aviary_client.residual_store import MemoryResidualStore
from aviary_client.run_spec import TensorSpec
from aviary_client.transport import Connection

MLP = [("fc1.weight", (200, 784)), ("fc1.bias", (200,)), ("fc2.weight", (200, 200)), ("fc2.bias", (200,)),
       ("fc3.weight", (10, 200)), ("fc3.bias", (10,))]


def resnet18():
    shapes = [("conv1.weight", (64, 3, 7, 7))]
    inplanes = 64
    for stage, planes in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            cin = inplanes if block == 0 else planes
            shapes.append((f"layer{stage}.{block}.conv1.weight", (planes, cin, 3, 3)))
            shapes.append((f"layer{stage}.{block}.conv2.weight", (planes, planes, 3, 3)))
            if block == 0 and cin != planes:
                shapes.append((f"layer{stage}.{block}.downsample.weight", (planes, cin, 1, 1)))
        inplanes = planes
    return shapes + [("fc.weight", (1000, 512)), ("fc.bias", (1000,))]


class Identity:
    """fit adds a constant in place; its own time is recorded and left out of the SDK's."""

    def __init__(self):
        self.seconds = 0.0

    def fit(self, parameters, config):
        t = time.perf_counter()
        for v in parameters.values():
            v += np.float32(1e-3)
        self.seconds = time.perf_counter() - t
        return parameters, 1, {"train_loss": 0.0}


def measure(table, encoding, rounds):
    n = sum(t.count for t in table)
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    conn = Connection(f"tcp://127.0.0.1:{port}")
    conn.socket.send(b"hi")  # let the ROUTER learn the peer's identity
    identity, _ = router.recv_multipart()
    model = Model(1, np.random.default_rng(0).normal(size=n).astype(np.float32))
    model_frame = wire.encode(model)
    fmt = DeltaFormat(encoding, [t.count for t in table])
    compressor = DeltaCompressor(fmt, ResidualHistory(), MemoryResidualStore())
    received = []
    train_frame = wire.encode(Train(1, [0], {}))
    go = threading.Semaphore(0)

    def server():
        for _ in range(rounds):
            go.acquire()
            router.send_multipart([identity, model_frame], copy=False)
            router.send_multipart([identity, train_frame])
            received.append(router.recv_multipart(copy=False)[1])

    thread = threading.Thread(target=server)
    steps = {"receive+decode MODEL+TRAIN": [], "tensors (copy, unflatten, check, delta)": [],
             "encode delta": [], "encode+send UPDATE": [], "SDK total": []}
    client = Identity()
    thread.start()
    for r in range(rounds):
        while received.__len__() < r:
            time.sleep(0.001)  # the server has the previous UPDATE: the round is over
        t0 = time.perf_counter()
        go.release()
        m = None
        while m is None:
            m = conn.receive(1000)
        train = None
        while train is None:
            train = conn.receive(1000)
        t1 = time.perf_counter()
        delta, samples, metrics = client_work.fit(client, m.parameters, table, m.round, train.config)
        t2 = time.perf_counter()
        payload, extra = compressor.encode(r + 1, 0, delta)
        t3 = time.perf_counter()
        conn.send(Update(m.round, 0, 1, samples, metrics, payload))
        t4 = time.perf_counter()
        fit = client.seconds
        for key, value in zip(steps, [t1 - t0, t2 - t1 - fit, t3 - t2, t4 - t3, t4 - t0 - fit]):
            value *= 1000
            steps[key].append(value)
    thread.join()
    conn.close()
    router.close(0)
    ctx.term()
    return n, len(received[-1]), {k: statistics.median(v) for k, v in steps.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--encoding", default="f32", choices=["f32", "f16", "int8", "topk"])
    p.add_argument("--fraction", type=float, default=0.01)
    args = p.parse_args()
    encoding = Encoding(args.encoding, args.fraction if args.encoding == "topk" else None)
    for name, shapes in [("MLP 784-200-200-10", MLP), ("ResNet-18 tensor set", resnet18())]:
        table = [TensorSpec(n, s) for n, s in shapes]
        n, update_bytes, medians = measure(table, encoding, args.rounds)
        print(f"{name}: {n:,} parameters, {encoding} UPDATE of {update_bytes:,} bytes, median of {args.rounds} rounds")
        for key, ms in medians.items():
            print(f"  {key:<50} {ms:8.2f} ms")


if __name__ == "__main__":
    main()
