"""The generated table fltheory/bounds/_bound_table.py is what the sympy Bound objects say.

The command line prints the LaTeX and the metadata of the bounds from that table (without
importing sympy); every entry is recomputed here from the Bound objects -- the LaTeX with
``sympy.latex`` exactly as ``Bound.latex`` calls it -- so the table cannot drift from them.
"""

import contextlib
import copy

import pytest
import sympy as sp

from fltheory.bounds import (AGGREGATORS, COMPRESSORS, COST_AGGREGATORS, SYMBOLS, KINDS,
                             aggregation_cost_bound, all_bounds, bits_per_round_bound,
                             breakdown_point_bound, compressor_variance_bound, kappa_bound,
                             kappa_lower_bound_bound, robust_dgd_bound, robust_lower_bound,
                             vn_threshold_bound)
from fltheory.bounds import _bound_table as T
from fltheory.bounds import _bound_table_gen as gen
from fltheory.bounds import _numeric as N
from fltheory.bounds._core import _LATEX_NAMES

REGENERATE = "regenerate it: python -m fltheory.bounds._bound_table_gen"


def _latex(expr):
    """LaTeX of an expression as Bound.latex() prints it."""
    return sp.latex(expr, symbol_names=_LATEX_NAMES, order="old")


def _expected(b):
    """The table entry of a Bound, computed here from the Bound itself."""
    return {"name": b.name,
            "latex": f"{b.quantity} {KINDS[b.kind]} {_latex(b.expr)}",
            "expression": str(b.expr), "kind": b.kind, "parameters": list(b.parameters),
            "assumptions": [a.text for a in b.assumptions], "reference": b.reference,
            "description": b.description, "status": b.status,
            "quantity": b.quantity, "body": _latex(b.expr)}


def _mismatches(table, bounds):
    """Names whose entry in ``table`` is not what the Bound says (or that are missing)."""
    bad = []
    for b in bounds:
        got = table.get(b.name)
        if got is None or {**got, "parameters": list(got["parameters"]),
                           "assumptions": list(got["assumptions"])} != _expected(b):
            bad.append(b.name)
    return bad


def _reachable():
    """Every Bound the commands and the numeric twins can ask for, built by the constructors
    (aliases included)."""
    out = [kappa_bound(a, nnm=m) for a in AGGREGATORS + ("median", "trimmed_mean")
           for m in (False, True)]
    out += [kappa_lower_bound_bound(), robust_dgd_bound(), robust_lower_bound(),
            breakdown_point_bound()]
    for a in ("krum", "bulyan", "cwmed", "median", "mda", "cwtm", "gm", "trimmed_mean"):
        for route in ("auto", "vn", "kappa"):
            try:
                out.append(vn_threshold_bound(a, route))
            except ValueError:
                pass
    for kind in COMPRESSORS + ("rand_k", "top_k", "dense"):
        try:
            out.append(compressor_variance_bound(kind))
        except ValueError:      # the plain sign has no variance bound
            pass
        for coding in ("indices", "bitmap", "seed"):
            try:
                with pytest.warns(FutureWarning) if kind == "sign" else contextlib.nullcontext():
                    out.append(bits_per_round_bound(kind, coding))
            except ValueError:  # top-k positions cannot come from a seed
                pass
    for a in COST_AGGREGATORS + ("median",):
        for what in ("flops", "memory"):
            for method in ("gram", "dense"):
                out.append(aggregation_cost_bound(a, what, method))
    return out


def test_the_file_is_what_the_generator_writes():
    assert gen.PATH.read_text() == gen.render(), f"_bound_table.py is out of date; {REGENERATE}"


def test_every_entry_is_what_its_bound_says():
    listed = all_bounds()
    assert T.LISTED == tuple(listed), REGENERATE
    assert _mismatches(T.BOUNDS, listed.values()) == [], REGENERATE


def test_every_bound_the_constructors_build_is_in_the_table():
    bounds = _reachable()
    assert len({b.name for b in bounds}) >= 58
    assert _mismatches(T.BOUNDS, bounds) == [], REGENERATE
    # the few the list leaves out, which the commands still print
    assert {"vn_cwmed_from_kappa", "vn_krum_from_kappa", "bits_topk_indices",
            "bits_topk_bitmap"} <= set(T.BOUNDS) - set(T.LISTED)


@pytest.mark.parametrize("field, change", [
    ("latex", lambda s: s.replace("2 f", "2f")),
    ("body", lambda s: s + " "),
    ("reference", lambda s: s.replace("2023", "2022")),
    ("parameters", lambda p: list(reversed(p))),
    ("assumptions", lambda a: a + ["n > 3f"]),
])
def test_an_altered_entry_is_detected(field, change):
    bounds = list(all_bounds().values())
    table = copy.deepcopy(T.BOUNDS)
    assert _mismatches(table, bounds) == []
    table["kappa_lower"][field] = change(table["kappa_lower"][field])
    assert _mismatches(table, bounds) == ["kappa_lower"]
    del table["kappa_lower"]
    assert _mismatches(table, bounds) == ["kappa_lower"]


def test_symbol_domains_and_conditions_are_the_bounds():
    assert T.SYMBOLS == {name: (bool(s.is_integer), bool(s.is_positive), bool(s.is_nonnegative))
                         for name, s in SYMBOLS.items()}
    for b in _reachable():
        params, _ = T.FUNCS[b.name]
        assert params == b.parameters
        assert [(text, syms) for text, syms, _ in T.CONDITIONS[b.name]] == [
            (a.text, tuple(s.name for s in a._symbols)) for a in b.assumptions]


def test_bound_dict_is_to_dict():
    for name, b in all_bounds().items():
        d = N.bound_dict(name)
        assert d == b.to_dict() and list(d) == list(b.to_dict())
