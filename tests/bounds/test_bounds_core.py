"""The Bound object: evaluation, validation, LaTeX, solving."""

import math

import numpy as np
import pytest
import sympy as sp

from fltheory.bounds import (Assumption, Bound, SYMBOLS, all_bounds, get_bound, kappa_bound,
                             min_batch_size_bound, robust_dgd_bound, symbol, vn_ratio_bound)


def test_evaluate_scalar_and_array_agree():
    b = kappa_bound("cwtm")
    n = np.array([9, 20, 50])
    f = np.array([1, 4, 10])
    arr = b.evaluate(n=n, f=f)
    assert isinstance(arr, np.ndarray) and arr.shape == (3,)
    for i in range(3):
        assert arr[i] == pytest.approx(b.evaluate(n=int(n[i]), f=int(f[i])), rel=1e-15)
    assert isinstance(b.evaluate(n=20, f=4), float)


def test_evaluate_broadcasts():
    b = kappa_bound("krum")
    out = b.evaluate(n=np.array([[20], [40]]), f=np.array([1, 2, 3]))
    assert out.shape == (2, 3)


def test_assumption_violation_names_condition_and_values():
    with pytest.raises(ValueError, match=r"kappa_cwtm: assumption n > 2f violated at f=4, n=8"):
        kappa_bound("cwtm").evaluate(n=8, f=4)
    with pytest.raises(ValueError, match=r"kappa B\^2 < 1 violated .*B=2.*kappa=0.5"):
        robust_dgd_bound().evaluate(L=1, Delta0=1, T=10, kappa=0.5, G=1, B=2)
    # one bad element of an array is reported
    with pytest.raises(ValueError, match=r"f=2, n=4"):
        kappa_bound("cwtm").evaluate(n=[20, 4], f=2)


@pytest.mark.parametrize("values, msg", [
    (dict(n=20), r"missing value\(s\) for f"),
    (dict(n=20, f=4, q=1), r"unknown parameter\(s\) q"),
    (dict(n=20.5, f=4), r"n must be an integer, got 20.5"),
    (dict(n=20, f=-1), r"f must be >= 0, got -1"),
    (dict(n=0, f=0), r"n must be > 0, got 0"),
    (dict(n=float("nan"), f=1), r"n must be finite"),
    (dict(n="x", f=1), r"n must be numeric"),
])
def test_bad_values(values, msg):
    with pytest.raises(ValueError, match=msg):
        kappa_bound("cwtm").evaluate(**values)


def test_no_nan_leaks():
    # every bound, evaluated at valid points, is finite (see test_bounds_numpy for the points)
    b = Bound("x", sp.sqrt(SYMBOLS["C"] - 2), quantity="x", reference="r", description="d",
              status="derived")
    with pytest.raises(ValueError, match="NaN"):
        b.evaluate(C=1.0)


def test_latex_uses_paper_notation():
    assert kappa_bound("cwtm").latex() == (
        r"\kappa_{\mathrm{CWTM}} = \frac{f}{n - 2 f}")
    assert r"\varepsilon" in get_bound("classical_gaussian_z").latex()
    assert get_bound("robust_lower").latex().split()[1] == r"\asymp"   # order-only marked
    assert kappa_bound("gm").latex(with_quantity=False).startswith("4")
    assert kappa_bound("cwtm").assumptions_latex() == ["n > 2 f"]


def test_every_bound_documents_itself():
    for name, b in all_bounds().items():
        d = b.to_dict()
        assert d["name"] == name
        assert d["reference"] and d["description"] and d["status"]
        assert d["latex"].strip()
        assert repr(b).startswith("Bound(")


def test_status_and_kind_are_checked():
    with pytest.raises(ValueError, match="status must be one of"):
        Bound("x", SYMBOLS["n"], quantity="x", reference="r", description="d", status="guess")
    with pytest.raises(ValueError, match="kind must be one of"):
        Bound("x", SYMBOLS["n"], quantity="x", kind="maybe", reference="r", description="d",
              status="derived")
    with pytest.raises(ValueError, match="not in the shared symbol table"):
        Bound("x", sp.Symbol("q"), quantity="x", reference="r", description="d", status="derived")
    with pytest.raises(ValueError, match="symbol must be one of"):
        symbol("q")


def test_solve_for_smallest_integer():
    b = kappa_bound("cwtm")
    n_min = b.solve_for("n", 1.0, f=4)
    # by hand: f/(n-2f) <= 1  <=>  n >= 3f
    assert n_min == 12
    assert b.evaluate(n=n_min, f=4) <= 1.0 < b.evaluate(n=n_min - 1, f=4)
    assert isinstance(n_min, int)


def test_solve_for_largest_value_and_vectorised():
    b = kappa_bound("cwtm")
    f_max = b.solve_for("f", 1.0, n=np.array([50, 100, 200]))      # largest f with kappa <= 1
    assert f_max.dtype.kind == "i"
    for n, fm in zip([50, 100, 200], f_max):
        assert b.evaluate(n=n, f=int(fm)) <= 1.0 < b.evaluate(n=n, f=int(fm) + 1)


def test_solve_for_matches_closed_form_min_batch():
    vals = dict(d=25_000_000, C=1.0, z=4.844805262605389, g=1.0, sigma_s=3.0, rho=0.5)
    b_star = min_batch_size_bound().evaluate(kappa_F=0.25, **vals)
    b_int = vn_ratio_bound().solve_for("b", 0.25, **vals)
    assert b_int == math.ceil(b_star)
    assert vn_ratio_bound().evaluate(b=b_int, **vals) < 0.25


def test_solve_for_real_symbol_and_sense():
    b = robust_dgd_bound()
    # smallest T with the bound <= 2 (decreasing in T)
    t = b.solve_for("T", 2.0, L=1, Delta0=10, kappa=0.5, G=1, B=0.5)
    assert b.evaluate(T=t, L=1, Delta0=10, kappa=0.5, G=1, B=0.5) <= 2.0
    # sense ">=": largest kappa for which the bound still reaches 3 is not a half-line upward...
    k = b.solve_for("kappa", 3.0, sense=">=", L=1, Delta0=0, T=1, G=1, B=0.5)
    assert b.evaluate(kappa=k * 1.001, L=1, Delta0=0, T=1, G=1, B=0.5) >= 3.0


def test_solve_for_errors():
    b = kappa_bound("cwtm")
    with pytest.raises(ValueError, match="is not a symbol of this bound"):
        b.solve_for("d", 1.0, n=20, f=4)
    with pytest.raises(ValueError, match="sense must be"):
        b.solve_for("n", 1.0, sense="<", f=4)
    with pytest.raises(ValueError, match="every B"):
        get_bound("breakdown_point").solve_for("B", 0.9)  # no boundary: everything admissible
    with pytest.raises(ValueError, match="no n reaches"):
        b.solve_for("n", -1.0, f=4)
    with pytest.raises(ValueError, match="assumption kappa B\\^2 < 1"):
        robust_dgd_bound().solve_for("T", 1.0, L=1, Delta0=1, kappa=2, G=1, B=1)


def test_subs_keeps_assumptions():
    b = kappa_bound("cwtm").subs(f=4)
    assert b.parameters == ("n",)
    assert b.evaluate(n=20) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="n > 2f"):
        b.evaluate(n=8)
    with pytest.raises(ValueError, match="n > 2f"):
        kappa_bound("cwtm").subs(n=8, f=4)


def test_custom_assumption_object():
    n, f = SYMBOLS["n"], SYMBOLS["f"]
    b = Bound("t", n - f, quantity="h", kind="exact", assumptions=[Assumption(n > f, "n > f")],
              reference="r", description="d", status="derived")
    assert b.evaluate(n=5, f=2) == 3.0
    with pytest.raises(ValueError, match="n > f"):
        b.evaluate(n=2, f=2)
