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
