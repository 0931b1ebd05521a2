"""The plain-Python twins in fltheory.bounds._numeric agree with the symbolic bounds.

The symbolic Bound objects (sympy, lambdified; SciPy's ndtr/log_ndtr and brentq for the analytic
Gaussian calibration) are the reference; the twins are what ``fltheory bound kappa``,
``bound min-batch-size`` and ``fltheory.tradeoffs`` evaluate without importing sympy.  Values must agree on a grid and bad
inputs must raise the same message.
"""

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
           if 2 * f < n] + [(1000, 499), (1001, 500), (64, 31)]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("nnm", [False, True])
def test_kappa_matches_symbolic(rule, nnm):
    for n, f in GRID_NF:
        assert N.kappa_value(rule, n, f, nnm=nnm) == pytest.approx(
            kappa(rule, n=n, f=f, nnm=nnm), rel=1e-14, abs=0), (rule, n, f)
        assert N.kappa_lower_value(n, f) == pytest.approx(kappa_lower_bound(n=n, f=f), rel=1e-14)


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
        assert N.vn_threshold_value(rule, n, f, route=route) == pytest.approx(ref, rel=1e-13)
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
