"""Bounds benchmarks: vectorised Bound evaluation, sweeps, probes and the cost model vs measured.

Run:  python benchmarks/bounds.py [--repeats 5] [--quick]

Lines are ratios (what a user would otherwise do / fltheory) measured in one process (medians):

* ``Bound.evaluate`` over a grid vs substituting into the sympy expression point by point (what
  sympy alone offers) and vs a hand-written NumPy formula (the floor);
* the batched worst-case probe vs the same search with one aggregator call per instance;
* the compute-cost model vs measured wall time of the reference NumPy aggregators: the fitted
  exponent in d of each rule (model: 1, SMEA on the covariance: 3).

Results go to ``benchmarks/results/bounds.json``.  BLAS runs single-threaded (set the usual
``*_NUM_THREADS`` variables to override).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")      # one BLAS thread: stable timings on shared machines

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fltheory._io import write_json_atomic  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402  (shared benchmark helper)
from fltheory.bounds import (aggregation_cost, empirical_kappa, kappa_bound,  # noqa: E402
                             min_batch_size)
from fltheory.bounds import _reference_aggregators as ref  # noqa: E402
from fltheory.tradeoffs import compression_tradeoff  # noqa: E402


def bench_evaluate(repeats, quick):
    b = kappa_bound("cwtm", nnm=True)
    m = 10_000 if quick else 1_000_000
    rng = np.random.default_rng(0)
    f = rng.integers(0, 50, m)
    n = 2 * f + 1 + rng.integers(0, 200, m)
    b.evaluate(n=20, f=4)                                        # lambdify once (cached)
    t_ours, ours = median_time(lambda: b.evaluate(n=n, f=f), repeats)

    def numpy_formula():
        a = f / (n - 2 * f)
        return 8 * f / (n - f) * (6 * a * (1 + a) + 1)
    t_np, ref_vals = median_time(numpy_formula, repeats)
    k = 200                                                      # sympy subs is slow: sample
    sub = [b.expr.subs({b.symbols[0]: int(f[i]), b.symbols[1]: int(n[i])}) for i in range(3)]
    del sub
    t0 = time.perf_counter()
    vals = [float(b.expr.subs({b.symbols[0]: int(f[i]), b.symbols[1]: int(n[i])}).evalf())
            for i in range(k)]
    t_sympy = (time.perf_counter() - t0) / k * m
    assert np.allclose(vals, ours[:k]) and np.allclose(ours, ref_vals)
    return {"name": f"kappa(cwtm o NNM) at {m} (n, f) points",
            "fltheory_s": t_ours, "numpy_formula_s": t_np, "sympy_subs_s_extrapolated": t_sympy,
            "ratio_vs_sympy": t_sympy / t_ours, "overhead_vs_numpy": t_ours / t_np}


def bench_sweeps(repeats, quick):
    d = np.unique(np.geomspace(1e3, 1e10, 100 if quick else 1000).round())
    t_mb, _ = median_time(lambda: min_batch_size(d, 1.0, 1e-5, "cwmed",
                                                  calibration="analytic"), repeats)
    t_tr, table = median_time(lambda: compression_tradeoff(25_000_000), max(1, repeats // 2))
    return [{"name": f"min_batch_size curve, {d.size} values of d (analytic calibration)",
             "fltheory_s": t_mb},
            {"name": f"compression_tradeoff default grid ({len(table)} rows, secret-mask "
                     "epsilon via fltheory.accounting)", "fltheory_s": t_tr}]


def bench_probe(repeats, quick):
    steps = 20 if quick else 100
    pop = 64
    t_batched, res = median_time(
        lambda: empirical_kappa("krum", 10, 3, population=pop, steps=steps, seed=0), repeats)

    def one_by_one(X, f):          # the same rule called once per instance
        return np.stack([ref.krum(x, f) for x in X])
    t_loop, res2 = median_time(
        lambda: empirical_kappa(one_by_one, 10, 3, population=pop, steps=steps, seed=0),
        max(1, repeats // 2))
    assert abs(res.max_ratio - res2.max_ratio) < 1e-9
    return {"name": f"worst-case probe, Krum n=10 f=3, {pop} x {steps} evaluations",
            "fltheory_s": t_batched, "per_instance_loop_s": t_loop,
            "ratio": t_loop / t_batched, "max_ratio": res.max_ratio}


def bench_cost_model(repeats, quick):
    n, f = 20, 4
    rng = np.random.default_rng(1)
    dims = [10_000, 40_000, 160_000] if quick else [20_000, 80_000, 320_000]
    rows = []
    for name, fn in [("mean", lambda X: ref.mean(X)), ("cwtm", lambda X: ref.cwtm(X, f)),
                     ("cwmed", lambda X: ref.cwmed(X)), ("krum", lambda X: ref.krum(X, f)),
                     ("gm", lambda X: ref.gm(X, f))]:
        ts = []
        for d in dims:
            X = rng.standard_normal((n, d))
            ts.append(median_time(lambda: fn(X), repeats)[0])
        slope = np.polyfit(np.log(dims), np.log(ts), 1)[0]
        model = [aggregation_cost(name, n, f, d)["flops"] for d in dims]
        rows.append({"name": f"{name}: measured exponent in d", "exponent": slope,
                     "model_exponent": np.polyfit(np.log(dims), np.log(model), 1)[0],
                     "seconds": ts, "d": dims})
    # SMEA: top eigenvalue of the d x d covariance (dense) vs of the (n-f) x (n-f) Gram matrix
    small = [200, 400, 800] if quick else [400, 800, 1600]
    X = rng.standard_normal((n - f, max(small)))
    dense, gram = [], []
    for d in small:
        Y = X[:, :d] - X[:, :d].mean(0)
        dense.append(median_time(lambda: np.linalg.eigvalsh(Y.T @ Y), repeats)[0])
        gram.append(median_time(lambda: np.linalg.eigvalsh(Y @ Y.T), repeats)[0])
    rows.append({"name": "one SMEA subset, dense covariance eigenvalues: exponent in d",
                 "exponent": np.polyfit(np.log(small), np.log(dense), 1)[0],
                 "model_exponent": 3.0, "seconds": dense, "d": small})
    rows.append({"name": f"dense / Gram time ratio at d = {small[-1]}",
                 "ratio": dense[-1] / gram[-1]})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bounds.json"))
    args = ap.parse_args(argv)
    results = [bench_evaluate(args.repeats, args.quick), *bench_sweeps(args.repeats, args.quick),
               bench_probe(args.repeats, args.quick), *bench_cost_model(args.repeats, args.quick)]
    for r in results:
        extras = ", ".join(f"{k}={v:.3g}" for k, v in r.items()
                           if isinstance(v, float) and k != "name")
        print(f"{r['name']}: {extras}")
    write_json_atomic(args.out, {"quick": args.quick, "repeats": args.repeats,
                                 "results": results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
