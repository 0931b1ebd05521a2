"""(f, κ)-robustness of aggregation rules, VN-ratio thresholds and robust D-GD error floors.

Definition (Allouah et al., AISTATS 2023): an aggregation rule :math:`F` is *(f, κ)-robust* if for
every input :math:`x_1, \\dots, x_n` and every set :math:`S` of :math:`n - f` indices

.. math::

    \\|F(x_1,\\dots,x_n) - \\bar x_S\\|^2 \\le \\kappa \\, \\frac{1}{|S|}\\sum_{i\\in S}\\|x_i - \\bar x_S\\|^2 .

Every rule has :math:`\\kappa \\ge f/(n-2f)` (:func:`kappa_lower_bound`); the upper bounds per rule are
in :func:`kappa_bound`.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .._checks import check_int, check_nonnegative
from ._core import Assumption, Bound, SYMBOLS
from ._numeric import (AGGREGATORS, REF_FBM,
                       canonical_aggregator, check_byzantine, kappa_info, vn_route)

__all__ = [
    "AGGREGATORS",
    "kappa_bound",
    "kappa",
    "kappa_lower_bound",
    "kappa_lower_bound_bound",
    "nnm_bound",
    "vn_threshold_bound",
    "vn_threshold",
    "robust_dgd_bound",
    "robust_lower_bound",
    "breakdown_point_bound",
    "breakdown_point",
    "stochastic_floor_bound",
    "robust_error_floor",
    "canonical_aggregator",
    "check_byzantine",
]

n, f, kap, G, B, L, T, D0 = (SYMBOLS[s] for s in ("n", "f", "kappa", "G", "B", "L", "T", "Delta0"))
_a = f / (n - 2 * f)
_N_GT_2F = Assumption(n > 2 * f, "n > 2f")

REF_TIGHT = ("Y. Allouah, R. Guerraoui, N. Gupta, R. Pinot, G. Rizk (2023). Robust Distributed "
             "Learning: Tight Error Bounds and Breakdown Point under Data Heterogeneity. "
             "NeurIPS 2023 (arXiv:2309.13591)")
REF_MULTIKRUM = ("G. Bareilles, W. Bouaziz, J. Fageot, E.-M. El-Mhamdi (2026). Byzantine Machine "
                 "Learning: MultiKrum and an optimal notion of robustness. arXiv:2602.03899")
REF_VN = ("E.-M. El-Mhamdi, R. Guerraoui, S. Rouault (2018). The Hidden Vulnerability of "
          "Distributed Learning in Byzantium. ICML 2018; thresholds as in the authors' code "
          "(calicarpa/krum, aggregators/*.py, upper_bound); used by R. Guerraoui, N. Gupta, "
          "R. Pinot, S. Rouault, J. Stephan (2021). Differential Privacy and Byzantine Resilience "
          "in SGD: Do They Add Up? PODC 2021 (arXiv:2102.08166)")
REF_FEDRO = ("Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot, G. Rizk, S. Voitovych "
             "(2024). Byzantine-Robust Federated Learning: Impact of Client Subsampling and Local "
             "Updates. ICML 2024")

_HALF = sp.Rational(1, 2)
#: CWMed (mean of the two middle values for even n): tight for every n (proof in the docs).
_CWMED = (sp.ceiling(n / 2) - 1) / (sp.floor(n / 2) - f + 1)

# name -> expression; quantity, description, kind and status are in _numeric.KAPPA_TEXT
_KAPPA = {"cwtm": _a, "cwmed": _CWMED, "gm": 4 * (1 + _a) ** 2, "krum": 6 * (1 + _a)}


def kappa_bound(name: str, nnm: bool = False) -> Bound:
    """The (f, κ)-robustness coefficient of an aggregation rule, as a :class:`Bound` in (n, f).

    With :math:`a = f/(n-2f)` (all require :math:`n > 2f`):

    .. math::

        \\kappa_{\\mathrm{CWTM}} = \\frac{f}{n-2f}, \\qquad
        \\kappa_{\\mathrm{CWMed}} = \\frac{\\lceil n/2\\rceil - 1}{\\lfloor n/2\\rfloor - f + 1}
        = \\begin{cases} \\frac{n-1}{n+1-2f} & n \\text{ odd} \\\\
        \\frac{n-2}{n+2-2f} & n \\text{ even} \\end{cases}

    are proved in the docs ("Robustness", tight robustness coefficients): both rules act
    coordinate by coordinate, so the one-dimensional constant holds in every dimension, and in
    one dimension the output lies between order statistics of the honest values whatever the
    Byzantine values are.  Both are exact (attained); CWTM's value equals the universal lower
    bound :func:`kappa_lower_bound`.

    For the geometric median and Krum the literature values :math:`4(1+a)^2` and
    :math:`6(1+a)` are returned as ``kind="estimate"`` (not certified: their statements were
    not verified by this library; the worst-case probes of :func:`~fltheory.bounds.probes.empirical_kappa`
    stay below them).  MultiKrum has no proved or verified constant: it is refused (use
    :func:`~fltheory.bounds.probes.empirical_kappa` for a probe value, a lower estimate).
    With ``nnm=True`` the composition :math:`\\frac{8f}{n-f}(\\kappa + 1)` of nearest-neighbour
    mixing is likewise an estimate (literature lemma, not verified here).

    Parameters
    ----------
    name : {"cwtm", "cwmed", "gm", "krum"}
        Aggregator (aliases such as ``"median"``, ``"trimmed_mean"`` are accepted).
    nnm : bool
        Compose with nearest-neighbour mixing (NNM) first (an estimate).

    Returns
    -------
    Bound
        ``kind="exact"`` (CWTM, CWMed: proved and attained) or ``"estimate"``.

    Raises
    ------
    ValueError
        For ``"multikrum"`` (no proved constant).

    References
    ----------
    .. [1] Allouah Y., Farhadkhani S., Guerraoui R., Gupta N., Pinot R., Stephan J. (2023).
       Fixing by Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity. AISTATS 2023
       (definition of (f, κ)-robustness, the lower bound f/(n-2f); the GM/Krum/NNM values used
       as estimates).
    .. [2] fltheory docs, "Robustness", tight robustness coefficients (proofs for CWTM, CWMed).

    Examples
    --------
    >>> b = kappa_bound("cwtm")
    >>> b.evaluate(n=20, f=4)
    0.3333333333333333
    >>> kappa_bound("cwmed").evaluate(n=21, f=4)
    1.4285714285714286
    >>> round(kappa_bound("cwmed").evaluate(n=20, f=4), 4)
    1.2857
    >>> kappa_bound("krum").kind
    'estimate'
    """
    info = kappa_info(name, nnm)
    expr = _KAPPA[info["key"]]
    if nnm:
        expr = nnm_bound().expr.subs(kap, expr)
    return Bound(info["name"], expr, quantity=info["quantity"], kind=info["kind"],
                 assumptions=[_N_GT_2F], reference=info["reference"],
                 description=info["description"], status=info["status"])


def nnm_bound() -> Bound:
    """Robustness of :math:`F\\circ\\mathrm{NNM}` for any (f, κ)-robust :math:`F`.

    .. math::

        \\kappa_{F\\circ\\mathrm{NNM}} \\le \\frac{8f}{n-f}\\,(\\kappa + 1)

    NNM replaces each input by the average of its :math:`n-f` nearest neighbours (itself
    included) before :math:`F` is applied.

    References
    ----------
    .. [1] Allouah Y. et al. (2023). Fixing by Mixing. AISTATS 2023 -- NNM composition lemma (as
       commonly cited; lemma number not verified here).

    Examples
    --------
    >>> nnm_bound().evaluate(n=20, f=4, kappa=1.0)
    4.0
    """
    return Bound("kappa_nnm", 8 * f / (n - f) * (kap + 1), quantity=r"\kappa_{F\circ\mathrm{NNM}}",
                 kind="estimate", assumptions=[_N_GT_2F], reference=REF_FBM + " (NNM lemma)",
                 description="Nearest-neighbour mixing turns any (f, kappa)-robust rule into one "
                             "whose coefficient is O(f/n), hence order-optimal.",
                 status="literature")


def kappa_lower_bound_bound() -> Bound:
    """The universal lower bound :math:`\\kappa \\ge f/(n-2f)` as a :class:`Bound`.

    Proof (shown in the docs): with f inputs at 1 and n−f at 0, the honest set may be the n−f
    zeros (zero variance, so a finite κ forces the output 0) or f ones and n−2f zeros, for which the
    output 0 gives exactly the ratio f/(n−2f).

    References
    ----------
    .. [1] Allouah Y. et al. (2023). Fixing by Mixing. AISTATS 2023 (lower bound on κ).

    Examples
    --------
    >>> kappa_lower_bound_bound().evaluate(n=20, f=4)
    0.3333333333333333
    """
    return Bound("kappa_lower", _a, quantity=r"\kappa", kind="lower", assumptions=[_N_GT_2F],
                 reference=REF_FBM + " (lower bound); the two-set argument is in the docs",
                 description="No aggregation rule is (f, kappa)-robust with kappa < f/(n-2f).",
                 status="derived")


def kappa(name: str, n: int, f: int, nnm: bool = False):
    """Numerical value of :func:`kappa_bound` (float, or ndarray for array inputs).

    Examples
    --------
    >>> kappa("cwtm", n=20, f=4)
    0.3333333333333333
    >>> round(kappa("median", n=20, f=4), 4)
    1.2857
    """
    return kappa_bound(name, nnm=nnm).evaluate(n=n, f=f)


def kappa_lower_bound(n: int, f: int):
    """:math:`f/(n-2f)`: no aggregation rule does better (see :func:`kappa_lower_bound_bound`).

    Examples
    --------
    >>> kappa_lower_bound(n=20, f=4)
    0.3333333333333333
    """
    return kappa_lower_bound_bound().evaluate(n=n, f=f)


# ---------------------------------------------------------------------------------------------
# VN-ratio thresholds

# keyed by _numeric.VN_RULES
_VN_KRUM = 1 / sp.sqrt(2 * (n - f + f * (n + f * (n - f - 2) - 2) / (n - 2 * f - 2)))
_VN = {
    "krum": (_VN_KRUM, [Assumption(n > 2 * f + 2, "n > 2f + 2"), Assumption(f >= 1, "f >= 1")]),
    "bulyan": (_VN_KRUM, [Assumption(n >= 4 * f + 3, "n >= 4f + 3"), Assumption(f >= 1, "f >= 1")]),
    "cwmed": (1 / sp.sqrt(n - f), [Assumption(n > 2 * f, "n > 2f")]),
    "mda": ((n - f) / (sp.sqrt(8) * f), [Assumption(n > 2 * f, "n > 2f"),
                                         Assumption(f >= 1, "f >= 1")]),
}


def vn_threshold_bound(name: str, route: str = "auto") -> Bound:
    """Variance-to-norm (VN) ratio threshold :math:`\\kappa_F` of an aggregation rule.

    The rule is resilient when :math:`\\sqrt{\\mathbb{E}\\|G-\\nabla Q\\|^2}/\\|\\nabla Q\\| < \\kappa_F`.
    ``route="vn"`` gives the thresholds of El-Mhamdi et al. used by the PODC'21 DP x Byzantine
    analysis (Krum, Bulyan, coordinate-wise median, MDA):

    .. math::

        \\kappa_{\\mathrm{Krum}} = \\Big(2\\big(n-f+\\tfrac{f(n+f(n-f-2)-2)}{n-2f-2}\\big)\\Big)^{-1/2},
        \\quad \\kappa_{\\mathrm{Med}} = \\frac{1}{\\sqrt{n-f}}, \\quad
        \\kappa_{\\mathrm{MDA}} = \\frac{n-f}{\\sqrt 8 f}.

    ``route="kappa"`` derives a threshold from an (f, κ)-robustness bound (our argument, in the
    docs): with :math:`h=n-f`, Minkowski's inequality gives
    :math:`\\sqrt{\\mathbb{E}\\|F-\\nabla Q\\|^2} \\le (\\sqrt{\\kappa(1-1/h)} + 1/\\sqrt h)\\,
    \\sqrt{\\mathbb{E}\\|G-\\nabla Q\\|^2}`, hence
    :math:`\\kappa_F = 1/(\\sqrt{\\kappa(1-1/h)} + 1/\\sqrt h)`.
    ``"auto"`` uses the VN route where it exists, else the κ route.

    References
    ----------
    .. [1] El-Mhamdi E.-M., Guerraoui R., Rouault S. (2018), ICML 2018; thresholds as in the
       authors' code; R. Guerraoui et al. (2021). Differential Privacy and Byzantine Resilience
       in SGD: Do They Add Up? PODC 2021, Section 4.

    Examples
    --------
    >>> vn_threshold_bound("median").evaluate(n=20, f=4)
    0.25
    """
    key, published = vn_route(name, route)      # the choice is shared with the numeric twins
    if published:
        expr, assumptions = _VN[key]
        desc = ("VN-ratio resilience threshold (the rule is resilient when the "
                "noise-to-gradient-norm ratio is below it).")
        if key == "cwmed":
            desc += (" As in the authors' code it grows with f (1/sqrt(n-f)), so the DP batch "
                     "size it implies falls as f grows; the kappa route does not have this "
                     "feature.")
        return Bound(f"vn_{key}", expr, quantity=rf"\kappa_F^{{\mathrm{{{key}}}}}", kind="exact",
                     assumptions=assumptions, reference=REF_VN, description=desc, status="code")
    kb = kappa_bound(key)
    h = n - f
    expr = 1 / (sp.sqrt(kb.expr * (1 - 1 / h)) + 1 / sp.sqrt(h))
    return Bound(f"vn_{key}_from_kappa", expr, quantity=rf"\kappa_F^{{\mathrm{{{key}}}}}",
                 kind="lower", assumptions=kb.assumptions,
                 reference=kb.reference + "; threshold derived from (f, kappa)-robustness",
                 description="A VN threshold that suffices for E||F - grad||^2 < ||grad||^2, "
                             "derived from the (f, kappa) bound (a sufficient, not necessary, "
                             "condition).",
                 status="derived")


def vn_threshold(name: str, n: int, f: int, route: str = "auto"):
    """Numerical value of :func:`vn_threshold_bound`.

    Examples
    --------
    >>> round(vn_threshold("krum", n=20, f=4), 4)
    0.1047
    """
    if np.ndim(n) == 0 and np.ndim(f) == 0:
        check_byzantine(n, f)
    return vn_threshold_bound(name, route).evaluate(n=n, f=f)


# ---------------------------------------------------------------------------------------------
# Convergence and error floors

def robust_dgd_bound() -> Bound:
    """Robust D-GD under (G, B)-gradient dissimilarity, step 1/L, T steps.

    .. math::

        \\frac1T\\sum_{t<T}\\|\\nabla \\mathcal L_H(\\theta_t)\\|^2 \\le
        \\frac{2L\\,\\Delta_0/T + \\kappa G^2}{1-\\kappa B^2}, \\qquad \\kappa B^2 < 1,

    with :math:`\\Delta_0 = \\mathcal L_H(\\theta_0) - \\mathcal L^*`.  As :math:`T\\to\\infty` the error
    floor is :math:`\\kappa G^2/(1-\\kappa B^2)`; with :math:`\\kappa = f/(n-2f)` (NNM-type rules up to
    a constant) it equals :math:`fG^2/(n-(2+B^2)f)`, the order of :func:`robust_lower_bound`.

    References
    ----------
    .. [1] Derived in the docs (descent lemma + (f, κ)-robustness); it matches the upper bound of
       Y. Allouah, R. Guerraoui, N. Gupta, R. Pinot, G. Rizk (2023). Robust Distributed Learning:
       Tight Error Bounds and Breakdown Point under Data Heterogeneity. NeurIPS 2023.

    Examples
    --------
    >>> robust_dgd_bound().evaluate(L=1, Delta0=1, T=100, kappa=0.5, G=1, B=1)
    1.04
    """
    return Bound("robust_dgd", (2 * L * D0 / T + kap * G ** 2) / (1 - kap * B ** 2),
                 quantity=r"\frac{1}{T}\sum_{t<T}\|\nabla\mathcal{L}_H(\theta_t)\|^2", kind="upper",
                 assumptions=[Assumption(kap * B ** 2 < 1, "kappa B^2 < 1")],
                 reference="derived (docs); matches " + REF_TIGHT,
                 description="Average squared gradient norm of robust D-GD with an "
                             "(f, kappa)-robust aggregator under (G, B)-gradient dissimilarity, step size 1/L.",
                 status="derived")


def robust_lower_bound() -> Bound:
    """Lower bound, up to a universal constant, for any robust distributed algorithm.

    .. math::

        \\mathrm{error} \\asymp \\frac{f}{n-(2+B^2)f}\\,G^2, \\qquad \\frac fn < \\frac{1}{2+B^2}.

    References
    ----------
    .. [1] Allouah Y., Guerraoui R., Gupta N., Pinot R., Rizk G. (2023). NeurIPS 2023, lower bound
       theorem (order only: the constant factor is not reproduced here).

    Examples
    --------
    >>> robust_lower_bound().evaluate(n=20, f=4, G=1, B=1)
    0.5
    """
    return Bound("robust_lower", f / (n - (2 + B ** 2) * f) * G ** 2,
                 quantity=r"\inf_{\mathrm{alg}}\sup\,\|\nabla\mathcal{L}_H(\hat\theta)\|^2",
                 kind="order",
                 assumptions=[Assumption(n > (2 + B ** 2) * f, "n > (2 + B^2) f")],
                 reference=REF_TIGHT + " (lower bound; order only)",
                 description="No algorithm beats this error (up to a constant) under "
                             "(G, B)-gradient dissimilarity; it is infinite beyond the breakdown "
                             "point f/n = 1/(2+B^2).",
                 status="literature")


def breakdown_point_bound() -> Bound:
    """Breakdown point :math:`1/(2+B^2)` under (G, B)-gradient dissimilarity.

    References
    ----------
    .. [1] Allouah Y. et al. (2023). NeurIPS 2023 (breakdown point theorem).

    Examples
    --------
    >>> breakdown_point_bound().evaluate(B=0)
    0.5
    """
    return Bound("breakdown_point", 1 / (2 + B ** 2), quantity=r"f/n", kind="upper",
                 reference=REF_TIGHT + " (breakdown point)",
                 description="Largest Byzantine fraction f/n any algorithm can tolerate under "
                             "(G, B)-gradient dissimilarity (1/2 for B = 0).",
                 status="literature")


def breakdown_point(B: float = 0.0) -> float:
    """Numerical value of :func:`breakdown_point_bound`.

    Examples
    --------
    >>> breakdown_point(1.0)
    0.3333333333333333
    """
    check_nonnegative("B", B)
    return breakdown_point_bound().evaluate(B=B)


def stochastic_floor_bound() -> Bound:
    """Order of the error floor of robust FL with local steps (FedRo-type analysis).

    .. math::

        \\mathrm{floor} \\asymp \\kappa\\Big(\\frac{\\sigma^2}{K} + \\zeta^2\\Big)

    with per-sample gradient variance :math:`\\sigma^2`, :math:`K` local steps and heterogeneity
    :math:`\\zeta^2`.

    References
    ----------
    .. [1] Allouah Y. et al. (2024). Byzantine-Robust Federated Learning: Impact of Client
       Subsampling and Local Updates. ICML 2024 (order as commonly cited; not verified against
       the text here).

    Examples
    --------
    >>> stochastic_floor_bound().evaluate(kappa=1.0, sigma=2.0, K=4, zeta=1.0)
    2.0
    """
    sigma, K, zeta = SYMBOLS["sigma"], SYMBOLS["K"], SYMBOLS["zeta"]
    return Bound("robust_fl_local_steps", kap * (sigma ** 2 / K + zeta ** 2),
                 quantity=r"\mathrm{floor}", kind="order",
                 reference=REF_FEDRO + " (order only)",
                 description="Error floor of robust federated learning with K local steps: local "
                             "steps average the stochastic noise but not the heterogeneity.",
                 status="literature")


def robust_error_floor(aggregator: str, n: int, f: int, G: float, B: float = 0.0,
                       nnm: bool = False) -> float:
    """Asymptotic error floor :math:`\\kappa G^2/(1-\\kappa B^2)` of robust D-GD.

    Parameters
    ----------
    aggregator : str
        Aggregation rule (see :func:`kappa_bound`).
    n, f : int
        Clients and Byzantine clients.
    G, B : float
        (G, B)-gradient dissimilarity constants.
    nnm : bool
        Use the NNM-composed coefficient.

    Raises
    ------
    ValueError
        If :math:`\\kappa B^2 \\ge 1` (the bound gives no finite floor).

    References
    ----------
    .. [1] Derived (see :func:`robust_dgd_bound`); Allouah et al. NeurIPS 2023.

    Examples
    --------
    >>> robust_error_floor("cwtm", n=20, f=4, G=1.0, B=0.0)
    0.3333333333333333
    """
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    G = check_nonnegative("G", G)
    B = check_nonnegative("B", B)
    k = kappa(aggregator, n=n, f=f, nnm=nnm)
    bound = robust_dgd_bound()
    bound.check(kappa=k, B=B)
    return float(k * G ** 2 / (1 - k * B ** 2))
