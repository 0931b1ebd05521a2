"""Compute-cost model of robust aggregation: floating-point operations and memory per round.

Leading-order operation counts with the constants stated (a *model*, not a measurement; timings
live in ``benchmarks/bounds.py``).  Conventions: a Gram matrix of n vectors in :math:`\\mathbb R^d`
costs :math:`n(n+1)d` flops (:math:`n(n+1)/2` inner products of :math:`2d` flops); sorting m numbers
costs :math:`m\\lceil\\log_2 m\\rceil` comparisons (counted as flops); a dense symmetric
eigendecomposition of a :math:`p\\times p` matrix costs :math:`p^3`.  Memory counts the floats held
at once, the :math:`n\\times d` inputs included.

The point of the model is the *shape* in d: every rule is linear in d except SMEA computed on the
d x d covariance (:math:`\\binom nf d^3`) -- the "≥ d³ per round" of the literature -- while the same
SMEA on the :math:`(n-f)\\times(n-f)` Gram matrix is linear in d but combinatorial in n.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .._checks import check_choice
from ._core import Assumption, Bound, SYMBOLS, binom, log2
from ._numeric import COST_AGGREGATORS, cost_args  # noqa: F401  (COST_AGGREGATORS: re-exported)
from .robustness import canonical_aggregator

__all__ = ["COST_AGGREGATORS", "aggregation_cost_bound", "aggregation_cost"]

n, f, d, I, P = (SYMBOLS[x] for x in ("n", "f", "d", "iters", "power_iters"))


_lg = sp.ceiling(log2(n))
_gram = n * (n + 1) * d
_h = n - f
_subsets = binom(n, f)    # exact (sympy's binomial lambdifies to overflowing gammas)

REF_SMEA = ("Y. Allouah, R. Guerraoui, N. Gupta, R. Pinot, J. Stephan (2023). On the "
            "Privacy-Robustness-Utility Trilemma in Distributed Learning. ICML 2023 (SMEA)")
REF_CAF = ("Covariance-bound Agnostic Filter (CAF), ICML 2025, as documented in ByzFL "
           "(byzfl.epfl.ch): iterative filtering with a power-method top eigenvector, O(nd) per "
           "inner iteration; iteration counts are modelling choices here")


def _flops(key: str, smea_method: str) -> sp.Expr:
    if key == "mean":
        return n * d
    if key == "cwmed":
        return n * _lg * d
    if key == "cwtm":
        return n * _lg * d + (n - 2 * f) * d
    if key == "krum":
        return _gram + n ** 2 * _lg
    if key == "multikrum":
        return _gram + n ** 2 * _lg + _h * d
    if key == "gm":        # Weiszfeld on the Gram matrix: O(n^2) per iteration, one combination
        return _gram + I * (2 * n ** 2 + 4 * n) + 2 * n * d
    if key == "nnm":
        return _gram + n ** 2 * _lg + n * _h * d
    if key == "mda":
        return _gram + _subsets * _h * (_h - 1) / 2 + _h * d
    if key == "smea":
        if smea_method == "dense":
            return _subsets * (_h * d ** 2 + d ** 3) + _h * d
        return _gram + _subsets * (_h ** 3 + _h ** 2) + _h * d
    if key == "caf":       # I outer filter steps, P power iterations (two mat-vecs, 4nd) each
        return I * (4 * P + 5) * n * d
    raise AssertionError(key)


def _memory(key: str, smea_method: str) -> sp.Expr:
    base = n * d + d
    if key in ("mean", "cwmed", "cwtm", "caf"):
        return base + (n if key == "caf" else 0)
    if key in ("krum", "multikrum", "gm", "mda"):
        return base + n ** 2
    if key == "nnm":
        return base + n * d + n ** 2
    if key == "smea":
        return base + (d ** 2 if smea_method == "dense" else n ** 2)
    raise AssertionError(key)


def aggregation_cost_bound(name: str, what: str = "flops", smea_method: str = "gram") -> Bound:
    """Operation count (``what="flops"``) or floats held (``"memory"``) of one aggregation.

    Examples
    --------
    >>> aggregation_cost_bound("krum").latex(with_quantity=False)
    'n^{2} \\\\left\\\\lceil{\\\\log_2 n}\\\\right\\\\rceil + d n \\\\left(1 + n\\\\right)'
    """
    key = canonical_aggregator(name, COST_AGGREGATORS)
    what = check_choice("what", what, ("flops", "memory"))
    smea_method = check_choice("smea_method", smea_method, ("gram", "dense"))
    expr = _flops(key, smea_method) if what == "flops" else _memory(key, smea_method)
    label = key if key != "smea" else f"smea_{smea_method}"
    ref = {"smea": REF_SMEA, "caf": REF_CAF}.get(key, "operation-count model (this module)")
    desc = {"flops": "Floating-point operations (comparisons counted) of one aggregation.",
            "memory": "Floats held at once, the n x d inputs included."}[what]
    if key == "smea" and smea_method == "dense":
        desc += " SMEA on the d x d covariance of each of the C(n, f) subsets: the d^3 regime."
    return Bound(f"cost_{what}_{label}", expr,
                 quantity=rf"\mathrm{{{what}}}_{{\mathrm{{{label.replace('_', '-')}}}}}",
                 kind="exact", assumptions=[Assumption(n > 2 * f, "n > 2f")],
                 reference=ref, description=desc, status="model")


def aggregation_cost(name: str, n: int, f: int, d, *, smea_method: str = "gram",
                     iterations: int | None = None, power_iterations: int = 20,
                     bytes_per_float: int = 4, nnm: bool = False) -> dict:
    """Flops and memory of one robust aggregation of n vectors in :math:`\\mathbb R^d`.

    Parameters
    ----------
    name : str
        One of ``mean, cwmed, cwtm, krum, multikrum, gm, nnm, mda, smea, caf``.
    n, f : int
        Clients and Byzantine clients.
    d : int or array_like
        Dimension (vectorised).
    smea_method : {"gram", "dense"}
        SMEA's top eigenvalue from the :math:`(n-f)^2` Gram matrix or the :math:`d^2` covariance.
    iterations : int, optional
        Weiszfeld iterations for GM (default 100); outer filter steps for CAF (default 2f).
    power_iterations : int
        Power-method iterations per CAF step.
    bytes_per_float : int
        4 (float32) by default.
    nnm : bool
        Add the cost of nearest-neighbour mixing before the rule.

    Returns
    -------
    dict
        ``{"flops", "memory_bytes", "aggregator", "model"}``; floats or arrays over ``d``.

    Examples
    --------
    >>> c = aggregation_cost("smea", n=20, f=4, d=25_000_000, smea_method="dense")
    >>> f"{c['flops']:.2e}"
    '7.57e+25'
    >>> aggregation_cost("cwtm", n=20, f=4, d=1000)["flops"]
    112000.0
    """
    key, bpf, vals = cost_args(name, n, f, d, iterations, power_iterations, bytes_per_float)
    n, f = vals["n"], vals["f"]

    def ev(bound: Bound):
        return bound.evaluate(**{**{p: vals[p] for p in bound.parameters}, "n": n, "f": f})

    flops = ev(aggregation_cost_bound(key, "flops", smea_method))
    mem = ev(aggregation_cost_bound(key, "memory", smea_method))
    if nnm and key != "nnm":
        flops = flops + ev(aggregation_cost_bound("nnm", "flops"))
        mem = np.maximum(mem, ev(aggregation_cost_bound("nnm", "memory")))
    scalar = np.ndim(d) == 0
    out_flops = float(flops) if scalar else np.asarray(flops, dtype=float)
    out_mem = float(mem) * bpf if scalar else np.asarray(mem, dtype=float) * bpf
    return {"aggregator": key + ("+nnm" if nnm and key != "nnm" else ""), "flops": out_flops,
            "memory_bytes": out_mem,
            "model": aggregation_cost_bound(key, "flops", smea_method).latex(with_quantity=False)}
