"""A torch client app for the SDK's integration tests: a 20-16-3 MLP (fc1, fc2 as the built-in
`mlp` names them) trained by the torch adapter on data each client draws from its own seed, so
that what a client computes depends only on the model, the client and the round."""
import torch

from aviary_client.torch import ClientData, TorchApp


def make_model():
    return _MLP()


class _MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(20, 16)
        self.fc2 = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, 20), generator=g)
    y = (x[:, :3] * torch.arange(1, 4)).argmax(dim=1)
    return x, y


def load_data(client_index, context):
    return ClientData(train=synthetic(64, 1000 + client_index), val=synthetic(20, 2000 + max(client_index, 0)))


app = TorchApp(make_model, load_data, value_range=(0.0, 1.0))
