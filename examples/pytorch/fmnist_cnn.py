"""The example's app: a small CNN with GroupNorm on Fashion-MNIST, trained by the torch adapter
with the run spec's PGD settings. Each client's samples are its share of the Dirichlet(α = 0.3)
label split that Aviary itself makes of the training set, read from `split.npz` (written by
`aviary partition topology.toml --export split.npz`; AVIARY_PARTITION names another file): the
training and held-out indices a Swift client of this topology would use, and the sizes the
server weighs clients by. Without the file, the app falls back to its own NumPy Dirichlet draw.

    aviary partition topology.toml --export split.npz
    python -m aviary_client init-model fmnist_cnn:make_model -o init.safetensors
    python -m aviary_client --app fmnist_cnn:app --connect tcp://127.0.0.1:5555 --shard 0/2 --of 20
"""
import gzip
import os
import pathlib

import numpy as np
import torch

import aviary_client
from aviary_client.partition import partition_clients
from aviary_client.torch import ClientData, TorchApp

DATA = pathlib.Path(os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
ALPHA = 0.3
PARTITION_SEED = 1
PARTITION = pathlib.Path(os.environ.get("AVIARY_PARTITION", pathlib.Path(__file__).with_name("split.npz")))


def make_model():
    """Conv(1→16)-GN-ReLU-pool, Conv(16→32)-GN-ReLU-pool, Linear(1568→10): 21k parameters."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.GroupNorm(4, 16), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.GroupNorm(4, 32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 10))


def read_idx(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(DATA / f"{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(DATA / f"{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return x.astype(np.float32) * np.float32(1 / 255), y.astype(np.int64)


def dirichlet_split(labels, clients, alpha, seed):
    """Per class, shares drawn from Dirichlet(α) over the clients (each class split by its shares)."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(clients)]
    for c in range(int(labels.max()) + 1):
        rows = rng.permutation(np.flatnonzero(labels == c))
        cuts = (np.cumsum(rng.dirichlet([alpha] * clients)) * len(rows)).astype(int)[:-1]
        for k, share in enumerate(np.split(rows, cuts)):
            parts[k].extend(share.tolist())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


_cache = {}


def load_data(client_index, context):
    if "train" not in _cache:
        _cache["train"], _cache["test"] = read_idx("train"), read_idx("test")
    if client_index < 0:  # the evaluator: the test set
        x, y = _cache["test"]
        return ClientData(val=(torch.from_numpy(x), torch.from_numpy(y)))
    clients = int(context.run_spec.raw.get("data", {}).get("clients", 20))
    x, y = _cache["train"]
    if PARTITION.exists():
        # Aviary's own split (`aviary partition --export`), for the run's number of clients.
        if partition_clients(str(PARTITION)) != clients:
            raise ValueError(f"{PARTITION} holds {partition_clients(str(PARTITION))} clients, the run has {clients}: "
                             f"export it again with `aviary partition TOPOLOGY --export {PARTITION}`")
        train, val = aviary_client.load_partition(str(PARTITION), client_index)
    else:
        rows = dirichlet_split(y, clients, ALPHA, PARTITION_SEED)[client_index]
        rows = np.random.default_rng(client_index).permutation(rows)
        held = max(1, len(rows) // 10) if len(rows) > 1 else 0
        train, val = rows[held:], rows[:held]
    as_tensors = lambda r: (torch.from_numpy(x[r]), torch.from_numpy(y[r]))  # noqa: E731
    return ClientData(train=as_tensors(train), val=as_tensors(val) if len(val) else None)


app = TorchApp(make_model, load_data, value_range=(0.0, 1.0))
