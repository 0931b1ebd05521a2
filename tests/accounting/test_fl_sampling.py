"""FL sampling: client-level DP-FedAvg and record-level local DP-SGD (two-level sampling).

External references: the analytic Gaussian privacy profile (Balle & Wang, ICML 2018, Thm. 8)
for DP-FedAvg at client_rate = 1; the exact revealed-mixture identity
delta(eps) = E_{N ~ Bin(T, q_c)} delta_{N K}(eps) recomputed from independent dp_sgd accountings.
"""

import math

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom, norm

from fltheory.accounting import (delta, dp_fedavg, dp_sgd, epsilon, local_dp_sgd,
                                 TwoLevelSampledDpEvent)
from fltheory.accounting._rdp import rdp_poisson_gaussian
from fltheory.accounting._steps import GaussianStep, flatten
from fltheory.accounting.fl_sampling import TwoLevelStep
from fltheory.accounting.scenarios import get_scenario

DELTA = 1e-5


def _gaussian_delta(eps, mu):
    """Analytic Gaussian mechanism (Balle & Wang 2018): delta of N(mu, 1) vs N(0, 1)."""
    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


def test_dp_fedavg_is_a_plain_dp_accounting_event():
    ev = dp_fedavg(0.01, 1.0, 100)
    assert isinstance(ev, dp_accounting.SelfComposedDpEvent)
    assert isinstance(ev.event, dp_accounting.PoissonSampledDpEvent)
    assert ev.event.sampling_probability == 0.01 and ev.count == 100


@pytest.mark.parametrize("z,T,eps", [(1.0, 100, 5.0), (2.0, 400, 3.0), (5.0, 1000, 1.0)])
def test_dp_fedavg_at_rate_one_is_the_gaussian_composition(z, T, eps):
    exact = _gaussian_delta(eps, math.sqrt(T) / z)
    g = delta(dp_fedavg(1.0, z, T), eps)
    assert g.delta_lower <= exact <= g.delta
    plain = dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(z), T)
    a, b = epsilon(dp_fedavg(1.0, z, T), DELTA), epsilon(plain, DELTA)
    assert a.epsilon == pytest.approx(b.epsilon, rel=1e-12)
    assert a.epsilon_lower == pytest.approx(b.epsilon_lower, rel=1e-12)


def test_dp_fedavg_visible_cohort_gives_no_amplification():
    amp = epsilon(dp_fedavg(0.05, 2.0, 200), DELTA)
    vis = epsilon(dp_fedavg(0.05, 2.0, 200, cohort_visible=True), DELTA)
    none = epsilon(dp_fedavg(1.0, 2.0, 200), DELTA)
    assert vis.epsilon == pytest.approx(none.epsilon, rel=1e-12)
    assert amp.epsilon < vis.epsilon_lower


@pytest.mark.parametrize("qc,ql,z,K,T,eps", [(0.3, 0.2, 1.2, 2, 6, 1.0),
                                             (0.5, 0.05, 0.9, 20, 3, 2.0)])
def test_two_level_matches_the_binomial_mixture_identity(qc, ql, z, K, T, eps):
    # revealed participation: delta(eps) = sum_N Bin(N; T, qc) * delta(N K local steps)(eps)
    g = delta(local_dp_sgd(qc, ql, z, K, T), eps)
    lo = hi = 0.0
    for n in range(1, T + 1):
        w = binom.pmf(n, T, qc)
        d = delta(dp_sgd(ql, z, n * K), eps)
        lo += w * d.delta_lower
        hi += w * d.delta
    assert lo <= g.delta and g.delta == pytest.approx(hi, rel=0.02)   # the revealed mixture
    # the certified lower bound is the mechanism's (an instance: other records at zero, first
    # local step), not the revealed mixture's, which is not one of the mechanism (issue 11)
    assert g.delta_lower <= hi


def test_two_level_between_naive_product_and_no_client_amplification():
    qc, ql, z, K, T = 0.05, 0.1, 1.0, 5, 200
    sound = epsilon(local_dp_sgd(qc, ql, z, K, T), DELTA)
    naive = epsilon(dp_sgd(qc * ql, z, K * T), DELTA)          # unsound shortcut
    none = epsilon(local_dp_sgd(qc, ql, z, K, T, cohort_visible=True), DELTA)
    assert naive.epsilon < sound.epsilon                        # it must exceed the naive value
    assert sound.epsilon < none.epsilon_lower                   # and stay below no amplification
    # lower bound: the instance with the other records at zero, one local step per round
    assert sound.epsilon_lower <= naive.epsilon and sound.epsilon_lower <= sound.epsilon


def test_visible_cohort_is_exactly_rounds_times_local_steps():
    a = epsilon(local_dp_sgd(0.1, 0.05, 1.0, 3, 50, cohort_visible=True), DELTA)
    b = epsilon(dp_sgd(0.05, 1.0, 150), DELTA)
    assert a.epsilon == pytest.approx(b.epsilon, rel=1e-12)
    c = epsilon(local_dp_sgd(0.1, 0.05, 1.0, 3, 50, participation="visible"), DELTA)
    assert c.epsilon == a.epsilon


def test_product_rate_cannot_be_expressed():
    ev = local_dp_sgd(0.1, 0.05, 1.0, 4, 10)
    assert isinstance(ev.event, TwoLevelSampledDpEvent)
    steps = flatten(ev)
    assert not any(isinstance(s, GaussianStep) and math.isclose(s.q, 0.005) for s, _ in steps)
    with pytest.raises(TypeError):
        local_dp_sgd(sampling_rate=0.005, noise_multiplier=1.0, local_steps=1, rounds=1)


def test_two_level_rdp_is_the_revealed_mixture_formula():
    qc, ql, z, K = 0.2, 0.05, 1.1, 4
    orders = np.array([2.0, 3.0, 8.0, 32.0])
    r = K * rdp_poisson_gaussian(ql, z, orders)
    expect = np.logaddexp(math.log1p(-qc), math.log(qc) + (orders - 1) * r) / (orders - 1)
    got = TwoLevelStep(qc, ql, z, K).rdp(orders, "add_remove")
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    g = epsilon(local_dp_sgd(qc, ql, z, K, 100), DELTA, method="rdp")
    assert g.method == "rdp" and g.epsilon >= epsilon(local_dp_sgd(qc, ql, z, K, 100),
                                                      DELTA).epsilon_lower


def test_replace_one_is_supported_and_larger():
    ar = epsilon(local_dp_sgd(0.1, 0.05, 2.0, 2, 50), DELTA)
    ro = epsilon(local_dp_sgd(0.1, 0.05, 2.0, 2, 50), DELTA, neighboring="replace_one")
    assert ro.neighboring == "replace_one" and ro.epsilon > ar.epsilon


@pytest.mark.parametrize("kw,msg", [
    (dict(client_rate=0.0), "client_rate must be in (0, 1]"),
    (dict(batch_rate=1.5), "batch_rate must be in (0, 1]"),
    (dict(noise_multiplier=-1.0), "noise_multiplier must be > 0"),
    (dict(local_steps=0), "local_steps must be >= 1"),
    (dict(rounds=2.5), "rounds must be an integer"),
])
def test_bad_input(kw, msg):
    args = dict(client_rate=0.1, batch_rate=0.1, noise_multiplier=1.0, local_steps=1, rounds=1)
    args.update(kw)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        local_dp_sgd(**args)


@given(qc=st.floats(0.01, 0.3), z=st.floats(0.8, 3.0), T=st.integers(5, 200))
def test_monotone_in_rate_rounds_and_noise(qc, z, T):
    # the upper bounds (the revealed mixture) are monotone
    base = epsilon(local_dp_sgd(qc, 0.1, z, 2, T), DELTA)
    more_q = epsilon(local_dp_sgd(min(1.0, 2 * qc), 0.1, z, 2, T), DELTA)
    more_t = epsilon(local_dp_sgd(qc, 0.1, z, 2, 2 * T), DELTA)
    more_z = epsilon(local_dp_sgd(qc, 0.1, 1.5 * z, 2, T), DELTA)
    assert base.epsilon <= more_q.epsilon * 1.001
    assert base.epsilon <= more_t.epsilon * 1.001
    assert more_z.epsilon <= base.epsilon * 1.001


def test_scenarios_build():
    sc = get_scenario("local_dp_sgd")
    ev = sc.build(client_rate=0.1, batch_rate=0.05, noise_multiplier=1.0, local_steps=2,
                  rounds=10, cohort_visible="yes")
    assert flatten(ev)[0][0].q == 0.05
    ev = get_scenario("dp_fedavg").build(client_rate=0.1, noise_multiplier=1.0, rounds=10)
    assert isinstance(ev, dp_accounting.SelfComposedDpEvent)
