"""Robust-aggregation speed: fltheory.fl.aggregators against ByzFL 0.0.11 (same process, medians).

Rules: Krum, geometric median (GM), nearest-neighbour mixing (NNM), coordinate-wise median (CWMed)
and trimmed mean (CWTM) at n = 50 clients, f = 10, d in {1e5, 1e6}, float32 inputs on the CPU.
Each timing is the median of ``reps`` (>= 5) calls after one warm-up; fltheory and the reference are
called alternately inside each repetition so that machine load hits both alike.

Reference implementation, in order of preference:

1. ``import byzfl`` (ByzFL 0.0.11 installed with its dependencies);
2. ByzFL's aggregator modules loaded directly from its wheel or an unpacked copy, without running
   ``byzfl/__init__.py`` (which imports torchvision, not installed here).  Get the wheel once with
   ``pip download byzfl==0.0.11 --no-deps -d DIR`` and pass
   ``--byzfl DIR/byzfl-0.0.11-py3-none-any.whl`` (or set ``BYZFL_WHEEL``, or drop the wheel into
   ``benchmarks/``).  Only ``byzfl/aggregators/*.py`` and ``byzfl/utils/*.py`` are loaded:
   they need torch, numpy and scipy only;
3. otherwise, the straightforward implementations a user would write (per-pair distance loops for
   Krum/NNM, Weiszfeld in R^d for GM, ``numpy.median``, ``torch.sort`` for the trimmed mean); the
   table says which reference was used.

Settings that make the two sides compute the same thing:

* Krum: both score each vector with its n - f - 1 nearest other vectors (fltheory's default, the
  convention of the kappa bound in fltheory.bounds; Blanchard et al. use n - f - 2).
* GM: ByzFL 0.0.11's smoothed Weiszfeld starts at 0 and runs T = 3 iterations with smoothing
  nu = 0.1 (its defaults); fltheory is run with ``init="zero", smoothing=0.1, max_iter=3, tol=0``.
  Row "gm (converged)": fltheory's default (start at the mean, stop when a step is below 1e-8
  times the rms spread, at most 500 iterations; each iteration is O(n^2)) against ByzFL run with
  the smallest T whose result is as close to the true geometric median (a float64 reference
  converged to 1e-12) as fltheory's, or within 1e-6 of the spread, whichever is looser.
* CWMed: both return the exact median (mean of the two middle values, n = 50 is even).

Usage::

    python benchmarks/fl_aggregators.py [--dims 1e5 1e6] [--reps 5] [--byzfl PATH] [--json FILE]
                                        [--threads N]

``run()`` returns the results as a dict; ``main()`` also writes them to
``benchmarks/results/fl_aggregators.json`` (atomically).
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fltheory._io import write_json_atomic  # noqa: E402
from fltheory.fl import aggregators as A  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fl_aggregators.json"

N, F = 50, 10


# --------------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------------
def _load_byzfl(location: str | None) -> tuple[Any, Any, str] | None:
    """ByzFL's aggregator and pre-aggregator modules, or None."""
    try:
        import byzfl  # noqa: F401  (needs torchvision)

        mod = importlib.import_module("byzfl.aggregators.aggregators")
        pre = importlib.import_module("byzfl.aggregators.preaggregators")
        return mod, pre, f"byzfl {getattr(byzfl, '__version__', '0.0.11')} (installed)"
    except Exception:  # noqa: BLE001 - any import failure means: try the next option
        for key in [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]:
            del sys.modules[key]
    candidates = [location, os.environ.get("BYZFL_WHEEL")]
    candidates += sorted(glob.glob(os.path.join(os.path.dirname(__file__), "byzfl-*.whl")))
    for loc in candidates:
        if not loc or not os.path.exists(loc):
            continue
        pkg_dir = os.path.join(loc, "byzfl")
        stub = types.ModuleType("byzfl")
        stub.__path__ = [pkg_dir]  # zipimport resolves "<wheel>/byzfl" inside the archive
        sys.modules["byzfl"] = stub
        if loc.endswith(".whl") and loc not in sys.path:
            sys.path.insert(0, loc)
        try:
            mod = importlib.import_module("byzfl.aggregators.aggregators")
            pre = importlib.import_module("byzfl.aggregators.preaggregators")
            return mod, pre, f"byzfl 0.0.11 aggregator modules loaded from {os.path.basename(loc)}"
        except Exception:  # noqa: BLE001
            for key in [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]:
                del sys.modules[key]
    return None


def _naive_pair_sqdists(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    dist = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = float(torch.linalg.vector_norm(x[i] - x[j])) ** 2
    return dist


def _naive_krum(x: torch.Tensor) -> torch.Tensor:
    dist = _naive_pair_sqdists(x)
    q = x.shape[0] - F - 1
    scores = [sorted(dist[i, j].item() for j in range(x.shape[0]) if j != i)[:q]
              for i in range(x.shape[0])]
    return x[int(np.argmin([sum(s) for s in scores]))]


def _naive_gm(x: torch.Tensor, T: int = 3) -> torch.Tensor:
    z = torch.zeros_like(x[0])
    for _ in range(T):
        beta = 1.0 / torch.linalg.vector_norm(x - z, dim=1).clamp_min(0.1)
        z = (beta[:, None] * x).sum(0) / beta.sum()
    return z


def _naive_nnm(x: torch.Tensor) -> torch.Tensor:
    dist = _naive_pair_sqdists(x)
    idx = torch.sort(dist, dim=1, stable=True).indices[:, : x.shape[0] - F]
    return torch.stack([x[row].mean(0) for row in idx])


def _naive_cwmed(x: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.median(x.numpy(), axis=0))


def _naive_cwtm(x: torch.Tensor) -> torch.Tensor:
    return torch.sort(x, dim=0).values[F:x.shape[0] - F].mean(0)


def _references(location: str | None) -> tuple[dict[str, Callable], str]:
    loaded = _load_byzfl(location)
    if loaded is None:
        return ({"krum": _naive_krum, "gm": _naive_gm, "nnm": _naive_nnm, "cwmed": _naive_cwmed,
                 "cwtm": _naive_cwtm, "gm_T": lambda T: (lambda x: _naive_gm(x, T))},
                "straightforward loops (ByzFL 0.0.11 not available: see the module docstring)")
    mod, pre, label = loaded
    return ({"krum": mod.Krum(F), "gm": mod.GeometricMedian(nu=0.1, T=3), "nnm": pre.NNM(F),
             "cwmed": mod.Median(), "cwtm": mod.TrMean(F),
             "gm_T": lambda T: mod.GeometricMedian(nu=0.1, T=T)}, label)


def _ours() -> dict[str, Callable]:
    krum = A.Krum(F)
    gm = A.GeometricMedian(F, smoothing=0.1, max_iter=3, tol=0.0, init="zero")
    nnm = A.NNM(F)
    med = A.CoordinateWiseMedian(F)
    tm = A.TrimmedMean(F)
    return {"krum": lambda x: krum(x)[0], "gm": lambda x: gm(x)[0], "nnm": lambda x: nnm(x)[0],
            "cwmed": lambda x: med(x)[0], "cwtm": lambda x: tm(x)[0]}


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def _timed(fn: Callable, x: torch.Tensor) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(x)
    return time.perf_counter() - t0, out


def _data(d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, d, generator=g)
    x[-F:] += 0.5  # the f "Byzantine" rows sit apart, so that selections are not ties
    return x


def run(dims: tuple[int, ...] = (100_000, 1_000_000), reps: int = 5,
        byzfl: str | None = None, verbose: bool = True) -> dict:
    """Time the five rules against the reference; return ``{"config", "reference", "results"}``.

    Each result row: rule, d, ``ours_s`` and ``ref_s`` (median seconds), ``speedup`` (ref / ours),
    ``max_abs_diff`` and ``equal`` (``torch.allclose`` at rtol 1e-4, atol 1e-5).
    """
    if reps < 5:
        raise ValueError(f"reps must be >= 5, got {reps}")
    refs, label = _references(byzfl)
    ours = _ours()
    conv = A.GeometricMedian(F)  # fltheory's default: converged Weiszfeld
    results = []
    for d in dims:
        x = _data(int(d))
        for rule in ("krum", "gm", "nnm", "cwmed", "cwtm"):
            _, a = _timed(ours[rule], x)  # warm-up
            _, b = _timed(refs[rule], x)
            t_ours, t_ref = [], []
            for _ in range(reps):
                t_ours.append(_timed(ours[rule], x)[0])
                t_ref.append(_timed(refs[rule], x)[0])
            b = torch.as_tensor(b, dtype=a.dtype)
            diff = float((a.double() - b.double()).abs().max())
            row = {"rule": rule, "d": int(d), "ours_s": statistics.median(t_ours),
                   "ref_s": statistics.median(t_ref), "max_abs_diff": diff,
                   "equal": bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))}
            row["speedup"] = row["ref_s"] / row["ours_s"]
            results.append(row)
            if verbose:
                print(f"  {rule:6s} d={int(d):>8d}  fltheory {row['ours_s']:.4f}s  "
                      f"reference {row['ref_s']:.4f}s  x{row['speedup']:.1f}  "
                      f"equal={row['equal']}", flush=True)
        # Converged geometric median: same accuracy on both sides.
        truth, _ = A.GeometricMedian(tol=1e-12, max_iter=10_000)(x.double())
        rho = float(((x.double() - x.double().mean(0)) ** 2).sum(1).mean().sqrt())
        z, info = conv(x)
        err = float((z.double() - truth).norm())
        target = max(err, 1e-6 * rho)
        errs = {}
        for T in range(1, 201):
            errs[T] = float((torch.as_tensor(refs["gm_T"](T)(x)).double() - truth).norm())
            if errs[T] <= target or (T > 5 and errs[T] >= 0.99 * errs[T - 1]):
                break
        t_ours, t_ref = [], []
        ref_conv = refs["gm_T"](T)
        for _ in range(reps):
            t_ours.append(_timed(lambda v: conv(v)[0], x)[0])
            t_ref.append(_timed(ref_conv, x)[0])
        row = {"rule": "gm (converged)", "d": int(d), "ours_s": statistics.median(t_ours),
               "ref_s": statistics.median(t_ref), "max_abs_diff": None, "equal": None,
               "iterations": info.iterations, "ref_iterations": T,
               "error_over_spread": {"fltheory": err / rho, "reference": errs[T] / rho}}
        row["speedup"] = row["ref_s"] / row["ours_s"]
        results.append(row)
        if verbose:
            print(f"  gm (converged) d={int(d):>8d}  fltheory {row['ours_s']:.4f}s "
                  f"[{info.iterations} it, err {err / rho:.1e}]  reference {row['ref_s']:.4f}s "
                  f"[T={T}, err {errs[T] / rho:.1e}]  x{row['speedup']:.1f}", flush=True)
    return {
        "config": {"n": N, "f": F, "dims": [int(d) for d in dims], "reps": reps,
                   "dtype": "float32", "torch": torch.__version__,
                   "threads": torch.get_num_threads(), "machine": platform.machine(),
                   "cpus": os.cpu_count()},
        "reference": label,
        "results": results,
    }


def _table(res: dict) -> str:
    lines = [f"n={res['config']['n']}, f={res['config']['f']}, float32, "
             f"{res['config']['threads']} torch threads, median of {res['config']['reps']} reps",
             f"reference: {res['reference']}", "",
             f"{'rule':30s} {'d':>9s} {'fltheory [s]':>13s} {'reference [s]':>14s} "
             f"{'speed-up':>9s} {'max |diff|':>11s}"]
    for r in res["results"]:
        ref = "-" if r["ref_s"] is None else f"{r['ref_s']:.4f}"
        sp = "-" if r["speedup"] is None else f"{r['speedup']:.1f}x"
        df = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        name = r["rule"]
        if r.get("iterations"):
            name += f" [{r['iterations']} vs {r['ref_iterations']} it]"
        lines.append(f"{name:30s} {r['d']:>9d} {r['ours_s']:>13.4f} {ref:>14s} {sp:>9s} {df:>11s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=float, nargs="+", default=[1e5, 1e6])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--byzfl", default=None, help="ByzFL wheel or unpacked directory")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the results")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both sides (default: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run(tuple(int(d) for d in args.dims), args.reps, args.byzfl)
    print()
    print(_table(res))
    if args.json:
        print(f"results written to {write_json_atomic(args.json, res)}")
    return res


if __name__ == "__main__":
    main()
