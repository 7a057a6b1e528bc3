"""Aviary's Python client SDK: protocol 5 (docs/PROTOCOL.md), the delta encodings with
error-feedback residuals, liveness and reconnects, CURVE, and a Flower-sized API:

    class MyClient(aviary_client.Client):
        def fit(self, parameters, config): ...       # -> (parameters, num_samples, metrics)
        def evaluate(self, parameters, config): ...  # -> (loss, num_samples, metrics)

    def make_client(client_index, context): return MyClient(...)

    python -m aviary_client --app mymodule:make_client --connect tcp://HOST:5555 --shard 0/2 --of 10
"""
from .app import Client, Context
from .messages import PROTOCOL_VERSION
from .partition import load_partition
from .run_spec import RunSpec, TensorSpec

__all__ = ["Client", "Context", "PROTOCOL_VERSION", "RunSpec", "TensorSpec", "load_partition"]
