"""The run spec's training and adversarial settings as the torch adapter reads them (no torch
needed), and the engine's seeded orders reproduced in Python."""
import subprocess

import pytest

from torch_support import run_spec
from aviary_client import seeded_order
from aviary_client.training_settings import SettingsError, adversarial_for_client, training_from_json


def test_reads_training_and_adversarial_settings():
    raw = run_spec(mode="pgd", epochs=2, batch=16, lr=0.1, momentum=0.9, maxLocalSteps=5)
    t = training_from_json(raw)
    assert (t.local_epochs, t.batch_size, t.max_local_steps) == (2, 16, 5)
    assert (t.optimizer.learning_rate, t.optimizer.momentum) == (0.1, 0.9)
    a = adversarial_for_client(raw, 0)
    assert a.mode == "pgd" and a.attack.steps == 3 and a.attack.effective_step_size == 0.02
    assert a.attack.effective_random_start


def test_fgsm_takes_one_step_of_epsilon_without_random_start():
    raw = run_spec(mode="pgd", attack={"kind": "fgsm", "norm": "linf", "epsilon": 0.2, "stepSize": 0.01,
                                       "steps": 10, "randomStart": True})
    a = adversarial_for_client(raw, 0).attack
    assert (a.effective_steps, a.effective_step_size, a.effective_random_start) == (1, 0.2, False)


def test_the_last_override_naming_a_client_wins():
    raw = run_spec(mode="pgd")
    raw["clientOverrides"] = [{"clients": [1, 2], "adversarial": {"mode": "trades", "attack": raw["adversarial"]["attack"]}},
                              {"clients": [2], "adversarial": {"mode": "none", "attack": raw["adversarial"]["attack"]}}]
    assert [adversarial_for_client(raw, c).mode for c in (0, 1, 2)] == ["pgd", "trades", "none"]


@pytest.mark.parametrize("change, key", [
    (lambda r: r["adversarial"].update(mode="madry"), "adversarial.mode"),
    (lambda r: r["adversarial"]["attack"].update(norm="l1"), "adversarial.attack.norm"),
    (lambda r: r["adversarial"]["attack"].update(kind="apgd-ce"), "adversarial.attack.kind"),
    (lambda r: r["adversarial"]["attack"].update(steps="ten"), "adversarial.attack.steps"),
    (lambda r: r["training"].update(batchSize=0), "training"),
])
def test_bad_settings_are_refused_naming_the_key(change, key):
    raw = run_spec(mode="pgd")
    change(raw)
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        training_from_json(raw)
        adversarial_for_client(raw, 0)


def test_permutations_are_the_engines(aviary):
    """The Python shuffle visits samples in the order the Swift engine's RandomStream gives."""
    for seed, purpose, index, count in [(5, 4, 0, 100), (2**64 - 1, 4, 3, 37), (11, 7, 0, 1000)]:
        out = subprocess.run([aviary, "debug", "permutation", "--seed", str(seed), "--purpose", str(purpose),
                              "--index", str(index), "--count", str(count)], capture_output=True, text=True, check=True)
        swift = [int(line) for line in out.stdout.split()]
        from aviary_client.random_stream import RandomStream
        assert seeded_order.permutation(RandomStream(seed, purpose, index), count) == swift


def test_client_round_seeds_differ_by_client_and_round():
    seeds = {seeded_order.client_round_seeds(7, c, r) for c in range(3) for r in range(3)}
    assert len(seeds) == 9
    assert seeded_order.client_round_seeds(7, 1, 2) == seeded_order.client_round_seeds(7, 1, 2)
