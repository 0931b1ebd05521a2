"""The :class:`Bound` object and the shared symbol table.

A :class:`Bound` is a sympy expression over the named symbols of :data:`SYMBOLS`, together with the
conditions under which it holds (its *assumptions*), the paper and theorem it rests on and a short
description.  It evaluates vectorised over NumPy arrays (``sympy.lambdify``, cached per object),
prints LaTeX for papers and documentation, and can be solved for one symbol.

Every value that enters :meth:`Bound.evaluate` is checked: unknown or missing names, non-finite
numbers, values outside a symbol's domain (``n`` a positive integer, ``delta`` positive, ...) and
violated assumptions (``n > 2f``, ``kappa B^2 < 1``) raise :class:`ValueError` naming the condition
and the offending values; a NaN never leaves this module.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.solvers.inequalities import solve_univariate_inequality

from ._domain import (binom_values, check_assumption, check_values, fmt_value as _fmt_value,
                      undefined,
                      unknown_parameters)

__all__ = [
    "SYMBOLS",
    "Assumption",
    "Bound",
    "symbol",
    "STATUSES",
    "KINDS",
    "log2",
]


def _sym(name: str, **assumptions: bool) -> sp.Symbol:
    return sp.Symbol(name, real=True, **assumptions)


#: The shared symbol table: keyword name -> sympy Symbol.  Every Bound uses these objects, so the
#: same letter means the same thing everywhere (``n`` clients, ``f`` Byzantine clients, ...).
SYMBOLS: dict[str, sp.Symbol] = {
    "n": _sym("n", positive=True, integer=True),
    "f": _sym("f", nonnegative=True, integer=True),
    "d": _sym("d", positive=True, integer=True),
    "b": _sym("b", positive=True, integer=True),
    "k": _sym("k", positive=True, integer=True),
    "T": _sym("T", positive=True, integer=True),
    "K": _sym("K", positive=True, integer=True),
    "m": _sym("m", positive=True, integer=True),
    "levels": _sym("levels", positive=True, integer=True),
    "iters": _sym("iters", positive=True, integer=True),
    "power_iters": _sym("power_iters", positive=True, integer=True),
    "float_bits": _sym("float_bits", positive=True, integer=True),
    "epsilon": _sym("epsilon", positive=True),
    "delta": _sym("delta", positive=True),
    "C": _sym("C", positive=True),
    "G": _sym("G", nonnegative=True),
    "B": _sym("B", nonnegative=True),
    "L": _sym("L", positive=True),
    "Delta0": _sym("Delta0", nonnegative=True),
    "kappa": _sym("kappa", nonnegative=True),
    "kappa_F": _sym("kappa_F", positive=True),
    "sigma": _sym("sigma", nonnegative=True),
    "sigma_s": _sym("sigma_s", nonnegative=True),
    "z": _sym("z", positive=True),
    "g": _sym("g", positive=True),
    "rho": _sym("rho", positive=True),
    "omega": _sym("omega", nonnegative=True),
    "zeta": _sym("zeta", nonnegative=True),
    "gamma": _sym("gamma", positive=True),
}

#: Domain of each symbol, (integer, positive, nonnegative): what the values must satisfy.
_DOMAINS: dict[str, tuple[bool, bool, bool]] = {
    name: (bool(s.is_integer), bool(s.is_positive), bool(s.is_nonnegative))
    for name, s in SYMBOLS.items()}

#: LaTeX rendering of the symbols whose sympy default is not the usual notation.
_LATEX_NAMES: dict[sp.Symbol, str] = {
    SYMBOLS["epsilon"]: r"\varepsilon",
    SYMBOLS["Delta0"]: r"\Delta_0",
    SYMBOLS["kappa_F"]: r"\kappa_F",
    SYMBOLS["sigma_s"]: r"\sigma_{\mathrm{s}}",
    SYMBOLS["g"]: r"\|\nabla Q\|",
    SYMBOLS["levels"]: "s",
    SYMBOLS["iters"]: r"I",
    SYMBOLS["power_iters"]: r"P",
    SYMBOLS["float_bits"]: r"w",
}

#: What the provenance tag of a Bound means (mirrors the tags of REFERENCES.md).
STATUSES = {
    "paper": "read in the cited paper",
    "code": "taken from the authors' published code",
    "literature": "as stated in the cited literature; this library has not verified the "
                  "statement, so it is offered as an estimate (guarded by empirical worst-case "
                  "probes in the test-suite where they apply)",
    "derived": "our own argument, shown in full in the documentation",
    "model": "a modelling choice (operation counts with stated constants), not a theorem",
}

#: What the relation of a Bound to the quantity it bounds is.
KINDS = {
    "upper": r"\leq",
    "lower": r"\geq",
    "exact": "=",
    "order": r"\asymp",   # only the order is known: constants are not
    "estimate": r"\approx",   # a value that is not certified (labelled so)
}


def symbol(name: str) -> sp.Symbol:
    """The shared sympy symbol called ``name`` (see :data:`SYMBOLS`).

    Examples
    --------
    >>> symbol("n")
    n
    """
    try:
        return SYMBOLS[name]
    except KeyError:
        allowed = ", ".join(sorted(SYMBOLS))
        raise ValueError(f"symbol must be one of {allowed}, got {name!r}") from None


class log2(sp.Function):
    """Base-2 logarithm that prints as ``\\log_2`` and lambdifies to ``numpy.log2``."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number and x.is_positive:
            return sp.log(x, 2)
        return None

    def _eval_is_real(self):
        return self.args[0].is_positive

    def _latex(self, printer, exp=None):
        arg = self.args[0]
        inner = printer._print(arg)
        tex = rf"\log_2 {inner}" if arg.is_Symbol else rf"\log_2\left({inner}\right)"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


class binom(sp.Function):
    """Binomial coefficient that prints as sympy's ``\\binom`` and lambdifies to
    :func:`binom_values` (exact integer arithmetic rounded once; sympy's own ``binomial``
    lambdifies to a ratio of gamma functions, which overflows from n = 171 on)."""

    nargs = 2

    def _eval_is_integer(self):
        return True if all(a.is_integer for a in self.args) else None

    def _eval_is_positive(self):
        n_, k_ = self.args
        return True if (n_ - k_).is_nonnegative and k_.is_nonnegative else None

    def _latex(self, printer, exp=None):
        tex = rf"{{\binom{{{printer._print(self.args[0])}}}{{{printer._print(self.args[1])}}}}}"
        return tex if exp is None else rf"{tex}^{{{exp}}}"


#: Modules for lambdify: custom functions first, then SciPy, then NumPy.
_MODULES = [{"log2": np.log2, "ceiling": np.ceil, "binom": binom_values}, "scipy", "numpy"]


def _latex(expr: Any) -> str:
    return sp.latex(expr, symbol_names=_LATEX_NAMES, order="old")


@dataclass(frozen=True)
class Assumption:
    """A validity condition of a bound: a sympy relational and its human-readable text."""

    condition: sp.Basic
    text: str

    def latex(self) -> str:
        """LaTeX of the condition."""
        return _latex(self.condition)

    @functools.cached_property
    def _symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sorted(self.condition.free_symbols, key=lambda s: s.name))

    @functools.cached_property
    def _func(self):
        return sp.lambdify(self._symbols, self.condition, modules=_MODULES)


def _as_assumption(a: Any) -> Assumption:
    if isinstance(a, Assumption):
        return a
    if isinstance(a, tuple) and len(a) == 2:
        return Assumption(a[0], a[1])
    return Assumption(a, str(a))


def _is_scalar(v: Any) -> bool:
    return np.ndim(v) == 0


class Bound:
    """A symbolic bound with its assumptions, its reference and its description.

    Parameters
    ----------
    name : str
        Short identifier, e.g. ``"kappa_cwtm"``.
    expr : sympy.Expr
        The bound, an expression over symbols of :data:`SYMBOLS`.
    quantity : str
        LaTeX of the bounded quantity (left-hand side), e.g. ``r"\\kappa_{\\mathrm{CWTM}}"``.
    kind : {"upper", "lower", "exact", "order"}
        How ``quantity`` relates to ``expr``; ``"order"`` means only the order is known (constant
        factors are not) and is printed with :math:`\\asymp`.
    assumptions : sequence
        Validity conditions: :class:`Assumption` objects or ``(relational, text)`` pairs.
    reference : str
        Authors, year, venue and theorem.
    description : str
        What the bound says, in one or two sentences (and any caveat).
    status : {"paper", "code", "literature", "derived", "model"}
        Provenance, see :data:`STATUSES`.

    Examples
    --------
    >>> from fltheory.bounds import kappa_bound
    >>> b = kappa_bound("cwtm")
    >>> round(b.evaluate(n=20, f=4), 4)
    0.3333
    >>> b.evaluate(n=[10, 20], f=4).round(3)
    array([2.   , 0.333])
    >>> b.evaluate(n=8, f=4)
    Traceback (most recent call last):
    ...
    ValueError: kappa_cwtm: assumption n > 2f violated at f=4, n=8
    """

    def __init__(self, name: str, expr: Any, *, quantity: str, kind: str = "upper",
                 assumptions: Iterable[Any] = (), reference: str, description: str,
                 status: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
        if status not in STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(map(repr, STATUSES))}, got {status!r}")
        self.name = name
        self.expr = sp.sympify(expr)
        self.quantity = quantity
        self.kind = kind
        self.assumptions: tuple[Assumption, ...] = tuple(_as_assumption(a) for a in assumptions)
        self.reference = reference
        self.description = description
        self.status = status
        unknown = [s for s in self.expr.free_symbols if s not in SYMBOLS.values()]
        if unknown:
            raise ValueError(f"{name}: symbols {unknown} are not in the shared symbol table")

    # ------------------------------------------------------------------ introspection
    @functools.cached_property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """Free symbols of the expression, sorted by name."""
        return tuple(sorted(self.expr.free_symbols, key=lambda s: s.name))

    @property
    def parameters(self) -> tuple[str, ...]:
        """Keyword names :meth:`evaluate` needs."""
        return tuple(s.name for s in self.symbols)

    @functools.cached_property
    def _func(self):
        return sp.lambdify(self.symbols, self.expr, modules=_MODULES)

    def latex(self, *, with_quantity: bool = True) -> str:
        """LaTeX of the bound, e.g. ``\\kappa_{\\mathrm{CWTM}} \\le \\frac{6 f ...}``.

        Examples
        --------
        >>> from fltheory.bounds import kappa_lower_bound_bound
        >>> kappa_lower_bound_bound().latex()
        '\\\\kappa \\\\geq \\\\frac{f}{n - 2 f}'
        """
        body = _latex(self.expr)
        if not with_quantity:
            return body
        return f"{self.quantity} {KINDS[self.kind]} {body}"

    def assumptions_latex(self) -> list[str]:
        """LaTeX of each assumption."""
        return [a.latex() for a in self.assumptions]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (name, LaTeX, assumptions, reference, status ...)."""
        return {
            "name": self.name,
            "latex": self.latex(),
            "expression": str(self.expr),
            "kind": self.kind,
            "parameters": list(self.parameters),
            "assumptions": [a.text for a in self.assumptions],
            "reference": self.reference,
            "description": self.description,
            "status": self.status,
        }

    def __repr__(self) -> str:
        return f"Bound({self.name!r}: {self.quantity} {KINDS[self.kind]} {self.expr})"

    def _repr_latex_(self) -> str:  # Jupyter
        return f"${self.latex()}$"

    # ------------------------------------------------------------------ evaluation
    def _check_values(self, values: Mapping[str, Any], needed: Sequence[sp.Symbol]
                      ) -> dict[sp.Symbol, np.ndarray]:
        arrays = check_values(self.name, values, [s.name for s in needed], _DOMAINS)
        return {s: arrays[s.name] for s in needed}

    def check(self, **values: Any) -> None:
        """Raise :class:`ValueError` if an assumption is violated by ``values``.

        Only the assumptions whose symbols are all given are checked.
        """
        arrays = {SYMBOLS[k]: np.asarray(v, dtype=float) for k, v in values.items()
                  if k in SYMBOLS}
        for a in self.assumptions:
            if not all(s in arrays for s in a._symbols):
                continue
            check_assumption(self.name, a.text, [s.name for s in a._symbols],
                             [arrays[s] for s in a._symbols], a._func)

    def evaluate(self, **values: Any):
        """Evaluate the bound; NumPy broadcasting over array-valued arguments.

        Returns a float when every argument is a scalar, else an ``ndarray``.  Extra keywords
        that are symbols of an assumption but not of the expression are checked too.

        Raises
        ------
        ValueError
            On a missing or unknown name, a value outside its symbol's domain, or a violated
            assumption (the message names the condition and the values).
        """
        unknown = sorted(set(values) - set(SYMBOLS))
        if unknown:
            raise unknown_parameters(self.name, unknown, self.parameters)
        needed = list(self.symbols)
        for a in self.assumptions:
            needed += [s for s in a._symbols if s not in needed and s.name in values]
        arrays = self._check_values(values, needed)
        self.check(**{s.name: arr for s, arr in arrays.items()})
        with np.errstate(all="ignore"):
            res = np.asarray(self._func(*[arrays[s] for s in self.symbols]), dtype=float)
        shape = np.broadcast_shapes(*[arrays[s].shape for s in self.symbols], ())
        res = np.broadcast_to(res, shape)
        if np.any(np.isnan(res)):
            raise undefined(self.name, [a.text for a in self.assumptions])
        if all(_is_scalar(values[s.name]) for s in self.symbols):
            return float(res)
        return np.array(res)

    __call__ = evaluate

    def subs(self, **values: Any) -> "Bound":
        """A new Bound with some symbols replaced by numbers (assumptions checked and kept)."""
        self.check(**values)
        rep = {SYMBOLS[k]: sp.nsimplify(v) if isinstance(v, int) else v for k, v in values.items()}
        assumptions = []
        for a in self.assumptions:
            c = a.condition.subs(rep)
            if c is sp.true:
                continue
            assumptions.append(Assumption(c, a.text))
        return Bound(self.name, self.expr.subs(rep), quantity=self.quantity, kind=self.kind,
                     assumptions=assumptions, reference=self.reference,
                     description=self.description, status=self.status)

    # ------------------------------------------------------------------ solving
    def solve_for(self, name: str, target: float, *, sense: str = "<=", **values: Any):
        """The smallest (or largest) value of one symbol for which ``expr <sense> target``.

        All other symbols are fixed by ``values`` (scalars or arrays, broadcast).  The admissible
        set ``{x : expr(x) <sense> target}`` within the domain allowed by the assumptions must be
        a half-line: if it is ``[x*, oo)`` the smallest admissible value ``x*`` is returned, if it
        is ``(lo, x*]`` the largest.  Integer symbols (``n, f, d, b, k, ...``) are rounded inwards
        (``ceil`` for a smallest value, ``floor`` for a largest) and returned as integers.

        Parameters
        ----------
        name : str
            The symbol to solve for.
        target : float
            The value the bound must not exceed (``sense="<="``) or must reach (``">="``).
        sense : {"<=", ">="}
            Which side of ``target`` is admissible.

        Raises
        ------
        ValueError
            If the other values violate an assumption, or no admissible half-line exists.

        Examples
        --------
        >>> from fltheory.bounds import kappa_bound
        >>> kappa_bound("cwtm").solve_for("n", 1.0, f=4)     # smallest n with kappa <= 1
        12
        """
        if sense not in ("<=", ">="):
            raise ValueError(f"sense must be '<=' or '>=', got {sense!r}")
        x = symbol(name)
        if x not in self.expr.free_symbols:
            raise ValueError(f"{self.name}: {name} is not a symbol of this bound "
                             f"(symbols: {', '.join(self.parameters)})")
        others = [s for s in self.symbols if s is not x]
        for a in self.assumptions:
            others += [s for s in a._symbols if s is not x and s not in others and s.name in values]
        arrays = self._check_values(values, others)
        t_arr = np.asarray(target, dtype=float)
        if not np.all(np.isfinite(t_arr)):
            raise ValueError(f"target must be finite, got {target}")
        # Assumptions that do not involve x must already hold.
        self.check(**{s.name: arr for s, arr in arrays.items()})
        bshape = np.broadcast_shapes(t_arr.shape, *[a.shape for a in arrays.values()])
        flat = {s: np.broadcast_to(arr, bshape).ravel() for s, arr in arrays.items()}
        tflat = np.broadcast_to(t_arr, bshape).ravel()
        out = [self._solve_scalar(x, float(tflat[i]), sense,
                                  {s: float(v[i]) for s, v in flat.items()})
               for i in range(tflat.size)]
        res = np.array(out, dtype=object if x.is_integer else float).reshape(bshape)
        if res.ndim == 0:
            return res.item()
        return res.astype(np.int64 if x.is_integer else float)

    def _domain(self, x: sp.Symbol, fixed: dict[sp.Symbol, float]) -> sp.Interval:
        dom: sp.Set = sp.Interval.open(0, sp.oo) if x.is_positive else (
            sp.Interval(0, sp.oo) if x.is_nonnegative else sp.Reals)
        rep = {s: sp.Float(v) if not s.is_integer else sp.Integer(int(v)) for s, v in fixed.items()}
        for a in self.assumptions:
            if x not in a.condition.free_symbols:
                continue
            cond = a.condition.subs(rep)
            xs = sp.Symbol("x_", real=True)
            sol = solve_univariate_inequality(cond.subs(x, xs), xs, relational=False)
            dom = dom.intersect(sol)
        if not isinstance(dom, sp.Interval) or dom.is_empty:
            raise ValueError(f"{self.name}: no admissible range for {x.name} at "
                             + ", ".join(f"{s.name}={_fmt_value(v)}" for s, v in fixed.items()))
        return dom

    def _solve_scalar(self, x: sp.Symbol, target: float, sense: str,
                      fixed: dict[sp.Symbol, float]):
        from scipy.optimize import brentq

        dom = self._domain(x, fixed)
        lo = float(dom.start)
        hi = float(dom.end) if dom.end is not sp.oo else math.inf
        args_order = list(self.symbols)

        def g(xv: np.ndarray) -> np.ndarray:
            args = [xv if s is x else fixed[s] for s in args_order]
            with np.errstate(all="ignore"):
                val = np.asarray(self._func(*args), dtype=float)
            return (val - target) if sense == "<=" else (target - val)   # admissible <=> g <= 0

        # A grid over the admissible range, geometric away from the lower end.
        span_hi = hi if math.isfinite(hi) else max(abs(lo), 1.0) * 1e40
        base = max(abs(lo), 1.0)
        offs = np.geomspace(base * 1e-12, span_hi - lo, 2000)
        grid = lo + offs
        grid = grid[(grid > lo) & (grid < hi)]
        vals = g(grid)
        good = np.isfinite(vals)
        grid, vals = grid[good], vals[good]
        if grid.size == 0:
            raise ValueError(f"{self.name}: cannot evaluate the bound over the range of {x.name}")
        sign = vals <= 0
        changes = np.flatnonzero(sign[1:] != sign[:-1])
        where = ", ".join(f"{s.name}={_fmt_value(v)}" for s, v in fixed.items())
        if changes.size == 0:
            if sign.all():
                raise ValueError(f"{self.name}: every {x.name} in ({_fmt_value(lo)}, "
                                 f"{'oo' if not math.isfinite(hi) else _fmt_value(hi)}) satisfies "
                                 f"the target {target:g} at {where}; no boundary to return")
            raise ValueError(f"{self.name}: no {x.name} reaches the target {target:g} at {where}")
        if changes.size > 1:
            raise ValueError(f"{self.name}: the admissible set in {x.name} is not a half-line "
                             f"at {where}")
        i = int(changes[0])
        root = brentq(lambda t: float(g(np.asarray(t))), grid[i], grid[i + 1],
                      xtol=1e-12, rtol=1e-14, maxiter=500)
        smallest = not sign[i]          # inadmissible below, admissible above
        if x.is_integer:
            r = math.ceil(root - 1e-9 * max(1.0, abs(root))) if smallest else \
                math.floor(root + 1e-9 * max(1.0, abs(root)))
            # make sure the rounded value is admissible (guards against rounding at a tie)
            while g(np.asarray(float(r))) > 0:
                r = r + 1 if smallest else r - 1
            return int(r)
        return float(root)
