"""Argument validation shared by every fltheory module.

Every public function validates its inputs through these helpers so that all
errors look alike: a :class:`ValueError` that names the parameter, the value
received and the valid range, e.g. ``noise_multiplier must be > 0, got -1.0``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

__all__ = [
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_probability",
    "check_open_unit",
    "check_int",
    "check_choice",
    "check_array",
]


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _nonzero_text(text: str) -> bool:
    """Whether a numeric string has a non-zero digit before its exponent."""
    t = text.strip().lower().lstrip("+-")
    mant = t.split("e")[0]
    return any(c in "123456789" for c in mant)


def check_real(name: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float; reject non-numbers, NaN and (if asked) inf."""
    if type(value) is float or type(value) is int:          # the common case, without ABCs
        x = float(value)
        if x != x:
            raise ValueError(f"{name} must be a real number, got nan")
        if finite and (x == math.inf or x == -math.inf):
            raise ValueError(f"{name} must be finite, got {x}")
        return x
    raw = value
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        try:
            value = float(value)  # numpy 0-d arrays, strings of numbers
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {_fmt(value)}") from None
    x = float(value)
    if isinstance(raw, str) and x == 0.0 and _nonzero_text(raw):
        raise ValueError(f"{name} = {raw.strip()} underflows to 0 in double precision "
                         "(the smallest positive value is about 5e-324)")
    if math.isnan(x):
        raise ValueError(f"{name} must be a real number, got nan")
    if finite and math.isinf(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


def check_positive(name: str, value: Any, *, finite: bool = True) -> float:
    """A real number ``> 0``."""
    x = check_real(name, value, finite=finite)
    if not x > 0:
        raise ValueError(f"{name} must be > 0, got {_fmt(value)}")
    return x


def check_nonnegative(name: str, value: Any, *, finite: bool = True) -> float:
    """A real number ``>= 0``."""
    x = check_real(name, value, finite=finite)
    if not x >= 0:
        raise ValueError(f"{name} must be >= 0, got {_fmt(value)}")
    return x


def check_probability(name: str, value: Any) -> float:
    """A probability in the half-open interval ``(0, 1]`` (a sampling rate)."""
    x = check_real(name, value)
    if not 0 < x <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {_fmt(value)}")
    return x


def check_open_unit(name: str, value: Any) -> float:
    """A number in the open interval ``(0, 1)`` (e.g. delta)."""
    x = check_real(name, value)
    if not 0 < x < 1:
        raise ValueError(f"{name} must be in (0, 1), got {_fmt(value)}")
    return x


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """An integer (floats with an integral value such as ``1e4`` are accepted)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value}")
    if isinstance(value, (numbers.Integral, np.integer)):
        v = int(value)
    else:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {_fmt(value)}") from None
        if not math.isfinite(x) or x != math.floor(x):
            raise ValueError(f"{name} must be an integer, got {_fmt(value)}")
        v = int(x)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """One of a fixed set of strings (case-insensitive, ``-`` and ``_`` alike)."""
    choices = tuple(choices)
    if isinstance(value, str):
        norm = value.strip().lower().replace("-", "_")
        for c in choices:
            if c.lower().replace("-", "_") == norm:
                return c
    allowed = ", ".join(repr(c) for c in choices)
    hint = ""
    if isinstance(value, str):
        import difflib

        close = difflib.get_close_matches(value.strip().lower().replace("-", "_"), choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{name} must be one of {allowed}, got {_fmt(value)}{hint}")


def finite_array(name: str, value: Any) -> np.ndarray:
    """A non-empty float array of finite entries (the message names ``name``)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {_fmt(value)}") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite, got {bad}")
    return arr


def check_array(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False,
                integer: bool = False) -> np.ndarray:
    """A finite float array whose entries lie in ``[low, high]`` (ends open if asked)."""
    arr = finite_array(name, value)
    if integer and np.any(arr != np.floor(arr)):
        bad = arr[arr != np.floor(arr)].ravel()[0]
        raise ValueError(f"{name} must contain integers, got {bad}")
    lo_s = "(" if low_open else "["
    hi_s = ")" if high_open else "]"
    lo_txt = "-inf" if low is None else format(low, "g")
    hi_txt = "inf" if high is None else format(high, "g")
    rng = f"{lo_s}{lo_txt}, {hi_txt}{hi_s}"
    if low is not None:
        bad_mask = arr <= low if low_open else arr < low
        if np.any(bad_mask):
            raise ValueError(f"{name} must be in {rng}, got {arr[bad_mask].ravel()[0]:g}")
    if high is not None:
        bad_mask = arr >= high if high_open else arr > high
        if np.any(bad_mask):
            raise ValueError(f"{name} must be in {rng}, got {arr[bad_mask].ravel()[0]:g}")
    return arr


def check_drawer(name: str, value: Any, example: str) -> Any:
    """``None`` (also for ``False``) or a drawing function ``draw(result, stem) -> paths``.

    Runners take their figure as a function from the plots layer (they never import it);
    ``example`` names the usual one.
    """
    if value is None or value is False:
        return None
    if not callable(value):
        raise ValueError(f"{name} must be a drawing function {name}(result, stem) -> paths, "
                         f"e.g. {example} (the runner does not import the plots), or None, "
                         f"got {_fmt(value)}")
    return value
