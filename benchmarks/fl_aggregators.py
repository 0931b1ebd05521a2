"""Robust-aggregation speed: fltheory.fl.aggregators against ByzFL 0.0.11 (same process, medians).

Rules: Krum, MultiKrum, geometric median (GM, ByzFL's defaults), coordinate-wise median (CWMed),
trimmed mean (CWTM), centered clipping (CC, ByzFL's defaults L = 1, tau = 100) and NNM at
n = 50 clients, f = 10, d in {1e5, 1e6}, float32 and float64, ONE thread on both sides (the
thread variables are set before NumPy and torch load).  Each timing is the median of ``reps``
(>= 5) calls after one warm-up; fltheory and ByzFL are called alternately inside each repetition
so that machine load hits both alike.

Inputs, as a user of either library passes them:

* float32: one ``torch.float32`` tensor ``(n, d)`` to both;
* float64: one NumPy ``float64`` array to both (ByzFL's only float64 path: it casts tensors to
  float32); fltheory returns a NumPy array too (``rule.aggregate``).

Reference implementation, in order of preference:

1. ``import byzfl`` (ByzFL 0.0.11 installed with its dependencies);
2. ByzFL installed without its dependencies (``pip install --no-deps byzfl==0.0.11``: its
   ``__init__`` needs torchvision, and ``pip install byzfl`` pulls a CUDA torch): its
   ``byzfl.aggregators`` modules are imported without running the package ``__init__``;
3. a wheel or unpacked copy given with ``--byzfl PATH`` (or ``BYZFL_WHEEL``), loaded the same way;
4. otherwise, the straightforward implementations a user would write; the table says which.

Settings that make the two sides compute the same thing:

* Krum/MultiKrum: both score each vector with its n - f - 1 nearest other vectors.
* GM: ByzFL 0.0.11's smoothed Weiszfeld starts at 0 and runs T = 3 iterations with smoothing
  nu = 0.1 (its defaults); fltheory is run with ``init="zero", smoothing=0.1, max_iter=3, tol=0``.
* CWMed: both return the exact median (mean of the two middle values, n = 50 is even).
* CC: both start at 0 and run L = 1 step with tau = 100.

Usage::

    python benchmarks/fl_aggregators.py [--dims 1e5 1e6] [--dtypes float32 float64] [--reps 5]
                                        [--byzfl PATH] [--json FILE]

``run()`` returns the results as a dict; ``main()`` also writes them to
``benchmarks/results/fl_aggregators.json`` (atomically).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread each, before NumPy and torch load

import argparse  # noqa: E402
import glob  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fltheory._io import write_json_atomic  # noqa: E402
from fltheory.fl import aggregators as A  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fl_aggregators.json"

N, F = 50, 10
#: Skip NNM where ByzFL's (n, n - f, d) temporary exceeds this many bytes (it was killed for
#: memory at d = 1e6 float64 on a 2-core, few-GB machine).
NNM_MEMORY_LIMIT = 10 * 2**30


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
    spec = importlib.util.find_spec("byzfl")
    if spec is not None and spec.submodule_search_locations:
        stub = types.ModuleType("byzfl")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["byzfl"] = stub
        try:
            mod = importlib.import_module("byzfl.aggregators.aggregators")
            pre = importlib.import_module("byzfl.aggregators.preaggregators")
            return mod, pre, "byzfl 0.0.11 (installed; aggregator modules imported without " \
                             "the package __init__)"
        except Exception:  # noqa: BLE001
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


def _t(x: Any) -> torch.Tensor:
    return torch.as_tensor(x)


def _naive_pair_sqdists(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    dist = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = float(torch.linalg.vector_norm(x[i] - x[j])) ** 2
    return dist


def _naive_scores(x: torch.Tensor) -> torch.Tensor:
    dist = _naive_pair_sqdists(x)
    q = x.shape[0] - F - 1
    return torch.tensor([sum(sorted(dist[i, j].item() for j in range(x.shape[0]) if j != i)[:q])
                         for i in range(x.shape[0])])


def _naive_krum(x: Any) -> torch.Tensor:
    x = _t(x)
    return x[int(torch.argmin(_naive_scores(x)))]


def _naive_multikrum(x: Any) -> torch.Tensor:
    x = _t(x)
    return x[torch.argsort(_naive_scores(x), stable=True)[: x.shape[0] - F]].mean(0)


def _naive_gm(x: Any, T: int = 3) -> torch.Tensor:
    x = _t(x)
    z = torch.zeros_like(x[0])
    for _ in range(T):
        beta = 1.0 / torch.linalg.vector_norm(x - z, dim=1).clamp_min(0.1)
        z = (beta[:, None] * x).sum(0) / beta.sum()
    return z


def _naive_nnm(x: Any) -> torch.Tensor:
    x = _t(x)
    dist = _naive_pair_sqdists(x)
    idx = torch.sort(dist, dim=1, stable=True).indices[:, : x.shape[0] - F]
    return torch.stack([x[row].mean(0) for row in idx])


def _naive_cc(x: Any, tau: float = 100.0) -> torch.Tensor:
    x = _t(x)
    diff = x
    scale = torch.clamp(tau / torch.linalg.vector_norm(diff, dim=1), max=1.0)
    return (diff * scale[:, None]).mean(0)


RULES = ("krum", "multikrum", "gm", "cwmed", "cwtm", "cc", "nnm")


def _references(location: str | None) -> tuple[dict[str, Callable], str]:
    loaded = _load_byzfl(location)
    if loaded is None:
        return ({"krum": _naive_krum, "multikrum": _naive_multikrum, "gm": _naive_gm,
                 "nnm": _naive_nnm, "cwmed": lambda x: torch.quantile(_t(x), 0.5, dim=0),
                 "cwtm": lambda x: torch.sort(_t(x), dim=0).values[F:N - F].mean(0),
                 "cc": _naive_cc},
                "straightforward implementations (ByzFL 0.0.11 not available: see the module "
                "docstring)")
    mod, pre, label = loaded
    # ByzFL's CenteredClipping keeps its output as the next start: a fresh one per call
    return ({"krum": mod.Krum(F), "multikrum": mod.MultiKrum(F),
             "gm": mod.GeometricMedian(nu=0.1, T=3), "nnm": pre.NNM(F), "cwmed": mod.Median(),
             "cwtm": mod.TrMean(F),
             "cc": lambda x: mod.CenteredClipping(L=1, tau=100.0)(x)}, label)


def _ours() -> dict[str, Callable]:
    rules = {"krum": A.Krum(F), "multikrum": A.MultiKrum(F),
             "gm": A.GeometricMedian(F, smoothing=0.1, max_iter=3, tol=0.0, init="zero"),
             "cwmed": A.CoordinateWiseMedian(F), "cwtm": A.TrimmedMean(F),
             "cc": A.CenteredClipping(F, tau=100.0, iterations=1)}
    out: dict[str, Callable] = {k: r.aggregate for k, r in rules.items()}
    out["nnm"] = A.NNM(F).transform
    return out


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def _timed(fn: Callable, x: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(x)
    return time.perf_counter() - t0, out


def _data(d: int, dtype: str, seed: int = 0) -> Any:
    """The rows: a torch tensor for float32, a NumPy array for float64 (see the docstring)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, d, generator=g, dtype=torch.float64)
    x[-F:] += 0.5  # the f "Byzantine" rows sit apart, so that selections are not ties
    return x.to(torch.float32) if dtype == "float32" else x.numpy()


def run(dims: tuple[int, ...] = (100_000, 1_000_000), reps: int = 5,
        byzfl: str | None = None, dtypes: tuple[str, ...] = ("float32", "float64"),
        rules: tuple[str, ...] = RULES, verbose: bool = True) -> dict:
    """Time the rules against the reference; return ``{"config", "reference", "results"}``.

    Each result row: rule, d, dtype, ``ours_s`` and ``ref_s`` (median seconds), ``speedup``
    (ref / ours), ``max_abs_diff`` and ``equal`` (``allclose`` at rtol 1e-4, atol 1e-5).
    """
    if reps < 5:
        raise ValueError(f"reps must be >= 5, got {reps}")
    refs, label = _references(byzfl)
    ours = _ours()
    results = []
    for dtype in dtypes:
        for d in dims:
            x = _data(int(d), dtype)
            for rule in rules:
                itemsize = 4 if dtype == "float32" else 8
                if rule == "nnm" and N * (N - F) * int(d) * itemsize > NNM_MEMORY_LIMIT:
                    # ByzFL's NNM gathers an (n, n - f, d) array: 16 GB at d = 1e6 float64
                    if verbose:
                        print(f"  nnm       {dtype} d={int(d):>8d}  skipped: the reference "
                              f"needs {N * (N - F) * int(d) * itemsize / 1e9:.0f} GB",
                              flush=True)
                    continue
                _, a = _timed(ours[rule], x)  # warm-up
                _, b = _timed(refs[rule], x)
                t_ours, t_ref = [], []
                for _ in range(reps):
                    t_ours.append(_timed(ours[rule], x)[0])
                    t_ref.append(_timed(refs[rule], x)[0])
                a64 = torch.as_tensor(np.asarray(a, dtype=np.float64))
                b64 = torch.as_tensor(np.asarray(b, dtype=np.float64))
                diff = float((a64 - b64).abs().max())
                row = {"rule": rule, "d": int(d), "dtype": dtype,
                       "ours_s": statistics.median(t_ours), "ref_s": statistics.median(t_ref),
                       "max_abs_diff": diff,
                       "equal": bool(torch.allclose(a64, b64, rtol=1e-4, atol=1e-5)),
                       "ours_type": f"{type(a).__name__} {getattr(a, 'dtype', '')}",
                       "ref_type": f"{type(b).__name__} {getattr(b, 'dtype', '')}"}
                row["speedup"] = row["ref_s"] / row["ours_s"]
                results.append(row)
                if verbose:
                    print(f"  {rule:9s} {dtype} d={int(d):>8d}  fltheory {row['ours_s']:.4f}s  "
                          f"reference {row['ref_s']:.4f}s  x{row['speedup']:.1f}  "
                          f"equal={row['equal']}", flush=True)
    return {
        "config": {"n": N, "f": F, "dims": [int(d) for d in dims], "reps": reps,
                   "dtypes": list(dtypes), "torch": torch.__version__, "numpy": np.__version__,
                   "threads": torch.get_num_threads(),
                   "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                   "machine": platform.machine(), "cpus": os.cpu_count()},
        "reference": label,
        "results": results,
    }


def _table(res: dict) -> str:
    lines = [f"n={res['config']['n']}, f={res['config']['f']}, "
             f"{res['config']['threads']} torch thread(s), OMP_NUM_THREADS="
             f"{res['config']['omp_num_threads']}, median of {res['config']['reps']} reps",
             f"reference: {res['reference']}", "",
             f"{'rule':10s} {'dtype':8s} {'d':>9s} {'fltheory [s]':>13s} {'reference [s]':>14s} "
             f"{'speed-up':>9s} {'max |diff|':>11s}"]
    for r in res["results"]:
        lines.append(f"{r['rule']:10s} {r['dtype']:8s} {r['d']:>9d} {r['ours_s']:>13.4f} "
                     f"{r['ref_s']:>14.4f} {r['speedup']:>8.1f}x {r['max_abs_diff']:>11.1e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=float, nargs="+", default=[1e5, 1e6])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                        choices=["float32", "float64"])
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--byzfl", default=None, help="ByzFL wheel or unpacked directory")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    res = run(tuple(int(d) for d in args.dims), args.reps, args.byzfl, tuple(args.dtypes),
              tuple(args.rules))
    print()
    print(_table(res))
    if args.json:
        print(f"results written to {write_json_atomic(args.json, res)}")
    return res


if __name__ == "__main__":
    main()
