"""Tests of the vectorised RDP engine (fltheory.accounting._rdp).

External references: dp-accounting 0.6.0 (``dp_accounting.rdp.rdp_privacy_accountant``), the
values recorded in /work/shared/REFERENCES.md §1 (verified there with dp-accounting), closed forms
written out here, and independent numerical integration (scipy.integrate.quad, mpmath).
"""

from __future__ import annotations

import logging
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from dp_accounting.rdp import rdp_privacy_accountant as dp_rdp
from fltheory.accounting._rdp import (
    DEFAULT_ORDERS,
    rdp_poisson_gaussian,
    rdp_replace_one_poisson_gaussian,
    rdp_sampled_without_replacement_gaussian,
    rdp_to_delta,
    rdp_to_epsilon,
)

# dp-accounting logs a warning for every fractional order whose series does not converge
logging.getLogger("absl").setLevel(logging.ERROR)


def _rel_or_both_inf(ours: np.ndarray, ref: np.ndarray) -> float:
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    assert np.array_equal(np.isinf(ours), np.isinf(ref)), (ours, ref)
    fin = np.isfinite(ref)
    if not fin.any():
        return 0.0
    return float(np.max(np.abs(ours[fin] - ref[fin]) / np.maximum(np.abs(ref[fin]), 1e-300)))


# --------------------------------------------------------------------------- add/remove


def test_default_orders_are_dp_accountings():
    ref = np.array(dp_rdp.DEFAULT_RDP_ORDERS, dtype=float)
    assert DEFAULT_ORDERS.dtype == float
    assert np.array_equal(DEFAULT_ORDERS, ref)
    assert DEFAULT_ORDERS[0] == 1.1 and DEFAULT_ORDERS[-1] == 1024 and DEFAULT_ORDERS.size == 156


Q_GRID = [1e-6, 1e-4, 3e-3, 0.01, 0.1, 0.5, 0.9, 1.0]
Z_GRID = [0.3, 0.7, 1.1, 3.0, 10.0, 100.0]


def test_agrees_with_dp_accounting_on_grid():
    q = np.array(Q_GRID)[:, None]
    z = np.array(Z_GRID)[None, :]
    ours = rdp_poisson_gaussian(q, z)  # one vectorised call for the whole grid
    assert ours.shape == (len(Q_GRID), len(Z_GRID), DEFAULT_ORDERS.size)
    worst = 0.0
    for i, qi in enumerate(Q_GRID):
        for j, zj in enumerate(Z_GRID):
            ref = dp_rdp._compute_rdp_poisson_subsampled_gaussian(qi, zj, DEFAULT_ORDERS)
            worst = max(worst, _rel_or_both_inf(ours[i, j], ref))
    assert worst <= 1e-10


@pytest.mark.parametrize("q, z", [(0.5, 0.3), (0.9, 0.3), (1e-6, 0.3), (0.999999, 0.3), (0.3, 0.31)])
def test_large_orders_small_noise_match(q, z):
    orders = [1.1, 1.5, 10.5, 63, 128, 256, 512, 1024, 1500.5]
    ours = rdp_poisson_gaussian(q, z, orders)
    ref = dp_rdp._compute_rdp_poisson_subsampled_gaussian(q, z, orders)
    assert _rel_or_both_inf(ours, ref) <= 1e-10


def test_non_converging_fractional_series_is_inf_like_dp_accounting():
    # q=0.5, z=1: dp-accounting's fractional series does not settle for the smallest orders
    ours = rdp_poisson_gaussian(0.5, 1.0)
    ref = dp_rdp._compute_rdp_poisson_subsampled_gaussian(0.5, 1.0, DEFAULT_ORDERS)
    assert np.isinf(ref).any()
    assert np.array_equal(np.isinf(ours), np.isinf(ref))


def test_random_configurations_and_orders_match_dp_accounting():
    rng = np.random.default_rng(20240601)
    q = 10 ** rng.uniform(-6, 0, 12)
    z = 10 ** rng.uniform(math.log10(0.3), 2, 12)
    orders = np.concatenate([[1.01, 1.75, 2.0, 4.25], rng.uniform(1.0, 64.0, 6), [99.0, 300.5]])
    ours = rdp_poisson_gaussian(q, z, orders)
    for k in range(q.size):
        ref = dp_rdp._compute_rdp_poisson_subsampled_gaussian(q[k], z[k], orders)
        assert _rel_or_both_inf(ours[k], ref) <= 1e-10


def _integer_closed_form(q: float, z: float, alpha: int) -> float:
    """eps(alpha) = log(sum_k C(alpha,k) (1-q)^(alpha-k) q^k exp((k^2-k)/(2 z^2))) / (alpha-1)."""
    terms = [
        math.comb(alpha, k) * (1 - q) ** (alpha - k) * q**k * math.exp((k * k - k) / (2 * z * z))
        for k in range(alpha + 1)
    ]
    return math.log(math.fsum(terms)) / (alpha - 1)


def test_references_values_q001_z11():
    # REFERENCES.md §1 [verified]: q=0.01, z=1.1: eps(2)=1.28510e-4, eps(8)=5.84070e-4, eps(32)=8.469416
    ours = rdp_poisson_gaussian(0.01, 1.1, [2, 8, 32])
    recorded = np.array([1.28510e-4, 5.84070e-4, 8.469416])
    np.testing.assert_allclose(ours, recorded, rtol=5e-6)
    closed = np.array([_integer_closed_form(0.01, 1.1, a) for a in (2, 8, 32)])
    np.testing.assert_allclose(ours, closed, rtol=1e-11)


def test_special_cases():
    orders = np.array([1.5, 2.0, 7.3, 64.0])
    np.testing.assert_array_equal(rdp_poisson_gaussian(1.0, 2.0, orders), orders / 8.0)
    np.testing.assert_array_equal(rdp_poisson_gaussian(0.0, 2.0, orders), np.zeros(4))
    assert np.all(np.isinf(rdp_poisson_gaussian(0.1, 0.0, orders)))
    np.testing.assert_array_equal(rdp_poisson_gaussian(0.0, 0.0, orders), np.zeros(4))


def test_broadcasting_matches_scalar_calls():
    q = np.array([[1e-3], [0.02], [0.4]])
    z = np.array([0.8, 1.5, 4.0, 9.0])
    orders = [1.5, 3.0, 12.0, 20.5]
    grid = rdp_poisson_gaussian(q, z, orders)
    assert grid.shape == (3, 4, 4)
    for i in range(3):
        for j in range(4):
            np.testing.assert_array_equal(grid[i, j], rdp_poisson_gaussian(q[i, 0], z[j], orders))
    assert rdp_poisson_gaussian(0.01, 1.0, orders).shape == (4,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(q=1.5, z=1.0), "q must be in"),
        (dict(q=-0.1, z=1.0), "q must be in"),
        (dict(q=0.1, z=-1.0), "z must be in"),
        (dict(q=0.1, z=float("nan")), "z must be finite"),
        (dict(q=0.1, z=1.0, orders=[0.5, 2.0]), "orders must be in"),
        (dict(q=0.1, z=1.0, orders=[1.0, 2.0]), "orders must be in"),
        (dict(q=[0.1, 0.2], z=[1.0, 2.0, 3.0]), "broadcast"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rdp_poisson_gaussian(**kwargs)


# Monotonicity is a property of the exact RDP. For integer orders dp-accounting's value is the exact
# binomial sum; for fractional orders it sums |binomial coefficients| (an upper bound that can even
# exceed the q=1 value: q=0.25, z=11, alpha=1.5 gives 6.69e-3 > 1.5/(2*11^2) = 6.20e-3, while the
# exact value is 3.9e-4), so those are not monotone in q and are left out here.
_MONO_ORDERS = np.array([2.0, 3.0, 5.0, 8.0, 16.0, 32.0, 64.0, 256.0, 1024.0])


@settings(max_examples=40, deadline=None)
@given(
    q1=st.floats(1e-6, 1.0),
    q2=st.floats(1e-6, 1.0),
    z=st.floats(0.3, 100.0),
)
def test_increasing_in_q(q1, q2, z):
    lo, hi = sorted((q1, q2))
    r_lo, r_hi = rdp_poisson_gaussian([lo, hi], z, _MONO_ORDERS)
    assert np.all(np.isfinite(r_lo) & np.isfinite(r_hi))  # integer orders: finite sums
    assert np.all(r_hi >= r_lo * (1 - 1e-12))


@settings(max_examples=40, deadline=None)
@given(
    q=st.floats(1e-6, 1.0),
    z1=st.floats(0.3, 100.0),
    z2=st.floats(0.3, 100.0),
)
def test_decreasing_in_z(q, z1, z2):
    lo, hi = sorted((z1, z2))
    r_lo, r_hi = rdp_poisson_gaussian(q, [lo, hi], _MONO_ORDERS)
    assert np.all(np.isfinite(r_lo) & np.isfinite(r_hi))
    assert np.all(r_hi <= r_lo * (1 + 1e-12))


# --------------------------------------------------------------------------- conversions


def _random_curves(rng: np.random.Generator, n: int) -> np.ndarray:
    curves = []
    for k in range(n):
        kind = k % 4
        if kind == 0:  # composed subsampled Gaussians
            curves.append(
                rng.integers(1, 10_000)
                * rdp_poisson_gaussian(10 ** rng.uniform(-4, -0.5), rng.uniform(0.5, 5.0))
            )
        elif kind == 1:  # arbitrary positive curves over many scales
            curves.append(rng.exponential(1.0, DEFAULT_ORDERS.size) * 10 ** rng.uniform(-9, 2))
        elif kind == 2:  # tiny curves (KL shortcut), some negative (numerical noise)
            curves.append(rng.normal(0.0, 1e-6, DEFAULT_ORDERS.size))
        else:  # linear curves with some infinite orders
            c = DEFAULT_ORDERS * 10 ** rng.uniform(-8, 0)
            c[rng.integers(0, DEFAULT_ORDERS.size, 6)] = np.inf
            curves.append(c)
    return np.array(curves)


def test_rdp_to_epsilon_equals_compute_epsilon():
    rng = np.random.default_rng(7)
    curves = _random_curves(rng, 200)
    for delta in (1e-12, 1e-5, 0.3, 1.0):
        eps, order = rdp_to_epsilon(DEFAULT_ORDERS, curves, delta)
        assert eps.shape == order.shape == (200,)
        for k in range(curves.shape[0]):
            ref_eps, ref_order = dp_rdp.compute_epsilon(DEFAULT_ORDERS, curves[k], delta)
            assert eps[k] == ref_eps and order[k] == ref_order, (k, delta)


def test_rdp_to_delta_equals_compute_delta():
    rng = np.random.default_rng(8)
    curves = _random_curves(rng, 200)
    for epsilon in (0.0, 0.3, 2.0, 25.0):
        delta, order = rdp_to_delta(DEFAULT_ORDERS, curves, epsilon)
        for k in range(curves.shape[0]):
            ref_delta, ref_order = dp_rdp.compute_delta(DEFAULT_ORDERS, curves[k], epsilon)
            assert delta[k] == ref_delta and order[k] == ref_order, (k, epsilon)


def test_conversion_special_cases_and_shapes():
    zeros = np.zeros((2, 3, DEFAULT_ORDERS.size))
    eps, order = rdp_to_epsilon(DEFAULT_ORDERS, zeros, 0.0)
    assert eps.shape == (2, 3) and np.all(eps == 0) and np.all(order == 0)
    eps, _ = rdp_to_epsilon(DEFAULT_ORDERS, zeros + 1e-3, 0.0)
    assert np.all(np.isinf(eps))
    # KL shortcut: delta^2 + expm1(-r) > 0 gives epsilon 0 at every order
    tiny = np.full(DEFAULT_ORDERS.size, 1e-12)
    assert rdp_to_epsilon(DEFAULT_ORDERS, tiny, 1e-5)[0] == 0.0
    # only orders <= 1.01 -> no finite bound
    assert np.isinf(rdp_to_epsilon([1.0, 1.01], [0.5, 0.5], 1e-5)[0])
    # delta is clipped at 1
    assert rdp_to_delta(DEFAULT_ORDERS, np.full(DEFAULT_ORDERS.size, 50.0), 0.0)[0] == 1.0
    with pytest.raises(ValueError, match="delta must be >= 0"):
        rdp_to_epsilon(DEFAULT_ORDERS, zeros, -1e-5)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        rdp_to_delta(DEFAULT_ORDERS, zeros, -1.0)
    with pytest.raises(ValueError, match="last axis"):
        rdp_to_epsilon(DEFAULT_ORDERS, np.zeros(3), 1e-5)


def test_accountant_epsilon_reproduced():
    import dp_accounting

    for q, z, steps in [(0.01, 1.0, 10_000), (256 / 60000, 1.1, 14062), (0.05, 0.8, 300)]:
        acc = dp_accounting.rdp.RdpAccountant()
        acc.compose(
            dp_accounting.SelfComposedDpEvent(
                dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), steps
            )
        )
        eps, _ = rdp_to_epsilon(DEFAULT_ORDERS, steps * rdp_poisson_gaussian(q, z), 1e-5)
        assert eps == acc.get_epsilon(1e-5)
    # REFERENCES.md §1: q=0.01, z=1.0, T=1e4, delta=1e-5 -> RDP 6.7128; MNIST -> 2.59656
    eps, _ = rdp_to_epsilon(
        DEFAULT_ORDERS, rdp_poisson_gaussian([0.01, 256 / 60000], [1.0, 1.1]) * [[10_000], [14062]], 1e-5
    )
    np.testing.assert_allclose(eps, [6.7128, 2.59656], rtol=2e-5)


# --------------------------------------------------------------------------- replace-one


def test_replace_one_full_batch_closed_form():
    orders = np.array([1.1, 2.0, 7.5, 128.0])
    for z in (0.3, 1.0, 4.0):
        np.testing.assert_allclose(
            rdp_replace_one_poisson_gaussian(1.0, z, orders), 2 * orders / z**2, rtol=1e-15
        )
    # the integral is continuous at q -> 1 for moderate orders (for large orders the tiny
    # (1-q) N(0, z^2) component of Q dominates Q's far tail, so alpha=128 is well below 2 alpha/z^2)
    near_one = rdp_replace_one_poisson_gaussian(1 - 1e-12, 1.5, orders[:3])
    np.testing.assert_allclose(near_one, 2 * orders[:3] / 1.5**2, rtol=1e-9)


def _quad_replace_one(q: float, z: float, alpha: float) -> float:
    """Independent check: scipy.integrate.quad of p^alpha q^(1-alpha), scaled by its maximum."""

    def log_density(x, mean):
        return -((x - mean) ** 2) / (2 * z * z) - math.log(z * math.sqrt(2 * math.pi))

    def log_f(x):
        lp = np.logaddexp(math.log1p(-q) + log_density(x, 0), math.log(q) + log_density(x, 1))
        lq = np.logaddexp(math.log1p(-q) + log_density(x, 0), math.log(q) + log_density(x, -1))
        return alpha * lp + (1 - alpha) * lq

    lo, hi = -30 * z, 2 * alpha + 30 * z
    grid = np.linspace(lo, hi, 20001)
    shift = max(log_f(x) for x in grid[::10])
    breaks = sorted({0.0, 1.0, alpha, 2 * alpha - 1})
    val, _ = integrate.quad(lambda x: math.exp(log_f(x) - shift), lo, hi, points=breaks,
                            limit=500, epsabs=0, epsrel=1e-13)
    return (shift + math.log(val)) / (alpha - 1)


@pytest.mark.parametrize(
    "q, z, alpha",
    [(0.05, 0.8, 2.0), (0.2, 1.5, 5.5), (0.7, 2.0, 16.0), (0.02, 0.5, 3.0), (0.5, 1.0, 40.0)],
)
def test_replace_one_matches_scipy_quad(q, z, alpha):
    ours = rdp_replace_one_poisson_gaussian(q, z, [alpha])[0]
    ref = _quad_replace_one(q, z, alpha)
    assert abs(ours - ref) <= 1e-8 * abs(ref)


@pytest.mark.parametrize("q, z, alpha", [(1e-6, 2.0, 3.0), (1e-4, 30.0, 1.5)])
def test_replace_one_small_values_keep_relative_accuracy(q, z, alpha):
    # RDP ~ 1e-12..1e-16: double-precision quadrature of the integral itself cannot resolve it;
    # compare with 30-digit mpmath quadrature of the excess I - 1
    with mpmath.workdps(30):
        mq, mz, ma = mpmath.mpf(q), mpmath.mpf(z), mpmath.mpf(alpha)

        def g(x):
            bp = mpmath.exp((2 * x - 1) / (2 * mz * mz))
            bq = mpmath.exp((-2 * x - 1) / (2 * mz * mz))
            ratio = (1 - mq + mq * bp) ** ma * (1 - mq + mq * bq) ** (1 - ma)
            return mpmath.npdf(x, 0, mz) * (ratio - 1)

        excess = mpmath.quad(g, [-25 * mz, -mz, 0, 1, mz, 25 * mz])
        ref = float(mpmath.log1p(excess) / (ma - 1))
    ours = rdp_replace_one_poisson_gaussian(q, z, [alpha])[0]
    assert abs(ours - ref) <= 1e-8 * abs(ref)


@settings(max_examples=15, deadline=None)
@given(q=st.floats(1e-5, 1.0), z=st.floats(0.3, 50.0))
def test_replace_one_dominates_add_remove(q, z):
    orders = np.array([1.5, 2.0, 4.5, 10.0, 32.0, 256.0])
    ro = rdp_replace_one_poisson_gaussian(q, z, orders)
    assert np.all(np.isfinite(ro))
    # against the exact add/remove RDP: integer orders (see _MONO_ORDERS for fractional ones)
    integer = orders == np.floor(orders)
    ar = rdp_poisson_gaussian(q, z, orders[integer])
    assert np.all(ro[integer] >= ar * (1 - 1e-9))
    # and replace-one never exceeds the unsampled Gaussian with sensitivity 2
    assert np.all(ro <= 2 * orders / z**2 * (1 + 1e-9))


def test_replace_one_shapes_and_special_cases():
    out = rdp_replace_one_poisson_gaussian([[0.0], [0.01]], [1.0, 0.0], [2.0, 3.0])
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out[0], 0.0)
    assert np.all(np.isinf(out[1, 1]))
    with pytest.raises(ValueError, match="q must be in"):
        rdp_replace_one_poisson_gaussian(2.0, 1.0)


# --------------------------------------------------------------------------- without replacement


def test_without_replacement_reference_values():
    # REFERENCES.md §1 [verified]: gamma=0.01, noise multiplier 1.1 (dp-accounting's convention):
    # eps(2)=4.5693e-4, eps(8)=2.042153e-3. fltheory's replace-one convention (sensitivity 2C)
    # makes these our values at z = 2.2.
    ours = rdp_sampled_without_replacement_gaussian(0.01, 2.2, [2, 8])
    np.testing.assert_allclose(ours, [4.5693e-4, 2.042153e-3], rtol=1e-5)
    ref = dp_rdp._compute_rdp_sample_wor_gaussian(0.01, 1.1, [2.0, 8.0, 3.5])
    np.testing.assert_array_equal(rdp_sampled_without_replacement_gaussian(0.01, 2.2, [2, 8, 3.5]), ref)


def test_without_replacement_special_cases_and_shape():
    orders = [2.0, 5.0]
    np.testing.assert_allclose(
        rdp_sampled_without_replacement_gaussian(1.0, 2.0, orders), [1.0, 2.5], rtol=1e-15
    )
    out = rdp_sampled_without_replacement_gaussian([0.0, 0.01, 0.01], [1.0, 1.0, 0.0], orders)
    assert out.shape == (3, 2)
    assert np.all(out[0] == 0) and np.all(np.isfinite(out[1])) and np.all(np.isinf(out[2]))
