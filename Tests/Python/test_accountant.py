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


def reference_without_replacement(q, z, rounds, delta):
    accountant = rdp_privacy_accountant.RdpAccountant(
        neighboring_relation=privacy_accountant.NeighboringRelation.REPLACE_ONE)
    m = round(q * POPULATION)
    event = dp_event.SampledWithoutReplacementDpEvent(POPULATION, m, dp_event.GaussianDpEvent(z))
    accountant.compose(event, rounds)
    return accountant.get_epsilon(delta)


def aviary_epsilon(aviary, sampling, q, z, delta, rounds):
    args = [aviary, "epsilon", "--sampling", sampling, "--sampling-rate", str(q), "--noise-multiplier", str(z),
            "--delta", str(delta), "--json"]
    for r in rounds:
        args += ["--rounds", str(r)]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["epsilon"]


@pytest.mark.parametrize("sampling, theirs_of", [("poisson", reference), ("without-replacement", reference_without_replacement)])
@pytest.mark.parametrize("delta", [1e-5, 1e-3])
@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("q", [0.01, 0.1, 1.0])
def test_epsilon_matches_dp_accounting(aviary, q, z, delta, sampling, theirs_of):
    ours = aviary_epsilon(aviary, sampling, q, z, delta, ROUNDS)
    for rounds, mine in zip(ROUNDS, ours):
        theirs = theirs_of(q, z, rounds, delta)
        assert mine is not None, f"{sampling} q={q} z={z} rounds={rounds}: aviary says unbounded, dp-accounting {theirs}"
        assert abs(mine - theirs) <= 1e-3 * theirs, \
            f"{sampling} q={q} z={z} rounds={rounds} δ={delta}: aviary {mine}, dp-accounting {theirs}"


def test_without_replacement_is_not_the_poisson_bound(aviary):
    """The two schemes are different bounds: the grid above cannot pass by reusing Poisson's."""
    poisson = aviary_epsilon(aviary, "poisson", 0.1, 1.0, 1e-5, [100])[0]
    fixed = aviary_epsilon(aviary, "without-replacement", 0.1, 1.0, 1e-5, [100])[0]
    assert abs(poisson - fixed) > 1e-3 * poisson
