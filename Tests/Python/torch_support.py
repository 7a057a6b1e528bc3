"""Shared by the torch tests: Fashion-MNIST read as the engine reads it, the engine's MLP in
torch, and a stand-in for the SDK's Context."""
import gzip
import pathlib
from types import SimpleNamespace

import numpy as np

FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist(split="train"):
    """(x float32 (n, 784) scaled by Float(1/255) as IDXLoader does, y int64)."""
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(FASHION / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    with gzip.open(FASHION / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    x = images.reshape(-1, 784).astype(np.float32) * np.float32(1.0 / 255.0)
    return x, labels.astype(np.int64)


def mlp(hidden=(200, 200), inputs=784, classes=10):
    """The engine's MLP with its tensor names (fc1.weight, fc1.bias, …, PyTorch's (out, in) layout)."""
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            widths = [inputs, *hidden, classes]
            self.names = [f"fc{i + 1}" for i in range(len(widths) - 1)]
            for name, a, b in zip(self.names, widths, widths[1:]):
                setattr(self, name, torch.nn.Linear(a, b))

        def forward(self, x):
            x = x.flatten(1)
            for name in self.names[:-1]:
                x = torch.relu(getattr(self, name)(x))
            return getattr(self, self.names[-1])(x)

    return MLP()


def context(raw, client_index=0):
    return SimpleNamespace(client_index=client_index, run_spec=SimpleNamespace(raw=raw), role="trainer")


def run_spec(mode="none", attack=None, epochs=1, batch=32, lr=0.05, seed=7, **training):
    attack = attack or {"kind": "pgd", "norm": "linf", "epsilon": 0.1, "stepSize": 0.02, "steps": 3, "randomStart": True}
    optimizer = {"learningRate": lr, "momentum": training.pop("momentum", 0.0),
                 "weightDecay": training.pop("weightDecay", 0.0), "proximalMu": training.pop("proximalMu", 0.0)}
    return {"name": "t", "trainingSeed": seed, "blasThreads": 1,
            "training": {"localEpochs": epochs, "batchSize": batch, "optimizer": optimizer, **training},
            "adversarial": {"mode": mode, "attack": attack, "mixLambda": 0.5, "tradesBeta": 6.0},
            "clientOverrides": []}
