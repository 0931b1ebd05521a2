"""Mirrored cells of a symmetric pair (replace-one): Q is P reflected about 0.

The engine builds the cells of such a pair for ``x >= 0`` and mirrors them
(:meth:`GaussianMixturePair._mirrored_cells`).  These tests compare them with the general
construction, check the symmetry to the last bit, and check the composed bounds against the
exact one-step ε (the half-line test, :mod:`fltheory.accounting._exact`) and against the
general cells' bounds.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fltheory.accounting import _exact, _pld


def _replace(q, z):
    return _pld.subsampled_gaussian_pairs(q, z, "replace_one")["replace"]


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-4, 1.0), st.floats(0.3, 30.0), st.floats(1e-4, 0.05))
def test_mirrored_cells_match_the_general_ones(q, z, rel_h):
    pair = _replace(q, z)
    assert pair.symmetric
    _, v = pair.loss_moments()
    h = rel_h * float(np.sqrt(v))
    xl, xr = pair._x_range(1e-14)
    assume(2 * np.floor(pair._loss_at(xr) / h) <= _pld._MAX_CELLS)   # (else: adaptive widths)
    c = pair._cells(h, 1e-14)
    pair.symmetric = False
    g = pair._cells(h, 1e-14)
    # exactly symmetric: Q is P reversed, loss intervals negated and reversed
    assert np.array_equal(c.q, c.p[::-1])
    assert np.array_equal(c.lo, -c.hi[::-1])
    assert c.p.sum() == pytest.approx(1.0, abs=1e-12)
    # the same cells as the general construction (edges at the same lattice levels)
    assert c.p.size == g.p.size
    fin = np.isfinite(g.lo) & np.isfinite(c.lo)
    # (at x = 0 the mirrored loss is exactly 0; the general one rounds to about 1e-16)
    np.testing.assert_allclose(c.lo[fin], g.lo[fin], rtol=1e-9, atol=1e-9 * h)
    np.testing.assert_allclose(c.p, g.p, rtol=1e-6, atol=1e-15)
    np.testing.assert_allclose(c.q, g.q, rtol=1e-6, atol=1e-15)


def test_a_pair_that_is_not_symmetric_is_not_mirrored():
    pairs = _pld.subsampled_gaussian_pairs(0.1, 2.0, "add_remove")
    assert not pairs["remove"].symmetric and not pairs["add"].symmetric
    odd = _pld.GaussianMixturePair([0.0, 1.0], [0.7, 0.3], [0.0, -1.0], [0.6, 0.4], 1.0,
                                   increasing=True, symmetric=True)
    assert not odd.symmetric            # the weights differ: Q is not P reflected


@pytest.mark.parametrize("q,z,delta", [(0.01, 1.0, 1e-5), (0.3, 5.0, 1e-8), (1.0, 2.0, 1e-6),
                                       (2e-4, 0.8, 1e-6)])
def test_one_step_bounds_bracket_the_exact_epsilon(q, z, delta):
    r = _pld.compose_pairs({"replace": [(_replace(q, z), 1)]}, delta=delta)[0]
    prof = _exact.ExactProfile(list(_exact._step_pairs(q, z, "replace_one").values()), "", "")
    lo, up = _exact.epsilon_interval(prof, delta)
    assert r.lower <= up and lo <= r.upper
    assert (r.upper - r.lower) / r.upper <= 0.002


@pytest.mark.parametrize("q,z,t,delta", [(0.083, 23.3, 723, 4e-7), (0.0115, 3.79, 6252, 2.7e-7),
                                         (0.06, 1.45, 3000, 8e-6)])
def test_mirrored_and_general_cells_give_overlapping_intervals(q, z, t, delta):
    a = _pld.compose_pairs({"replace": [(_replace(q, z), t)]}, delta=delta)[0]
    pair = _replace(q, z)
    pair.symmetric = False
    b = _pld.compose_pairs({"replace": [(pair, t)]}, delta=delta)[0]
    assert a.lower <= b.upper and b.lower <= a.upper
    assert a.upper == pytest.approx(b.upper, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# the Q-label law as the reflection of the P-label law (one composition for both)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q,z", [(0.083, 23.3), (0.0115, 3.79), (1.0, 2.0), (0.05, 1.5)])
def test_mirrored_labels_are_the_direct_q_label_law(q, z):
    pair = _replace(q, z)
    _, v = pair.loss_moments()
    h = 0.01 * float(np.sqrt(v))
    s = _pld.discretize(pair, h, 1e-14)
    assert pair.cells(h, 1e-14).mirrored and s.mirror_labels
    assert np.array_equal(s.lab_idx, -1 - s.lab_idx[::-1])
    # the Q-label law summed directly from the cells' Q-masses and labels
    c = pair.cells(h, 1e-14)
    mid = np.where(np.isfinite(c.lo) & np.isfinite(c.hi), 0.5 * (c.lo + c.hi),
                   np.where(np.isfinite(c.lo), c.lo, c.hi))
    lab = np.floor(mid / h + 1e-9).astype(np.int64)
    direct = np.bincount(lab - s.lab_idx[0], weights=c.q, minlength=s.lab_idx.size)
    np.testing.assert_allclose(s.lab_q, direct, rtol=1e-12, atol=1e-300)


def _prepared(q, z, t, delta):
    pair = _replace(q, z)
    d = {"replace": [(pair, t)]}
    h = _pld._initial_h([(pair, float(t))], 0.003)
    tau = 1e-4 * delta
    prepared, _, _ = _pld._prepare_dirs(d, tau, h, delta=delta)
    return prepared["replace"], tau


@pytest.mark.parametrize("q,z,t,delta", [(0.083, 23.3, 723, 4e-7), (0.0115, 3.79, 500, 2.7e-7),
                                         (0.3, 5.0, 40, 1e-6)])
def test_reflected_composition_equals_the_direct_one(q, z, t, delta):
    """The mirrored Q-label composition (the stored P-label law reflected, J -> -T - J) equals
    the Q-label law composed directly (tilted by 1/2, the same window), within the two FFT
    allowances, and has the same normaliser."""
    (steps, counts, wins, tilted), tau = _prepared(q, z, t, delta)
    assert tilted[2] == -0.5 and tilted[3] is not None          # the mirrored path was planned
    mir = _pld._compose_many(steps, counts, tau, wins, tilted)[0]
    direct = _pld._compose_many(steps, counts, tau, wins, (*tilted[:3], None))[0]
    tol = (mir.slack_qt - tilted[3]) + (direct.slack_qt - tau)
    assert np.max(np.abs(mir.lab_qt - direct.lab_qt)) <= tol
    assert mir.log_z == pytest.approx(direct.log_z, rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(mir.lab_p, direct.lab_p)


def _gaussian_replace_eps(z, t, delta):
    from scipy.optimize import brentq
    from scipy.stats import norm

    mu = 2.0 * np.sqrt(t) / z

    def f(e):
        return norm.cdf(-e / mu + mu / 2) - np.exp(e) * norm.cdf(-e / mu - mu / 2) - delta
    return brentq(f, 0.0, 200.0, xtol=1e-14, rtol=1e-14)


@pytest.mark.parametrize("z,t,delta", [(8.0, 10, 1e-5), (20.0, 400, 1e-7), (1.0, 3, 1e-3)])
def test_mirrored_labels_bracket_the_gaussian_profile(monkeypatch, z, t, delta):
    """Full-batch Gaussian, replace-one (a symmetric pair) composed on the lattice with the
    mirrored label law: the interval contains the closed-form ε."""
    used = []
    orig = _pld._compose_many

    def spy(steps, counts, tau, wins, tilted, upper_only=False):
        used.append(tilted[2] == -0.5 and tilted[3] is not None)
        return orig(steps, counts, tau, wins, tilted, upper_only)

    monkeypatch.setattr(_pld, "_compose_many", spy)
    r = _pld.compose_pairs({"replace": [(_replace(1.0, z), t)]}, delta=delta)[0]
    assert used and used[0]
    exact = _gaussian_replace_eps(z, t, delta)
    assert r.lower <= exact <= r.upper
    assert (r.upper - r.lower) / r.upper <= 0.002


def test_no_mirrored_labels_where_their_tilt_factor_is_large(monkeypatch):
    """At large ε the reflected law's charges would be multiplied by about e^{ε/2}: the three
    laws are composed as before."""
    (steps, counts, wins, tilted), _ = _prepared(0.3, 0.5, 2000, 1e-6)
    assert tilted[3] is None and tilted[2] != -0.5
