"""Accounting benchmarks: fltheory vs dp-accounting 0.6.0, in one process, medians of repeats.

Run:  python benchmarks/accounting.py [--repeats 5] [--quick]

Each line is a ratio (dp-accounting time / fltheory time) with the accuracy of both sides:
fltheory's certified relative gap, and dp-accounting's distance to fltheory's certified interval.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import dp_accounting
from dp_accounting import mechanism_calibration
from dp_accounting.pld import PLDAccountant

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402  (shared benchmark helper)

from fltheory.accounting import (calibrate_noise, dp_sgd, epsilon, epsilon_curve, epsilon_grid)

Q, Z, T, DELTA = 0.01, 1.0, 10_000, 1e-5


def _dp_event(q, z, t):
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), int(t))


def _dp_eps(q, z, t, interval=1e-4):
    acc = PLDAccountant(value_discretization_interval=interval)
    acc.compose(_dp_event(q, z, t))
    return acc.get_epsilon(DELTA)


def bench_single(repeats, rtol=0.002):
    t_ours, g = median_time(lambda: epsilon(dp_sgd(Q, Z, T), DELTA, rtol=rtol), repeats)
    t_ref, e_ref = median_time(lambda: _dp_eps(Q, Z, T), repeats)
    return {"name": f"one epsilon (q=0.01, z=1, T=1e4), both bounds, rtol={rtol:g}",
            "fltheory_s": t_ours, "dp_accounting_s": t_ref, "ratio": t_ref / t_ours,
            "fltheory": [g.epsilon_lower, g.epsilon], "fltheory_gap": g.relative_gap,
            "dp_accounting": e_ref,
            "dp_accounting_error_vs_certified": (e_ref - g.epsilon_lower) / g.epsilon_lower,
            "note": "dp-accounting PLDAccountant at value_discretization_interval=1e-4 "
                    "(upper bound only)"}


def bench_curve(repeats, quick, rtols=(0.005, 5e-4)):
    """One dp-accounting reference run, fltheory at each requested certified gap."""
    steps = np.arange(100, 10_001, 100)
    if quick:
        steps = steps[::10]
    t_ref, ref = median_time(lambda: np.array([_dp_eps(Q, Z, t) for t in steps]), repeats)
    rows = []
    for rtol in rtols:
        t_ours, (up, lo) = median_time(
            lambda: epsilon_curve(lambda t: dp_sgd(Q, Z, t), steps, DELTA, rtol=rtol,
                                  return_lower=True), repeats)
        rows.append({
            "name": f"{steps.size}-point epsilon-vs-T curve (T=100..10,000), rtol={rtol:g}",
            "fltheory_s": t_ours, "dp_accounting_s": t_ref, "ratio": t_ref / t_ours,
            "fltheory_gap_max": float(np.max((up - lo) / up)),
            "dp_accounting_error_vs_certified_max": float(np.max((ref - lo) / lo)),
            "note": "dp-accounting: one PLDAccountant per T at 1e-4"})
    return rows


def bench_calibration(repeats):
    t_ours, z = median_time(
        lambda: calibrate_noise(lambda s: dp_sgd(Q, s, T), 3.0, DELTA, rtol=1e-3), repeats)

    def ref():
        return mechanism_calibration.calibrate_dp_mechanism(
            lambda: PLDAccountant(value_discretization_interval=1e-4),
            lambda s: _dp_event(Q, s, T), 3.0, DELTA,
            mechanism_calibration.LowerEndpointAndGuess(0.5, 1.5), tol=1e-3 * 1.5)

    t_ref, z_ref = median_time(ref, repeats)
    g = epsilon(dp_sgd(Q, z, T), DELTA)
    return {"name": "noise calibration to eps=3 (q=0.01, T=1e4), 1e-3 relative",
            "fltheory_s": t_ours, "dp_accounting_s": t_ref, "ratio": t_ref / t_ours,
            "fltheory_z": z, "dp_accounting_z": z_ref, "certified_eps_at_fltheory_z": g.epsilon,
            "note": "dp_accounting.mechanism_calibration over PLDAccountant(1e-4)"}


def bench_rdp_grid(repeats):
    q = np.geomspace(1e-3, 0.1, 10)[:, None]
    z = np.linspace(0.6, 3.0, 10)[None, :]
    t_ours, e = median_time(lambda: epsilon_grid(q, z, 1000, DELTA, method="rdp"), repeats)

    def ref():
        out = np.empty((10, 10))
        for i in range(10):
            for j in range(10):
                acc = dp_accounting.rdp.RdpAccountant()
                acc.compose(_dp_event(float(q[i, 0]), float(z[0, j]), 1000))
                out[i, j] = acc.get_epsilon(DELTA)
        return out

    t_ref, r = median_time(ref, repeats)
    return {"name": "epsilon_grid(method='rdp'), 100 configurations",
            "fltheory_s": t_ours, "dp_accounting_s": t_ref, "ratio": t_ref / t_ours,
            "max_relative_difference": float(np.max(np.abs(e - r) / r)),
            "note": "loop of dp_accounting RdpAccountant (default orders)"}


def run(repeats: int = 5, quick: bool = False) -> dict:
    """Run every accounting benchmark; returns a JSON-friendly dict."""
    import platform

    # default accuracy (certified gap <= 0.2 %), then matched accuracy: a certified gap at
    # least as small as dp-accounting's own error at 1e-4 (about 0.05 % here)
    res = [bench_single(repeats), bench_single(repeats, rtol=5e-4),
           *bench_curve(repeats, quick), bench_calibration(repeats), bench_rdp_grid(repeats)]
    return {"repeats": repeats, "python": platform.python_version(),
            "dp_accounting": "0.6.0", "machine": platform.machine(), "results": res}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="10-point curve instead of 100")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "accounting.json"))
    args = ap.parse_args(argv)
    out = run(args.repeats, args.quick)
    print(f"{'benchmark':<72}{'fltheory':>10}{'dp-acc.':>10}{'ratio':>8}")
    for r in out["results"]:
        print(f"{r['name']:<72}{r['fltheory_s']:>9.3f}s{r['dp_accounting_s']:>9.3f}s"
              f"{r['ratio']:>7.1f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
