"""Test doubles for the Python SDK's host: an in-memory connection the test scripts as the
server, and small NumPy apps."""
import json
import queue

import numpy as np

from aviary_client.messages import Welcome


def run_spec(tensors, compression=None, **extra):
    spec = {"name": "t", "data": {"clients": 8}, "trainingSeed": 13, "runID": "run-1", "resumes": [],
            "tensors": [{"name": n, "shape": list(s), "dtype": "F32"} for n, s in tensors]}
    if compression is not None:
        spec["compression"] = compression
    spec.update(extra)
    return json.dumps(spec).encode()


class FakeConnection:
    """The server side of an in-memory connection: `inbox` feeds the host, `sent` records."""

    def __init__(self):
        self.inbox = queue.Queue()
        self.sent = queue.Queue()
        self.closed = False

    def __call__(self, endpoint, curve):  # the host's connect function
        return self

    def send(self, message):
        self.sent.put(message)
        return 0

    def receive(self, timeout_ms):
        try:
            return self.inbox.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            return None

    def close(self, linger_ms=0):
        self.closed = True

    def expect(self, kind, timeout=10.0):
        """The next sent message of type `kind` (others skipped)."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                m = self.sent.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(m, kind):
                return m
        raise AssertionError(f"no {kind.__name__} sent within {timeout} s")


def welcome(accepted, spec):
    return Welcome(accepted, [], 2.0, 3, spec)


class AddOne:
    """fit adds 1 to every parameter (so the delta is all ones); evaluate reports the mean."""

    def __init__(self, index):
        self.index = index

    def fit(self, parameters, config):
        return {k: v + 1 for k, v in parameters.items()}, 10 + self.index, {"train_loss": 0.5}

    def evaluate(self, parameters, config):
        mean = float(np.mean(np.concatenate([v.ravel() for v in parameters.values()])))
        return mean, 5, {"accuracy": 0.25}
