"""The add direction of add/remove certified from the remove direction's composition.

Under add/remove the two directions of the Poisson-subsampled Gaussian are ``(P, Q)`` and
``(Q, P)``.  The engine composes the first and certifies the second through the identity
``H_γ(Q||P) = 1 - γ + γ H_{1/γ}(P||Q)`` (:func:`fltheory.accounting._pld._mirror_covered`);
only where that fails does it compose the second direction too.  These tests check the
identity on exact products, and check the shortcut against independent computations: the
exact one-step hockey-stick divergence (scipy quadrature of the two Gaussian mixtures) and the
certified lower bounds of the full two-direction composition.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from fltheory.accounting import _pld


def _hockey(p, q, gamma):
    return float(np.sum(np.maximum(p - gamma * q, 0.0)))


def _product(p, t):
    out = np.ones(1)
    for _ in range(t):
        out = np.outer(out, p).ravel()
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.floats(-3.0, 3.0))
def test_reverse_hockey_stick_identity_on_exact_products(seed, t, eps):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(4))
    q = rng.dirichlet(np.ones(4))
    pt, qt = _product(p, t), _product(q, t)
    g = math.exp(eps)
    lhs = _hockey(qt, pt, g)
    rhs = 1.0 - g + g * _hockey(pt, qt, 1.0 / g)
    assert lhs == pytest.approx(rhs, abs=1e-12)


def _exact_add_delta(q, z, eps):
    """δ of the add pair (N(0, z²), (1-q) N(0, z²) + q N(1, z²)) at ε (scipy's normal cdf).

    Its loss -log(1 - q + q exp((2x - 1) / (2 z²))) decreases in x, so the optimal test is the
    left half-line {x < x_ε}; δ = P(x < x_ε) - e^ε Q(x < x_ε).
    """
    if eps >= -math.log1p(-q):
        return 0.0
    x = z * z * math.log((math.exp(-eps) - 1.0 + q) / q) + 0.5
    p_mass = norm.cdf(x / z)
    q_mass = (1 - q) * norm.cdf(x / z) + q * norm.cdf((x - 1.0) / z)
    return max(p_mass - math.exp(eps) * q_mass, 0.0)


def _dirs(q, z, t):
    pairs = _pld.subsampled_gaussian_pairs(q, z, "add_remove")
    return {"remove": [(pairs["remove"], float(t))], "add": [(pairs["add"], float(t))]}


@pytest.mark.parametrize("q,z,delta", [(0.01, 1.0, 1e-5), (0.2, 2.0, 1e-4), (0.05, 0.8, 1e-6),
                                       (0.001, 3.0, 1e-7), (0.5, 4.0, 1e-3)])
def test_one_step_shortcut_covers_the_exact_add_direction(monkeypatch, q, z, delta):
    calls = []
    real = _pld._mirror_covered

    def spy(*a):
        calls.append(real(*a))
        return calls[-1]

    monkeypatch.setattr(_pld, "_mirror_covered", spy)
    res = _pld.compose_pairs(_dirs(q, z, 1), delta=delta)[0]
    # untilted (delta >= 1e-7): the identity certifies the add direction, which is not composed
    assert calls and all(calls)
    # and rightly: the add direction's exact δ at the reported ε is at most δ
    assert _exact_add_delta(q, z, res.upper) <= delta * (1 + 1e-9)


def _full(q, z, t, delta):
    """Both directions composed (the shortcut disabled)."""
    d = _dirs(q, z, t)
    d["add"] = [(_pld.subsampled_gaussian_pairs(q, z, "add_remove")["remove"].mirror(
        "add, composed") , float(t))]
    d["add"][0][0]._mirror = None                 # not recognised as a mirror: composed
    d["add"][0][0]._inverse = None
    return d


@pytest.mark.parametrize("q,z,t,delta", list(itertools.product(
    (1e-3, 0.02, 0.3), (0.7, 1.5, 6.0), (3, 300), (1e-9, 1e-5, 1e-3))))
def test_shortcut_upper_bound_dominates_every_certified_lower_bound(q, z, t, delta):
    short = _pld.compose_pairs(_dirs(q, z, t), delta=delta)[0]
    full_dirs = _full(q, z, t, delta)
    lows = [_pld.compose_pairs({k: v}, delta=delta)[0].lower for k, v in full_dirs.items()]
    # the true ε is the larger of the two directions; each certified lower bound is below it
    assert max(lows) <= short.upper * (1 + 1e-12)
    assert short.lower <= short.upper


@pytest.mark.parametrize("q,z,t,delta", [(0.01, 1.0, 100, 1e-5), (0.2, 0.8, 10, 1e-3),
                                         (0.05, 2.0, 1000, 1e-6)])
def test_a_binding_mirrored_direction_is_composed(monkeypatch, q, z, t, delta):
    # the weaker direction (add) first, its mirror (remove, the binding one) second: the
    # identity must fail to cover the mirror, which is then composed
    add = _pld.subsampled_gaussian_pairs(q, z, "add_remove")["add"]
    rem = add.mirror("remove, as the mirror of add")
    dirs = {"add": [(add, float(t))], "remove": [(rem, float(t))]}
    assert _pld._mirror_names(dirs) == ("add", "remove")
    seen = []
    real = _pld._mirror_covered
    monkeypatch.setattr(_pld, "_mirror_covered", lambda *a: seen.append(real(*a)) or seen[-1])
    res = _pld.compose_pairs(dirs, delta=delta)[0]
    assert seen and not any(seen)
    rem_alone = _pld.compose_pairs({"remove": [(rem, float(t))]}, delta=delta)[0]
    add_alone = _pld.compose_pairs({"add": [(add, float(t))]}, delta=delta)[0]
    assert add_alone.upper < rem_alone.lower            # the mirror is the binding direction
    assert res.upper >= rem_alone.lower
    # the binding mirror was composed with its label laws: its lower bound is reported
    assert res.lower > add_alone.upper


def _heavy_tailed_step(rng, n_bulk=40, span=4000):
    """A lattice step with a narrow bulk and a thin far tail on both sides."""
    idx = np.concatenate([np.arange(-n_bulk, n_bulk + 1),
                          rng.choice(np.arange(n_bulk + 1, span), 30, replace=False),
                          -rng.choice(np.arange(n_bulk + 1, span), 30, replace=False)])
    idx = np.unique(idx)
    w = np.where(np.abs(idx) <= n_bulk, 1.0, 10.0 ** rng.uniform(-14, -6, idx.size))
    p = w / w.sum()
    q = rng.dirichlet(np.ones(idx.size)) * 0.5 + 0.5 * p
    return _pld.StepPmfs(h=0.01, upper_idx=idx, upper=p, p_inf=0.0,
                         lab_idx=idx, lab_p=p, lab_q=q / q.sum())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.sampled_from([1e-6, 1e-9, 1e-12]))
def test_planned_windows_hold_all_but_tau_of_every_composed_law(seed, t, tau):
    # the window of _plan (union bound on the tails + Chernoff on the clipped laws) against the
    # exact t-fold convolution of each stored law
    rng = np.random.default_rng(seed)
    s = _heavy_tailed_step(rng)
    counts = np.array([[float(t)]])
    (lo_u, hi_u), (lo_l, hi_l) = _pld._plan([s], counts, tau)[0]
    tilted = _pld._tilted_laws([s], 0.0, 0.0)[0]
    for k, (lo, hi) in ((0, (lo_u, hi_u)), (1, (lo_l, hi_l)), (2, (lo_l, hi_l))):
        idx, val, _ = tilted[k]
        dense = np.zeros(idx.max() - idx.min() + 1)
        dense[idx - idx.min()] = val
        comp = dense
        for _ in range(t - 1):
            comp = np.convolve(comp, dense)
        j = np.arange(comp.size) + t * idx.min()
        assert comp[j < lo].sum() <= tau * (1 + 1e-9) + 1e-300
        assert comp[j > hi].sum() <= tau * (1 + 1e-9) + 1e-300


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_single_step_windows_equal_the_general_windows(seed):
    # the one-step fast path of _plan against _log_mgf + _windows (any difference in the
    # window ends would mean one of them is not the documented Chernoff bound)
    rng = np.random.default_rng(seed)
    u = np.unique(rng.integers(-3000, 3000, rng.integers(5, 400)))
    v = rng.random((u.size, 3)) ** rng.uniform(1, 20)
    v /= v.sum(axis=0)
    if seed % 5 == 0:
        v[:, 2] = 0.0                                  # a law without mass
    j0, j1 = int(np.quantile(u, 0.1)), int(np.quantile(u, 0.9))
    lo_u, hi_u = np.maximum(u, j0), np.minimum(u, j1)
    c = float(rng.integers(1, 1000))
    lam = _pld._WIN_LAM / rng.uniform(1, 300)
    log_tau = math.log(rng.uniform(1e-15, 1e-5))
    fast = _pld._single_step_windows(lo_u, hi_u, v, c, lam, log_tau)
    r = np.empty((3, lam.size))
    pos = lam >= 0
    r[:, pos] = _pld._log_mgf(hi_u, v, lam[pos])
    r[:, ~pos] = _pld._log_mgf(lo_u, v, lam[~pos])
    ref = _pld._windows([r], np.array([[c]]), lam, log_tau)
    assert np.array_equal(fast[0], ref[0]) and np.array_equal(fast[1], ref[1])
