"""fltheory ``epsilon`` vs dp-accounting's PLD on a random grid of (q, z, T, δ, relation).

Run:  python benchmarks/accounting_grid.py [--n 40] [--seed 17] [--repeats 3]

The grid is drawn with a fixed seed: q log-uniform in [1e-5, 0.9] (plus q = 1 for 10 % of the
points), z log-uniform in [0.3, 30], T log-uniform integer in [1, 2e5], δ log-uniform in
[1e-10, 1e-3], relation add/remove or replace-one with probability 1/2.  Every configuration is
timed in this one process: fltheory ``epsilon(dp_sgd(q, z, T), δ)`` at its defaults (certified
upper *and* lower bound, relative gap ≤ 0.2 %) and dp-accounting 0.6.0 ``PLDAccountant`` at
``value_discretization_interval=1e-4`` (one pessimistic value), each the median of ``--repeats``
runs (dp-accounting: one run where a run takes more than 2 s).  fltheory's caches are cleared
before every run, so no run profits from an earlier one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import dp_accounting
from dp_accounting.pld import PLDAccountant

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fltheory.accounting import dp_sgd, epsilon  # noqa: E402


def draw(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        q = 1.0 if rng.random() < 0.1 else float(np.exp(rng.uniform(np.log(1e-5), np.log(0.9))))
        z = float(np.exp(rng.uniform(np.log(0.3), np.log(30.0))))
        t = int(np.clip(np.round(np.exp(rng.uniform(0.0, np.log(2e5)))), 1, 200_000))
        d = float(10 ** rng.uniform(-10, -3))
        rel = "add_remove" if rng.random() < 0.5 else "replace_one"
        out.append({"q": q, "z": z, "T": t, "delta": d, "relation": rel})
    return out


def _clear_caches() -> None:
    from fltheory.accounting import _steps

    _steps._PAIR_CACHE.clear()  # noqa: SLF001


def _ours(c):
    _clear_caches()
    return epsilon(dp_sgd(c["q"], c["z"], c["T"]), c["delta"], neighboring=c["relation"])


def _theirs(c):
    nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if c["relation"] == "add_remove"
          else dp_accounting.NeighboringRelation.REPLACE_ONE)
    acc = PLDAccountant(nr, value_discretization_interval=1e-4)
    ev = dp_accounting.GaussianDpEvent(c["z"])
    if c["q"] < 1:
        ev = dp_accounting.PoissonSampledDpEvent(c["q"], ev)
    acc.compose(dp_accounting.SelfComposedDpEvent(ev, c["T"]))
    return acc.get_epsilon(c["delta"])


def _time(fn, repeats: int, slow: float = 2.0):
    times, out = [], None
    for i in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[-1] > slow:
            break
    return statistics.median(times), out


def run(n: int, seed: int, repeats: int, reference: bool = True) -> dict:
    rows = []
    for c in draw(n, seed):
        t_ours, g = _time(lambda: _ours(c), repeats)
        t_ref, e_ref = _time(lambda: _theirs(c), repeats) if reference else (float("nan"),
                                                                              float("nan"))
        rows.append({**c, "fltheory_s": t_ours, "dp_accounting_s": t_ref,
                     "ratio": t_ref / t_ours, "slower_by_s": t_ours - t_ref,
                     "fltheory": [g.epsilon_lower, g.epsilon], "gap": g.relative_gap,
                     "upper_method": g.upper_method, "dp_accounting": e_ref})
        print(f"q={c['q']:.3g} z={c['z']:.3g} T={c['T']} d={c['delta']:.1e} {c['relation']:<11}"
              f" ours {t_ours * 1e3:8.1f} ms  dp {t_ref * 1e3:8.1f} ms  x{t_ref / t_ours:7.1f}"
              f"  [{g.epsilon_lower:.6g}, {g.epsilon:.6g}] dp {e_ref:.6g}", flush=True)
    ratios = np.array([r["ratio"] for r in rows])
    ratios = ratios[np.isfinite(ratios)] if np.isfinite(ratios).any() else np.array([np.nan])
    gaps = np.array([r["gap"] for r in rows if r["gap"] is not None and r["fltheory"][1] > 0])
    summary = {"n": n, "seed": seed, "repeats": repeats,
               "ratio_median": float(np.median(ratios)),
               "ratio_p10": float(np.percentile(ratios, 10)),
               "ratio_worst": float(np.min(ratios)),
               "worst_slower_by_s": float(np.nanmax([r["slower_by_s"] for r in rows])),
               "fltheory_median_s": float(np.median([r["fltheory_s"] for r in rows])),
               "gap_median": float(np.median(gaps)), "gap_p90": float(np.percentile(gaps, 90)),
               "gap_worst": float(np.max(gaps)),
               "gap_le_0.002": float(np.mean(gaps <= 0.002 * (1 + 1e-9)))}
    return {"summary": summary, "rows": rows}


def headline(repeats: int = 7) -> dict:
    """q = 0.01, z = 1, T = 1e4, δ = 1e-5 (add/remove), the two sides interleaved."""
    c = {"q": 0.01, "z": 1.0, "T": 10_000, "delta": 1e-5, "relation": "add_remove"}
    _ours(c), _theirs(c)
    to, tt = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g = _ours(c)
        to.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e = _theirs(c)
        tt.append(time.perf_counter() - t0)
    mo, mt = statistics.median(to), statistics.median(tt)
    return {**c, "fltheory_s": mo, "dp_accounting_s": mt, "ratio": mt / mo,
            "fltheory": [g.epsilon_lower, g.epsilon], "gap": g.relative_gap,
            "dp_accounting": e}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--headline", action="store_true",
                    help="only the headline configuration (7 interleaved repetitions)")
    ap.add_argument("--no-reference", action="store_true",
                    help="fltheory only (gap distribution over a larger grid)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results")
                                         / "accounting_grid.json"))
    args = ap.parse_args(argv)
    if args.headline:
        h = headline()
        print(f"fltheory {h['fltheory_s'] * 1e3:.1f} ms [{h['fltheory'][0]:.5f}, "
              f"{h['fltheory'][1]:.5f}]; dp-accounting {h['dp_accounting_s'] * 1e3:.0f} ms "
              f"({h['dp_accounting']:.5f}); ratio {h['ratio']:.1f}x; load {os.getloadavg()}")
        return 0
    out = run(args.n, args.seed, args.repeats, reference=not args.no_reference)
    try:
        out["load_average"] = os.getloadavg()
    except OSError:  # pragma: no cover
        pass
    print(json.dumps(out["summary"], indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
