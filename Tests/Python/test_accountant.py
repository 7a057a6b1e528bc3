"""The RDP accountant (`aviary epsilon`, Sources/AviaryPrivacy) against Google's dp-accounting.

Same mechanisms (the Poisson-subsampled Gaussian under add-or-remove-one, and the Gaussian on a
fixed-size sample without replacement under replace-one), same orders (dp-accounting's
DEFAULT_RDP_ORDERS), same conversion: ε must agree within 0.1 % relative on the issue's grid.
"""
import json
import subprocess

import pytest

dp_accounting = pytest.importorskip("dp_accounting", reason="dp-accounting is installed by `make venv`")
from dp_accounting import dp_event, privacy_accountant  # noqa: E402
from dp_accounting.rdp import rdp_privacy_accountant  # noqa: E402

ROUNDS = [1, 100, 1000]
# Fixed-size sampling: m = q·N of N clients; the q = 1 case is the plain Gaussian either way.
POPULATION = 1000


def reference(q, z, rounds, delta):
    accountant = rdp_privacy_accountant.RdpAccountant()
    event = dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(z))
    accountant.compose(event, rounds)
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize("delta", [1e-5, 1e-3])
@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("q", [0.01, 0.1, 1.0])
def test_epsilon_matches_dp_accounting(aviary, q, z, delta):
    args = [aviary, "epsilon", "--sampling-rate", str(q), "--noise-multiplier", str(z), "--delta", str(delta), "--json"]
    for r in ROUNDS:
        args += ["--rounds", str(r)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)["epsilon"]
    for rounds, mine in zip(ROUNDS, ours):
        theirs = reference(q, z, rounds, delta)
        assert mine is not None, f"q={q} z={z} rounds={rounds}: aviary says unbounded, dp-accounting {theirs}"
        assert abs(mine - theirs) <= 1e-3 * theirs, f"q={q} z={z} rounds={rounds} δ={delta}: aviary {mine}, dp-accounting {theirs}"


def reference_without_replacement(q, z, rounds, delta):
    accountant = rdp_privacy_accountant.RdpAccountant(
        neighboring_relation=privacy_accountant.NeighboringRelation.REPLACE_ONE)
    m = round(q * POPULATION)
    event = dp_event.SampledWithoutReplacementDpEvent(POPULATION, m, dp_event.GaussianDpEvent(z))
    accountant.compose(event, rounds)
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize("delta", [1e-5, 1e-3])
@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("q", [0.01, 0.1, 1.0])
def test_without_replacement_matches_dp_accounting(aviary, q, z, delta):
    args = [aviary, "epsilon", "--sampling", "without-replacement", "--sampling-rate", str(q),
            "--noise-multiplier", str(z), "--delta", str(delta), "--json"]
    for r in ROUNDS:
        args += ["--rounds", str(r)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)["epsilon"]
    for rounds, mine in zip(ROUNDS, ours):
        theirs = reference_without_replacement(q, z, rounds, delta)
        assert mine is not None, f"q={q} z={z} rounds={rounds}: aviary says unbounded, dp-accounting {theirs}"
        assert abs(mine - theirs) <= 1e-3 * theirs, \
            f"without replacement q={q} z={z} rounds={rounds} δ={delta}: aviary {mine}, dp-accounting {theirs}"


def test_without_replacement_is_not_the_poisson_bound(aviary):
    """The two schemes are different bounds: the test above cannot pass by reusing Poisson's."""
    def eps(sampling):
        out = subprocess.run([aviary, "epsilon", "--sampling", sampling, "--sampling-rate", "0.1",
                              "--noise-multiplier", "1", "--rounds", "100", "--json"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)["epsilon"][0]
    assert abs(eps("poisson") - eps("without-replacement")) > 1e-3 * eps("poisson")
