"""The evaluator's attacks for torch, checked as AutoAttack is (and as the engine's
APGDStrengthTests): on a trained Fashion-MNIST MLP, APGD-CE (100 steps) finds at least what
PGD-20 finds, APGD-DLR and the CE + DLR ensemble too, and the step-size schedule is the engine's."""
import pytest

torch = pytest.importorskip("torch", reason="the evaluator's attacks need PyTorch (Debian's python3-torch)")

from torch_support import FASHION, fashion_mnist, mlp  # noqa: E402
from aviary_client.torch_apgd import checkpoints  # noqa: E402
from aviary_client.torch_evaluation import robust_stats  # noqa: E402
from aviary_client.training_settings import Attack  # noqa: E402

SUBSET = 250


def test_checkpoints_are_the_papers():
    # p_1 = 0.22, then intervals 0.03·N shorter, down to 0.06·N (floored, at least 1).
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [2, 3, 4, 5, 6, 7, 8, 9, 10]


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(1)
    x, y = fashion_mnist("train")
    xt, yt = fashion_mnist("test")
    x, y, xt, yt = (torch.from_numpy(a) for a in (x[:6000], y[:6000], xt, yt))
    model = mlp(hidden=(100,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        for rows in torch.randperm(6000, generator=g).split(32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
    return model, (xt, yt)


def accuracy(model, data, attack):
    return robust_stats(model, data, attack, (0.0, 1.0), subset=SUBSET, batch_size=250, seed=2).accuracy


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(), reason=f"Fashion-MNIST is not in {FASHION}")
@pytest.mark.parametrize("norm, eps", [("linf", 0.03), ("l2", 0.5)])
def test_apgd_is_at_least_as_strong_as_pgd20(trained, norm, eps):
    model, data = trained
    clean = accuracy(model, data, Attack(kind="fgsm", norm=norm, epsilon=0.0))
    pgd = accuracy(model, data, Attack(kind="pgd", norm=norm, epsilon=eps, step_size=2.5 * eps / 20, steps=20))
    ce = accuracy(model, data, Attack(kind="apgd-ce", norm=norm, epsilon=eps, steps=100))
    dlr = accuracy(model, data, Attack(kind="apgd-dlr", norm=norm, epsilon=eps, steps=100))
    lite = accuracy(model, data, Attack(kind="autoattack-lite", norm=norm, epsilon=eps, steps=100))
    print(f"[apgd strength] {norm} eps={eps}: clean {clean} PGD-20 {pgd} APGD-CE {ce} APGD-DLR {dlr} AutoAttack-lite {lite}")
    assert pgd < clean - 0.1, "the budget must matter"
    assert ce <= pgd
    assert dlr <= pgd
    assert lite <= min(ce, dlr) + 0.01
