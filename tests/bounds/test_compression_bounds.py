"""Compressor variances against exact computations, bits per round, noise energy, floors."""

import itertools

import numpy as np
import pytest

from fltheory.bounds import (bits_per_round, byzantine_compression_floor_bound,
                             compressor_variance, compressor_variance_bound, is_unbiased,
                             noise_energy)


def _exact_quant_var(x, s):
    """Exact E||Q_s(x) - x||^2 of QSGD stochastic rounding (levels l/s of |x_i|/||x||)."""
    nrm = np.linalg.norm(x)
    r = s * np.abs(x) / nrm
    lo = np.floor(r)
    return nrm ** 2 / s ** 2 * np.sum((r - lo) * (lo + 1 - r) * (r != lo))


def _sample_quant(x, s, rng, reps):
    nrm = np.linalg.norm(x)
    r = s * np.abs(x) / nrm
    lo = np.floor(r)
    up = rng.random((reps, x.size)) < (r - lo)
    return np.sign(x) * nrm * (lo + up) / s


def test_randk_variance_is_exact_for_every_x():
    rng = np.random.default_rng(0)
    d, k = 7, 3
    subsets = list(itertools.combinations(range(d), k))
    for _ in range(5):
        x = rng.standard_normal(d) * rng.exponential(size=d)
        errs = []
        for S in subsets:
            q = np.zeros(d)
            q[list(S)] = x[list(S)] * d / k
            errs.append(np.sum((q - x) ** 2))
        assert np.mean(errs) == pytest.approx(compressor_variance("randk", d, k) * x @ x,
                                              rel=1e-12)


def test_quantisation_variance_formula_matches_sampling():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(20)
    samples = _sample_quant(x, 3, rng, 200_000)
    np.testing.assert_allclose(samples.mean(0), x, atol=0.02)           # unbiased
    emp = np.mean(np.sum((samples - x) ** 2, axis=1))
    assert emp == pytest.approx(_exact_quant_var(x, 3), rel=0.02)


@pytest.mark.parametrize("d, s", [(2, 1), (10, 1), (10, 2), (50, 3), (400, 4), (1000, 40)])
def test_qsgd_bound_never_exceeded(d, s):
    rng = np.random.default_rng(d + s)
    omega = compressor_variance("qsgd", d, levels=s)
    worst = 0.0
    xs = [rng.standard_normal(d) for _ in range(30)] + [np.ones(d), np.eye(d)[0]]
    for x in xs:                                 # random starts + greedy hill climbing
        best = _exact_quant_var(x, s) / (x @ x)
        for _ in range(100):
            y = x + 0.3 * rng.standard_normal(d) * np.abs(x).mean()
            v = _exact_quant_var(y, s) / (y @ y)
            if v > best:
                x, best = y, v
        worst = max(worst, best)
    assert worst <= omega * (1 + 1e-12)
    if s == 1:                                   # l2 quantisation: sqrt(d) - 1, attained
        assert compressor_variance("l2", d) == pytest.approx(np.sqrt(d) - 1)
        assert _exact_quant_var(np.ones(d), 1) / d == pytest.approx(np.sqrt(d) - 1, rel=1e-12)
        assert worst <= compressor_variance("l2", d) * (1 + 1e-12)


def test_topk_and_sign_contractions():
    rng = np.random.default_rng(2)
    d, k = 50, 5
    for _ in range(200):
        x = rng.standard_normal(d) * rng.exponential(size=d) ** 3
        idx = np.argsort(-np.abs(x))[:k]
        t = np.zeros(d)
        t[idx] = x[idx]
        assert np.sum((t - x) ** 2) <= compressor_variance("topk", d, k) * (x @ x) + 1e-12
        c = np.abs(x).sum() / d * np.sign(x)
        err = np.sum((c - x) ** 2)
        assert err == pytest.approx(x @ x - np.abs(x).sum() ** 2 / d, rel=1e-9)
        assert err <= compressor_variance("scaled_sign", d) * (x @ x) + 1e-12
    # tight cases: equal magnitudes for top-k, a 1-sparse vector for sign
    x = np.ones(d)
    assert np.sum(x[k:] ** 2) == pytest.approx(compressor_variance("topk", d, k) * d)
    e = np.eye(d)[0] + 1e-9          # nearly 1-sparse, no zero coordinate: the bound is approached
    c = np.abs(e).sum() / d * np.sign(e)
    assert np.sum((c - e) ** 2) / (e @ e) == pytest.approx(
        compressor_variance("scaled_sign", d), rel=1e-6)


def test_variance_monotone_and_vectorised():
    k = np.array([1, 10, 100, 1000])
    om = compressor_variance("randk", 1000, k)
    assert np.all(np.diff(om) < 0) and om[-1] == 0.0
    assert compressor_variance("none", 1000) == 0.0
    assert is_unbiased("qsgd") and is_unbiased("l2") and not is_unbiased("scaled_sign")


def test_bits_per_round():
    d = 25_000_000
    assert bits_per_round("none", d) == 32 * d
    assert bits_per_round("randk", d, 250_000, index_coding="seed") == 32 * 250_000 + 64
    assert bits_per_round("randk", d, 10, index_coding="indices") == 10 * (32 + 25)
    # auto picks the cheaper of indices and bitmap
    assert bits_per_round("randk", 1000, 500) == 1000 + 32 * 500
    assert bits_per_round("topk", 1000, 5) == 5 * (32 + 10)
    assert bits_per_round("qsgd", 1000, levels=1) == 32 + 1000 * 2
    assert bits_per_round("qsgd", 1000, levels=7) == 32 + 1000 * 4
    assert bits_per_round("l2", 1000) == 32 + 2000
    assert bits_per_round("scaled_sign", 1000, float_bits=16) == 1016
    kk = np.array([10, 100, 1000])
    assert np.all(np.diff(bits_per_round("randk", 10_000, kk)) > 0)


@pytest.mark.parametrize("call, msg", [
    (lambda: compressor_variance("randk", 10, 20), r"k <= d"),
    (lambda: compressor_variance("randk", 10), r"k is required"),
    (lambda: compressor_variance("qsgd", 10), r"levels is required"),
    (lambda: compressor_variance("zip", 10), r"kind must be one of"),
    (lambda: bits_per_round("topk", 100, 5, index_coding="seed"), r"only possible for randk"),
    (lambda: bits_per_round("randk", 100, 5, index_coding="x"), r"index_coding must be one of"),
    (lambda: noise_energy(0, 1.0), r"dim must be in \[1, inf\]"),
    (lambda: noise_energy(10, -1.0), r"sigma must be in \[0, inf\]"),
])
def test_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_noise_energy_and_floor():
    assert noise_energy(25_000_000, 0.01) == pytest.approx(2500.0)
    assert noise_energy(250_000, 0.01) / noise_energy(25_000_000, 0.01) == pytest.approx(0.01)
    b = byzantine_compression_floor_bound()
    om = np.array([0.0, 1.0, 9.0, 99.0])
    v = b.evaluate(kappa=0.5, zeta=2.0, omega=om)
    np.testing.assert_allclose(np.diff(v) / np.diff(om), 0.5 * 4.0)   # linear in omega
    assert b.kind == "order"


def test_sign_is_the_plain_sign_and_has_no_variance_bound():
    # one name per compressor across config, fl and bounds: "sign" is sign(x), the scaled sign
    # (||x||_1/d) sign(x) is "scaled_sign"
    with pytest.raises(ValueError, match=r"plain sign.*scaled_sign"):
        compressor_variance("sign", 100)
    with pytest.raises(ValueError, match=r"scaled_sign"):
        compressor_variance_bound("sign")
    # why: ||sign(x) - x||^2 / ||x||^2 is unbounded as x -> 0 (no contraction factor exists)
    x = np.full(10, 1e-3)
    assert np.sum((np.sign(x) - x) ** 2) / (x @ x) > 1e5
    # the plain sign sends d bits (no scale); the change of meaning warns
    with pytest.warns(FutureWarning, match="scaled_sign"):
        assert bits_per_round("sign", 1000) == 1000
    assert bits_per_round("scaled_sign", 1000) == 1032
    # the scaled sign's former alias keeps its meaning, with a warning
    with pytest.warns(DeprecationWarning, match="scaled_sign"):
        assert compressor_variance("signsgd", 100) == pytest.approx(0.99)
    with pytest.raises(ValueError, match=r"did you mean 'qsgd'"):
        compressor_variance("qsdg", 100)


def test_sign_bound_names():
    from fltheory.bounds import get_bound

    with pytest.warns(DeprecationWarning, match="contraction_scaled_sign"):
        assert get_bound("contraction_sign").evaluate(d=10) == pytest.approx(0.9)
    with pytest.warns(FutureWarning, match="bits_scaled_sign"):
        assert get_bound("bits_sign").evaluate(d=10) == 10
    assert get_bound("bits_scaled_sign").evaluate(d=10, float_bits=32) == 42
