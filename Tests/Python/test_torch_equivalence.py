"""Issue 20's adapter–engine equivalence: the same 784-200-200-10 MLP, the same initial weights,
the same batch order and the same attack (PGD-10 ℓ∞, random start off): one PGD-trained local
epoch in the Swift engine (`aviary debug local-epoch`, the engine's LocalTrainer) and in the
torch adapter gives the same delta to float tolerance, and the same metrics."""
import json
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the equivalence test needs PyTorch (Debian's python3-torch)")
safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="needs the safetensors package (make venv)")

from torch_support import FASHION, fashion_mnist, mlp  # noqa: E402
from aviary_client.torch import LocalEpochs, export_parameters  # noqa: E402
from aviary_client.training_settings import Adversarial, Attack, Optimizer  # noqa: E402

SAMPLES = 6000  # one client of the peer benchmark's 10 × 6,000 split


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(), reason=f"Fashion-MNIST is not in {FASHION}")
@pytest.mark.parametrize("norm, epsilon, step", [("linf", 0.1, 0.01), ("l2", 1.0, 0.25)])
def test_one_pgd_epoch_matches_the_engine(aviary, tmp_path, norm, epsilon, step):
    torch.manual_seed(20)
    torch.use_deterministic_algorithms(True)
    model = mlp()
    initial = export_parameters(model)
    safetensors_numpy.save_file(initial, str(tmp_path / "init.safetensors"))
    order = np.random.default_rng(3).permutation(60000)[:SAMPLES].astype(np.int64)
    np.save(tmp_path / "order.npy", order)

    swift = subprocess.run([aviary, "debug", "local-epoch", "--init", str(tmp_path / "init.safetensors"),
                            "--order", str(tmp_path / "order.npy"), "--out", str(tmp_path / "delta.safetensors"),
                            "--metrics", str(tmp_path / "metrics.json"), "--batch-size", "32", "--learning-rate", "0.05",
                            "--mode", "pgd", "--attack", "pgd", "--norm", norm, "--epsilon", str(epsilon),
                            "--step-size", str(step), "--steps", "10"], capture_output=True, text=True, timeout=600)
    assert swift.returncode == 0, swift.stdout + swift.stderr
    engine = safetensors_numpy.load_file(str(tmp_path / "delta.safetensors"))
    engine_metrics = json.loads((tmp_path / "metrics.json").read_text())

    x, y = fashion_mnist()
    attack = Attack(kind="pgd", norm=norm, epsilon=epsilon, step_size=step, steps=10, random_start=False)
    local = LocalEpochs(model, Adversarial(mode="pgd", attack=attack), Optimizer(learning_rate=0.05), (0.0, 1.0), 0.05)
    local.epoch(torch.from_numpy(x), torch.from_numpy(y), order.tolist(), 32, attack_seed=0, epoch=0)
    after = export_parameters(model)

    assert set(engine) == set(initial)
    scale = max(float(np.abs(engine[k]).max()) for k in engine)
    worst = max(float(np.abs((after[k] - initial[k]) - engine[k]).max()) for k in engine)
    relative = np.sqrt(sum(float(np.sum(((after[k] - initial[k]) - engine[k]) ** 2)) for k in engine)
                       / sum(float(np.sum(engine[k] ** 2)) for k in engine))
    print(f"{norm}: largest |delta| {scale:.4g}, largest difference {worst:.3g}, relative L2 difference {relative:.3g}")
    assert scale > 1e-2  # the epoch did train
    assert worst < 1e-4 * max(scale, 1.0) and relative < 1e-4
    torch_metrics = local.metrics()
    assert torch_metrics["local_steps"] == engine_metrics["local_steps"] == (SAMPLES + 31) // 32
    assert torch_metrics["samples"] == engine_metrics["samples"] == SAMPLES
    for key in ("train_loss", "adv_loss", "train_accuracy", "adv_accuracy"):
        assert abs(torch_metrics[key] - engine_metrics[key]) < 1e-4, key
