"""(f, κ)-robustness: claimed bounds vs the lower bound and vs empirical worst-case probes.

CWTM and CWMed are proved (and attained, so the probes reach them up to rounding); GM and Krum
are literature estimates.  No probe may beat a claimed κ, and every claimed κ must be at least
f/(n-2f).
"""

import numpy as np
import pytest

from fltheory.bounds import AGGREGATORS, empirical_kappa, kappa_bound, kappa, kappa_lower_bound, nnm_bound
from fltheory.bounds import _reference_aggregators as ref
from fltheory.bounds.probes import kappa_ratio, lower_bound_instance_ratio

CONFIGS = [(5, 1), (7, 2), (7, 3), (10, 2), (11, 4), (15, 4), (15, 7)]


def test_claimed_kappa_at_least_lower_bound_everywhere():
    n = np.arange(3, 200)
    for f in range(0, 60):
        ok = n > 2 * f
        if not ok.any():
            continue
        lb = kappa_lower_bound(n=n[ok], f=f)
        for name in AGGREGATORS:
            for nnm in (False, True):
                assert np.all(kappa(name, n=n[ok], f=f, nnm=nnm) >= lb - 1e-12), (name, nnm, f)


def test_kappa_grows_with_f_and_falls_with_n():
    for name in AGGREGATORS:
        for nnm in (False, True):
            k = kappa(name, n=41, f=np.arange(0, 20), nnm=nnm)
            assert np.all(np.diff(k) > 0), (name, nnm)
            # CWMed's tight value depends on the parity of n: monotone along each parity
            k = kappa(name, n=np.arange(21, 200, 2), f=10, nnm=nnm)
            assert np.all(np.diff(k) < 0), (name, nnm)


def test_nnm_is_order_optimal():
    # with f fixed and n growing, the lower bound f/(n-2f) -> 0.  CWMed, GM and Krum stay
    # bounded away from 0 (their ratio to the lower bound diverges), F o NNM stays within a
    # constant factor of the lower bound.
    n = np.array([100, 1_000, 10_000, 100_000])
    lb = kappa_lower_bound(n=n, f=1)
    for name in AGGREGATORS:
        with_nnm = kappa(name, n=n, f=1, nnm=True) / lb
        assert np.all(with_nnm < 100), name
        if name != "cwtm":
            assert np.all(np.diff(kappa(name, n=n, f=1) / lb) > 0), name
    assert nnm_bound().evaluate(n=20, f=4, kappa=0.0) == pytest.approx(2.0)


def test_reference_aggregators_basic_behaviour():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [100.0, -100.0]])
    np.testing.assert_allclose(ref.cwtm(X, 1), [2.0, 1.0])
    np.testing.assert_allclose(ref.cwmed(X), [2.0, 1.0])
    np.testing.assert_allclose(ref.krum(X, 1), [1.0, 1.0])
    np.testing.assert_allclose(ref.multikrum(X, 1), [1.5, 1.5])
    np.testing.assert_allclose(ref.gm(np.array([[0.0, 0], [1, 0], [0, 1], [50, 50]])),
                               [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(ref.mda(X, 1), [1.5, 1.5])
    np.testing.assert_allclose(ref.smea(X, 1), [1.5, 1.5])
    assert ref.nnm(X, 1).shape == X.shape
    # batched == one by one
    B = np.random.default_rng(0).standard_normal((4, 7, 3))
    for F in (ref.cwtm, ref.cwmed, ref.krum, ref.multikrum, ref.nnm, ref.gm):
        np.testing.assert_allclose(F(B, 2), np.stack([F(b, 2) for b in B]), atol=1e-12)


@pytest.mark.parametrize("name", ["mean"] + list(AGGREGATORS))
def test_lower_bound_instance(name):
    # every rule reaches at least f/(n-2f) on the two-set instance (the mean: infinitely more)
    F = ref.get(name)
    for n, f in CONFIGS:
        r = lower_bound_instance_ratio(F, n, f)
        assert r >= kappa_lower_bound(n=n, f=f) - 1e-9
        if name == "mean":
            assert r == np.inf


def _probe_settings(name):
    return (dict(population=48, steps=80) if name == "gm" else dict(population=96, steps=120))


@pytest.mark.parametrize("nnm", [False, True])
@pytest.mark.parametrize("name", AGGREGATORS)
def test_no_probe_beats_claimed_kappa(name, nnm):
    configs = CONFIGS if name != "gm" else [(5, 1), (7, 3), (10, 2)]
    for n, f in configs:
        res = empirical_kappa(name, n, f, nnm=nnm, seed=n * 100 + f, **_probe_settings(name))
        claimed = kappa(name, n=n, f=f, nnm=nnm)
        assert np.isfinite(res.max_ratio)
        assert res.max_ratio <= claimed * (1 + 1e-9), (name, nnm, n, f, res.max_ratio, claimed)
        # and the probe found at least the universal lower bound
        assert res.max_ratio >= kappa_lower_bound(n=n, f=f) - 1e-9


def test_probe_detects_a_false_claim():
    # the plain mean is not robust: the probe must find a ratio far above any finite claim
    res = empirical_kappa("mean", 7, 2, population=32, steps=20, seed=0)
    assert res.max_ratio > 1e3
    # Krum's probe gets within a factor 2 of its claimed bound (the probe is not toothless)
    res = empirical_kappa("krum", 6, 2, population=128, steps=200, seed=3)
    assert res.max_ratio > 0.5 * kappa("krum", n=6, f=2)


def test_blanchard_krum_variant_under_bound():
    # Krum with n - f - 2 neighbours (excluding itself), the NeurIPS'17 and fltheory.fl default
    def krum_blanchard(X, f):
        n = X.shape[-2]
        D = np.sort(ref._sqdist(X), axis=-1)[..., 1: n - f - 1].sum(-1)
        i = np.argmin(D, axis=-1)
        return np.take_along_axis(X, i[..., None, None], axis=-2)[..., 0, :]
    for n, f in [(6, 2), (8, 3), (11, 4)]:
        res = empirical_kappa(krum_blanchard, n, f, population=128, steps=200, seed=f)
        assert res.max_ratio <= kappa("krum", n=n, f=f)


def test_probe_result_and_validation():
    res = empirical_kappa("cwtm", 7, 2, population=8, steps=2, seed=1)
    assert res.to_dict()["aggregator"] == "cwtm" and res.worst_input.shape == (7, 2)
    assert empirical_kappa("cwtm", 7, 2, population=8, steps=5, seed=1).max_ratio == \
        empirical_kappa("cwtm", 7, 2, population=8, steps=5, seed=1).max_ratio   # seeded
    with pytest.raises(ValueError, match="n must be > 2f"):
        empirical_kappa("cwtm", 6, 3)
    with pytest.raises(ValueError, match="aggregator must be one of"):
        empirical_kappa("bogus", 7, 2)
    X = np.zeros((1, 5, 2))
    assert kappa_ratio(ref.cwtm, X, 1)[0] == 0.0          # coinciding honest vectors, exact output


FL_RULES = ["cwtm", "cwmed", "krum", "nnm+cwtm", "nnm+krum"]


def test_multikrum_has_no_kappa_but_a_probe():
    # issue 11, item 6: MultiKrum used Krum's value as a stand-in; no constant is offered now
    with pytest.raises(ValueError, match="empirical_kappa"):
        kappa("multikrum", n=10, f=2)
    res = empirical_kappa("multikrum", 7, 2, population=16, steps=10, seed=0)
    assert res.max_ratio >= kappa_lower_bound(n=7, f=2) - 1e-9


def test_proved_constants_are_attained_and_literature_ones_are_estimates():
    # the two-point instance attains the proved values (exact 1-D computation, no search)
    for n, f in [(5, 1), (7, 3), (20, 4), (21, 4), (10, 3)]:
        m = n - f
        # CWMed: g = floor(n/2) - f + 1 honest at 1, the rest at 0, Byzantine above all
        g = n // 2 - f + 1
        X = np.array([1.0] * g + [0.0] * (m - g) + [5.0] * f)[:, None]
        r = kappa_ratio(ref.cwmed, X[None], f)[0]
        assert r == pytest.approx(kappa("cwmed", n=n, f=f), rel=1e-12)
        # CWTM: n - 2f honest at 1, f honest at 0, f Byzantine above all
        X = np.array([1.0] * (n - 2 * f) + [0.0] * f + [5.0] * f)[:, None]
        assert kappa_ratio(ref.cwtm, X[None], f)[0] == pytest.approx(kappa("cwtm", n=n, f=f),
                                                                     rel=1e-12)
    assert kappa_bound("cwtm").kind == "exact" and kappa_bound("cwmed").kind == "exact"
    for name in ("gm", "krum"):
        assert kappa_bound(name).kind == "estimate"
        assert kappa_bound("cwtm", nnm=True).kind == "estimate"


@pytest.mark.parametrize("rule", FL_RULES)
def test_fl_engine_rules_under_claimed_kappa(rule):
    """The torch engine's rules (when installed) obey the bound their ``kappa_name`` points to."""
    torch = pytest.importorskip("torch")
    aggregators = pytest.importorskip("fltheory.fl.aggregators")

    for n, f in [(7, 2), (10, 3)]:
        agg = aggregators.get(rule, f=f)

        def F(X, ff, agg=agg):
            out = np.empty(X.shape[:-2] + X.shape[-1:])
            for idx in np.ndindex(X.shape[:-2]):
                out[idx] = agg(torch.as_tensor(X[idx], dtype=torch.float64))[0].numpy()
            return out
        res = empirical_kappa(F, n, f, population=24, steps=30, seed=f)
        claimed = kappa(agg.kappa_name, n=n, f=f, nnm=rule.startswith("nnm"))
        assert res.max_ratio <= claimed * (1 + 1e-9), (rule, n, f, res.max_ratio, claimed)
