"""Mixup: the revealed-weights guarantee, the labelled hidden-weights number, their order.

Consistency references: lambda = 1 is DP-SGD; the revealed mixture's RDP is the log-mean-exp of
the components' RDP; the vectorised revealed-mixture cells agree with the generic
component-by-component construction (an independent code path).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from fltheory.accounting import NotAGuaranteeWarning, dp_sgd, epsilon, mixup
from fltheory.accounting._lattice import RevealedMixturePair
from fltheory.accounting._pld import compose_pairs
from fltheory.accounting._rdp import rdp_poisson_gaussian
from fltheory.accounting._steps import _cached_pairs, flatten
from fltheory.accounting.mixup import mixup_weights

DELTA = 1e-5


def _hidden(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAGuaranteeWarning)
        return mixup(*a, reveal_weights=False, **k)


def test_weight_one_is_dp_sgd():
    a = epsilon(mixup(0.01, 1.0, 500, weights=1.0), DELTA)
    b = epsilon(dp_sgd(0.01, 1.0, 500), DELTA)
    assert a.epsilon == pytest.approx(b.epsilon, rel=1e-9)


def test_revealed_between_hidden_and_no_mixup():
    w = {0.3: 0.5, 0.9: 0.5}
    rev = epsilon(mixup(0.02, 1.0, 500, w), DELTA)
    hid = epsilon(_hidden(0.02, 1.0, 500, w), DELTA)
    full = epsilon(dp_sgd(0.02, 1.0, 500), DELTA)
    assert hid.epsilon < rev.epsilon_lower
    assert rev.epsilon < full.epsilon_lower


def test_hidden_weights_are_labelled_and_warned():
    with pytest.warns(NotAGuaranteeWarning, match="not a worst-case DP guarantee"):
        ev = mixup(0.01, 1.0, 100, [0.5, 1.0], reveal_weights=False)
    g = epsilon(ev, DELTA)
    assert any("NOT A WORST-CASE GUARANTEE" in n for n in g.notes)
    assert "NOT A WORST-CASE GUARANTEE" in g.reference
    assert any("NOT A WORST-CASE" in n for n in epsilon(ev, DELTA, method="rdp").notes)
    with pytest.raises(ValueError, match="reveal_weights=True"):
        epsilon(ev, DELTA, neighboring="replace_one")


def test_revealed_rdp_is_the_log_mean_exp():
    q, z = 0.05, 1.2
    lams, ws = [0.25, 0.5, 1.0], [0.2, 0.3, 0.5]
    st_ = flatten(mixup(q, z, 1, dict(zip(lams, ws))))[0][0]
    a = np.array([2.0, 4.0, 16.0])
    comps = np.stack([rdp_poisson_gaussian(q, z / l, a) for l in lams])
    expect = np.log(np.sum(np.array(ws)[:, None] * np.exp((a - 1) * comps), axis=0)) / (a - 1)
    np.testing.assert_allclose(st_.rdp(a, "add_remove"), expect, rtol=1e-10)


def test_vectorised_cells_agree_with_the_component_construction():
    q, z, T = 0.05, 1.0, 200
    lams, ws = [0.4, 0.7, 1.0], [0.3, 0.3, 0.4]
    st_ = flatten(mixup(q, z, 1, dict(zip(lams, ws))))[0][0]
    fast = compose_pairs({n: [(p, T)] for n, p in st_.pairs("add_remove").items()}, delta=DELTA)[0]
    dirs = {}
    for name in ("remove", "add"):
        comps = [(w, _cached_pairs(q, z / l, "add_remove")[name], 1) for l, w in zip(lams, ws)]
        dirs[name] = [(RevealedMixturePair(comps), T)]
    slow = compose_pairs(dirs, delta=DELTA)[0]
    assert fast.lower <= slow.upper and slow.lower <= fast.upper


def test_continuous_law_brackets_and_bins_tighten():
    law = stats.beta(2.0, 2.0)
    coarse = epsilon(mixup(0.01, 1.0, 300, law, bins=4), DELTA, rtol=0.05)
    fine = epsilon(mixup(0.01, 1.0, 300, law, bins=16), DELTA, rtol=0.05)
    assert coarse.epsilon_lower <= fine.epsilon and fine.epsilon_lower <= coarse.epsilon
    assert fine.epsilon - fine.epsilon_lower < coarse.epsilon - coarse.epsilon_lower
    low, high, probs = mixup_weights(law, 16)
    assert all(a <= b for a, b in zip(low, high)) and math.isclose(sum(probs), 1.0)


def test_replace_one_revealed():
    g = epsilon(mixup(0.02, 2.0, 200, [0.5, 1.0]), DELTA, neighboring="replace_one")
    assert g.neighboring == "replace_one" and g.epsilon_lower <= g.epsilon


@pytest.mark.parametrize("w,msg", [([1.5], "must be in \\[0, 1\\]"),
                                   ({0.5: 0.3}, "sum to 1"),
                                   (stats.norm(0, 1), "must live on \\[0, 1\\]")])
def test_bad_weights(w, msg):
    with pytest.raises(ValueError, match=msg):
        mixup(0.01, 1.0, 10, w)


@given(q=st.floats(0.005, 0.1), z=st.floats(0.8, 3.0))
def test_monotone(q, z):
    w = [0.5, 1.0]
    a = epsilon(mixup(q, z, 100, w), DELTA)
    b = epsilon(mixup(min(1.0, 2 * q), z, 100, w), DELTA)
    c = epsilon(mixup(q, 1.5 * z, 100, w), DELTA)
    d = epsilon(mixup(q, z, 200, w), DELTA)
    assert a.epsilon <= b.epsilon_lower * 1.001 and a.epsilon <= d.epsilon_lower * 1.001
    assert c.epsilon <= a.epsilon_lower * 1.001
