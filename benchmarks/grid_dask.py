"""Wall time of one experiment grid on a local Dask cluster with 1 and with 2 worker processes.

Runs ``run_experiment(NAME, seeds=SEEDS, quick=QUICK, backend="dask", jobs=W)`` (the grid's
points through :func:`fltheory.sweep.run_points` on a ``LocalCluster`` of ``W``
single-threaded worker processes on 127.0.0.1, started and stopped inside the timing) for
W = 1 and 2, alternately, ``reps`` times each; reports the medians, their ratio, the load
average before and after, and whether the results of both are identical (the wall times and the
exponent fitted to them aside: :func:`fltheory.sweep.without_timings`).
``--grid compression-runs`` times experiment 9's grid instead (``--quick``: its quick table).

Usage::

    python benchmarks/grid_dask.py [--grid byzantine-attacks] [--seeds 0..1] [--quick]
                                   [--reps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fltheory._io import jsonable  # noqa: E402
from fltheory.sweep import without_timings  # noqa: E402
from sweep_dask import finish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "grid_dask.json"
def _run(grid: str, seeds: str | None, quick: bool, workers: int) -> dict:
    if grid == "compression-runs":
        from fltheory.compression_runs import run_compression_grid

        return run_compression_grid(seeds=seeds, quick=quick, backend="dask", jobs=workers)
    from fltheory.experiments import run_experiment

    return run_experiment(grid, seeds=seeds, quick=quick, backend="dask", jobs=workers)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--grid", default="byzantine-attacks",
                   help="byzantine-attacks, audit-vs-theory, gradient-inversion or "
                        "compression-runs")
    p.add_argument("--seeds", default="0..1")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=2)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("FLTHEORY_QUIET", "1")
    times: dict = {1: [], 2: []}
    out_json: dict = {}
    load_before = os.getloadavg()
    points = None
    for _ in range(args.reps):
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = _run(args.grid, args.seeds, args.quick, workers)
            times[workers].append(time.perf_counter() - t0)
            out_json[workers] = json.dumps(jsonable(without_timings(res)), sort_keys=True)
            points = len(res["points"]) if "points" in res else points
            print(f"  {workers} worker(s): {times[workers][-1]:.1f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    out = {"grid": args.grid, "seeds": args.seeds, "quick": args.quick, "reps": args.reps,
           "cpus": os.cpu_count(), "seconds": times, "load_average_before": load_before,
           "load_average_after": os.getloadavg(),
           "points": points}
    return finish(out, times, out_json[1] == out_json[2], RESULTS)


if __name__ == "__main__":
    main()
