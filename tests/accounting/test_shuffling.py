"""Shuffling (Feldman-McMillan-Talwar clone pair) and random check-ins.

External references: FMT21 Thm. 3.1 closed form, n=1e5, eps0=4, delta=1e-6: 0.5346
(REFERENCES.md, [paper]); the exact hockey-stick divergence of the clone pair, enumerated
atom by atom (independent of the PLD engine) for small n.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from fltheory.accounting import (delta, epsilon, random_checkins, shuffled,
                                 shuffling_closed_form)
from fltheory.accounting.shuffling import clone_pair

RO = "replace_one"


def _clone_exact(e0, n):
    """The clone pair enumerated directly from its definition (dict of atoms)."""
    r = math.exp(-e0)
    p = math.exp(e0) / (1 + math.exp(e0))
    P, Q = {}, {}
    for c in range(n):
        pc = stats.binom.pmf(c, n - 1, r)
        a = np.arange(c + 1)
        pa = pc * stats.binom.pmf(a, c, 0.5)
        for ai, w in zip(a, pa):
            for x, w1, w2 in (((ai + 1, c - ai), p, 1 - p), ((ai, c - ai + 1), 1 - p, p)):
                P[x] = P.get(x, 0.0) + w * w1
                Q[x] = Q.get(x, 0.0) + w * w2
    keys = list(P)
    return np.array([P[k] for k in keys]), np.array([Q[k] for k in keys])


def test_closed_form_reference_value():
    g = shuffling_closed_form(4.0, 100_000, 1e-6)
    assert round(g.epsilon, 4) == 0.5346 or round(g.epsilon, 4) == 0.5347
    assert g.epsilon == pytest.approx(0.5346, abs=1e-4)
    assert g.epsilon_lower is None and "closed form" in g.method


@pytest.mark.parametrize("e0,n", [(2.0, 150), (1.0, 60)])
def test_clone_pair_matches_exact_enumeration(e0, n):
    P, Q = _clone_exact(e0, n)
    for eps in (0.1, 0.4, 1.0):
        exact = float(np.maximum(P - math.exp(eps) * Q, 0).sum())
        g = delta(shuffled(e0, n), eps, neighboring=RO)
        assert g.delta_lower <= exact * (1 + 1e-9) + 1e-15
        assert exact <= g.delta * (1 + 1e-9) + 1e-15


def test_clone_pair_masses_and_loss_range():
    ap = clone_pair(3.0, 5000, tail=1e-12)
    assert ap.p.sum() + ap.p_out >= 1.0 - 1e-12
    assert ap.p.sum() <= 1.0 + 1e-9
    loss = ap._loss[ap._both]
    assert loss.min() >= -3.0 - 1e-9 and loss.max() <= 3.0 + 1e-9


@pytest.mark.parametrize("e0,n,d", [(4.0, 100_000, 1e-6), (2.0, 10_000, 1e-5),
                                    (1.0, 5_000, 1e-6), (3.0, 50_000, 1e-8)])
def test_pld_below_closed_form(e0, n, d):
    cf = shuffling_closed_form(e0, n, d).epsilon
    g = epsilon(shuffled(e0, n), d, neighboring=RO)
    assert g.epsilon_lower <= g.epsilon < cf


def test_composition_over_rounds():
    one = epsilon(shuffled(3.0, 20_000), 1e-6, neighboring=RO)
    ten = epsilon(shuffled(3.0, 20_000, rounds=10), 1e-6, neighboring=RO)
    assert one.epsilon < ten.epsilon and ten.epsilon < 10 * one.epsilon
    assert one.epsilon_lower < ten.epsilon_lower


def test_lower_bound_is_one_of_the_mechanism():
    # issue 11, reproducer 3 (shuffling): shuffled binary randomized response, n = 1000,
    # eps0 = 2, delta = 1e-6 has exact epsilon 0.3233 (worst case over the other users' inputs,
    # by enumerating counts: fltheory.verify); the clone pair's "lower bound" 0.5455 was above it
    g = epsilon(shuffled(2.0, 1000), 1e-6, neighboring=RO)
    assert 0.30 < g.epsilon_lower <= 0.3233 + 1e-4 < g.epsilon


def test_rdp_is_an_upper_bound():
    g = epsilon(shuffled(3.0, 20_000, rounds=5), 1e-6, neighboring=RO)
    r = epsilon(shuffled(3.0, 20_000, rounds=5), 1e-6, neighboring=RO, method="rdp")
    assert r.epsilon >= g.epsilon_lower


def test_add_remove_is_refused_with_the_sound_relation():
    with pytest.raises(ValueError, match="neighboring='replace_one'"):
        epsilon(shuffled(2.0, 1000), 1e-6)


def test_closed_form_outside_validity_points_to_the_pld():
    with pytest.raises(ValueError, match=r"use shuffled\(local_epsilon, num_clients\)"):
        shuffling_closed_form(8.0, 1000, 1e-6)


def test_random_checkins_is_refused_with_the_sound_alternatives():
    # issue 11, reproducer 2: n = 1, p0 = 0.1, m = 1000, eps0 = 1 returned 0.0472, while the
    # exact epsilon at delta = 1e-6 is about 1.0 (fltheory.verify); no bound is offered now
    for kw in ({}, {"num_clients": 1}, {"num_clients": 10_000}):
        with pytest.raises(ValueError, match=r"shuffled\(eps0, n\)"):
            random_checkins(1.0, 0.1, 1000, 1e-6, **kw)


@given(e0=st.floats(2.0, 5.0), n=st.integers(1_000, 8_000))
def test_monotone_in_local_epsilon_and_clients(e0, n):
    base = epsilon(shuffled(e0, n), 1e-6, neighboring=RO)
    more_e0 = epsilon(shuffled(e0 + 1.0, n), 1e-6, neighboring=RO)
    more_n = epsilon(shuffled(e0, 4 * n), 1e-6, neighboring=RO)
    # the upper bounds are monotone (the lower bounds are those of binary randomized
    # response, a different, tighter-for-it mechanism: compared with each other only)
    assert base.epsilon <= more_e0.epsilon * (1 + 1e-6)
    assert more_n.epsilon <= base.epsilon * (1 + 1e-6)
    assert base.epsilon_lower <= more_e0.epsilon_lower * (1 + 1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="num_clients must be >= 1"):
        shuffled(1.0, 0)
    with pytest.raises(ValueError, match="local_epsilon must be >= 0"):
        shuffled(-1.0, 10)
    assert epsilon(shuffled(0.0, 10), 1e-6, neighboring=RO).epsilon == 0.0
