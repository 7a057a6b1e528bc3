"""examples/pytorch: the app trains on its Dirichlet split with the run spec's PGD settings, and
the whole example runs under `aviary run` in a short version (3 rounds, 4 clients, 2 processes)
once this build's server knows external models and the [processes] launcher."""
import pathlib
import os
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch example needs PyTorch (Debian's python3-torch)")

from torch_support import FASHION, context, run_spec  # noqa: E402
from aviary_client.torch import export_parameters  # noqa: E402

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pytorch"
needs_data = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(), reason=f"Fashion-MNIST is not in {FASHION}")


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(EXAMPLE))
    import fmnist_cnn
    yield fmnist_cnn
    sys.path.remove(str(EXAMPLE))


def test_the_split_is_dirichlet_and_covers_the_data_once(example):
    import numpy as np
    labels = np.random.default_rng(0).integers(0, 10, 5000)
    parts = example.dirichlet_split(labels, 20, 0.3, 1)
    joined = np.sort(np.concatenate(parts))
    assert np.array_equal(joined, np.arange(5000))
    # α = 0.3 is skewed: most clients miss some class entirely.
    assert sum(len(set(labels[p].tolist())) < 10 for p in parts) >= 10


@needs_data
def test_a_client_trains_its_share_with_pgd(example):
    raw = run_spec(mode="pgd", maxLocalSteps=3)
    raw["data"] = {"clients": 20}
    client = example.app(4, context(raw, 4))
    assert tuple(client.data.train[0].shape[1:]) == (1, 28, 28)
    trained, samples, metrics = client.fit(export_parameters(client.model), {"round": 1.0})
    assert metrics["local_steps"] == 3 and samples == 96
    assert {"train_loss", "adv_loss", "val_loss"} <= set(metrics) and metrics["adv_loss"] > metrics["train_loss"]
    assert any(n.endswith(".weight") and trained[n].ndim == 4 for n in trained)


@needs_data
def test_a_client_trains_on_aviarys_exported_split(example, aviary, tmp_path, monkeypatch):
    import aviary_client
    (tmp_path / "topology.toml").write_text((EXAMPLE / "topology.toml").read_text())
    split = subprocess.run([aviary, "partition", "topology.toml", "--export", "split.npz", "-o", "split.svg"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert split.returncode == 0, split.stderr
    monkeypatch.setattr(example, "PARTITION", tmp_path / "split.npz")
    raw = run_spec(mode="pgd")
    raw["data"] = {"clients": 20}
    data = example.load_data(3, context(raw, 3))
    train, test = aviary_client.load_partition(str(tmp_path / "split.npz"), 3)
    _, labels = example._cache["train"]
    assert data.train[1].tolist() == labels[train].tolist() and data.val[1].tolist() == labels[test].tolist()
    raw["data"] = {"clients": 8}
    with pytest.raises(ValueError, match="holds 20 clients, the run has 8"):
        example.load_data(3, context(raw, 3))


@needs_data
def test_the_example_runs_under_aviary_run(aviary, tmp_path):
    topology = (EXAMPLE / "topology.toml").read_text()
    topology = re.sub(r"rounds = \d+", "rounds = 3", topology)
    topology = re.sub(r"clients = 20", "clients = 4", topology)
    topology = re.sub(r"clients_per_round = \d+", "clients_per_round = 4", topology)
    path = tmp_path / "topology.toml"
    path.write_text(topology.replace('name = "pytorch-fmnist-cnn"', f'name = "short"\noutput = "{tmp_path}"'))
    init = subprocess.run([sys.executable, "-m", "aviary_client.init_model", "fmnist_cnn:make_model", "-o",
                           str(tmp_path / "init.safetensors")], cwd=EXAMPLE, capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    check = subprocess.run([aviary, "validate", str(path)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr + check.stdout
    # The clients train on the split Aviary makes of this topology's data (the sizes the server weighs them by).
    split = subprocess.run([aviary, "partition", str(path), "--export", str(tmp_path / "split.npz"), "-o", str(tmp_path / "split.svg")],
                           capture_output=True, text=True, timeout=300)
    assert split.returncode == 0, split.stderr
    # The topology's command says `python3`: here that must be this interpreter (the venv that has
    # aviary_client), not whatever python3 comes first on PATH.
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               AVIARY_PARTITION=str(tmp_path / "split.npz"))
    run = subprocess.run([aviary, "run", str(path)], capture_output=True, text=True, timeout=1800, cwd=EXAMPLE, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    # One epoch over the exported split: each client's samples are the training size the server
    # derived from its own partition (the fallback NumPy split would give other counts).
    import json
    rounds = [r for r in map(json.loads, (tmp_path / "short" / "aggregation.jsonl").read_text().splitlines()) if r["event"] == "round"]
    assert len(rounds) == 3
    for r in rounds:
        assert all(m["samples"] == m["dataset_size"] for m in r["client_metrics"].values()), r["client_metrics"]
        # [evaluation] mode = "federated": the 4 clients evaluated the merged model on their held-out splits.
        assert r["eval"]["mode"] == "federated" and sorted(r["eval"]["clients"]) == ["0", "1", "2", "3"], r["eval"]
    logs = subprocess.run([aviary, "logs", str(tmp_path / "short")], capture_output=True, text=True, timeout=120)
    assert logs.returncode == 0 and f'{rounds[-1]["eval"]["clean_accuracy"]:.4f}' in logs.stdout, logs.stdout + logs.stderr
