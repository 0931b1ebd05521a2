"""Every Bound evaluates to the same numbers as a hand-written NumPy formula.

The formulas below are typed from the papers / the derivations on the theory page, independently
of the sympy expressions.  A new bound must get an entry here (test_every_bound_has_a_reference).
"""

import numpy as np
import pytest
from scipy.special import binom

from fltheory.bounds import all_bounds

sqrt, log, log2, ceil = np.sqrt, np.log, np.log2, np.ceil


def _a(n, f):
    return f / (n - 2 * f)


def _kcwtm(n, f):
    return _a(n, f)                       # proved tight (docs, robustness)


def _kmed(n, f):
    return 4 * (1 + _a(n, f)) ** 2        # GM literature estimate


def _kcwmed(n, f):
    n = np.asarray(n, float)
    return np.where(n % 2 == 1, (n - 1) / (n + 1 - 2 * f), (n - 2) / (n + 2 - 2 * f))


def _kkrum(n, f):
    return 6 * (1 + _a(n, f))


def _nnm(n, f, k):
    return 8 * f / (n - f) * (k + 1)


def _vn_krum(n, f):
    return 1 / sqrt(2 * (n - f + f * (n + f * (n - f - 2) - 2) / (n - 2 * f - 2)))


def _vn_from(k, n, f):
    h = n - f
    return 1 / (sqrt(k * (1 - 1 / h)) + 1 / sqrt(h))


def _lg(n):
    return ceil(log2(n))


REF = {
    "kappa_cwtm": lambda n, f: _kcwtm(n, f),
    "kappa_cwmed": lambda n, f: _kcwmed(n, f),
    "kappa_gm": lambda n, f: _kmed(n, f),
    "kappa_krum": lambda n, f: _kkrum(n, f),
    "kappa_cwtm_nnm": lambda n, f: _nnm(n, f, _kcwtm(n, f)),
    "kappa_cwmed_nnm": lambda n, f: _nnm(n, f, _kcwmed(n, f)),
    "kappa_gm_nnm": lambda n, f: _nnm(n, f, _kmed(n, f)),
    "kappa_krum_nnm": lambda n, f: _nnm(n, f, _kkrum(n, f)),
    "kappa_lower": lambda n, f: f / (n - 2 * f),
    "kappa_nnm": lambda n, f, kappa: _nnm(n, f, kappa),
    "robust_dgd": lambda L, Delta0, T, kappa, G, B: (2 * L * Delta0 / T + kappa * G ** 2)
    / (1 - kappa * B ** 2),
    "robust_lower": lambda n, f, G, B: f * G ** 2 / (n - (2 + B ** 2) * f),
    "breakdown_point": lambda B: 1 / (2 + B ** 2),
    "robust_fl_local_steps": lambda kappa, sigma, K, zeta: kappa * (sigma ** 2 / K + zeta ** 2),
    "vn_krum": _vn_krum,
    "vn_bulyan": _vn_krum,
    "vn_cwmed": lambda n, f: 1 / sqrt(n - f),
    "vn_mda": lambda n, f: (n - f) / (sqrt(8) * f),
    "vn_cwtm_from_kappa": lambda n, f: _vn_from(_kcwtm(n, f), n, f),
    "vn_gm_from_kappa": lambda n, f: _vn_from(_kmed(n, f), n, f),
    "classical_gaussian_z": lambda epsilon, delta: sqrt(2 * log(1.25 / delta)) / epsilon,
    "vn_ratio": lambda sigma_s, b, d, C, z, rho, g: sqrt(sigma_s ** 2 / b
                                                         + d * (2 * C * z / b) ** 2)
    / (sqrt(rho) * g),
    "min_batch_size": lambda sigma_s, kappa_F, rho, g, d, C, z: (
        sigma_s ** 2 + sqrt(sigma_s ** 4 + 16 * kappa_F ** 2 * rho * g ** 2 * d * C ** 2 * z ** 2))
    / (2 * kappa_F ** 2 * rho * g ** 2),
    "min_batch_size_order": lambda d: sqrt(d),
    "secret_mask_min_batch": lambda C, z, d, kappa_F, gamma, g: 2 * C * z * sqrt(d)
    / sqrt(kappa_F ** 2 * gamma ** 2 * g ** 2 - gamma * (1 - gamma) * C ** 2),
    "naive_composition_error": lambda d, sigma, kappa, n, f: d * sigma ** 2
    * (sqrt(kappa * (1 - 1 / (n - f))) + 1 / sqrt(n - f)) ** 2,
    "smea_error_order": lambda sigma, d, n, f: sigma ** 2
    * (d / (n - f) + f / (n - f) * (1 + sqrt(d / (n - f))) ** 2),
    "omega_none": lambda: 0.0,
    "omega_randk": lambda d, k: d / k - 1,
    "contraction_topk": lambda d, k: 1 - k / d,
    "omega_qsgd": lambda d, levels: np.minimum(d / levels ** 2, sqrt(d) / levels),
    "omega_l2": lambda d: sqrt(d) - 1,
    "contraction_scaled_sign": lambda d: 1 - 1 / d,
    "bits_none": lambda d, float_bits: float_bits * d,
    "bits_qsgd": lambda d, levels, float_bits: float_bits + d * ceil(log2(2 * levels + 1)),
    "bits_l2": lambda d, float_bits: float_bits + 2 * d,
    "bits_scaled_sign": lambda d, float_bits: d + float_bits,
    "bits_sign": lambda d: d,
    "bits_randk_indices": lambda d, k, float_bits: k * (float_bits + ceil(log2(d))),
    "bits_randk_bitmap": lambda d, k, float_bits: d + float_bits * k,
    "bits_randk_seed": lambda k, float_bits: float_bits * k + 64,
    "noise_energy": lambda d, sigma: d * sigma ** 2,
    "byz_compression_floor": lambda kappa, zeta, omega: kappa * zeta ** 2 * (1 + omega),
    "cost_flops_mean": lambda n, d: n * d,
    "cost_memory_mean": lambda n, d: n * d + d,
    "cost_flops_cwmed": lambda n, d: n * _lg(n) * d,
    "cost_memory_cwmed": lambda n, d: n * d + d,
    "cost_flops_cwtm": lambda n, f, d: n * _lg(n) * d + (n - 2 * f) * d,
    "cost_memory_cwtm": lambda n, d: n * d + d,
    "cost_flops_krum": lambda n, d: n * (n + 1) * d + n ** 2 * _lg(n),
    "cost_memory_krum": lambda n, d: n * d + d + n ** 2,
    "cost_flops_multikrum": lambda n, f, d: n * (n + 1) * d + n ** 2 * _lg(n) + (n - f) * d,
    "cost_memory_multikrum": lambda n, d: n * d + d + n ** 2,
    "cost_flops_gm": lambda n, d, iters: n * (n + 1) * d + iters * (2 * n ** 2 + 4 * n) + 2 * n * d,
    "cost_memory_gm": lambda n, d: n * d + d + n ** 2,
    "cost_flops_nnm": lambda n, f, d: n * (n + 1) * d + n ** 2 * _lg(n) + n * (n - f) * d,
    "cost_memory_nnm": lambda n, d: 2 * n * d + d + n ** 2,
    "cost_flops_mda": lambda n, f, d: n * (n + 1) * d + binom(n, f) * (n - f) * (n - f - 1) / 2
    + (n - f) * d,
    "cost_memory_mda": lambda n, d: n * d + d + n ** 2,
    "cost_flops_smea_gram": lambda n, f, d: n * (n + 1) * d
    + binom(n, f) * ((n - f) ** 3 + (n - f) ** 2) + (n - f) * d,
    "cost_memory_smea_gram": lambda n, d: n * d + d + n ** 2,
    "cost_flops_smea_dense": lambda n, f, d: binom(n, f) * ((n - f) * d ** 2 + d ** 3)
    + (n - f) * d,
    "cost_memory_smea_dense": lambda n, d: n * d + d + d ** 2,
    "cost_flops_caf": lambda n, d, iters, power_iters: iters * (4 * power_iters + 5) * n * d,
    "cost_memory_caf": lambda n, d: n * d + d + n,
}

# Points satisfying every assumption of every bound (n > 4f + 3 for Bulyan, kappa B^2 < 1,
# rho <= 1, gamma <= 1 and kappa_F^2 gamma g^2 > (1 - gamma) C^2 for secret masks, k <= d).
POINTS = [
    dict(n=20, f=4, d=1000, b=64, k=10, T=100, K=5, levels=3, iters=50, power_iters=10,
         float_bits=32, epsilon=1.0, delta=1e-5, C=1.0, G=0.7, B=0.9, L=2.0, Delta0=3.0,
         kappa=0.5, kappa_F=0.9, sigma=0.3, sigma_s=0.2, z=1.5, g=1.0, rho=0.3, omega=9.0,
         zeta=0.5, gamma=0.8),
    dict(n=31, f=3, d=25_000_000, b=4096, k=250_000, T=7, K=1, levels=1, iters=100,
         power_iters=20, float_bits=16, epsilon=0.3, delta=1e-8, C=2.5, G=0.0, B=0.2, L=10.0,
         Delta0=0.1, kappa=3.0, kappa_F=0.7, sigma=2.0, sigma_s=0.0, z=4.0, g=2.0, rho=1.0,
         omega=0.0, zeta=2.0, gamma=0.95),
    dict(n=7, f=1, d=3, b=1, k=3, T=1, K=64, levels=40, iters=1, power_iters=1, float_bits=8,
         epsilon=8.0, delta=0.5, C=0.1, G=5.0, B=0.0, L=0.5, Delta0=0.0, kappa=0.01,
         kappa_F=5.0, sigma=0.0, sigma_s=10.0, z=0.2, g=0.05, rho=0.01, omega=1e4, zeta=0.0,
         gamma=0.99),
]


def test_every_bound_has_a_reference():
    assert sorted(all_bounds()) == sorted(REF)


@pytest.mark.parametrize("name", sorted(REF))
def test_bound_matches_numpy(name):
    b = all_bounds()[name]
    fn = REF[name]
    args = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    for pt in POINTS:
        want = float(fn(**{a: np.float64(pt[a]) for a in args}))
        got = b.evaluate(**{p: pt[p] for p in b.parameters})
        assert np.isfinite(got)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-300), (name, pt)


@pytest.mark.parametrize("name", sorted(REF))
def test_bound_vectorised_matches_numpy(name):
    b = all_bounds()[name]
    if not b.parameters:
        return
    fn = REF[name]
    args = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    # all points at once as arrays: elementwise agreement
    arrays = {a: np.array([float(pt[a]) for pt in POINTS]) for a in set(args) | set(b.parameters)}
    got = b.evaluate(**{p: arrays[p] for p in b.parameters})
    want = np.asarray(fn(**{a: arrays[a] for a in args}), dtype=float)
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=1e-12)
