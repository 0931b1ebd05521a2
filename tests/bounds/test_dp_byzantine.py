"""DP x Byzantine: noise calibration, the √d batch-size law, thresholds, trilemma."""

import math
import warnings

import numpy as np
import pytest

from fltheory.bounds import (analytic_noise_multiplier, classical_noise_multiplier,
                             gaussian_delta, gaussian_epsilon, min_batch_size, noise_multiplier,
                             per_worker_noise, trilemma_errors, vn_threshold)

D_RESNET = 25_000_000


def test_mission_example_5000():
    assert min_batch_size(D_RESNET, 1.0, 1e-5, constants=False) == 5000.0
    # with k = d/100 coordinates: sqrt(k) = 500
    assert min_batch_size(D_RESNET, 1.0, 1e-5, k=D_RESNET // 100, constants=False) == 500.0


def test_full_constant_value_by_hand():
    # PODC'21 with the coordinate-wise median, n=20, f=4: kappa_F = 1/sqrt(16) = 1/4,
    # z = sqrt(2 ln(1.25e5)) / 1, b* = 2 C z sqrt(d) / (kappa_F ||grad||)
    z = math.sqrt(2 * math.log(1.25 / 1e-5))
    want = 2 * 1.0 * z * 5000 / 0.25
    assert min_batch_size(D_RESNET, 1.0, 1e-5, "median", n=20, f=4) == pytest.approx(want,
                                                                                   rel=1e-12)
    assert want == pytest.approx(193_792.4, rel=1e-6)
    # far larger than the constant-free 5000, and the analytic calibration is smaller
    ana = min_batch_size(D_RESNET, 1.0, 1e-5, "median", n=20, f=4, calibration="analytic")
    assert 5000 < ana < want


@pytest.mark.parametrize("kw", [dict(constants=False), dict(aggregator="cwmed"),
                                dict(aggregator="cwtm", calibration="analytic"),
                                dict(aggregator="krum", clip=3.0, grad_norm=0.5)])
def test_sqrt_d_scaling(kw):
    d = np.array([1e4, 4e4, 16e4, 64e4, 1e8, 4e8])
    b = min_batch_size(d, 1.0, 1e-5, **kw)
    np.testing.assert_allclose(b[1:4] / b[0:3], 2.0, rtol=1e-12)
    assert b[5] / b[4] == pytest.approx(2.0, rel=1e-12)


def test_k_replaces_d():
    for cal in ("classical", "analytic"):
        assert min_batch_size(D_RESNET, 1.0, 1e-5, k=250_000, calibration=cal) == pytest.approx(
            min_batch_size(250_000, 1.0, 1e-5, calibration=cal), rel=1e-12)
    # rand-k in expectation (retained energy k/d) restores the full-d requirement
    assert min_batch_size(D_RESNET, 1.0, 1e-5, k=250_000, retained_energy=0.01) == \
        pytest.approx(min_batch_size(D_RESNET, 1.0, 1e-5), rel=1e-12)


def test_monotonicity():
    d = np.geomspace(1e3, 1e9, 25).round()
    for agg in ("cwmed", "cwtm", "krum", "gm"):
        assert np.all(np.diff(min_batch_size(d, 1.0, 1e-5, agg)) > 0)
    eps = np.array([0.1, 0.3, 1.0, 2.0, 5.0, 8.0])
    for cal in ("classical", "analytic"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            b = min_batch_size(1e6, eps, 1e-5, calibration=cal)
        assert np.all(np.diff(b) < 0)
    # a stricter delta or more Byzantine clients need larger batches
    assert min_batch_size(1e6, 1.0, 1e-9) > min_batch_size(1e6, 1.0, 1e-5)
    for agg, fs in (("cwtm", range(0, 9)), ("krum", range(1, 9)), ("gm", range(0, 9))):
        b_f = [min_batch_size(1e6, 1.0, 1e-5, agg, n=20, f=f) for f in fs]
        assert np.all(np.diff(b_f) > 0), agg
    # (the coordinate-wise median's published threshold 1/sqrt(n-f) grows with f: see its Bound)


def test_sampling_noise_increases_requirement_and_solves_vn():
    b0 = min_batch_size(1e6, 1.0, 1e-5, "cwmed", sampling_std=0.0)
    b1 = min_batch_size(1e6, 1.0, 1e-5, "cwmed", sampling_std=5.0)
    assert b1 > b0
    # at b1 the VN ratio equals the threshold exactly
    z = classical_noise_multiplier(1.0, 1e-5)
    vn = math.sqrt(25.0 / b1 + 1e6 * (2 * z / b1) ** 2)
    assert vn == pytest.approx(vn_threshold("cwmed", n=20, f=4), rel=1e-10)


def test_analytic_gaussian_against_dp_accounting():
    # independent reference: dp-accounting's PLD of one Gaussian release at our z gives back eps
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    for eps, delta in [(0.5, 1e-5), (1.0, 1e-5), (3.0, 1e-6), (8.0, 1e-3)]:
        z = analytic_noise_multiplier(eps, delta)
        acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
        acc.compose(dp_accounting.GaussianDpEvent(z))
        assert acc.get_epsilon(delta) == pytest.approx(eps, abs=2e-3)
        assert gaussian_delta(z, eps) == pytest.approx(delta, rel=1e-8)
        assert gaussian_epsilon(z, delta) == pytest.approx(eps, rel=1e-8)


def test_gaussian_epsilon_composes_exactly():
    # T Gaussian releases with multiplier z == one release with multiplier z / sqrt(T)
    z = 20.0
    assert gaussian_epsilon(z, 1e-5, steps=100) == pytest.approx(gaussian_epsilon(2.0, 1e-5),
                                                                 rel=1e-12)
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant
    acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
    acc.compose(dp_accounting.GaussianDpEvent(z), 100)
    assert acc.get_epsilon(1e-5) == pytest.approx(gaussian_epsilon(z, 1e-5, steps=100), abs=2e-3)


def test_classical_calibration_values_and_warning():
    assert classical_noise_multiplier(1.0, 1e-5) == pytest.approx(4.844805262605389, rel=1e-12)
    assert analytic_noise_multiplier(1.0, 1e-5) < classical_noise_multiplier(1.0, 1e-5)
    with pytest.warns(RuntimeWarning, match="not a valid"):
        noise_multiplier(16.0, 1e-5, method="classical")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noise_multiplier(1.0, 1e-5, method="classical")      # valid there: no warning


def test_per_worker_noise():
    s = per_worker_noise(1.0, 1e-5, clip=2.0, batch_size=50)
    assert s == pytest.approx(2 * 2.0 / 50 * math.sqrt(2 * math.log(1.25e5)), rel=1e-12)
    sa = per_worker_noise(1.0, 1e-5, clip=2.0, batch_size=50, method="analytic")
    assert sa == pytest.approx(2 * 2.0 / 50 * analytic_noise_multiplier(1.0, 1e-5), rel=1e-12)
    with pytest.raises(ValueError, match="need method='accounting'"):
        per_worker_noise(1.0, 1e-5, steps=10)


def test_accounting_calibration_agrees_with_analytic():
    """Needs fltheory.accounting (calibrate_noise, dp_sgd): one release, no sampling."""
    pytest.importorskip("fltheory.accounting")
    za = analytic_noise_multiplier(1.0, 1e-5)
    zacc = noise_multiplier(1.0, 1e-5, method="accounting")
    assert zacc == pytest.approx(za, rel=5e-3)
    assert zacc >= za * (1 - 1e-3)       # a certified accountant never asks for less noise


@pytest.mark.parametrize("kwargs, msg", [
    (dict(d=0, epsilon=1, delta=1e-5), r"d must be in \[1, inf\], got 0"),
    (dict(d=1e6, epsilon=0, delta=1e-5), r"epsilon must be in \(0, inf\], got 0"),
    (dict(d=1e6, epsilon=1, delta=1.0), r"delta must be in \(0, 1\), got 1"),
    (dict(d=100, epsilon=1, delta=1e-5, k=200), r"k must be <= d"),
    (dict(d=1e6, epsilon=1, delta=1e-5, aggregator="nope"), r"aggregator must be one of"),
    (dict(d=1e6, epsilon=1, delta=1e-5, aggregator="krum", n=9, f=4), r"n > 2f \+ 2"),
    (dict(d=1e6, epsilon=1, delta=1e-5, aggregator="krum", n=8, f=4), r"f=4 with n=8"),
    (dict(d=25e6, epsilon=1, delta=1e-5, aggregator="median", n=20, f=10), r"0 <= f < n/2"),
    (dict(d=25e6, epsilon=1, delta=1e-5, aggregator="median", n=20, f=19), r"0 <= f <= 9"),
    (dict(d=1e6, epsilon=1, delta=1e-5, retained_energy=2.0), r"rho <= 1"),
    (dict(d=1e6, epsilon=1, delta=1e-5, calibration="magic"), r"calibration must be one of"),
    (dict(d=1e6, epsilon=1, delta=1e-5, clip=-1), r"clip must be > 0, got -1"),
])
def test_min_batch_size_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        min_batch_size(**kwargs)


def test_trilemma():
    d = np.geomspace(10, 1e9, 20).round()
    r = trilemma_errors(d, n=20, f=4, sigma=1.0, aggregator="cwtm")
    assert np.all(r["naive"] > r["smea_order"]) and np.all(r["smea_order"] > r["honest_mean"])
    # naive composition is linear in d: the trace of the noise covariance
    np.testing.assert_allclose(r["naive"] / d, r["naive"][0] / d[0], rtol=1e-12)
    # SMEA's Byzantine excess over the honest mean grows like d/h, not like kappa d
    excess = r["smea_order"] - r["honest_mean"]
    assert excess[-1] / r["naive"][-1] < 0.1
