"""Untilted composition at small δ, and the tilted retry.

Below δ = 1e-7 the engine first plans the composition untilted and keeps it where the
floating-point allowance it will charge is small at δ (:func:`_pld._untilted_allowance`, an
upper bound on that allowance); a pass whose gap then exceeds ``rtol`` is redone tilted.  These
tests check the prediction against the allowance actually charged, the bounds against the
closed-form Gaussian profile and against the tilted composition, and the retry.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm

from fltheory.accounting import _pld


def _pair_dirs(q, z, t, relation="add_remove"):
    pairs = _pld.subsampled_gaussian_pairs(q, z, relation)
    return {name: [(p, t)] for name, p in pairs.items()}


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-4, 0.9), st.floats(0.5, 20.0), st.integers(1, 5000),
       st.sampled_from(["add_remove", "replace_one"]))
def test_predicted_allowance_bounds_the_charged_one(q, z, t, relation):
    tau = 1e-13
    pair = next(iter(_pld.subsampled_gaussian_pairs(q, z, relation).values()))
    counts = np.array([[float(t)]])
    h = _pld._initial_h([(pair, float(t))], 0.003)
    steps = [_pld.discretize(pair, h, tau / (10.0 * t))]
    wins, tilted = _pld._plan(steps, counts, tau)
    pred = _pld._untilted_allowance(steps, counts, wins, tilted)
    c = _pld._compose_many(steps, counts, tau, wins, tilted)[0]
    charged = max(c.slack_u - tau, c.slack_p - 2 * tau, c.slack_qt - tau)
    assert 0 < charged <= pred * (1 + 1e-9)


def _gaussian_eps(mu, delta):
    def f(e):
        return norm.cdf(-e / mu + mu / 2) - math.exp(e) * norm.cdf(-e / mu - mu / 2) - delta
    return brentq(f, 0.0, 200.0, xtol=1e-14, rtol=1e-14)


@pytest.mark.parametrize("z,t,delta", [(2.0, 50, 1e-8), (5.0, 400, 3e-9), (1.0, 3, 1e-9)])
def test_untilted_small_delta_brackets_the_gaussian_profile(monkeypatch, z, t, delta):
    calls = []
    orig = _pld._choose_tilt
    monkeypatch.setattr(_pld, "_choose_tilt", lambda *a, **k: calls.append(1) or orig(*a, **k))
    pair = _pld.subsampled_gaussian_pairs(1.0, z, "add_remove")["remove"]
    r = _pld.compose_pairs({"remove": [(pair, t)]}, delta=delta)[0]
    assert not calls                                   # the untilted shortcut was taken
    exact = _gaussian_eps(math.sqrt(t) / z, delta)
    assert r.lower <= exact <= r.upper
    assert (r.upper - r.lower) / r.upper <= 0.002


@pytest.mark.parametrize("q,z,t,delta,relation", [
    (0.01, 1.0, 1000, 1e-9, "add_remove"), (0.2, 20.0, 30, 2e-8, "add_remove"),
    (6e-5, 3.9, 89, 3e-9, "add_remove"), (0.004, 4.2, 3, 8e-10, "replace_one"),
    (5e-4, 29.0, 1000, 4.5e-9, "replace_one")])
def test_untilted_and_tilted_intervals_overlap(monkeypatch, q, z, t, delta, relation):
    """Both are certified intervals for the same ε, so each one's lower bound is below the
    other's upper bound (an unsound shortcut would show as disjoint intervals)."""
    fast = _pld.compose_pairs(_pair_dirs(q, z, t, relation), delta=delta)[0]
    monkeypatch.setattr(_pld, "_UNTILTED_LEVEL", 0.0)          # never untilted: always tilted
    slow = _pld.compose_pairs(_pair_dirs(q, z, t, relation), delta=delta)[0]
    assert fast.lower <= slow.upper and slow.lower <= fast.upper
    assert (fast.upper - fast.lower) / fast.upper <= 0.002
    assert fast.upper == pytest.approx(slow.upper, rel=2e-3)


def test_a_missed_gap_is_redone_tilted(monkeypatch):
    """Untilted laws forced at δ = 1e-13 after 10⁴ steps (their allowance is far above δ):
    the pass misses rtol, and the same lattice step is redone tilted."""
    monkeypatch.setattr(_pld, "_UNTILTED_LEVEL", 1e30)
    calls = []
    orig = _pld._prepare_dirs

    def spy(*a, **k):
        calls.append(k.get("tilt", False))
        return orig(*a, **k)

    monkeypatch.setattr(_pld, "_prepare_dirs", spy)
    r = _pld.compose_pairs(_pair_dirs(0.01, 1.0, 10_000), delta=1e-13)[0]
    assert calls[0] is False and True in calls
    assert math.isfinite(r.upper) and (r.upper - r.lower) / r.upper <= 0.002
    monkeypatch.setattr(_pld, "_UNTILTED_LEVEL", 0.0)
    ref = _pld.compose_pairs(_pair_dirs(0.01, 1.0, 10_000), delta=1e-13)[0]
    assert r.lower <= ref.upper and ref.lower <= r.upper


def _lattice(q, z, t, delta, relation):
    """The first composed lattice of ``compose_pairs`` for one subsampled-Gaussian pair."""
    got = []
    orig = _pld._compose_many

    def keep(*a, **k):
        out = orig(*a, **k)
        got.append(out[0])
        return out

    _pld._compose_many = keep
    try:
        _pld.compose_pairs(_pair_dirs(q, z, t, relation), delta=delta)
    finally:
        _pld._compose_many = orig
    return got[0]


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-3, 0.5), st.floats(0.6, 20.0), st.integers(2, 5000),
       st.floats(3.0, 12.0), st.sampled_from(["add_remove", "replace_one"]),
       st.sampled_from([1e4, 1.0, 1e-3]))
def test_tail_restricted_bounds_equal_the_full_evaluation(q, z, t, neg_log10_delta, relation,
                                                          level):
    """The ε bounds evaluate their tail sums from where at most ``_SUFFIX_FROM`` δ of mass is
    left (falling back to the whole lattice where the answer lies below); the sums are the same
    numbers, so the bounds equal those of the whole lattice, tilted (small δ) or not.  Small
    levels force the fallback."""
    delta = 10.0 ** -neg_log10_delta
    c = _lattice(q, z, t, delta, relation)
    old = _pld._SUFFIX_FROM
    try:
        _pld._SUFFIX_FROM = math.inf             # every test and threshold: the whole lattice
        full = (_pld._eps_upper(c, delta), _pld._eps_lower(c, delta))
        _pld._SUFFIX_FROM = level
        part = (_pld._eps_upper(c, delta), _pld._eps_lower(c, delta))
    finally:
        _pld._SUFFIX_FROM = old
    assert part == full
