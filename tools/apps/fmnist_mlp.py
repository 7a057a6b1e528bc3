"""The peer benchmark's federation as an Aviary app (tools/bench_python.py --server): the engine's
MLP 784-200-200-10 in torch (tensor names fc1.weight … fc3.bias, as the built-in `mlp` model) on
IID shards of Fashion-MNIST's 60,000 training images, one per client, from one seeded permutation;
or, with AVIARY_SPLIT=split.npz (`aviary partition TOPOLOGY --export split.npz`), the clients'
shares of the Swift clients' own split (tools/mixed_federation.py).

    python -m aviary_client init-model fmnist_mlp:make_model -o init.safetensors
    python -m aviary_client --app fmnist_mlp:app --connect tcp://127.0.0.1:5555 --shard 0/2 --of 10
"""
import gzip
import os
import pathlib

import numpy as np
import torch

from aviary_client import load_partition
from aviary_client.torch import ClientData, TorchApp

DATA = pathlib.Path(os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
SPLIT_SEED = 0


class MLP(torch.nn.Module):
    def __init__(self, widths=(784, 200, 200, 10)):
        super().__init__()
        self.names = [f"fc{i + 1}" for i in range(len(widths) - 1)]
        for name, a, b in zip(self.names, widths, widths[1:]):
            setattr(self, name, torch.nn.Linear(a, b))

    def forward(self, x):
        x = x.flatten(1)
        for name in self.names[:-1]:
            x = torch.relu(getattr(self, name)(x))
        return getattr(self, self.names[-1])(x)


def make_model():
    return MLP()


def read_idx(split):
    """(x float32 (n, 784) scaled by Float(1/255) as the engine's IDX loader does, y int64)."""
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(DATA / f"{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(DATA / f"{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return x.astype(np.float32) * np.float32(1 / 255), y.astype(np.int64)


_cache = {}


def load_data(client_index, context):
    if not _cache:
        _cache["train"], _cache["test"] = read_idx("train"), read_idx("test")
    if client_index < 0:  # the evaluator: the test set
        x, y = _cache["test"]
        return ClientData(val=(torch.from_numpy(x), torch.from_numpy(y)))
    x, y = _cache["train"]
    split = os.environ.get("AVIARY_SPLIT")
    if split:
        rows, _ = load_partition(split, client_index)
    else:
        clients = int(context.run_spec.raw.get("data", {}).get("clients", 10))
        rows = np.sort(np.array_split(np.random.default_rng(SPLIT_SEED).permutation(len(y)), clients)[client_index])
    return ClientData(train=(torch.from_numpy(x[rows]), torch.from_numpy(y[rows])))


app = TorchApp(make_model, load_data, value_range=(0.0, 1.0))
