"""Differential privacy x Byzantine resilience: per-worker noise, the √d batch-size law, trilemma.

The PODC'21 analysis (Guerraoui et al.): every honest worker averages ``b`` per-sample gradients
clipped to norm ``C`` and adds Gaussian noise :math:`\\mathcal N(0, s^2 I_d)` calibrated to the
replace-one sensitivity :math:`\\Delta = 2C/b`.  The noise norm is :math:`\\approx\\sqrt d\\, s`, so the
variance-to-norm (VN) resilience condition of the aggregator forces

.. math::

    b > \\frac{2 C z \\sqrt d}{\\kappa_F \\|\\nabla Q\\|}, \\qquad
    z = \\frac{\\sqrt{2\\ln(1.25/\\delta)}}{\\varepsilon} \\;\\text{(classical calibration)},

i.e. :math:`b \\propto \\sqrt d`: with the constants dropped, :math:`b \\approx \\sqrt{25\\cdot10^6} = 5000`
for a ResNet-50.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .._checks import (check_choice, check_int, check_nonnegative, check_open_unit,
                       check_positive, check_array)
from ._core import Assumption, Bound, SYMBOLS
from ._numeric import warn_below_exact
from .robustness import canonical_aggregator, check_byzantine, kappa, vn_threshold

__all__ = [
    "classical_noise_multiplier_bound",
    "classical_noise_multiplier",
    "analytic_noise_multiplier",
    "gaussian_delta",
    "gaussian_epsilon",
    "noise_multiplier",
    "per_worker_noise",
    "vn_ratio_bound",
    "min_batch_size_bound",
    "min_batch_size",
    "secret_mask_min_batch_bound",
    "naive_composition_error_bound",
    "smea_error_order_bound",
    "trilemma_errors",
]

d, b, k, C, z, g, eps, dlt, kF, ss, rho, n, f, sig, kap = (
    SYMBOLS[s] for s in ("d", "b", "k", "C", "z", "g", "epsilon", "delta", "kappa_F", "sigma_s",
                         "rho", "n", "f", "sigma", "kappa"))

REF_PODC = ("R. Guerraoui, N. Gupta, R. Pinot, S. Rouault, J. Stephan (2021). Differential Privacy "
            "and Byzantine Resilience in SGD: Do They Add Up? PODC 2021 (arXiv:2102.08166), "
            "Section 4 (VN condition with Gaussian-mechanism noise)")
REF_DWORK = ("C. Dwork, A. Roth (2014). The Algorithmic Foundations of Differential Privacy. "
             "Foundations and Trends in TCS 9(3-4), Theorem A.1 (proved for epsilon < 1)")
REF_BALLE = ("B. Balle, Y.-X. Wang (2018). Improving the Gaussian Mechanism for Differential "
             "Privacy: Analytical Calibration and Optimal Denoising. ICML 2018, Theorem 8")
REF_TRILEMMA = ("Y. Allouah, R. Guerraoui, N. Gupta, R. Pinot, J. Stephan (2023). On the "
                "Privacy-Robustness-Utility Trilemma in Distributed Learning. ICML 2023 "
                "(arXiv:2302.04787), SMEA")


# ---------------------------------------------------------------------------------------------
# Gaussian-mechanism calibration

def classical_noise_multiplier_bound() -> Bound:
    """Classical Gaussian-mechanism noise multiplier :math:`z = \\sqrt{2\\ln(1.25/\\delta)}/\\varepsilon`.

    The noise standard deviation is :math:`z\\Delta` for :math:`\\ell_2`-sensitivity :math:`\\Delta`.

    References
    ----------
    .. [1] Dwork C., Roth A. (2014), Theorem A.1 (the proof covers :math:`\\varepsilon < 1`); used
       for all :math:`\\varepsilon` by Guerraoui et al., PODC 2021.

    Examples
    --------
    >>> round(classical_noise_multiplier_bound().evaluate(epsilon=1.0, delta=1e-5), 4)
    4.8448
    """
    return Bound("classical_gaussian_z", sp.sqrt(2 * sp.log(sp.Rational(5, 4) / dlt)) / eps,
                 quantity="z", kind="exact",
                 assumptions=[Assumption(dlt < 1, "delta < 1")],
                 reference=REF_DWORK + "; as used by " + REF_PODC,
                 description="Noise multiplier of the classical Gaussian mechanism. Its proof "
                             "needs epsilon < 1; for epsilon above about 9 (delta = 1e-5) it is smaller "
                             "than the exact requirement and is then not a valid guarantee.",
                 status="paper")


def classical_noise_multiplier(epsilon, delta):
    """Numerical value of :func:`classical_noise_multiplier_bound` (no validity check).

    Examples
    --------
    >>> round(classical_noise_multiplier(1.0, 1e-5), 4)
    4.8448
    """
    return classical_noise_multiplier_bound().evaluate(epsilon=epsilon, delta=delta)


def gaussian_delta(noise_multiplier, epsilon):
    """Exact :math:`\\delta(\\varepsilon)` of the Gaussian mechanism with :math:`\\sigma = z\\Delta`.

    .. math::

        \\delta(\\varepsilon) = \\Phi\\Big(\\frac{1}{2z} - \\varepsilon z\\Big)
            - e^{\\varepsilon}\\,\\Phi\\Big(-\\frac{1}{2z} - \\varepsilon z\\Big)

    References
    ----------
    .. [1] Balle B., Wang Y.-X. (2018). ICML 2018, Theorem 8.

    Examples
    --------
    >>> f"{gaussian_delta(3.7306, 1.0):.3e}"
    '1.000e-05'
    """
    from scipy.special import log_ndtr, ndtr

    zz = check_array("noise_multiplier", noise_multiplier, low=0, low_open=True)
    ee = check_array("epsilon", epsilon, low=0)
    a = 1.0 / (2.0 * zz)
    bb = ee * zz
    val = ndtr(a - bb) - np.exp(ee + log_ndtr(-a - bb))
    val = np.clip(val, 0.0, 1.0)
    return float(val) if val.ndim == 0 else val


def _gaussian_eps(zz: float, dl: float) -> float:
    from scipy.optimize import brentq

    h = lambda e: float(gaussian_delta(zz, e)) - dl     # decreasing in e  # noqa: E731
    if h(0.0) <= 0:
        return 0.0
    hi = 1.0
    while h(hi) > 0:
        hi *= 2.0
        if hi > 1e6:  # pragma: no cover
            return math.inf
    return brentq(h, 0.0, hi, xtol=1e-13, rtol=1e-15, maxiter=500)


def gaussian_epsilon(noise_multiplier, delta, steps=1):
    """Exact ε at δ of ``steps`` compositions of the Gaussian mechanism with multiplier z.

    ``steps`` Gaussian releases with multiplier z compose exactly into one with multiplier
    :math:`z/\\sqrt{T}`; the ε is the root of :func:`gaussian_delta` (Balle & Wang).  No sampling,
    no amplification.

    References
    ----------
    .. [1] Balle B., Wang Y.-X. (2018), ICML 2018, Theorem 8; composition of Gaussians: J. Dong, A.
       Roth, W. Su (2022), Gaussian Differential Privacy, JRSS-B (composition of Gaussian
       mechanisms).

    Examples
    --------
    >>> round(gaussian_epsilon(3.7306316, 1e-5), 5)
    1.0
    >>> round(gaussian_epsilon(3.7306316 * 10, 1e-5, steps=100), 5)
    1.0
    """
    zz = check_array("noise_multiplier", noise_multiplier, low=0, low_open=True)
    dd = check_array("delta", delta, low=0, high=1, low_open=True, high_open=True)
    tt = check_array("steps", steps, low=1, integer=True)
    zz, dd, tt = np.broadcast_arrays(zz, dd, tt)
    out = np.vectorize(lambda a, b_, c_: _gaussian_eps(a / math.sqrt(c_), b_),
                       otypes=[float])(zz, dd, tt)
    return float(out) if out.ndim == 0 else out


def _analytic_z(e: float, dl: float) -> float:
    from scipy.optimize import brentq
    from scipy.special import log_ndtr, ndtr

    def h(logz: float) -> float:
        zz = math.exp(logz)
        a, bb = 1.0 / (2.0 * zz), e * zz
        return float(ndtr(a - bb) - math.exp(e + float(log_ndtr(-a - bb)))) - dl

    lo, hi = -30.0, 30.0
    if h(hi) > 0:  # pragma: no cover - only for absurd (epsilon, delta)
        raise ValueError(f"delta must be achievable, got delta={dl}, epsilon={e}")
    if h(lo) < 0:
        return math.exp(lo)
    return math.exp(brentq(h, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=500))


def analytic_noise_multiplier(epsilon, delta):
    """Smallest noise multiplier :math:`z` for which one Gaussian release is (ε, δ)-DP.

    Solves :func:`gaussian_delta` ``(z, epsilon) = delta`` (δ is decreasing in z) exactly -- the
    analytic Gaussian mechanism.  Vectorised over ``epsilon`` and ``delta``.

    References
    ----------
    .. [1] Balle B., Wang Y.-X. (2018). Improving the Gaussian Mechanism for Differential Privacy:
       Analytical Calibration and Optimal Denoising. ICML 2018, Theorem 8.

    Examples
    --------
    >>> round(analytic_noise_multiplier(1.0, 1e-5), 4)
    3.7306
    """
    ee = check_array("epsilon", epsilon, low=0, low_open=True)
    dd = check_array("delta", delta, low=0, high=1, low_open=True, high_open=True)
    ee, dd = np.broadcast_arrays(ee, dd)
    out = np.vectorize(_analytic_z, otypes=[float])(ee, dd)
    return float(out) if out.ndim == 0 else out


def per_worker_noise(epsilon, delta, *, clip: float = 1.0, batch_size: int = 1,
                     method: str = "classical", steps: int = 1, sampling_rate: float = 1.0):
    """Per-coordinate standard deviation of the noise each honest worker adds.

    The sensitivity is the replace-one sensitivity of the average of ``batch_size`` per-sample
    gradients clipped to ``clip``: :math:`\\Delta = 2C/b` (PODC'21); the noise std is :math:`z\\Delta`.

    Parameters
    ----------
    epsilon, delta : float
        Target privacy of the release(s).
    clip : float
        Per-sample clipping norm :math:`C`.
    batch_size : int
        Batch size :math:`b`.
    method : {"classical", "analytic", "accounting"}
        ``"classical"``: :math:`z=\\sqrt{2\\ln(1.25/\\delta)}/\\varepsilon` (PODC'21; a warning is issued
        where it falls below the exact requirement, i.e. is not a valid guarantee).
        ``"analytic"``: exact for one release (Balle & Wang).
        ``"accounting"``: :func:`fltheory.accounting.calibrate_noise` on
        ``dp_sgd(sampling_rate, z, steps)`` (composition over ``steps`` releases).
    steps, sampling_rate
        Only for ``method="accounting"``.

    Returns
    -------
    float
        Noise standard deviation per coordinate.

    References
    ----------
    .. [1] Guerraoui et al. (2021), PODC 2021; Balle & Wang (2018), ICML 2018, Theorem 8.

    Examples
    --------
    >>> round(per_worker_noise(1.0, 1e-5, clip=1.0, batch_size=100), 5)
    0.0969
    >>> round(per_worker_noise(1.0, 1e-5, clip=1.0, batch_size=100, method="analytic"), 5)
    0.07461
    """
    method = check_choice("method", method, ("classical", "analytic", "accounting"))
    e = check_positive("epsilon", epsilon)
    dl = check_open_unit("delta", delta)
    c = check_positive("clip", clip)
    bs = check_int("batch_size", batch_size, minimum=1)
    steps = check_int("steps", steps, minimum=1)
    from .._checks import check_probability
    q = check_probability("sampling_rate", sampling_rate)
    if method != "accounting" and (steps != 1 or q != 1.0):
        raise ValueError(f"steps and sampling_rate need method='accounting', got "
                         f"method={method!r}, steps={steps}, sampling_rate={q}")
    return (2.0 * c / bs) * noise_multiplier(e, dl, method=method, steps=steps, sampling_rate=q)


def noise_multiplier(epsilon: float, delta: float, *, method: str = "classical", steps: int = 1,
                     sampling_rate: float = 1.0) -> float:
    """Noise multiplier z for (ε, δ) by the chosen calibration (see :func:`per_worker_noise`).

    Examples
    --------
    >>> round(noise_multiplier(1.0, 1e-5, method="analytic"), 4)
    3.7306
    """
    method = check_choice("method", method, ("classical", "analytic", "accounting"))
    if method == "classical":
        zc = float(classical_noise_multiplier(epsilon, delta))
        warn_below_exact(zc, _analytic_z(float(epsilon), float(delta)), epsilon, delta)
        return zc
    if method == "analytic":
        return float(analytic_noise_multiplier(epsilon, delta))
    from fltheory.accounting import calibrate_noise, dp_sgd   # lazy: written separately

    return float(calibrate_noise(lambda zz: dp_sgd(sampling_rate, zz, steps),
                                 target_epsilon=epsilon, delta=delta))


# ---------------------------------------------------------------------------------------------
# VN condition and the minimum batch size

def vn_ratio_bound() -> Bound:
    """VN ratio of a worker's noisy gradient at batch size b (d coordinates released).

    .. math::

        \\mathrm{VN}(b) = \\frac{\\sqrt{\\sigma_{\\mathrm s}^2/b + d\\,(2Cz/b)^2}}{\\sqrt{\\rho}\\,\\|\\nabla Q\\|}

    :math:`\\sigma_{\\mathrm s}^2` is the (trace) variance of one per-sample gradient,
    :math:`\\rho\\in(0,1]` the fraction of :math:`\\|\\nabla Q\\|^2` retained by compression (1 without).
    Resilience needs :math:`\\mathrm{VN}(b) < \\kappa_F`; ``solve_for("b", kappa_F, ...)`` gives
    the smallest admissible batch size.

    References
    ----------
    .. [1] Guerraoui et al. (2021), PODC 2021, Section 4.

    Examples
    --------
    >>> vn_ratio_bound().solve_for("b", 0.25, d=25_000_000, C=1, z=4.844805262605389, g=1,
    ...                            sigma_s=0, rho=1)
    193793
    """
    return Bound("vn_ratio", sp.sqrt(ss ** 2 / b + d * (2 * C * z / b) ** 2) / (sp.sqrt(rho) * g),
                 quantity=r"\mathrm{VN}(b)", kind="exact",
                 assumptions=[Assumption(rho <= 1, "rho <= 1")],
                 reference=REF_PODC,
                 description="Variance-to-norm ratio of an honest worker's DP gradient: sampling "
                             "noise plus Gaussian DP noise on d coordinates, relative to the "
                             "retained true-gradient norm.",
                 status="paper")


def min_batch_size_bound(constants: bool = True) -> Bound:
    """Smallest batch size :math:`b^*` with :math:`\\mathrm{VN}(b) < \\kappa_F` (closed form).

    .. math::

        b^* = \\frac{\\sigma_{\\mathrm s}^2 + \\sqrt{\\sigma_{\\mathrm s}^4
              + 16\\,\\kappa_F^2\\,\\rho\\,\\|\\nabla Q\\|^2\\, d\\, C^2 z^2}}{2\\kappa_F^2\\rho\\|\\nabla Q\\|^2}
        \\;\\overset{\\sigma_{\\mathrm s}=0}{=}\\; \\frac{2Cz\\sqrt d}{\\kappa_F\\sqrt\\rho\\,\\|\\nabla Q\\|}

    (positive root of :math:`\\kappa_F^2\\rho\\|\\nabla Q\\|^2 b^2 - \\sigma_{\\mathrm s}^2 b - 4dC^2z^2`).
    With ``constants=False`` only the order :math:`b \\asymp \\sqrt d` is kept.  For compression to
    k coordinates substitute :math:`d \\to k` (noise on k coordinates only).

    References
    ----------
    .. [1] Guerraoui et al. (2021). PODC 2021, Section 4 (the √d law); closed form derived here.

    Examples
    --------
    >>> min_batch_size_bound(constants=False).evaluate(d=25_000_000)
    5000.0
    """
    if not constants:
        return Bound("min_batch_size_order", sp.sqrt(d), quantity="b^*", kind="order",
                     reference=REF_PODC,
                     description="Pure square-root-of-dimension law of the DP x Byzantine batch "
                                 "size (all constants dropped).",
                     status="paper")
    A = kF ** 2 * rho * g ** 2
    expr = (ss ** 2 + sp.sqrt(ss ** 4 + 16 * A * d * C ** 2 * z ** 2)) / (2 * A)
    return Bound("min_batch_size", expr, quantity="b^*", kind="exact",
                 assumptions=[Assumption(rho <= 1, "rho <= 1")],
                 reference=REF_PODC + "; closed form derived (positive root of the VN condition)",
                 description="Smallest batch size for which DP noise keeps the VN ratio below the "
                             "aggregator's threshold kappa_F; every larger batch size works.",
                 status="derived")


def min_batch_size(d, epsilon, delta, aggregator: str = "cwmed", n: int = 20, f: int = 4, *,
                   k=None, constants: bool = True, calibration: str = "classical",
                   clip: float = 1.0, grad_norm: float = 1.0, sampling_std: float = 0.0,
                   retained_energy: float = 1.0, route: str = "auto", steps: int = 1,
                   sampling_rate: float = 1.0):
    """Minimum batch size for DP x Byzantine resilience (PODC'21 VN analysis).

    Parameters
    ----------
    d : int or array_like
        Model dimension.
    epsilon, delta : float
        Per-release privacy target of each worker.
    aggregator : str
        Aggregation rule; its VN threshold comes from :func:`vn_threshold` (``route``).
    n, f : int
        Clients and Byzantine clients.
    k : int or array_like, optional
        Honest workers send (and noise) only ``k`` coordinates: ``d`` is replaced by ``k``.
    constants : bool
        ``False`` drops every constant: returns :math:`\\sqrt d` (or :math:`\\sqrt k`).
    calibration : {"classical", "analytic", "accounting"}
        Noise calibration (see :func:`per_worker_noise`).
    clip : float
        Per-sample clipping norm :math:`C`.
    grad_norm : float
        True gradient norm :math:`\\|\\nabla Q\\|` (at most ``clip`` under clipping).
    sampling_std : float
        :math:`\\sigma_{\\mathrm s}`, trace standard deviation of one per-sample gradient (0 keeps only
        the DP noise, as in the √d law).
    retained_energy : float
        Fraction :math:`\\rho` of :math:`\\|\\nabla Q\\|^2` that survives compression.  1 when the
        kept coordinates carry the gradient (top-k of a k-sparse gradient); ``k/d`` for rand-k in
        expectation -- which restores :math:`\\sqrt d`: random sparsification alone does not lift
        the √d law.

    Returns
    -------
    float or ndarray
        :math:`b^*`; every batch size :math:`b > b^*` satisfies the condition.

    References
    ----------
    .. [1] Guerraoui R., Gupta N., Pinot R., Rouault S., Stephan J. (2021). Differential Privacy
       and Byzantine Resilience in SGD: Do They Add Up? PODC 2021, Section 4.

    Examples
    --------
    >>> min_batch_size(25_000_000, 1.0, 1e-5, constants=False)
    5000.0
    >>> round(min_batch_size(25_000_000, 1.0, 1e-5, "median", n=20, f=4))
    193792
    >>> min_batch_size(100 * 25_000_000, 1.0, 1e-5, constants=False)
    50000.0
    """
    dd = check_array("d", d, low=1, integer=True)
    n, f = check_byzantine(n, f)
    if k is not None:
        kk = check_array("k", k, low=1, integer=True)
        if np.any(np.broadcast_to(kk, np.broadcast_shapes(kk.shape, dd.shape))
                  > np.broadcast_to(dd, np.broadcast_shapes(kk.shape, dd.shape))):
            raise ValueError(f"k must be <= d, got k={np.max(kk):g}, d={np.min(dd):g}")
        dim = kk
    else:
        dim = dd
    scalar = np.ndim(d) == 0 and (k is None or np.ndim(k) == 0)
    if not constants:
        out = min_batch_size_bound(constants=False).evaluate(d=dim)
        return float(out) if scalar else out
    e = check_array("epsilon", epsilon, low=0, low_open=True)
    dl = check_array("delta", delta, low=0, high=1, low_open=True, high_open=True)
    calibration = check_choice("calibration", calibration, ("classical", "analytic", "accounting"))
    c = check_positive("clip", clip)
    gn = check_positive("grad_norm", grad_norm)
    s = check_nonnegative("sampling_std", sampling_std)
    r = check_positive("retained_energy", retained_energy)
    thr = vn_threshold(canonical_aggregator(aggregator), n=n, f=f, route=route)
    e_b, dl_b = np.broadcast_arrays(e, dl)
    zz = np.vectorize(lambda a, b_: noise_multiplier(float(a), float(b_), method=calibration,
                                                     steps=steps, sampling_rate=sampling_rate),
                      otypes=[float])(e_b, dl_b)
    out = min_batch_size_bound().evaluate(d=dim, C=c, z=zz, g=gn, sigma_s=s, rho=r, kappa_F=thr)
    scalar = scalar and np.ndim(epsilon) == 0 and np.ndim(delta) == 0
    return float(out) if scalar else out


def secret_mask_min_batch_bound() -> Bound:
    """Minimum batch size when honest workers use independent secret Poisson(γ) masks.

    VN condition on the released vector :math:`M_i g_i + \\xi_i` (signal :math:`\\gamma\\nabla`,
    noise :math:`d s^2` with :math:`s = 2Cz/b`, mask variance :math:`\\gamma(1-\\gamma)C^2`):

    .. math::

        b^* = \\frac{2Cz\\sqrt d}{\\sqrt{\\kappa_F^2\\gamma^2\\|\\nabla Q\\|^2 - \\gamma(1-\\gamma)C^2}},
        \\qquad \\kappa_F^2\\gamma\\|\\nabla Q\\|^2 > (1-\\gamma)C^2 .

    When the condition fails, no batch size suffices.

    References
    ----------
    .. [1] Derived (docs) from the VN analysis of Guerraoui et al., PODC 2021.

    Examples
    --------
    >>> b = secret_mask_min_batch_bound()
    >>> round(b.evaluate(d=100, C=1, z=1, g=1, kappa_F=1, gamma=0.9), 2)
    23.57
    """
    gam = SYMBOLS["gamma"]
    margin = kF ** 2 * gam ** 2 * g ** 2 - gam * (1 - gam) * C ** 2
    return Bound("secret_mask_min_batch", 2 * C * z * sp.sqrt(d) / sp.sqrt(margin),
                 quantity="b^*", kind="exact",
                 assumptions=[Assumption(gam <= 1, "gamma <= 1"),
                              Assumption(kF ** 2 * gam * g ** 2 > (1 - gam) * C ** 2,
                                         "kappa_F^2 gamma ||grad||^2 > (1 - gamma) C^2")],
                 reference="derived (docs); VN analysis of " + REF_PODC,
                 description="Independent secret masks shrink the signal to gamma*grad and add "
                             "client-to-client variance; below the stated condition the VN "
                             "requirement cannot be met at any batch size.",
                 status="derived")


# ---------------------------------------------------------------------------------------------
# Trilemma: naive composition vs spectral aggregation

def naive_composition_error_bound() -> Bound:
    """Expected error of an (f, κ)-robust rule on DP-noised honest vectors (noise-dominated).

    Honest vectors :math:`x_i = \\mu + \\xi_i`, :math:`\\xi_i\\sim\\mathcal N(0,\\sigma^2 I_d)`,
    :math:`h = n-f`:

    .. math::

        \\mathbb{E}\\|F(x)-\\mu\\|^2 \\le d\\sigma^2\\Big(\\sqrt{\\kappa(1-1/h)} + \\frac{1}{\\sqrt h}\\Big)^2

    (Minkowski: :math:`\\mathbb E\\|F-\\bar x_S\\|^2 \\le \\kappa(1-1/h)d\\sigma^2` by (f, κ)-robustness
    and :math:`\\mathbb E\\|\\bar x_S-\\mu\\|^2 = d\\sigma^2/h`).  Linear in d: the trace of the noise
    covariance enters.

    References
    ----------
    .. [1] Derived (docs); the phenomenon is the motivation of Allouah et al., ICML 2023.

    Examples
    --------
    >>> round(naive_composition_error_bound().evaluate(d=100, sigma=1.0, kappa=1.0, n=20, f=4), 3)
    148.412
    """
    h = n - f
    return Bound("naive_composition_error",
                 d * sig ** 2 * (sp.sqrt(kap * (1 - 1 / h)) + 1 / sp.sqrt(h)) ** 2,
                 quantity=r"\mathbb{E}\|F(x)-\mu\|^2", kind="upper",
                 assumptions=[Assumption(n > 2 * f, "n > 2f")],
                 reference="derived (docs); setting of " + REF_TRILEMMA,
                 description="Naive composition of DP noise and an (f, kappa)-robust aggregator: "
                             "the guarantee scales with the trace d sigma^2 of the noise.",
                 status="derived")


def smea_error_order_bound() -> Bound:
    """Order of the error of a spectral (SMEA-type) aggregator on the same DP-noised inputs.

    .. math::

        \\mathbb{E}\\|F(x)-\\mu\\|^2 \\asymp \\sigma^2\\Big(\\frac dh + \\frac fh\\big(1+\\sqrt{d/h}\\big)^2\\Big)

    The robust part is controlled by the top eigenvalue of the honest empirical covariance
    (:math:`\\approx\\sigma^2(1+\\sqrt{d/h})^2` for Gaussian noise, Gordon's bound) instead of its trace,
    which amortises d over the :math:`h=n-f` honest workers.  Only the order is stated: constants
    are not reproduced.

    References
    ----------
    .. [1] Allouah Y., Guerraoui R., Gupta N., Pinot R., Stephan J. (2023). On the Privacy-
       Robustness- Utility Trilemma in Distributed Learning. ICML 2023 (SMEA; order only, a
       literature estimate).

    Examples
    --------
    >>> smea_error_order_bound().evaluate(d=1600, sigma=1.0, n=20, f=4)
    130.25
    """
    h = n - f
    return Bound("smea_error_order", sig ** 2 * (d / h + f / h * (1 + sp.sqrt(d / h)) ** 2),
                 quantity=r"\mathbb{E}\|F_{\mathrm{SMEA}}(x)-\mu\|^2", kind="order",
                 assumptions=[Assumption(n > 2 * f, "n > 2f")],
                 reference=REF_TRILEMMA + " (order only)",
                 description="Spectral robust aggregation: the Byzantine part of the error scales "
                             "with the operator norm of the noise covariance; ORDER ONLY.",
                 status="literature")


def trilemma_errors(d, n: int = 20, f: int = 4, sigma: float = 1.0, aggregator: str = "cwtm",
                    nnm: bool = False) -> dict:
    """Naive-composition bound vs SMEA order vs the plain honest mean, as functions of d.

    Returns
    -------
    dict
        ``{"d", "naive", "smea_order", "honest_mean", "kappa"}`` (arrays over ``d``).

    Examples
    --------
    >>> r = trilemma_errors([1e3, 1e6], n=20, f=4, sigma=1.0)
    >>> bool(r["naive"][1] > r["smea_order"][1] > r["honest_mean"][1])
    True
    """
    dd = check_array("d", d, low=1, integer=True)
    n, f = check_byzantine(n, f)
    s = check_nonnegative("sigma", sigma)
    kv = kappa(aggregator, n=n, f=f, nnm=nnm)
    return {
        "d": dd,
        "naive": naive_composition_error_bound().evaluate(d=dd, sigma=s, kappa=kv, n=n, f=f),
        "smea_order": smea_error_order_bound().evaluate(d=dd, sigma=s, n=n, f=f),
        "honest_mean": dd * s ** 2 / (n - f),
        "kappa": kv,
    }
