"""Plain-Python values of the bounds behind ``fltheory bound kappa``, ``bound min-batch-size`` and
``fltheory tradeoff`` (:mod:`fltheory.tradeoffs`).

The :class:`~fltheory.bounds.Bound` objects are sympy expressions, and importing sympy (and the
SciPy functions their lambdified forms call) costs about a second, several times the work of the
command.  This module evaluates the same closed forms with :mod:`math` only, imports neither sympy
nor SciPy, and is what those commands call when no LaTeX is asked for.  The symbolic forms stay
the reference: ``tests/bounds/test_bounds_numeric.py`` checks that both agree on a grid of
parameters, and that both reject the same inputs with the same messages.

It also holds what the symbolic modules share with it: the aggregator names and aliases, the
Byzantine-setting check and the descriptions of the κ bounds.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._checks import (check_array, check_choice, check_int, check_nonnegative,
                       check_positive)

__all__ = [
    "AGGREGATORS",
    "PROVED",
    "canonical_aggregator",
    "check_byzantine",
    "kappa_info",
    "kappa_value",
    "kappa_lower_value",
    "vn_threshold_value",
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


def _integer(name: str, value: Any, positive: bool) -> int:
    """An integer in the domain of the symbol ``name`` (messages as ``Bound.evaluate``'s)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if x != math.floor(x):
        raise ValueError(f"{name} must be an integer, got {x:g}")
    if positive and x <= 0:
        raise ValueError(f"{name} must be > 0, got {x:g}")
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x:g}")
    return int(x)


def _clients(n, f) -> tuple[int, int]:
    """``n >= 1`` and ``f >= 0`` integers (the symbol domains of ``n`` and ``f``)."""
    return _integer("n", n, True), _integer("f", f, False)


def _assume(ok: bool, bound: str, text: str, where: str) -> None:
    if not ok:
        raise ValueError(f"{bound}: assumption {text} violated at {where}")


def kappa_value(name: str, n: int, f: int, nnm: bool = False) -> float:
    """``kappa_bound(name, nnm).evaluate(n=n, f=f)`` for integers ``n``, ``f``.

    Examples
    --------
    >>> kappa_value("cwtm", 20, 4), round(kappa_value("median", 20, 4), 4)
    (0.3333333333333333, 1.2857)
    """
    info = kappa_info(name, nnm)
    n, f = _clients(n, f)
    _assume(n > 2 * f, info["name"], "n > 2f", f"f={f}, n={n}")
    a = f / (n - 2 * f)
    key = info["key"]
    if key == "cwtm":
        v = a
    elif key == "cwmed":
        v = (math.ceil(n / 2) - 1) / (math.floor(n / 2) - f + 1)
    elif key == "gm":
        v = 4 * (1 + a) ** 2
    else:
        v = 6 * (1 + a)
    return 8 * f / (n - f) * (v + 1) if nnm else float(v)


def kappa_lower_value(n: int, f: int) -> float:
    """:math:`f/(n-2f)`, the value of ``kappa_lower_bound(n, f)``.

    Examples
    --------
    >>> kappa_lower_value(20, 4)
    0.3333333333333333
    """
    n, f = _clients(n, f)
    _assume(n > 2 * f, "kappa_lower", "n > 2f", f"f={f}, n={n}")
    return f / (n - 2 * f)


# aggregator -> [(condition on (n, f), text)] of the VN thresholds (El-Mhamdi et al.'s code)
_VN_ASSUMPTIONS = {
    "krum": [(lambda n, f: n > 2 * f + 2, "n > 2f + 2"), (lambda n, f: f >= 1, "f >= 1")],
    "bulyan": [(lambda n, f: n >= 4 * f + 3, "n >= 4f + 3"), (lambda n, f: f >= 1, "f >= 1")],
    "cwmed": [(lambda n, f: n > 2 * f, "n > 2f")],
    "mda": [(lambda n, f: n > 2 * f, "n > 2f"), (lambda n, f: f >= 1, "f >= 1")],
}


def vn_threshold_value(name: str, n: int, f: int, route: str = "auto") -> float:
    """``vn_threshold(name, n, f, route)`` for integers ``n``, ``f``.

    Examples
    --------
    >>> vn_threshold_value("median", 20, 4), round(vn_threshold_value("krum", 20, 4), 4)
    (0.25, 0.1047)
    """
    check_byzantine(n, f)
    route = check_choice("route", route, ("auto", "vn", "kappa"))
    key = canonical_aggregator(name, tuple(_VN_ASSUMPTIONS) + AGGREGATORS)
    n, f = _clients(n, f)
    if route == "vn" or (route == "auto" and key in _VN_ASSUMPTIONS):
        if key not in _VN_ASSUMPTIONS:
            raise ValueError(f"aggregator must be one of "
                             f"{', '.join(map(repr, _VN_ASSUMPTIONS))} for route='vn', "
                             f"got {name!r}")
        for cond, text in _VN_ASSUMPTIONS[key]:
            where = f"f={f}" if text == "f >= 1" else f"f={f}, n={n}"
            _assume(cond(n, f), f"vn_{key}", text, where)
        if key in ("krum", "bulyan"):
            return 1 / math.sqrt(2 * (n - f + f * (n + f * (n - f - 2) - 2) / (n - 2 * f - 2)))
        if key == "cwmed":
            return 1 / math.sqrt(n - f)
        return (n - f) / (math.sqrt(8) * f)
    kv = kappa_value(key, n, f)
    h = n - f
    return 1 / (math.sqrt(kv * (1 - 1 / h)) + 1 / math.sqrt(h))


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


#: Rules of the operation-count model (``fltheory.bounds.cost``).
COST_AGGREGATORS = ("mean", "cwmed", "cwtm", "krum", "multikrum", "gm", "nnm", "mda", "smea",
                    "caf")


def _cost(key: str, n: int, f: int, d: int, iters: int, power_iters: int = 20
          ) -> tuple[float, float]:
    """(flops, floats held) of ``aggregation_cost_bound(key, ..., smea_method="gram")``."""
    lg = math.ceil(math.log2(n))
    gram, h = n * (n + 1) * d, n - f
    flops = {
        "mean": lambda: n * d,
        "cwmed": lambda: n * lg * d,
        "cwtm": lambda: n * lg * d + (n - 2 * f) * d,
        "krum": lambda: gram + n ** 2 * lg,
        "multikrum": lambda: gram + n ** 2 * lg + h * d,
        "gm": lambda: gram + iters * (2 * n ** 2 + 4 * n) + 2 * n * d,
        "nnm": lambda: gram + n ** 2 * lg + n * h * d,
        "mda": lambda: gram + math.comb(n, f) * h * (h - 1) / 2 + h * d,
        "smea": lambda: gram + math.comb(n, f) * (h ** 3 + h ** 2) + h * d,
        "caf": lambda: iters * (4 * power_iters + 5) * n * d,
    }[key]()
    base = n * d + d
    if key in ("mean", "cwmed", "cwtm", "caf"):
        mem = base + (n if key == "caf" else 0)
    elif key == "nnm":
        mem = base + n * d + n ** 2
    else:
        mem = base + n ** 2
    return float(flops), float(mem)


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
    key = canonical_aggregator(name, COST_AGGREGATORS)
    n, f = check_int("n", n, minimum=1), check_int("f", f, minimum=0)
    d = _integer("d", d, True)
    _assume(n > 2 * f, f"cost_flops_{key}", "n > 2f", f"f={f}, n={n}")
    iters = 100 if key == "gm" else max(2 * f, 1)
    flops, mem = _cost(key, n, f, d, iters)
    if nnm and key != "nnm":
        fl2, mem2 = _cost("nnm", n, f, d, iters)
        flops, mem = flops + fl2, max(mem, mem2)
    return flops, mem * 4
