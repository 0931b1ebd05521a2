"""The plain-Python twins in fltheory.bounds._numeric agree with the symbolic bounds.

The symbolic Bound objects (sympy, lambdified; SciPy's ndtr/log_ndtr and brentq for the analytic
Gaussian calibration) are the reference; the twins are what the ``fltheory bound`` sub-commands
and ``fltheory.tradeoffs`` evaluate without importing sympy.  Values must agree on a grid (to
the last bit where the twin runs the lambdified code itself) and bad inputs must raise the same
message.
"""

import functools
import itertools
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fltheory.bounds import (analytic_noise_multiplier, gaussian_delta, kappa, kappa_bound,
                             kappa_lower_bound, min_batch_size, vn_threshold)
from fltheory.bounds import _numeric as N

RULES = ("cwtm", "cwmed", "gm", "krum", "median", "trimmed_mean")
GRID_NF = [(n, f) for n in (1, 2, 3, 5, 10, 11, 20, 21, 50, 101, 1000) for f in range(0, 8)
           if 2 * f < n] + [(1000, 499), (1001, 500), (64, 31), (10 ** 17, 3), (2 ** 53 + 2, 7),
                            (10 ** 6 + 1, 5 * 10 ** 5)]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("nnm", [False, True])
def test_kappa_matches_symbolic(rule, nnm):
    for n, f in GRID_NF:
        assert N.kappa_value(rule, n, f, nnm=nnm) == kappa(rule, n=n, f=f, nnm=nnm), (rule, n, f)
        assert N.kappa_lower_value(n, f) == kappa_lower_bound(n=n, f=f)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("nnm", [False, True])
def test_kappa_info_matches_the_bound(rule, nnm):
    b = kappa_bound(rule, nnm=nnm).to_dict()
    info = N.kappa_info(rule, nnm=nnm)
    for key in ("name", "kind", "status", "reference", "description"):
        assert info[key] == b[key], key


@pytest.mark.parametrize("rule", ("krum", "bulyan", "cwmed", "mda", "cwtm", "gm", "median"))
@pytest.mark.parametrize("route", ("auto", "vn", "kappa"))
def test_vn_threshold_matches_symbolic(rule, route):
    checked = 0
    for n, f in GRID_NF:
        try:
            ref = vn_threshold(rule, n=n, f=f, route=route)
        except ValueError as exc:
            with pytest.raises(ValueError) as got:
                N.vn_threshold_value(rule, n, f, route=route)
            assert str(got.value) == str(exc)
            continue
        assert N.vn_threshold_value(rule, n, f, route=route) == ref
        checked += 1
    # refused by both: no published VN threshold (cwtm, gm) or no kappa (bulyan, mda)
    assert checked or (route, rule) in {("vn", "cwtm"), ("vn", "gm"), ("kappa", "bulyan"),
                                        ("kappa", "mda")}


@settings(max_examples=200, deadline=None)
@given(eps=st.floats(1e-3, 50.0), log10_delta=st.floats(-30.0, -0.01))
def test_analytic_z_matches_scipy(eps, log10_delta):
    delta = 10.0 ** log10_delta
    ref = analytic_noise_multiplier(eps, delta)
    got = N.analytic_z(eps, delta)
    assert got == pytest.approx(ref, rel=1e-9)
    # and it is the calibration: delta(eps) at the returned z is delta (SciPy's formula)
    assert float(gaussian_delta(got, eps)) <= delta * (1 + 1e-8)


def test_log_ndtr_matches_scipy_in_both_tails():
    from scipy.special import log_ndtr

    for x in np.concatenate([-np.logspace(-3, 8, 300), np.logspace(-3, 2, 200), [0.0]]):
        assert N._log_ndtr(float(x)) == pytest.approx(float(log_ndtr(x)), rel=1e-12, abs=1e-300)


GRID_MB = list(itertools.product(
    (1, 1000, 25_000_000), (None, 1), (0.1, 1.0, 8.0), (1e-9, 1e-5, 0.1),
    ("cwmed", "krum", "cwtm", "gm"), ("classical", "analytic"), (0.0, 2.5), (1.0, 0.01)))


def test_min_batch_size_matches_symbolic():
    for d, k, eps, delta, agg, cal, s, rho in GRID_MB:
        kw = dict(aggregator=agg, n=20, f=4, k=k, calibration=cal, sampling_std=s,
                  retained_energy=rho, clip=0.5, grad_norm=0.3)
        with warnings.catch_warnings(record=True) as w_ref:
            warnings.simplefilter("always")
            ref = min_batch_size(d, eps, delta, **kw)
        with warnings.catch_warnings(record=True) as w_got:
            warnings.simplefilter("always")
            got = N.min_batch_size_value(d, eps, delta, **kw)
        assert got == pytest.approx(ref, rel=1e-9), (d, k, eps, delta, agg, cal, s, rho)
        assert [str(x.message) for x in w_got] == [str(x.message) for x in w_ref]
    assert N.min_batch_size_value(25_000_000, 1.0, 1e-5, constants=False) == \
        min_batch_size(25_000_000, 1.0, 1e-5, constants=False) == 5000.0


@pytest.mark.parametrize("kwargs", [
    dict(d=0.5), dict(d=0), dict(d=10, k=11), dict(d=10, k=0.5), dict(d=10, n=10, f=5),
    dict(d=10, n=0), dict(d=10, f=-1), dict(d=10, epsilon=0.0), dict(d=10, epsilon=math.inf),
    dict(d=10, delta=1.0), dict(d=10, delta=0.0), dict(d=10, clip=0.0), dict(d=10, grad_norm=-1),
    dict(d=10, sampling_std=-1.0), dict(d=10, retained_energy=2.0),
    dict(d=10, retained_energy=0.0), dict(d=10, aggregator="krum", n=6, f=2),
    dict(d=10, aggregator="krum", f=0), dict(d=10, aggregator="mda", f=0),
    dict(d=10, aggregator="bulyan", n=10, f=2), dict(d=10, aggregator="multikrum"),
    dict(d=10, aggregator="nope"), dict(d=10, calibration="nope"), dict(d=10, route="nope"),
    dict(d=10, aggregator="cwtm", route="vn"),
])
def test_min_batch_size_rejects_like_symbolic(kwargs):
    kw = {"epsilon": 1.0, "delta": 1e-5, **kwargs}
    d = kw.pop("d")
    with pytest.raises(ValueError) as ref:
        min_batch_size(d, **kw)
    with pytest.raises(ValueError) as got:
        N.min_batch_size_value(d, **kw)
    if kw.get("calibration") != "nope":    # the twin offers two calibrations, not three
        assert str(got.value) == str(ref.value)


@pytest.mark.parametrize("name, n, f", [("cwtm", 8, 4), ("multikrum", 20, 4), ("nope", 20, 4),
                                        ("krum", 20.5, 4), ("gm", 20, -1), ("median", 0, 0)])
def test_kappa_rejects_like_symbolic(name, n, f):
    with pytest.raises(ValueError) as ref:
        kappa(name, n=n, f=f)
    with pytest.raises(ValueError) as got:
        N.kappa_value(name, n, f)
    assert str(got.value) == str(ref.value)


def test_numeric_twins_import_neither_sympy_nor_scipy():
    code = ("import sys\n"
            "from fltheory.bounds import _numeric as N\n"
            "N.kappa_value('cwmed', 20, 4, nnm=True); N.min_batch_size_value(1e6, 1.0, 1e-5)\n"
            "N.min_batch_size_value(1e6, 1.0, 1e-5, calibration='analytic', aggregator='krum')\n"
            "N.vn_threshold_value('gm', 20, 4); N.robust_error_floor_value('gm', 20, 4, 1.0, 0.1)\n"
            "N.robust_lower_value(20, 4, 1.0, 0.1); N.breakdown_point_value(0.5)\n"
            "N.compressor_variance_value('qsgd', 1000, levels=3); N.bits_per_round_value('topk', 10, 2)\n"
            "N.aggregation_cost_info('smea', 20, 4, 1000, smea_method='dense')\n"
            "[N.bound_dict(b) for b in N.listed_bounds()]\n"
            "print(sorted(m for m in ('sympy', 'scipy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ("mean", "cwmed", "cwtm", "krum", "multikrum", "gm", "nnm",
                                  "mda", "smea", "caf", "median"))
@pytest.mark.parametrize("nnm", [False, True])
def test_aggregation_cost_matches_symbolic(name, nnm):
    from fltheory.bounds import aggregation_cost

    for n, f, d in ((20, 4, 1000), (7, 3, 12345), (64, 0, 10 ** 6), (1, 0, 5), (9, 2, 1)):
        c = aggregation_cost(name, n=n, f=f, d=d, nnm=nnm)
        assert N.aggregation_cost_value(name, n, f, d, nnm=nnm) == (c["flops"],
                                                                   c["memory_bytes"])


@pytest.mark.parametrize("z, delta, steps", list(itertools.product(
    (0.3, 1.0, 3.7306316, 40.0), (1e-12, 1e-5, 0.3), (1, 7, 100))))
def test_gaussian_epsilon_matches_scipy(z, delta, steps):
    from fltheory.bounds import gaussian_epsilon

    assert N.gaussian_epsilon_value(z, delta, steps) == pytest.approx(
        gaussian_epsilon(z, delta, steps=steps), rel=1e-11, abs=1e-13)


@pytest.mark.parametrize("kw", [
    dict(d=1_000_000), dict(d=25_000_000, k=[25_000, 250_000], aggregator="krum", nnm=True),
    dict(d=1_000_000, aggregator="gm", n=7, f=3, noise_multiplier=2.0, rounds=10,
         heterogeneity=0.5, batch_size=64, clip=0.5, grad_norm=0.2),
    dict(d=10_000, k=[10, 10_000], aggregator="median", retained_energy=0.3, float_bits=16),
])
def test_compression_tradeoff_columns_match_the_symbolic_bounds(kw):
    """The table (computed with the twins) against the symbolic bounds, column by column."""
    from fltheory.bounds import (aggregation_cost, analytic_noise_multiplier, bits_per_round,
                                 compressor_variance, gaussian_epsilon, min_batch_size_bound)
    from fltheory.tradeoffs import compression_tradeoff

    t = compression_tradeoff(**kw, modes=("dense", "shared"), amplification=False)
    m = t.meta
    n, f, d, T = m["n"], m["f"], m["d"], m["rounds"]
    z = kw.get("noise_multiplier") or math.sqrt(T) * analytic_noise_multiplier(1.0, 1e-5)
    assert m["noise_multiplier"] == pytest.approx(z, rel=1e-12)
    assert m["kappa"] == pytest.approx(kappa(m["aggregator"], n=n, f=f, nnm=m["nnm"]), rel=1e-14)
    assert m["kappa_F"] == pytest.approx(vn_threshold(m["aggregator"], n=n, f=f), rel=1e-14)
    for r in t.rows():
        k = int(r["k"])
        dense = r["mode"] == "dense"
        bits = (bits_per_round("none", d, float_bits=m["float_bits"]) if dense else
                bits_per_round("randk", d, k, float_bits=m["float_bits"], index_coding="seed"))
        assert r["bits"] == bits
        assert r["omega"] == (0.0 if dense else compressor_variance("randk", d, k))
        assert r["epsilon"] == pytest.approx(gaussian_epsilon(z, 1e-5, steps=T), rel=1e-11)
        cost = aggregation_cost(m["aggregator"], n=n, f=f, d=k, nnm=m["nnm"])
        assert (r["flops"], r["memory_bytes"]) == (cost["flops"], cost["memory_bytes"])
        rho = 1.0 if dense else min(kw.get("retained_energy", k / d), 1.0)
        ref = min_batch_size_bound().evaluate(d=k, C=m["clip"], z=z, g=m["grad_norm"],
                                              sigma_s=0, rho=rho, kappa_F=m["kappa_F"])
        assert r["min_batch_size"] == pytest.approx(ref, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# evaluate(): every bound of the generated table against Bound.evaluate

@functools.lru_cache(maxsize=None)
def _bounds():
    """Every Bound of the generated table, by name (built once)."""
    from fltheory.bounds._bound_table_gen import bounds

    return bounds()[1]


def _table_names():
    from fltheory.bounds import _bound_table as T

    return sorted(T.BOUNDS)


_GOOD = {  # values in each symbol's domain, some violating assumptions on purpose
    "int+": [1, 2, 3, 4, 5, 7, 8, 10, 11, 20, 21, 24, 25, 50, 64, 100, 171, 250, 1000, 12345,
             25_000_000, 2 ** 40 + 1, 2 ** 53 + 2, 10 ** 17],
    "int0": [0, 1, 2, 3, 4, 5, 9, 10, 12, 20, 60, 499, 10 ** 16],
    "real+": [1e-300, 1e-9, 0.01, 0.3, 0.5, 1.0, 1.7320508075688772, 2.0, 3.7306316, 10.0,
              1e6, 1e200],
    "real0": [0.0, 1e-300, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 7.0, 1e100],
}

# SciPy's gamma in the lambdified code, exact factorials in the twin: the binomial coefficients
# of the cost model agree exactly up to n = 24 and to a few units in the last place beyond
_GAMMA = ("cost_flops_mda", "cost_flops_smea_gram", "cost_flops_smea_dense")


def _domain(name):
    from fltheory.bounds import _bound_table as T

    integer, positive, _ = T.SYMBOLS[name]
    return ("int" if integer else "real") + ("+" if positive else "0")


def _outcome(fn):
    try:
        return "value", fn()
    except (ValueError, OverflowError) as exc:     # what the command line reports (exit 2)
        return type(exc).__name__, str(exc)


def _agree(name, got, ref, values):
    """The same error, or exactly the same float (see _GAMMA)."""
    if got[0] == ref[0] == "value" and name in _GAMMA and values.get("n", 0) >= 25:
        return got[1] == pytest.approx(ref[1], rel=1e-14)
    return got == ref and type(got[1]) is type(ref[1])


@pytest.mark.parametrize("name", _table_names())
def test_evaluate_is_bound_evaluate(name):
    b = _bounds()[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    symbols = sorted({*b.parameters, *(s.name for a in b.assumptions for s in a._symbols)})
    values_seen = 0
    for _ in range(150):
        values = {s: _GOOD[_domain(s)][rng.integers(len(_GOOD[_domain(s)]))] for s in symbols}
        ref = _outcome(lambda: b.evaluate(**values))
        got = _outcome(lambda: N.evaluate(name, **values))
        assert _agree(name, got, ref, values), (values, got, ref)
        values_seen += ref[0] == "value"
    assert values_seen, name


def test_the_binomials_agree_exactly_up_to_24_clients():
    for name in _GAMMA:
        b = _bounds()[name]
        for n in range(1, 25):
            for f in range(0, (n + 1) // 2):
                assert N.evaluate(name, n=n, f=f, d=12345) == b.evaluate(n=n, f=f, d=12345)


@pytest.mark.parametrize("name", ["kappa_cwtm", "robust_lower", "omega_qsgd", "cost_flops_gm",
                                  "bits_randk_indices", "min_batch_size", "omega_none",
                                  "breakdown_point"])
@pytest.mark.parametrize("bad", [0, -1, -0.5, 2.5, math.inf, -math.inf, math.nan, "x", None,
                                 [], 1e-320])
def test_evaluate_rejects_like_bound_evaluate(name, bad):
    b = _bounds()[name]
    ok = {"n": 20, "f": 4, "d": 1000, "k": 10, "levels": 3, "iters": 5, "B": 0.5, "G": 1.0,
          "C": 1.0, "z": 1.0, "g": 1.0, "sigma_s": 0.0, "rho": 0.5, "kappa_F": 0.2,
          "float_bits": 32}
    for p in list(b.parameters) or ["d"]:
        values = {q: ok[q] for q in b.parameters}
        values[p] = bad
        assert _outcome(lambda: N.evaluate(name, **values)) == \
            _outcome(lambda: b.evaluate(**values)), (p, bad)
    for values in ({}, {"nope": 1}, {**{q: ok[q] for q in b.parameters}, "Delta0": -1.0}):
        assert _outcome(lambda: N.evaluate(name, **values)) == \
            _outcome(lambda: b.evaluate(**values))


def test_evaluate_takes_scalars_only():
    with pytest.raises(ValueError, match="scalars"):
        N.evaluate("kappa_cwtm", n=[20, 21], f=4)


# ---------------------------------------------------------------------------------------------
# the twins of the sub-commands bound vn-threshold, error-floor, compressor, cost

@pytest.mark.parametrize("rule", ("krum", "bulyan", "cwmed", "median", "mda", "cwtm", "gm",
                                  "trimmed_mean", "Krum", "multikrum", "mean", "nnm", "nope", 3))
@pytest.mark.parametrize("route", ("auto", "vn", "kappa", "nope"))
def test_vn_bound_name_is_the_bounds_name(rule, route):
    from fltheory.bounds import vn_threshold_bound

    assert _outcome(lambda: N.vn_bound_name(rule, route)) == \
        _outcome(lambda: vn_threshold_bound(rule, route).name)


@pytest.mark.parametrize("rule", ("cwtm", "median", "krum", "multikrum", "foo"))
@pytest.mark.parametrize("nnm", [False, True])
def test_error_floor_twins_match_symbolic(rule, nnm):
    from fltheory.bounds import breakdown_point, robust_error_floor, robust_lower_bound

    grid = itertools.product(((20, 4), (9, 2), (9, 4), (1, 0), (20.5, 4), (10 ** 17, 3)),
                             (0.0, 2.5, 1e200, -1.0, math.nan),
                             (0.0, 0.5, 1.7320508075688772, 2.0, -1.0, math.inf))
    for (n, f), G, B in grid:
        assert _outcome(lambda: N.robust_error_floor_value(rule, n, f, G=G, B=B, nnm=nnm)) == \
            _outcome(lambda: robust_error_floor(rule, n=n, f=f, G=G, B=B, nnm=nnm))
        if nnm or rule != "cwtm":
            continue
        assert _outcome(lambda: N.robust_lower_value(n, f, G, B)) == \
            _outcome(lambda: robust_lower_bound().evaluate(n=n, f=f, G=G, B=B))
        assert _outcome(lambda: N.breakdown_point_value(B)) == \
            _outcome(lambda: breakdown_point(B))


_DKL = [(1000, None, None), (1000, 10, 3), (25_000_000, 250_000, 1000), (1, 1, 1),
        (100, 200, None), (0, 1, 1), (1e15, 1e14, 1000), (2 ** 53 + 2, 3, 2), (1.5, 1, 1),
        (10, 2.5, 2.5), (10, 0, 0), (math.inf, 1, 1), (3, 2, 7)]


@pytest.mark.parametrize("kind", ("none", "randk", "topk", "qsgd", "l2", "scaled_sign", "sign",
                                  "signsgd", "dense", "Rand-K", "top_k", "ternary", "foo", 7))
def test_compressor_twins_match_symbolic(kind):
    from fltheory.bounds import (bits_per_round, compressor_variance, compressor_variance_bound,
                                 is_unbiased)

    def both(fn):     # the outcome and the warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = _outcome(fn)
        return out, [(x.category, str(x.message)) for x in w]

    assert both(lambda: N.variance_bound_name(kind)) == \
        both(lambda: compressor_variance_bound(kind).name)
    assert both(lambda: N.is_unbiased(kind)) == both(lambda: is_unbiased(kind))
    for d, k, levels in _DKL:
        assert both(lambda: N.compressor_variance_value(kind, d, k=k, levels=levels)) == \
            both(lambda: compressor_variance(kind, d, k=k, levels=levels)), (d, k, levels)
        for coding, w in [(c, 32) for c in ("auto", "indices", "bitmap", "seed", "nope")] + \
                [("auto", 16), ("auto", 0)]:
            assert both(lambda: N.bits_per_round_value(kind, d, k=k, levels=levels,
                                                       float_bits=w, index_coding=coding)) \
                == both(lambda: bits_per_round(kind, d, k=k, levels=levels, float_bits=w,
                                               index_coding=coding)), (d, k, levels, coding, w)


def test_bit_counts_match_symbolic_at_powers_of_two():
    """ceil(log2 d) of the index coding and of QSGD's levels, where rounding matters most."""
    from fltheory.bounds import bits_per_round

    for d in sorted({max(2 ** j + i, 1) for j in range(0, 62, 3) for i in (-1, 0, 1)}):
        for kind, k, levels in (("randk", 1, None), ("topk", 1, None), ("qsgd", None, d)):
            assert N.bits_per_round_value(kind, d, k=k, levels=levels, index_coding="indices") \
                == bits_per_round(kind, d, k=k, levels=levels, index_coding="indices"), (kind, d)


_COST_CASES = [(20, 4, 25_000_000), (7, 3, 12345), (8, 4, 10), (1, 0, 1), (24, 11, 1e15),
               (20.5, 4, 5), (20, -1, 5), (20, 4, 0), (20, 4, 1.5), (3, 1, 1e300),
               (200, 10, 1000), (1000, 10, 1e7), (10 ** 17, 4, 5)]


@pytest.mark.parametrize("name", ("mean", "cwmed", "cwtm", "krum", "multikrum", "gm", "nnm",
                                  "mda", "smea", "caf", "median", "foo"))
def test_aggregation_cost_info_is_aggregation_cost(name):
    from fltheory.bounds import aggregation_cost

    methods = ("gram", "dense", "nope") if name == "smea" else ("gram", "nope")
    for (n, f, d), method, nnm in itertools.product(_COST_CASES, methods, (False, True)):
        if nnm and method != "gram":
            continue
        got = _outcome(lambda: N.aggregation_cost_info(name, n, f, d, smea_method=method,
                                                       nnm=nnm))
        ref = _outcome(lambda: aggregation_cost(name, n=n, f=f, d=d, smea_method=method,
                                                nnm=nnm))
        if got[0] == ref[0] == "value" and n >= 25 and name in ("mda", "smea"):   # see _GAMMA
            assert got[1] == {**ref[1], "flops": pytest.approx(ref[1]["flops"], rel=1e-14)}
        else:
            assert got == ref, (n, f, d, method, nnm)
