"""The torch adapter's local training: the engine's attack geometry, its metrics per mode, its
seeds (the same client and round repeat bit for bit), FedProx/momentum and integer buffers."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch adapter needs PyTorch (Debian's python3-torch)")

from torch_support import context, mlp, run_spec  # noqa: E402
from aviary_client.torch import ClientData, TorchApp, export_parameters  # noqa: E402
from aviary_client.torch_ball import Ball  # noqa: E402
from aviary_client.torch_attacks import perturb  # noqa: E402
from aviary_client.training_settings import Attack  # noqa: E402


def synthetic(n=96, d=20, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, d), generator=g)
    x[x < 0.1], x[x > 0.9] = 0.0, 1.0
    y = (x[:, :classes] * torch.arange(1, classes + 1)).argmax(dim=1)
    return x, y


def app_client(raw, client=0, model=None, n=96):
    x, y = synthetic(n)
    data = ClientData(train=(x, y), val=synthetic(40, seed=1))
    app = TorchApp(lambda: model or mlp(hidden=(16,), inputs=20, classes=3), lambda i, c: data, value_range=(0.0, 1.0))
    return app(client, context(raw, client))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_every_iterate_stays_in_the_ball_and_the_box(norm):
    x, y = synthetic()
    model = mlp(hidden=(16,), inputs=20, classes=3)
    attack = Attack(kind="pgd", norm=norm, epsilon=0.3, step_size=0.2, steps=5, random_start=True)
    adv = perturb(model, x, y, attack, (0.0, 1.0), torch.Generator().manual_seed(1))
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    delta = (adv - x).flatten(1)
    size = delta.abs().max(dim=1).values if norm == "linf" else delta.norm(dim=1)
    assert float(size.max()) <= 0.3 + 1e-6
    assert float(size.max()) > 0.1  # it moved


def test_linf_step_is_alpha_times_sign_and_zero_gradient_does_not_move():
    ball = Ball("linf", 0.5, (0.0, 1.0))
    x = torch.tensor([[0.5, 0.5, 0.5, 0.0]])
    step = ball.step(x.clone(), torch.tensor([[2.0, -3.0, 0.0, -1.0]]), x, 0.1)
    assert torch.equal(step, torch.tensor([[0.6, 0.4, 0.5, 0.0]]))
    l2 = Ball("l2", 1.0)
    assert torch.equal(l2.step(x.clone(), torch.zeros_like(x), x, 0.5), x)


def test_loss_increases_under_pgd():
    x, y = synthetic()
    model = mlp(hidden=(16,), inputs=20, classes=3)
    adv = perturb(model, x, y, Attack(epsilon=0.2, step_size=0.05, steps=10, random_start=False), (0.0, 1.0))
    with torch.no_grad():
        assert torch.nn.functional.cross_entropy(model(adv), y) > torch.nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("mode, keys, absent", [
    ("none", {"train_loss", "train_accuracy"}, {"adv_loss", "trades_kl"}),
    ("pgd", {"train_loss", "adv_loss", "adv_accuracy"}, {"trades_kl"}),
    ("mix", {"train_loss", "adv_loss"}, {"trades_kl"}),
    ("trades", {"train_loss", "adv_loss", "trades_kl"}, set()),
])
def test_metrics_per_mode(mode, keys, absent):
    client = app_client(run_spec(mode=mode, epochs=2))
    params = export_parameters(client.model)
    trained, samples, metrics = client.fit(params, {"round": 1.0})
    assert samples == 2 * 96 and metrics["samples"] == 192 and metrics["local_steps"] == 2 * 3
    assert metrics["dataset_size"] == 96
    assert keys <= set(metrics) and not (absent & set(metrics))
    assert {"val_loss", "val_accuracy", "global_val_loss", "global_val_accuracy"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
    assert set(trained) == set(params) and any(not np.array_equal(trained[k], params[k]) for k in params)


def test_same_client_and_round_repeat_bit_for_bit_other_rounds_differ():
    raw = run_spec(mode="pgd", epochs=1)
    client = app_client(raw)
    start = export_parameters(client.model)
    a, _, ma = client.fit(start, {"round": 3.0})
    b, _, mb = app_client(raw).fit(start, {"round": 3.0})
    c, _, _ = client.fit(start, {"round": 4.0})
    assert all(np.array_equal(a[k], b[k]) for k in a) and ma == mb
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_max_local_steps_caps_the_round_and_config_overrides_apply():
    client = app_client(run_spec(mode="none", epochs=3, maxLocalSteps=4))
    _, samples, metrics = client.fit(export_parameters(client.model), {"round": 1.0})
    assert metrics["local_steps"] == 4 and samples == 4 * 32
    client = app_client(run_spec(mode="none", epochs=3))
    _, _, metrics = client.fit(export_parameters(client.model), {"round": 1.0, "local_epochs": 1.0})
    assert metrics["local_steps"] == 3


def test_proximal_term_pulls_towards_the_global_model():
    free = app_client(run_spec(mode="none", epochs=2, lr=0.1))
    start = export_parameters(free.model)
    a, _, _ = free.fit(start, {"round": 1.0})
    b, _, _ = app_client(run_spec(mode="none", epochs=2, lr=0.1, proximalMu=5.0)).fit(start, {"round": 1.0})
    dist = lambda p: sum(float(np.sum((p[k] - start[k]) ** 2)) for k in p)  # noqa: E731
    assert dist(b) < dist(a)


def test_integer_buffers_stay_with_each_client():
    def bn_model():
        return torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model = bn_model()
    x, y = synthetic()
    data = ClientData(train=(x, y), val=None)
    app = TorchApp(lambda: model, lambda i, c: data)
    raw = run_spec(mode="none")
    one, two = app(0, context(raw, 0)), app(1, context(raw, 1))
    params = export_parameters(model)
    assert "1.num_batches_tracked" not in params and "1.running_mean" in params
    one.fit(params, {"round": 1.0})
    one.fit(params, {"round": 2.0})
    two.fit(params, {"round": 2.0})
    assert int(one.own_buffers["1.num_batches_tracked"]) == 6 and int(two.own_buffers["1.num_batches_tracked"]) == 3


def test_evaluate_reports_loss_samples_accuracy_and_robust_metrics():
    client = app_client(run_spec(mode="none"))
    client.robust_attack = Attack(epsilon=0.2, step_size=0.05, steps=5)
    loss, n, metrics = client.evaluate(export_parameters(client.model), {"round": 1.0})
    assert n == 40 and math.isfinite(loss)
    assert 0 <= metrics["robust_accuracy"] <= metrics["accuracy"] <= 1
    assert metrics["robust_loss"] >= loss


def test_a_clients_update_does_not_depend_on_who_trained_before_in_the_process():
    """What makes checkpoints independent of the number of client processes: clients share one
    module per process, and a fit depends only on (global model, training seed, client, round)."""
    raw = run_spec(mode="trades", momentum=0.9)
    x, y = synthetic()
    data = {0: ClientData(train=(x[:48], y[:48])), 1: ClientData(train=(x[48:], y[48:]))}
    shared = TorchApp(lambda: mlp(hidden=(16,), inputs=20, classes=3), lambda i, c: data[i], value_range=(0.0, 1.0))
    zero, one = shared(0, context(raw, 0)), shared(1, context(raw, 1))
    start = export_parameters(zero.model)
    zero.fit(start, {"round": 2.0})
    after_other, _, m1 = one.fit(start, {"round": 2.0})
    alone = TorchApp(lambda: mlp(hidden=(16,), inputs=20, classes=3), lambda i, c: data[i], value_range=(0.0, 1.0))
    by_itself, _, m2 = alone(1, context(raw, 1)).fit(start, {"round": 2.0})
    assert all(np.array_equal(after_other[k], by_itself[k]) for k in start) and m1 == m2
