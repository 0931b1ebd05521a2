"""Writes :mod:`fltheory.bounds._bound_table` from the symbolic bounds.

The command line prints the LaTeX, the metadata and the values of the bounds without importing
sympy (about a second): it reads them from ``_bound_table.py``, which this module generates from
the :class:`~fltheory.bounds.Bound` objects themselves -- :meth:`Bound.to_dict`, the LaTeX with and
without the bounded quantity, and the NumPy code ``sympy.lambdify`` prints for the expression and
for each assumption.  After changing a bound, regenerate the table::

    python -m fltheory.bounds._bound_table_gen

``tests/bounds/test_bound_table.py`` regenerates the text and fails when the file differs.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import numpy as np

from ._core import SYMBOLS, Bound
from ._domain import binom_values

__all__ = ["bounds", "entries", "render", "PATH"]

#: The generated module.
PATH = Path(__file__).with_name("_bound_table.py")

# names the lambdified code calls -> the object lambdify bound them to (checked on generation);
# the table binds the same NumPy functions and the same exact binomial coefficient
_CALLS = {"ceiling": np.ceil, "floor": np.floor, "greater": np.greater,
          "greater_equal": np.greater_equal, "less": np.less, "less_equal": np.less_equal,
          "log": np.log, "log2": np.log2, "minimum": np.minimum, "sqrt": np.sqrt,
          "binom": binom_values}


def bounds() -> tuple[list[str], dict[str, Bound]]:
    """The names :func:`~fltheory.bounds.all_bounds` lists, and every bound the numeric twins
    evaluate: those, plus the ones the constructors build that the list leaves out (the κ-route
    VN thresholds of CWMed and Krum, top-k's bit counts)."""
    from . import compression as cm
    from . import cost as co
    from . import robustness as rb
    from ._numeric import VN_RULES
    from ._registry import all_bounds

    listed = all_bounds()
    more: list[Bound] = [rb.kappa_bound(a, nnm=m) for a in rb.AGGREGATORS for m in (False, True)]
    more += [rb.kappa_lower_bound_bound(), rb.robust_dgd_bound(), rb.robust_lower_bound(),
             rb.breakdown_point_bound()]
    for name in VN_RULES + rb.AGGREGATORS:
        for route in ("auto", "vn", "kappa"):
            try:
                more.append(rb.vn_threshold_bound(name, route))
            except ValueError:      # no published threshold (vn) or no kappa (kappa route)
                pass
    more += [cm.compressor_variance_bound(kind) for kind in cm.VARIANCE_KINDS]
    for kind in cm.COMPRESSORS:
        for coding in ("indices", "bitmap", "seed"):
            try:
                more.append(cm._bits_bound(kind, coding))
            except ValueError:      # positions of top-k cannot come from a seed
                pass
    for name in co.COST_AGGREGATORS:
        for what in ("flops", "memory"):
            for method in ("gram", "dense"):
                more.append(co.aggregation_cost_bound(name, what, method))
    out = dict(listed)
    for b in more:
        if b.name in out:
            if out[b.name].to_dict() != b.to_dict():
                raise AssertionError(f"two different bounds are called {b.name!r}")
        else:
            out[b.name] = b
    return list(listed), out


def _code(func, args: tuple[str, ...]) -> str:
    """The expression a lambdified function returns (checked to be one ``return`` line)."""
    src = inspect.getsource(func)
    m = re.fullmatch(r"def _lambdifygenerated\((.*)\):\n    return (.*)\n", src)
    if m is None or tuple(a.strip() for a in m.group(1).split(",") if a.strip()) != args:
        raise AssertionError(f"unexpected lambdified code:\n{src}")
    for name in func.__code__.co_names:
        if name == "reduce":
            continue
        if name not in _CALLS or func.__globals__.get(name) is not _CALLS[name]:
            raise AssertionError(f"lambdified code calls {name!r}, which the table does not bind "
                                 "to the same function")
    return m.group(2)


def entries() -> tuple[list[str], dict[str, dict]]:
    """The names :func:`~fltheory.bounds.all_bounds` lists, and name -> entry of the table:
    :meth:`Bound.to_dict` with the bounded quantity, the LaTeX without it (``body``), the NumPy
    code of the expression (``code``) and of each assumption (``conditions``: text, symbols,
    code)."""
    listed, every = bounds()
    out = {}
    for name, b in every.items():
        e = b.to_dict()
        e["quantity"] = b.quantity
        e["body"] = b.latex(with_quantity=False)
        e["code"] = _code(b._func, b.parameters)
        e["conditions"] = [(a.text, tuple(s.name for s in a._symbols),
                            _code(a._func, tuple(s.name for s in a._symbols)))
                           for a in b.assumptions]
        out[name] = e
    return listed, out


_HEADER = '''\
"""The symbolic bounds as plain data and NumPy code -- GENERATED, do not edit.

Written by ``python -m fltheory.bounds._bound_table_gen`` from the Bound objects of
:mod:`fltheory.bounds` (sympy): what :meth:`Bound.to_dict` returns, the LaTeX without the bounded
quantity, and the code ``sympy.lambdify`` prints for NumPy for each expression and assumption.
``tests/bounds/test_bound_table.py`` regenerates it and fails on any difference.  The command
line and :mod:`fltheory.bounds._numeric` read it instead of importing sympy.
"""
# flake8: noqa

import functools as _functools

from numpy import (ceil as ceiling, floor, greater, greater_equal, less, less_equal, log, log2,
                   minimum, sqrt)

from fltheory.bounds._domain import binom_values as binom

reduce = _functools.reduce
'''


def render() -> str:
    """The text of ``_bound_table.py``."""
    listed, table = entries()
    domains = {name: (bool(s.is_integer), bool(s.is_positive), bool(s.is_nonnegative))
               for name, s in SYMBOLS.items()}
    lines = [_HEADER, "",
             "#: Domain of each symbol: (integer, positive, nonnegative).",
             "SYMBOLS = {"]
    lines += [f"    {name!r}: {dom!r}," for name, dom in domains.items()]
    lines += ["}", "", "#: The bounds fltheory.bounds.all_bounds() returns, in its order.",
              "LISTED = ("]
    lines += [f"    {name!r}," for name in listed]
    lines += [")", "",
              "#: name -> Bound.to_dict() (in its key order), the bounded quantity and the LaTeX",
              "#: without it (body).",
              "BOUNDS = {"]
    for name, e in table.items():
        lines.append(f"    {name!r}: {{")
        for key, value in e.items():
            if key not in ("code", "conditions"):
                lines.append(f"        {key!r}: {value!r},")
        lines.append("    },")
    lines += ["}", "",
              "#: name -> (parameters, the expression as a function of them).",
              "FUNCS = {"]
    for name, e in table.items():
        lam = " ".join(["lambda", ", ".join(e["parameters"])]).rstrip()
        lines.append(f"    {name!r}: ({tuple(e['parameters'])!r}, {lam}: {e['code']}),")
    lines += ["}", "",
              "#: name -> ((text, symbols, condition as a function of the symbols), ...).",
              "CONDITIONS = {"]
    for name, e in table.items():
        conds = "".join(f"({text!r}, {syms!r}, lambda {', '.join(syms)}: {code}), "
                        for text, syms, code in e["conditions"])
        lines.append(f"    {name!r}: ({conds.rstrip()}),")
    lines += ["}", ""]
    return "\n".join(lines)


def main() -> int:
    """Write ``_bound_table.py``; print whether it changed."""
    text = render()
    old = PATH.read_text() if PATH.exists() else None
    if old == text:
        print(f"{PATH} is up to date")
        return 0
    PATH.write_text(text)
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":   # pragma: no cover
    sys.exit(main())
