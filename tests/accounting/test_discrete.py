"""Discrete noise: binomial (cpSGD), discrete Gaussian, Skellam, distributed discrete Gaussian.

External references (REFERENCES.md): discrete Gaussian sigma=3, Delta=1, eps=1 -> delta 2.1778e-4
([verified], dp-accounting agrees); Skellam RDP Delta1=Delta2=1, mu=50: 0.010225 (alpha=2),
0.040525 (alpha=8) ([paper]); cpSGD Thm. 1 at N=2000, p=1/2, delta=1e-6, d=1, unit
sensitivities: 0.6375 (a third-party implementation of Thm. 1 asserts 0.6375 < eps < 0.6376);
exact hockey-stick divergences of binomial pairs enumerated directly (T = 1, 2).
"""

import math

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from fltheory.accounting import (binomial, cpsgd_epsilon, delta, discrete_gaussian,
                                 distributed_discrete_gaussian, epsilon, skellam)
from fltheory.accounting._steps import flatten
from fltheory.accounting.discrete import ddg_rounded_l2_sensitivity, skellam_rdp


def _cks_delta(sigma, sens, eps):
    """Canonne-Kamath-Steinke exact delta of the discrete Gaussian, by direct summation."""
    k = np.arange(-int(60 * sigma) - 60, int(60 * sigma) + 61)
    w = np.exp(-k.astype(float) ** 2 / (2 * sigma * sigma))
    p = w / w.sum()
    return (p[k > eps * sigma ** 2 / sens - sens / 2].sum()
            - math.exp(eps) * p[k > eps * sigma ** 2 / sens + sens / 2].sum())


def test_discrete_gaussian_reference_value():
    g = delta(discrete_gaussian(3.0, 1), 1.0)
    assert f"{g.delta_lower:.4e}" == "2.1778e-04" and f"{g.delta:.4e}" == "2.1778e-04"


@pytest.mark.parametrize("sigma,sens,eps", [(1.5, 1, 0.5), (5.0, 2, 1.0), (2.0, 3, 2.0)])
def test_discrete_gaussian_matches_the_closed_form(sigma, sens, eps):
    exact = _cks_delta(sigma, sens, eps)
    g = delta(discrete_gaussian(sigma, sens), eps)
    assert g.delta_lower <= exact * (1 + 1e-9) and exact <= g.delta * (1 + 1e-9)


def test_discrete_gaussian_rdp_and_replace_one():
    g = epsilon(discrete_gaussian(4.0, 1), 1e-5, method="rdp")
    cont = epsilon(dp_accounting.GaussianDpEvent(4.0), 1e-5, method="rdp")
    assert g.epsilon == pytest.approx(cont.epsilon, rel=1e-9)       # same RDP alpha/(2 s^2)
    ar = epsilon(discrete_gaussian(4.0, 1), 1e-5)
    ro = epsilon(discrete_gaussian(4.0, 1), 1e-5, neighboring="replace_one")
    two = epsilon(discrete_gaussian(4.0, 2), 1e-5)
    assert ro.epsilon == pytest.approx(two.epsilon, rel=1e-9) and ro.epsilon_lower > ar.epsilon


def test_skellam_reference_values():
    np.testing.assert_allclose(skellam_rdp(50, 1, 1, [2, 8]), [0.010225, 0.040525], rtol=1e-12)
    # fractional orders use the next integer (RDP is non-decreasing in the order)
    assert skellam_rdp(50, 1, 1, [7.5])[0] == skellam_rdp(50, 1, 1, [8])[0]
    g = epsilon(skellam(50, 1, 1), 1e-5)
    assert g.method == "rdp" and any("no PLD" in n for n in g.notes)


def test_ddg_rounding_and_rdp_formula():
    assert ddg_rounded_l2_sensitivity(10.0, 100) == 20.0
    c, d, beta = 10.0, 100, 1e-3
    b2 = math.sqrt(c * c + d / 4 + math.sqrt(2 * math.log(1 / beta)) * (c + math.sqrt(d) / 2))
    assert ddg_rounded_l2_sensitivity(c, d, beta) == pytest.approx(min(c + 10, b2))
    ev = distributed_discrete_gaussian(5.0, 10, 10.0, 100, beta=beta)
    st_ = flatten(ev)[0][0]
    sig, n = 5.0, 10
    tau = 10 * sum(math.exp(-2 * math.pi ** 2 * sig ** 2 * k / (k + 1)) for k in range(1, n))
    l2 = min(c + 10, b2)
    l1 = min(math.sqrt(d) * l2, l2 * l2)
    a1, a2 = l1 / (math.sqrt(n) * sig), l2 / (math.sqrt(n) * sig)
    for al in (2, 9):
        expect = min(al * a2 ** 2 / 2 + tau * d, al / 2 * (a2 ** 2 + 2 * a1 * tau + tau ** 2 * d),
                     al / 2 * (a2 + math.sqrt(d) * tau) ** 2)
        assert st_.rdp(np.array([al]), "add_remove")[0] == pytest.approx(expect, rel=1e-12)


def test_ddg_tends_to_the_gaussian_with_many_clients():
    # tau -> 0 for sigma >= 1: RDP -> alpha a2^2 / 2 with a2 = l2 / (sqrt(n) sigma)
    ev = distributed_discrete_gaussian(2.0, 100, 50.0, 10, rounding=False)
    st_ = flatten(ev)[0][0]
    np.testing.assert_allclose(st_.rdp(np.array([2.0, 16.0]), "add_remove"),
                               np.array([2.0, 16.0]) * (50.0 / 20.0) ** 2 / 2, rtol=1e-6)


@pytest.mark.parametrize("N,p", [(60, 0.5), (40, 0.3)])
def test_binomial_matches_exact_enumeration(N, p):
    k = np.arange(N + 2)
    P = stats.binom.pmf(k - 1, N, p)          # shift +1
    Q = stats.binom.pmf(k, N, p)
    for eps in (0.2, 0.8):
        e = math.exp(eps)
        # worst direction / sign of the shift (the envelope covers both)
        exact = max(np.maximum(P - e * Q, 0).sum(), np.maximum(Q - e * P, 0).sum())
        g = delta(binomial(N, p), eps)
        assert g.delta_lower <= exact * (1 + 1e-9) + 1e-15 and exact <= g.delta * (1 + 1e-9)
    # two releases: enumerate the product pair
    P2, Q2 = np.outer(P, P).ravel(), np.outer(Q, Q).ravel()
    exact2 = max(np.maximum(P2 - math.exp(0.8) * Q2, 0).sum(),
                 np.maximum(Q2 - math.exp(0.8) * P2, 0).sum())
    g2 = delta(dp_accounting.SelfComposedDpEvent(binomial(N, p), 2), 0.8)
    assert g2.delta_lower <= exact2 * (1 + 1e-9) + 1e-15 and exact2 <= g2.delta * (1 + 1e-9)


def test_cpsgd_closed_form_reference_and_looser_than_exact():
    cf = cpsgd_epsilon(2000, 0.5, 1e-6)
    assert 0.6375 < cf.epsilon < 0.6376 and cf.epsilon_lower is None
    assert "loose" in cf.method
    g = epsilon(binomial(2000, 0.5), 1e-6)
    assert g.epsilon * 3 < cf.epsilon                     # several times looser
    with pytest.raises(ValueError, match=r"use binomial\(trials, p, sensitivity\)"):
        cpsgd_epsilon(100, 0.5, 1e-6)


def test_binomial_has_no_finite_rdp():
    assert epsilon(binomial(100, 0.5), 1e-5, method="rdp").epsilon == math.inf


@given(sigma=st.floats(1.0, 8.0), T=st.integers(1, 50))
def test_discrete_gaussian_monotone(sigma, T):
    a = epsilon(dp_accounting.SelfComposedDpEvent(discrete_gaussian(sigma, 1), T), 1e-5)
    b = epsilon(dp_accounting.SelfComposedDpEvent(discrete_gaussian(sigma, 1), 2 * T), 1e-5)
    c = epsilon(dp_accounting.SelfComposedDpEvent(discrete_gaussian(1.5 * sigma, 1), T), 1e-5)
    assert a.epsilon <= b.epsilon_lower * 1.001 and c.epsilon <= a.epsilon_lower * 1.001


def test_bad_input():
    with pytest.raises(ValueError, match="p must be in"):
        binomial(10, 1.0)
    with pytest.raises(ValueError, match="sensitivity must be >= 1"):
        discrete_gaussian(1.0, 0)
    with pytest.raises(ValueError, match="mu must be > 0"):
        skellam(0.0, 1, 1)
    with pytest.raises(ValueError, match="beta must be in"):
        distributed_discrete_gaussian(1.0, 2, 1.0, 4, beta=1.0)
