"""Values, LaTeX and metadata of the bounds without sympy: what ``fltheory bound ...`` and
``fltheory tradeoff`` (:mod:`fltheory.tradeoffs`) print.

The :class:`~fltheory.bounds.Bound` objects are sympy expressions, and importing sympy (and the
SciPy functions their lambdified forms call) costs about a second, several times the work of the
command.  This module evaluates the same expressions without importing either: it reads the
code ``sympy.lambdify`` prints for each bound, and each bound's LaTeX and metadata, from the
generated table :mod:`fltheory.bounds._bound_table`, and evaluates that code on the same NumPy
scalars as :meth:`Bound.evaluate <fltheory.bounds.Bound.evaluate>`, so the values agree to the
last bit (the binomial coefficients of the cost model aside: SciPy's gamma function is replaced
by exact factorials, equal to it up to 24 clients and within a few units in the last place
beyond; the analytic Gaussian calibration of the minimum batch size is a bisection on
:func:`math.erfc`, equal to SciPy's root to about 1e-9).  Inputs are checked by the functions the Bound uses (:mod:`fltheory.bounds._domain`),
so both refuse the same inputs with the same messages.  The symbolic forms stay the reference:
``tests/bounds/test_bounds_numeric.py`` checks that both agree on grids of parameters, and that
both reject the same inputs with the same messages; ``tests/bounds/test_bound_table.py`` checks
the table against the Bound objects.

It also holds what the symbolic modules share with it: the aggregator and compressor names and
aliases, the Byzantine-setting check, the choice of a VN threshold and the descriptions of the
κ bounds.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._checks import (check_array, check_choice, check_int, check_nonnegative,
                       check_positive)
from ..registry import Registry
from ._domain import check_assumption, check_values, undefined, unknown_parameters

__all__ = [
    "AGGREGATORS",
    "PROVED",
    "VN_RULES",
    "COMPRESSORS",
    "VARIANCE_KINDS",
    "COST_AGGREGATORS",
    "canonical_aggregator",
    "check_byzantine",
    "bound_dict",
    "bound_entry",
    "listed_bounds",
    "evaluate",
    "check",
    "kappa_info",
    "kappa_value",
    "kappa_lower_value",
    "vn_route",
    "vn_bound_name",
    "vn_threshold_value",
    "robust_error_floor_value",
    "robust_lower_value",
    "breakdown_point_value",
    "compressor_kind",
    "variance_kind",
    "bits_kind",
    "is_unbiased",
    "variance_bound_name",
    "bits_bound_name",
    "cost_bound_name",
    "compressor_variance_value",
    "bits_per_round_value",
    "aggregation_cost_info",
    "aggregation_cost_value",
    "analytic_z",
    "classical_z",
    "calibrated_z",
    "min_batch_size_value",
]

REF_FBM = ("Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot, J. Stephan (2023). "
           "Fixing by Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity. AISTATS 2023, "
           "PMLR 206:1232-1300")
REF_KAPPA_PROOF = ("proof in the docs, 'Robustness', Sec. 'Tight robustness coefficients' "
                   "(coordinate-wise reduction and order statistics of the honest values)")


def check_byzantine(n, f) -> tuple[int, int]:
    """Validate a Byzantine setting for bounds that need an honest majority (:math:`n > 2f`).

    Raises
    ------
    ValueError
        Naming ``f``, ``n`` and the valid range ``0 <= f < n/2`` when ``f >= n/2``.

    Examples
    --------
    >>> check_byzantine(20, 4)
    (20, 4)
    >>> check_byzantine(20, 10)
    Traceback (most recent call last):
    ...
    ValueError: f must satisfy 0 <= f < n/2 (honest majority, n > 2f), got f=10 with n=20; ...
    """
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    if 2 * f >= n:
        raise ValueError(f"f must satisfy 0 <= f < n/2 (honest majority, n > 2f), got f={f} with "
                         f"n={n}; the valid range here is 0 <= f <= {(n - 1) // 2}: with f >= n/2 "
                         "the Byzantine clients can impersonate a majority and no bound holds")
    return n, f


#: Canonical aggregator names and accepted aliases.
_ALIASES = {
    "cwtm": "cwtm", "trimmed_mean": "cwtm", "tm": "cwtm", "trmean": "cwtm",
    "cwmed": "cwmed", "median": "cwmed", "cw_median": "cwmed", "coordinate_median": "cwmed",
    "gm": "gm", "geometric_median": "gm", "geomed": "gm", "rfa": "gm",
    "krum": "krum",
    "multikrum": "multikrum", "multi_krum": "multikrum", "mkrum": "multikrum",
    "bulyan": "bulyan",
    "mda": "mda", "brute": "mda",
    "mean": "mean", "average": "mean",
    "nnm": "nnm",
    "smea": "smea",
    "caf": "caf",
}

#: Aggregators with an (f, κ) coefficient (proved: cwtm, cwmed; estimates: gm, krum).
AGGREGATORS = ("cwtm", "cwmed", "gm", "krum")

#: Rules with a proved (f, kappa) bound (the others are estimates, labelled so).
PROVED = ("cwtm", "cwmed")


def canonical_aggregator(name: str, allowed=None) -> str:
    """Canonical name of an aggregator (``"median"`` -> ``"cwmed"``, ...).

    Examples
    --------
    >>> canonical_aggregator("Trimmed-Mean")
    'cwtm'
    """
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "_")
        if key in _ALIASES and (allowed is None or _ALIASES[key] in allowed):
            return _ALIASES[key]
    choices = allowed if allowed is not None else sorted(set(_ALIASES.values()))
    return check_choice("aggregator", name, choices)  # raises with the list


# name -> (quantity, description, kind, status); the expressions are in robustness.py
KAPPA_TEXT = {
    "cwtm": (r"\kappa_{\mathrm{CWTM}}",
             "Coordinate-wise trimmed mean (trim f per side, per coordinate): kappa = f/(n-2f), "
             "equal to the universal lower bound, so tight and optimal. Proved in the docs "
             "(every placement of the Byzantine values).",
             "exact", "derived"),
    "cwmed": (r"\kappa_{\mathrm{CWMed}}",
              "Coordinate-wise median (mean of the two middle values for even n): "
              "(ceil(n/2)-1)/(floor(n/2)-f+1), i.e. (n-1)/(n+1-2f) for odd n and "
              "(n-2)/(n+2-2f) for even n; tight (attained by a two-point instance). Proved in "
              "the docs.",
              "exact", "derived"),
    "gm": (r"\kappa_{\mathrm{GM}}",
           "Geometric median. ESTIMATE, not a certified bound: the literature value 4(1+a)^2 "
           "(Allouah et al. 2023), whose statement this library has not verified; the "
           "test-suite's worst-case probes stay below it. Use empirical_kappa for a probe value.",
           "estimate", "literature"),
    "krum": (r"\kappa_{\mathrm{Krum}}",
             "Krum with scores over the n-f nearest neighbours (itself included). ESTIMATE, not a "
             "certified bound: the literature value 6(1+a) (Allouah et al. 2023), whose statement "
             "this library has not verified; the worst-case probes stay below it.",
             "estimate", "literature"),
}

MULTIKRUM_MSG = (
    "aggregator 'multikrum' has no proved or verified (f, kappa) constant in fltheory, so no "
    "kappa is offered; use fltheory.bounds.probes.empirical_kappa('multikrum', n, f) for a "
    "worst-case probe value (a lower estimate, not a bound), or a rule with a proved constant: "
    "'cwtm' (kappa = f/(n-2f)) or 'cwmed'")


def kappa_info(name: str, nnm: bool = False) -> dict[str, Any]:
    """Name, quantity, kind, status, reference and description of ``kappa_bound(name, nnm)``.

    Examples
    --------
    >>> kappa_info("median")["name"], kappa_info("krum", nnm=True)["kind"]
    ('kappa_cwmed', 'estimate')
    """
    if isinstance(name, str) and name.strip().lower().replace("-", "_") in (
            "multikrum", "multi_krum", "mkrum"):
        raise ValueError(MULTIKRUM_MSG)
    key = canonical_aggregator(name, tuple(KAPPA_TEXT))
    quantity, desc, kind, status = KAPPA_TEXT[key]
    ref = (REF_FBM + " (definition, lower bound); " + REF_KAPPA_PROOF if key in PROVED else
           REF_FBM + " (literature value; estimate)")
    info = {"key": key, "name": f"kappa_{key}", "quantity": quantity, "kind": kind,
            "status": status, "reference": ref, "description": desc}
    if nnm:
        info.update(name=f"kappa_{key}_nnm", quantity=quantity[:-1] + r"\circ\mathrm{NNM}}",
                    kind="estimate", status="literature", reference=ref + "; NNM: " + REF_FBM,
                    description=desc + " Composed with NNM: 8f/(n-f) (kappa + 1), an ESTIMATE "
                                       "(literature lemma, not verified by this library).")
    return info


# ------------------------------------------------------------------ the bounds, from the table

def _table():
    from . import _bound_table     # generated by _bound_table_gen (data and NumPy code)

    return _bound_table


_DICT_KEYS = ("name", "latex", "expression", "kind", "parameters", "assumptions", "reference",
              "description", "status")


def bound_entry(name: str) -> dict[str, Any]:
    """Everything the table holds on the bound called ``name``: :meth:`Bound.to_dict` plus the
    bounded quantity (``quantity``) and the LaTeX without it (``body``).

    Examples
    --------
    >>> e = bound_entry("kappa_lower")
    >>> print(e["latex"], "|", e["body"], "|", e["status"])
    \\kappa \\geq \\frac{f}{n - 2 f} | \\frac{f}{n - 2 f} | derived
    """
    e = _table().BOUNDS[name]
    return {**e, "parameters": list(e["parameters"]), "assumptions": list(e["assumptions"])}


def bound_dict(name: str) -> dict[str, Any]:
    """``get_bound(name).to_dict()`` (the same keys in the same order), without sympy.

    Examples
    --------
    >>> list(bound_dict("breakdown_point"))[:4]
    ['name', 'latex', 'expression', 'kind']
    """
    e = bound_entry(name)
    return {key: e[key] for key in _DICT_KEYS}


def listed_bounds() -> tuple[str, ...]:
    """The names :func:`~fltheory.bounds.all_bounds` returns, in its order.

    Examples
    --------
    >>> "kappa_cwtm" in listed_bounds() and "min_batch_size" in listed_bounds()
    True
    """
    return _table().LISTED


def check(name: str, **values: Any) -> None:
    """``get_bound(name).check(**values)``: raise if an assumption is violated by ``values``
    (only the assumptions whose symbols are all given are checked).

    Examples
    --------
    >>> check("robust_dgd", kappa=0.5, B=2.0)
    Traceback (most recent call last):
    ...
    ValueError: robust_dgd: assumption kappa B^2 < 1 violated at B=2, kappa=0.5
    """
    t = _table()
    arrays = {k: np.asarray(v, dtype=float) for k, v in values.items() if k in t.SYMBOLS}
    for text, syms, cond in t.CONDITIONS[name]:
        if all(s in arrays for s in syms):
            check_assumption(name, text, syms, [arrays[s] for s in syms], cond)


def evaluate(name: str, **values: Any) -> float:
    """``get_bound(name).evaluate(**values)`` for scalar values, without sympy.

    The same checks (:mod:`fltheory.bounds._domain`), then the code ``sympy.lambdify`` printed
    for the expression, run on the same NumPy scalars: the same float, or the same
    :class:`ValueError`.

    Examples
    --------
    >>> evaluate("kappa_cwtm", n=20, f=4)
    0.3333333333333333
    >>> evaluate("kappa_cwtm", n=8, f=4)
    Traceback (most recent call last):
    ...
    ValueError: kappa_cwtm: assumption n > 2f violated at f=4, n=8
    """
    t = _table()
    params, func = t.FUNCS[name]
    conditions = t.CONDITIONS[name]
    unknown = sorted(set(values) - set(t.SYMBOLS))
    if unknown:
        raise unknown_parameters(name, unknown, params)
    needed = list(params)
    for _, syms, _ in conditions:
        needed += [s for s in syms if s not in needed and s in values]
    arrays = check_values(name, values, needed, t.SYMBOLS)
    if any(a.ndim for a in arrays.values()):
        raise ValueError(f"{name}: the numeric twin takes scalars; use the Bound for arrays")
    check(name, **arrays)
    with np.errstate(all="ignore"):
        res = float(np.asarray(func(*[arrays[s] for s in params]), dtype=float))
    if math.isnan(res):
        raise undefined(name, [c[0] for c in conditions])
    return res


def _assume(ok: bool, bound: str, text: str, where: str) -> None:
    if not ok:
        raise ValueError(f"{bound}: assumption {text} violated at {where}")


# ------------------------------------------------------------------ robustness

def kappa_value(name: str, n: int, f: int, nnm: bool = False) -> float:
    """``kappa_bound(name, nnm).evaluate(n=n, f=f)`` for scalars ``n``, ``f``.

    Examples
    --------
    >>> kappa_value("cwtm", 20, 4), round(kappa_value("median", 20, 4), 4)
    (0.3333333333333333, 1.2857)
    """
    return evaluate(kappa_info(name, nnm)["name"], n=n, f=f)


def kappa_lower_value(n: int, f: int) -> float:
    """:math:`f/(n-2f)`, the value of ``kappa_lower_bound(n, f)``.

    Examples
    --------
    >>> kappa_lower_value(20, 4)
    0.3333333333333333
    """
    return evaluate("kappa_lower", n=n, f=f)


#: Rules with a published VN threshold (El-Mhamdi et al.'s code); the others derive one from κ.
VN_RULES = ("krum", "bulyan", "cwmed", "mda")


def vn_route(name: str, route: str = "auto") -> tuple[str, bool]:
    """The canonical rule of ``vn_threshold_bound(name, route)`` and whether its threshold is the
    published one (else the one derived from κ).

    Examples
    --------
    >>> vn_route("median"), vn_route("median", "kappa"), vn_route("cwtm")
    (('cwmed', True), ('cwmed', False), ('cwtm', False))
    """
    route = check_choice("route", route, ("auto", "vn", "kappa"))
    key = canonical_aggregator(name, VN_RULES + AGGREGATORS)
    if route == "vn" or (route == "auto" and key in VN_RULES):
        if key not in VN_RULES:
            raise ValueError(f"aggregator must be one of {', '.join(map(repr, VN_RULES))} for "
                             f"route='vn', got {name!r}")
        return key, True
    return key, False


def vn_bound_name(name: str, route: str = "auto") -> str:
    """The name of ``vn_threshold_bound(name, route)`` (the same errors).

    Examples
    --------
    >>> vn_bound_name("krum"), vn_bound_name("krum", "kappa")
    ('vn_krum', 'vn_krum_from_kappa')
    """
    key, published = vn_route(name, route)
    if published:
        return f"vn_{key}"
    kappa_info(key)     # refuses the rules without a kappa, as kappa_bound does
    return f"vn_{key}_from_kappa"


def vn_threshold_value(name: str, n: int, f: int, route: str = "auto") -> float:
    """``vn_threshold(name, n, f, route)`` for scalars ``n``, ``f``.

    Examples
    --------
    >>> vn_threshold_value("median", 20, 4), round(vn_threshold_value("krum", 20, 4), 4)
    (0.25, 0.1047)
    """
    check_byzantine(n, f)
    return evaluate(vn_bound_name(name, route), n=n, f=f)


def robust_error_floor_value(aggregator: str, n: int, f: int, G: float, B: float = 0.0,
                             nnm: bool = False) -> float:
    """``robust_error_floor(aggregator, n, f, G, B, nnm)``: :math:`\\kappa G^2/(1-\\kappa B^2)`.

    Examples
    --------
    >>> robust_error_floor_value("cwtm", 20, 4, G=1.0, B=0.5)
    0.36363636363636365
    """
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    G = check_nonnegative("G", G)
    B = check_nonnegative("B", B)
    k = kappa_value(aggregator, n, f, nnm=nnm)
    check("robust_dgd", kappa=k, B=B)
    return float(k * G ** 2 / (1 - k * B ** 2))


def robust_lower_value(n: int, f: int, G: float, B: float) -> float:
    """``robust_lower_bound().evaluate(n=n, f=f, G=G, B=B)``: :math:`fG^2/(n-(2+B^2)f)`.

    Examples
    --------
    >>> robust_lower_value(20, 4, 1.0, 1.0)
    0.5
    """
    return evaluate("robust_lower", n=n, f=f, G=G, B=B)


def breakdown_point_value(B: float = 0.0) -> float:
    """``breakdown_point(B)``: :math:`1/(2+B^2)`.

    Examples
    --------
    >>> breakdown_point_value(1.0)
    0.3333333333333333
    """
    check_nonnegative("B", B)
    return evaluate("breakdown_point", B=B)


# ------------------------------------------------------------------ Gaussian mechanism

_SQRT1_2 = math.sqrt(0.5)


def _ndtr(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


def _log_ndtr(x: float) -> float:
    """log of the standard normal CDF, accurate in both tails."""
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * _SQRT1_2))
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x * _SQRT1_2))
    # asymptotic expansion of Mills' ratio: error below x^-8 ~ 1e-12 relative here
    x2 = x * x
    series = 1.0 - 1.0 / x2 + 3.0 / x2 ** 2 - 15.0 / x2 ** 3 + 105.0 / x2 ** 4
    return -0.5 * x2 - math.log(-x) - 0.5 * math.log(2 * math.pi) + math.log(series)


def _gaussian_delta(z: float, e: float) -> float:
    """δ(ε) of one Gaussian release with multiplier z (Balle & Wang 2018, Theorem 8)."""
    a, bb = 1.0 / (2.0 * z), e * z
    return _ndtr(a - bb) - math.exp(e + _log_ndtr(-a - bb))


def analytic_z(epsilon: float, delta: float) -> float:
    """Smallest z with δ(ε) <= δ for one Gaussian release (``analytic_noise_multiplier``).

    Bisection on :math:`\\log z \\in [-30, 30]` down to the resolution of a float.

    Examples
    --------
    >>> round(analytic_z(1.0, 1e-5), 4)
    3.7306
    """
    e = check_positive("epsilon", epsilon)
    dl = float(delta)
    if not 0.0 < dl < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")

    def h(logz: float) -> float:     # decreasing in log z
        return _gaussian_delta(math.exp(logz), e) - dl

    lo, hi = -30.0, 30.0
    if h(hi) > 0:  # pragma: no cover - only for absurd (epsilon, delta)
        raise ValueError(f"delta must be achievable, got delta={dl}, epsilon={e}")
    if h(lo) < 0:
        return math.exp(lo)
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if h(mid) > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


def classical_z(epsilon: float, delta: float) -> float:
    """:math:`\\sqrt{2\\ln(1.25/\\delta)}/\\varepsilon` (``classical_noise_multiplier``)."""
    return math.sqrt(2 * math.log(1.25 / delta)) / epsilon


def calibrated_z(epsilon: float, delta: float, calibration: str = "classical") -> float:
    """``noise_multiplier(epsilon, delta, method=calibration)`` for "classical" and "analytic",
    with the same warning when the classical calibration is below the exact requirement."""
    calibration = check_choice("calibration", calibration, ("classical", "analytic"))
    za = analytic_z(epsilon, delta)
    if calibration == "analytic":
        return za
    zc = classical_z(epsilon, delta)
    warn_below_exact(zc, za, epsilon, delta)
    return zc


def warn_below_exact(zc: float, za: float, epsilon: float, delta: float) -> None:
    """Warn (at the caller's caller) when the classical calibration ``zc`` is below the exact
    requirement ``za``: then it is no (ε, δ) guarantee."""
    if zc < za:
        warnings.warn(f"the classical Gaussian calibration z={zc:.4g} is below the exact "
                      f"requirement z={za:.4g} at epsilon={epsilon}, delta={delta}: it is not "
                      f"a valid (epsilon, delta) guarantee here; use method='analytic'",
                      RuntimeWarning, stacklevel=4)


def min_batch_size_value(d, epsilon, delta, aggregator: str = "cwmed", n: int = 20,
                         f: int = 4, *, k=None, constants: bool = True,
                         calibration: str = "classical", clip: float = 1.0,
                         grad_norm: float = 1.0, sampling_std: float = 0.0,
                         retained_energy: float = 1.0, route: str = "auto") -> float:
    """``min_batch_size(...)`` for scalars and the "classical"/"analytic" calibrations.

    Examples
    --------
    >>> min_batch_size_value(25_000_000, 1.0, 1e-5, constants=False)
    5000.0
    >>> round(min_batch_size_value(25_000_000, 1.0, 1e-5, "median", n=20, f=4))
    193792
    """
    dd = float(check_array("d", d, low=1, integer=True))
    n, f = check_byzantine(n, f)
    dim = dd
    if k is not None:
        dim = float(check_array("k", k, low=1, integer=True))
        if dim > dd:
            raise ValueError(f"k must be <= d, got k={dim:g}, d={dd:g}")
    if not constants:
        return math.sqrt(dim)
    e = float(check_array("epsilon", epsilon, low=0, low_open=True))
    dl = float(check_array("delta", delta, low=0, high=1, low_open=True, high_open=True))
    calibration = check_choice("calibration", calibration, ("classical", "analytic"))
    c = check_positive("clip", clip)
    gn = check_positive("grad_norm", grad_norm)
    s = check_nonnegative("sampling_std", sampling_std)
    r = check_positive("retained_energy", retained_energy)
    thr = vn_threshold_value(canonical_aggregator(aggregator), n, f, route=route)
    z = calibrated_z(e, dl, calibration)
    _assume(r <= 1, "min_batch_size", "rho <= 1", f"rho={r:g}")
    big_a = thr ** 2 * r * gn ** 2
    return (s ** 2 + math.sqrt(s ** 4 + 16 * big_a * dim * c ** 2 * z ** 2)) / (2 * big_a)


def gaussian_epsilon_value(z: float, delta: float, steps: int = 1) -> float:
    """``gaussian_epsilon(z, delta, steps)`` for scalars: the ε at which δ(ε) of one Gaussian
    release with multiplier :math:`z/\\sqrt{T}` equals ``delta`` (bisection).

    Examples
    --------
    >>> round(gaussian_epsilon_value(3.7306316, 1e-5), 5)
    1.0
    """
    zz = check_positive("noise_multiplier", z) / math.sqrt(check_int("steps", steps, minimum=1))
    dl = float(check_array("delta", delta, low=0, high=1, low_open=True, high_open=True))

    def h(e: float) -> float:     # decreasing in e
        return min(max(_gaussian_delta(zz, e), 0.0), 1.0) - dl

    if h(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while h(hi) > 0:
        lo, hi = hi, 2.0 * hi
        if hi > 1e6:  # pragma: no cover
            return math.inf
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return hi
        if h(mid) > 0:
            lo = mid
        else:
            hi = mid


def min_batch_from_threshold(dim: float, clip: float, z: float, grad_norm: float,
                             sampling_std: float, rho: float, kappa_f: float) -> float:
    """``min_batch_size_bound().evaluate(...)``: the positive root of the VN condition."""
    _assume(rho <= 1, "min_batch_size", "rho <= 1", f"rho={rho:g}")
    big_a = kappa_f ** 2 * rho * grad_norm ** 2
    s2 = sampling_std ** 2
    return (s2 + math.sqrt(s2 ** 2 + 16 * big_a * dim * clip ** 2 * z ** 2)) / (2 * big_a)


# ------------------------------------------------------------------ compression

#: Compressors known to :mod:`fltheory.bounds.compression` (``sign`` is the plain sign, which
#: has a bit count but no variance or contraction bound).
COMPRESSORS = ("none", "randk", "topk", "qsgd", "l2", "scaled_sign", "sign")
#: Compressors with a variance (ω) or contraction (1 − δ) bound.
VARIANCE_KINDS = ("none", "randk", "topk", "qsgd", "l2", "scaled_sign")
_UNBIASED = {"none", "randk", "qsgd", "l2"}

# one name per compressor, as in fltheory.fl.compressors: "sign" is the plain sign everywhere
_KINDS = Registry("kind")
for _name, _aliases in (("none", ("dense", "identity")), ("randk", ("rand_k", "random_k")),
                        ("topk", ("top_k",)), ("qsgd", ("quantization",)),
                        ("l2", ("l2_quantization", "ternary")), ("sign", ())):
    _KINDS.register(_name, _name, aliases=_aliases)
# "signsgd" meant the scaled sign here before "sign" became the plain sign: it keeps that meaning
_KINDS.register("scaled_sign", "scaled_sign", deprecated=("signsgd",))

_PLAIN_SIGN = ("kind='sign' is the plain sign sign(x), which is biased and has no variance or "
               "contraction bound: ||sign(x) - x||^2 is not at most a multiple < 1 of ||x||^2 "
               "(it tends to d as x -> 0). Use kind='scaled_sign' for (||x||_1/d) sign(x), "
               "whose contraction factor is 1 - 1/d (before this release, kind='sign' meant the "
               "scaled sign)")

# kind -> name of compressor_variance_bound(kind)
_VARIANCE_BOUND = {"none": "omega_none", "randk": "omega_randk", "qsgd": "omega_qsgd",
                   "l2": "omega_l2", "topk": "contraction_topk",
                   "scaled_sign": "contraction_scaled_sign"}


def compressor_kind(kind: str) -> str:
    """Canonical name of a compressor (``"rand-k"`` -> ``"randk"``); ``ValueError`` listing
    the choices when unknown.

    Examples
    --------
    >>> compressor_kind("Top-K")
    'topk'
    """
    return _KINDS.canonical(kind, param="kind")


def variance_kind(kind: str) -> str:
    """:func:`compressor_kind`, refusing the plain sign (it has no variance or contraction
    bound)."""
    key = compressor_kind(kind)
    if key == "sign":
        raise ValueError(_PLAIN_SIGN)
    return key


def bits_kind(kind: str) -> str:
    """:func:`compressor_kind`, warning that ``"sign"`` is the plain sign now (the warning points
    at the caller of the caller: the user's call of ``bits_per_round``)."""
    key = compressor_kind(kind)
    if key == "sign":
        warnings.warn("kind='sign' is the plain sign: d bits per round (before this release it "
                      "meant the scaled sign, d + w bits: kind='scaled_sign')", FutureWarning,
                      stacklevel=3)
    return key


def is_unbiased(kind: str) -> bool:
    """Whether :func:`~fltheory.bounds.compressor_variance` returns an unbiased ω (else a
    contraction factor).

    Examples
    --------
    >>> is_unbiased("randk"), is_unbiased("topk")
    (True, False)
    """
    return compressor_kind(kind) in _UNBIASED


def variance_bound_name(kind: str) -> str:
    """The name of ``compressor_variance_bound(kind)`` (the same errors).

    Examples
    --------
    >>> variance_bound_name("top_k")
    'contraction_topk'
    """
    return _VARIANCE_BOUND[variance_kind(kind)]


def compressor_variance_value(kind: str, d, k=None, levels=None) -> float:
    """``compressor_variance(kind, d, k, levels)`` for scalars.

    Examples
    --------
    >>> compressor_variance_value("randk", 25_000_000, k=250_000)
    99.0
    >>> compressor_variance_value("qsgd", 10_000, levels=10)
    10.0
    """
    key = variance_kind(kind)
    if key == "none":
        return float(np.zeros(np.shape(check_array("d", d, low=1, integer=True))))
    name = _VARIANCE_BOUND[key]
    params = _table().FUNCS[name][0]
    vals = {"d": d}
    if "k" in params:
        if k is None:
            raise ValueError(f"k is required for kind={key!r}")
        vals["k"] = k
    if "levels" in params:
        if levels is None:
            raise ValueError(f"levels is required for kind={key!r}")
        vals["levels"] = levels
    return evaluate(name, **vals)


def bits_bound_name(key: str, index_coding: str = "indices") -> str:
    """The name of ``bits_per_round_bound(key, index_coding)`` for a canonical ``key``."""
    index_coding = check_choice("index_coding", index_coding, ("indices", "bitmap", "seed"))
    if key in ("randk", "topk"):
        if index_coding == "seed" and key == "topk":
            raise ValueError("index_coding='seed' is only possible for randk (top-k positions "
                             "depend on the data)")
        return f"bits_{key}_{index_coding}"
    return f"bits_{key}"


def bits_per_round_value(kind: str, d, k=None, levels=None, *, float_bits: int = 32,
                         index_coding: str = "auto") -> float:
    """``bits_per_round(kind, d, k, levels, float_bits=..., index_coding=...)`` for scalars.

    Examples
    --------
    >>> bits_per_round_value("randk", 1000, k=10), bits_per_round_value("none", 1000)
    (420.0, 32000.0)
    """
    key, vals, index_coding = bits_args(kind, d, k, levels, float_bits, index_coding)
    if key in ("randk", "topk"):
        if index_coding == "auto":
            return float(np.minimum(evaluate(bits_bound_name(key, "indices"), **vals),
                                    evaluate(bits_bound_name(key, "bitmap"), **vals)))
        return evaluate(bits_bound_name(key, index_coding), **vals)
    return evaluate(bits_bound_name(key), **vals)


def bits_args(kind: str, d, k, levels, float_bits, index_coding) -> tuple[str, dict, str]:
    """The checked arguments of ``bits_per_round`` (symbolic and numeric alike): the canonical
    kind, the values its bound needs and the index coding."""
    key = bits_kind(kind)
    float_bits = check_int("float_bits", float_bits, minimum=1)
    index_coding = check_choice("index_coding", index_coding, ("auto", "indices", "bitmap", "seed"))
    vals: dict = {"d": d, "float_bits": float_bits}
    if key in ("randk", "topk"):
        if k is None:
            raise ValueError(f"k is required for kind={key!r}")
        vals["k"] = k
    if key == "qsgd":
        if levels is None:
            raise ValueError("levels is required for kind='qsgd'")
        vals["levels"] = levels
    return key, vals, index_coding


# ------------------------------------------------------------------ cost model

#: Rules of the operation-count model (``fltheory.bounds.cost``).
COST_AGGREGATORS = ("mean", "cwmed", "cwtm", "krum", "multikrum", "gm", "nnm", "mda", "smea",
                    "caf")


def cost_bound_name(name: str, what: str = "flops", smea_method: str = "gram") -> str:
    """The name of ``aggregation_cost_bound(name, what, smea_method)`` (the same errors)."""
    key = canonical_aggregator(name, COST_AGGREGATORS)
    what = check_choice("what", what, ("flops", "memory"))
    smea_method = check_choice("smea_method", smea_method, ("gram", "dense"))
    return f"cost_{what}_{key if key != 'smea' else f'smea_{smea_method}'}"


def cost_args(name: str, n, f, d, iterations, power_iterations, bytes_per_float
              ) -> tuple[str, int, dict]:
    """The checked arguments of ``aggregation_cost`` (symbolic and numeric alike): the
    canonical rule, the bytes per float and the values of the cost model's parameters."""
    key = canonical_aggregator(name, COST_AGGREGATORS)
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    power_iterations = check_int("power_iterations", power_iterations, minimum=1)
    bpf = check_int("bytes_per_float", bytes_per_float, minimum=1)
    if iterations is None:
        iterations = 100 if key == "gm" else max(2 * f, 1)
    iterations = check_int("iterations", iterations, minimum=1)
    return key, bpf, {"n": n, "f": f, "d": d, "iters": iterations,
                      "power_iters": power_iterations}


def aggregation_cost_info(name: str, n: int, f: int, d, *, smea_method: str = "gram",
                          iterations: int | None = None, power_iterations: int = 20,
                          bytes_per_float: int = 4, nnm: bool = False) -> dict:
    """``aggregation_cost(name, n, f, d, ...)`` for a scalar ``d``: the same dictionary
    (``aggregator``, ``flops``, ``memory_bytes``, ``model``).

    Examples
    --------
    >>> c = aggregation_cost_info("cwtm", 20, 4, 1000)
    >>> c["flops"], c["memory_bytes"]
    (112000.0, 84000.0)
    """
    key, bpf, vals = cost_args(name, n, f, d, iterations, power_iterations, bytes_per_float)
    n, f = vals["n"], vals["f"]
    funcs = _table().FUNCS

    def ev(bound: str) -> float:
        return evaluate(bound, **{**{p: vals[p] for p in funcs[bound][0]}, "n": n, "f": f})

    flops_name = cost_bound_name(key, "flops", smea_method)
    flops = ev(flops_name)
    mem = ev(cost_bound_name(key, "memory", smea_method))
    if nnm and key != "nnm":
        flops = flops + ev(cost_bound_name("nnm", "flops"))
        mem = float(np.maximum(mem, ev(cost_bound_name("nnm", "memory"))))
    return {"aggregator": key + ("+nnm" if nnm and key != "nnm" else ""), "flops": float(flops),
            "memory_bytes": float(mem) * bpf, "model": bound_entry(flops_name)["body"]}


def aggregation_cost_value(name: str, n: int, f: int, d: int, *, nnm: bool = False
                           ) -> tuple[float, float]:
    """``(flops, memory_bytes)`` of ``aggregation_cost(name, n, f, d, nnm=nnm)`` (its defaults:
    SMEA on the Gram matrix, 100 Weiszfeld iterations, 2f CAF steps of 20 power iterations,
    4-byte floats).

    Examples
    --------
    >>> aggregation_cost_value("cwtm", 20, 4, 1000)
    (112000.0, 84000.0)
    """
    c = aggregation_cost_info(name, n, f, d, nnm=nnm)
    return c["flops"], c["memory_bytes"]
