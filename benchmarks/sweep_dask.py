"""Wall time of one seed sweep on a local Dask cluster with 1 and with 2 worker processes.

Runs ``run_sweep(CONFIG, SEEDS, backend="dask", jobs=W)`` (a ``LocalCluster`` of ``W``
single-threaded worker processes on 127.0.0.1, started and stopped inside the timing) for
W = 1 and 2, alternately, ``reps`` times each; reports the medians and their ratio.  The results
of both are checked to be identical (every run is seeded).

Usage::

    python benchmarks/sweep_dask.py [--config experiments/configs/digits_labelflip.toml]
                                    [--seeds 0..5] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fltheory._io import write_json_atomic  # noqa: E402
from fltheory.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "sweep_dask.json"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(ROOT / "experiments/configs/digits_labelflip.toml"))
    p.add_argument("--seeds", default="0..5")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    times = {1: [], 2: []}
    acc = {}
    for _ in range(args.reps):
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = run_sweep(args.config, args.seeds, jobs=workers, backend="dask")
            times[workers].append(time.perf_counter() - t0)
            acc[workers] = [r["accuracy"] for r in res["runs"]]
            print(f"  {workers} worker(s): {times[workers][-1]:.1f} s", flush=True)
    out = {"config": os.path.relpath(args.config, ROOT), "seeds": args.seeds, "reps": args.reps,
           "cpus": os.cpu_count(), "seconds": times}
    return finish(out, times, acc[1] == acc[2], RESULTS)


def finish(out: dict, times: dict, identical: bool, path: Path) -> dict:
    """Add the medians, their ratio and ``identical_results`` to ``out``; print; write ``path``."""
    out.update(median_1=statistics.median(times[1]), median_2=statistics.median(times[2]),
               identical_results=identical)
    out["speedup"] = out["median_1"] / out["median_2"]
    print(f"1 worker {out['median_1']:.1f} s, 2 workers {out['median_2']:.1f} s, "
          f"speed-up {out['speedup']:.2f}x, identical results: {out['identical_results']}")
    write_json_atomic(path, out)
    return out


if __name__ == "__main__":
    main()
