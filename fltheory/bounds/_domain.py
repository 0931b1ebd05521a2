"""The checks :meth:`Bound.evaluate <fltheory.bounds.Bound.evaluate>` and the numeric twins share.

A value given for a symbol must be numeric, finite and in the symbol's domain (an integer,
positive or non-negative, as the symbol is declared in :data:`fltheory.bounds.SYMBOLS`); an
assumption of a bound (``n > 2f``) must hold.  :class:`~fltheory.bounds.Bound` (sympy) and
:mod:`fltheory.bounds._numeric` (no sympy) both raise through these functions, so both refuse the
same inputs with the same message.  This module imports NumPy and ``fltheory._checks`` only.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._checks import finite_array

__all__ = ["fmt_value", "check_values", "check_assumption", "unknown_parameters",
           "undefined", "binom_values"]

#: Domain of a symbol: (integer, positive, nonnegative), as its sympy assumptions say.
Domain = tuple[bool, bool, bool]


def fmt_value(v: float) -> str:
    """How a value is written in an error message (``%g``).

    Examples
    --------
    >>> fmt_value(1e6), fmt_value(4.0)
    ('1e+06', '4')
    """
    return f"{v:g}"


def check_values(bound: str, values: Mapping[str, Any], needed: Sequence[str],
                 domains: Mapping[str, Domain]) -> dict[str, np.ndarray]:
    """The values of the symbols ``needed`` as float arrays, each checked against its domain.

    Raises
    ------
    ValueError
        Naming the missing symbols, or the symbol, the offending value and the domain.

    Examples
    --------
    >>> check_values("kappa_cwtm", {"n": 20, "f": 4}, ["f", "n"],
    ...              {"f": (True, False, True), "n": (True, True, True)})["n"]
    array(20.)
    >>> check_values("kappa_cwtm", {"n": 20.5, "f": 4}, ["f", "n"],
    ...              {"f": (True, False, True), "n": (True, True, True)})
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer, got 20.5
    """
    missing = sorted(set(needed) - set(values))
    if missing:
        raise ValueError(f"{bound}: missing value(s) for {', '.join(missing)} "
                         f"(needs {', '.join(sorted(needed))})")
    out: dict[str, np.ndarray] = {}
    for name in needed:
        integer, positive, nonnegative = domains[name]
        arr = finite_array(name, values[name])
        if integer and np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must be an integer, got "
                             f"{fmt_value(arr[arr != np.floor(arr)].ravel()[0])}")
        if positive and np.any(arr <= 0):
            bad = arr[arr <= 0].ravel()[0]
            raise ValueError(f"{name} must be > 0, got {fmt_value(bad)}")
        if nonnegative and np.any(arr < 0):
            bad = arr[arr < 0].ravel()[0]
            raise ValueError(f"{name} must be >= 0, got {fmt_value(bad)}")
        out[name] = arr
    return out


def check_assumption(bound: str, text: str, names: Sequence[str], args: Sequence[np.ndarray],
                     condition: Callable[..., Any]) -> None:
    """Raise if ``condition(*args)`` is false anywhere, naming the assumption and the values.

    Examples
    --------
    >>> check_assumption("kappa_cwtm", "n > 2f", ["f", "n"], [np.asarray(4.0), np.asarray(8.0)],
    ...                  lambda f, n: n > 2 * f)
    Traceback (most recent call last):
    ...
    ValueError: kappa_cwtm: assumption n > 2f violated at f=4, n=8
    """
    ok = np.asarray(condition(*args), dtype=bool)
    if np.all(ok):
        return
    b = np.broadcast_arrays(*args, ok) if args else [ok]
    idx = np.argwhere(~b[-1])[0] if b[-1].ndim else ()
    where = ", ".join(f"{name}={fmt_value(float(b[i][tuple(idx)]))}"
                      for i, name in enumerate(names))
    raise ValueError(f"{bound}: assumption {text} violated at {where}")


def unknown_parameters(bound: str, unknown: Sequence[str], parameters: Sequence[str]
                       ) -> ValueError:
    """The error for keywords that are not symbols."""
    return ValueError(f"{bound}: unknown parameter(s) {', '.join(unknown)} "
                      f"(needs {', '.join(parameters)})")


def undefined(bound: str, assumptions: Sequence[str]) -> ValueError:
    """The error for a NaN value (raised instead of returning it)."""
    return ValueError(f"{bound}: undefined (NaN) at the values given; "
                      f"check {', '.join(assumptions) or 'the inputs'}")


def _binom_one(n_, k_) -> float:
    """``C(n, k)`` for integer-valued ``n, k`` (0 outside ``0 <= k <= n``, NaN for non-integers),
    computed exactly and rounded once to a float (infinite beyond the float range)."""
    a, b = float(n_), float(k_)
    if not (math.isfinite(a) and math.isfinite(b)) or a < 0 \
            or a != math.floor(a) or b != math.floor(b):
        return math.nan
    if b < 0 or b > a:
        return 0.0
    # beyond the float range (log C > 710) without computing a huge integer first
    if math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1) > 710.0:
        return math.inf
    try:
        return float(math.comb(int(a), int(b)))
    except OverflowError:
        return math.inf


def binom_values(n_, k_):
    """Vectorised :func:`_binom_one` (a float for scalar arguments)."""
    out = np.frompyfunc(_binom_one, 2, 1)(n_, k_)
    return np.float64(out) if np.ndim(out) == 0 else np.asarray(out, dtype=float)
