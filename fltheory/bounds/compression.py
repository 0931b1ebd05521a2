"""Compression: variance of compressors, bits per round, noise energy, Byzantine + compression floors.

An *unbiased* compressor :math:`Q` has variance parameter :math:`\\omega`:
:math:`\\mathbb E Q(x) = x`, :math:`\\mathbb E\\|Q(x)-x\\|^2 \\le \\omega\\|x\\|^2`.  A *biased* (contractive)
compressor :math:`\\mathcal C` satisfies :math:`\\|\\mathcal C(x)-x\\|^2 \\le (1-\\delta)\\|x\\|^2`;
:func:`compressor_variance` returns :math:`\\omega` for the former and the contraction factor
:math:`1-\\delta` for the latter.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .._checks import check_array, check_choice
from ._core import Assumption, Bound, SYMBOLS, log2
# the compressor names, aliases and messages, shared with the numeric twins (no sympy there)
from ._numeric import (COMPRESSORS, VARIANCE_KINDS, bits_args as _bits_args,
                       bits_kind as _bits_kind,
                       is_unbiased, variance_kind as _variance_kind)

__all__ = [
    "COMPRESSORS",
    "VARIANCE_KINDS",
    "compressor_variance_bound",
    "compressor_variance",
    "is_unbiased",
    "bits_per_round_bound",
    "bits_per_round",
    "noise_energy_bound",
    "noise_energy",
    "byzantine_compression_floor_bound",
]

d, k, s, w, sig, kap, zeta, om = (SYMBOLS[x] for x in ("d", "k", "levels", "float_bits", "sigma",
                                                      "kappa", "zeta", "omega"))

_K_LE_D = Assumption(k <= d, "k <= d")

REF_QSGD = ("D. Alistarh, D. Grubic, J. Li, R. Tomioka, M. Vojnovic (2017). QSGD: "
            "Communication-Efficient SGD via Gradient Quantization and Encoding. NeurIPS 2017, "
            "Lemma 3.1")
REF_STICH = ("S. U. Stich, J.-B. Cordonnier, M. Jaggi (2018). Sparsified SGD with Memory. "
             "NeurIPS 2018 (rand-k / top-k as k-contractions)")
REF_EF = ("S. P. Karimireddy, Q. Rebjock, S. U. Stich, M. Jaggi (2019). Error Feedback Fixes "
          "SignSGD and other Gradient Compression Schemes. ICML 2019 (scaled sign)")
REF_MARINA = ("E. Gorbunov, S. Horvath, P. Richtarik, G. Gidel (2023). Variance Reduction is an "
              "Antidote to Byzantines: Better Rates, Weaker Assumptions and Communication "
              "Compression as a Cherry on the Top. ICLR 2023 (Byz-VR-MARINA)")


def compressor_variance_bound(kind: str) -> Bound:
    """ω (unbiased) or :math:`1-\\delta` (biased) of a compressor, as a :class:`Bound`.

    ========  ==========================================  ===========================
    kind      bound                                       nature
    ========  ==========================================  ===========================
    none      :math:`0`                                   exact
    randk     :math:`\\omega = d/k - 1` (scaling d/k)      exact, every x
    qsgd      :math:`\\omega \\le \\min(d/s^2, \\sqrt d/s)`   s levels, QSGD Lemma 3.1
    l2        :math:`\\omega = \\sqrt d - 1` (s = 1)        exact worst case
    topk      :math:`1-\\delta = 1 - k/d`                  biased, contraction
    sc. sign  :math:`1-\\delta = 1 - 1/d`                  ``scaled_sign``: :math:`\\tfrac{\\|x\\|_1}{d}\\mathrm{sign}(x)`
    ========  ==========================================  ===========================

    The plain sign (``kind="sign"``, :math:`\\mathrm{sign}(x)`) is biased and has no such bound
    (:math:`\\|\\mathrm{sign}(x) - x\\|^2 \\to d` as :math:`x \\to 0`): asking for it raises
    ``ValueError`` naming ``scaled_sign``.

    Derivations (docs): rand-k: :math:`\\mathbb E\\|\\tfrac dk Mx - x\\|^2 = (\\tfrac dk-1)\\|x\\|^2`;
    ℓ2 quantization: :math:`\\mathbb E\\|Q(x)\\|^2 = \\|x\\|_2\\|x\\|_1 \\le \\sqrt d\\|x\\|^2`; top-k keeps the
    k largest squares, at least a k/d share; scaled sign (x without zero coordinates; zeros only
    lower the error): :math:`\\|\\mathcal C(x)-x\\|^2 = \\|x\\|^2 - \\|x\\|_1^2/d`.

    References
    ----------
    .. [1] Alistarh et al. (2017), NeurIPS 2017, Lemma 3.1 (QSGD); Stich et al. (2018), NeurIPS 2018
       (top-k, rand-k); Karimireddy et al. (2019), ICML 2019 (scaled sign).

    Examples
    --------
    >>> compressor_variance_bound("randk").evaluate(d=1000, k=10)
    99.0
    """
    key = _variance_kind(kind)
    if key == "none":
        return Bound("omega_none", sp.Integer(0) * d, quantity=r"\omega", kind="exact",
                     reference="identity", description="No compression.", status="derived")
    if key == "randk":
        return Bound("omega_randk", d / k - 1, quantity=r"\omega_{\mathrm{rand}k}", kind="exact",
                     assumptions=[_K_LE_D], reference=REF_STICH + "; one-line derivation in docs",
                     description="Unbiased rand-k (keep k uniformly chosen coordinates, scale by "
                                 "d/k): the variance equals (d/k - 1)||x||^2 for every x.",
                     status="derived")
    if key == "qsgd":
        return Bound("omega_qsgd", sp.Min(d / s ** 2, sp.sqrt(d) / s),
                     quantity=r"\omega_{\mathrm{QSGD}}", kind="upper", reference=REF_QSGD,
                     description="QSGD stochastic quantisation to s levels per sign (l2 norm "
                                 "scaling).",
                     status="literature")
    if key == "l2":
        return Bound("omega_l2", sp.sqrt(d) - 1, quantity=r"\omega_{\ell_2}", kind="exact",
                     reference=REF_QSGD + " (s = 1); exact worst case derived in docs",
                     description="l2 (ternary) quantisation, QSGD with one level: worst case "
                                 "attained by vectors with equal-magnitude coordinates.",
                     status="derived")
    if key == "topk":
        return Bound("contraction_topk", 1 - k / d, quantity=r"1-\delta_{\mathrm{top}k}",
                     kind="upper", assumptions=[_K_LE_D], reference=REF_STICH,
                     description="Top-k is biased: ||topk(x) - x||^2 <= (1 - k/d)||x||^2 "
                                 "(a k/d-approximate compressor). Its data-dependent selection "
                                 "leaks privacy.",
                     status="derived")
    return Bound("contraction_scaled_sign", 1 - 1 / d, quantity=r"1-\delta_{\mathrm{sign}}",
                 kind="upper",
                 reference=REF_EF,
                 description="Scaled sign (||x||_1/d) sign(x) is biased: ||C(x) - x||^2 <= "
                             "||x||^2 - ||x||_1^2/d <= (1 - 1/d)||x||^2 (equality in the first "
                             "step when no coordinate is 0).",
                 status="derived")


def compressor_variance(kind: str, d, k=None, levels=None):
    """ω of an unbiased compressor, or the contraction factor :math:`1-\\delta` of a biased one.

    Parameters
    ----------
    kind : {"none", "randk", "topk", "qsgd", "l2", "scaled_sign"}
        (``"sign"``, the plain sign, has no bound: ``ValueError``.)
    d : int or array_like
        Dimension.
    k : int or array_like, optional
        Kept coordinates (``randk``, ``topk``).
    levels : int, optional
        Quantisation levels s (``qsgd``).

    Examples
    --------
    >>> compressor_variance("randk", d=25_000_000, k=250_000)
    99.0
    >>> compressor_variance("qsgd", d=10_000, levels=10)
    10.0
    >>> compressor_variance("topk", d=100, k=10)
    0.9
    """
    key = _variance_kind(kind)
    if key == "none":
        zero = np.zeros(np.shape(check_array("d", d, low=1, integer=True)))
        return float(zero) if zero.ndim == 0 else zero
    bound = compressor_variance_bound(key)
    vals = {"d": d}
    if "k" in bound.parameters:
        if k is None:
            raise ValueError(f"k is required for kind={key!r}")
        vals["k"] = k
    if "levels" in bound.parameters:
        if levels is None:
            raise ValueError(f"levels is required for kind={key!r}")
        vals["levels"] = levels
    return bound.evaluate(**vals)


def bits_per_round_bound(kind: str, index_coding: str = "indices") -> Bound:
    """Bits one client sends per round, as a :class:`Bound` (an encoding model, stated).

    ``w`` is the bits per float (32).  Encodings:

    * ``none``: :math:`wd`.
    * ``randk``/``topk``: values plus positions: ``"indices"`` :math:`k(w+\\lceil\\log_2 d\\rceil)`;
      ``"bitmap"`` :math:`d + wk`; ``"seed"`` (rand-k with a mask drawn from a seed shared with
      the server) :math:`wk + 64`.
    * ``qsgd``: norm plus a fixed-width code of the :math:`2s+1` signed levels per coordinate,
      :math:`w + d\\lceil\\log_2(2s+1)\\rceil` (Elias coding, QSGD Thm 3.4, needs fewer).
    * ``l2``: ``qsgd`` with s = 1: :math:`w + 2d`.
    * ``scaled_sign``: one bit per coordinate plus the scale :math:`\\|x\\|_1/d`: :math:`d + w`.
    * ``sign`` (plain sign, no scale): one bit per coordinate, :math:`d`.  Before this release
      ``sign`` meant the scaled sign; it warns (``FutureWarning``) to say so.

    Examples
    --------
    >>> bits_per_round_bound("randk").evaluate(d=1024, k=10, float_bits=32)
    420.0
    """
    return _bits_bound(_bits_kind(kind), index_coding)


def _bits_bound(key: str, index_coding: str = "indices") -> Bound:
    index_coding = check_choice("index_coding", index_coding, ("indices", "bitmap", "seed"))
    desc = "Bits per client per round; fixed-width encoding model stated in the docstring."
    common = dict(quantity=r"\mathrm{bits}", kind="exact", status="model",
                  reference="encoding model (this module)")
    if key == "none":
        return Bound("bits_none", w * d, description=desc, **common)
    if key in ("randk", "topk"):
        if index_coding == "seed" and key == "topk":
            raise ValueError("index_coding='seed' is only possible for randk (top-k positions "
                             "depend on the data)")
        expr = {"indices": k * (w + sp.ceiling(log2(d))),
                "bitmap": d + w * k,
                "seed": w * k + 64}[index_coding]
        return Bound(f"bits_{key}_{index_coding}", expr, assumptions=[_K_LE_D],
                     description=desc + f" Positions encoded as {index_coding}.", **common)
    if key == "qsgd":
        return Bound("bits_qsgd", w + d * sp.ceiling(log2(2 * s + 1)), description=desc,
                     **common)
    if key == "l2":
        return Bound("bits_l2", w + 2 * d, description=desc, **common)
    if key == "scaled_sign":
        return Bound("bits_scaled_sign", d + w, description=desc, **common)
    return Bound("bits_sign", d * sp.Integer(1), description=desc + " Plain sign: no scale.",
                 **common)


def bits_per_round(kind: str, d, k=None, levels=None, *, float_bits: int = 32,
                   index_coding: str = "auto"):
    """Bits one client sends per round (see :func:`bits_per_round_bound` for the encodings).

    ``index_coding="auto"`` takes the cheaper of explicit indices and a bitmap (for rand-k and
    top-k); ``"seed"`` assumes a mask drawn from a seed shared with the server.

    Examples
    --------
    >>> bits_per_round("none", d=1000)
    32000.0
    >>> bits_per_round("randk", d=1000, k=10)
    420.0
    >>> bits_per_round("randk", d=1000, k=500)
    17000.0
    >>> bits_per_round("scaled_sign", d=1000)
    1032.0
    """
    key, vals, index_coding = _bits_args(kind, d, k, levels, float_bits, index_coding)
    if key in ("randk", "topk"):
        if index_coding == "auto":
            out = np.minimum(_bits_bound(key, "indices").evaluate(**vals),
                             _bits_bound(key, "bitmap").evaluate(**vals))
            return float(out) if np.ndim(out) == 0 else out
        return _bits_bound(key, index_coding).evaluate(**vals)
    return _bits_bound(key).evaluate(**vals)


def noise_energy_bound() -> Bound:
    """Expected squared norm of isotropic Gaussian noise on ``d`` (or ``k``) coordinates.

    .. math::

        \\mathbb E\\|\\xi\\|^2 = d\\sigma^2

    Examples
    --------
    >>> noise_energy_bound().evaluate(d=100, sigma=0.5)
    25.0
    """
    return Bound("noise_energy", d * sig ** 2, quantity=r"\mathbb{E}\|\xi\|^2", kind="exact",
                 reference="E||N(0, sigma^2 I_d)||^2 = d sigma^2",
                 description="DP noise energy: d sigma^2 dense, k sigma^2 when only k coordinates "
                             "are released (shared mask): the dimension gain of compression.",
                 status="derived")


def noise_energy(dim, sigma):
    """:math:`\\dim\\cdot\\sigma^2` (pass ``k`` for noise on k released coordinates).

    Examples
    --------
    >>> noise_energy(25_000_000, 0.01)
    2500.0
    """
    dim = check_array("dim", dim, low=1, integer=True)
    sigma = check_array("sigma", sigma, low=0)
    out = noise_energy_bound().evaluate(d=dim, sigma=sigma)
    return out


def byzantine_compression_floor_bound() -> Bound:
    """Order of the heterogeneity floor of Byzantine-robust training with unbiased compression.

    .. math::

        \\mathrm{floor} \\asymp \\kappa\\,\\zeta^2\\,(1+\\omega)

    Byz-VR-MARINA's floor is proportional to :math:`c\\delta\\zeta^2/p` (aggregator constant times
    the Byzantine fraction, :math:`c\\delta \\sim \\kappa`) with full-gradient probability
    :math:`p \\approx 1/(1+\\omega)`: linear in ω.

    References
    ----------
    .. [1] Gorbunov E., Horvath S., Richtarik P., Gidel G. (2023). ICLR 2023, main theorem for the
       heterogeneous case (order only; constants not reproduced).  Coordinated (shared)
       compression with momentum: Gupta, Honsell, Xu, Gupta, Neglia (2026), AISTATS 2026
       (arXiv:2508.17129).

    Examples
    --------
    >>> byzantine_compression_floor_bound().evaluate(kappa=0.5, zeta=1.0, omega=99.0)
    50.0
    """
    return Bound("byz_compression_floor", kap * zeta ** 2 * (1 + om), quantity=r"\mathrm{floor}",
                 kind="order", reference=REF_MARINA + " (order only)",
                 description="Heterogeneity floor with unbiased compression: grows linearly in "
                             "omega; ORDER ONLY.",
                 status="literature")
