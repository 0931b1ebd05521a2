r"""Seed sweeps of an FL experiment, in parallel -- locally (joblib) or on a cluster (Dask, Ray).

:func:`run_sweep` runs one configuration for several seeds, each with
:func:`fltheory.fl.simulate`, writes every run to ``OUT/seed_<s>/`` (``result.json`` and
``params.pt``, as ``fltheory run`` does) and a summary ``OUT/sweep.json`` (final metrics of every
seed, their mean and standard deviation).  From the shell::

    fltheory run experiments/configs/digits_labelflip.toml --seeds 0..9 --jobs 2 --out runs/lf

**Where the runs execute is the backend's choice.**  ``backend="loky"`` (default) uses joblib's
worker processes on this machine; ``"threading"`` threads (useful when torch already uses every
core).  The same call runs on a cluster:

* **Dask** (``pip install "fltheory[dask]"``): ``backend="dask"`` submits every point to a Dask
  cluster -- the scheduler at ``scheduler`` (``--scheduler tcp://host:8786``), an existing
  ``client``, or, with neither, a local cluster of ``jobs`` single-threaded worker processes on
  127.0.0.1::

      fltheory run experiments/configs/digits_labelflip.toml --seeds 0..99 \
          --backend dask --scheduler tcp://scheduler:8786 --out /shared/runs/lf

* **Ray** (``pip install ray``): register Ray's joblib backend, then use ``"ray"`` (from Python;
  any joblib backend name is accepted)::

      import ray
      from ray.util.joblib import register_ray
      ray.init(address="auto")                         # an existing Ray cluster
      register_ray()
      run_sweep("experiments/configs/digits_labelflip.toml", range(100), jobs=-1,
                out_dir="runs/lf", backend="ray")

``out_dir`` must then be on storage every worker can write (a shared file system); otherwise
pass ``out_dir=None`` and use the returned summaries.  Each finished point writes
``seed_<s>/point.json``; running the same sweep again into the same ``out_dir`` skips the points
already done, so an interrupted sweep resumes.  Every run is seeded, so the results do
not depend on the backend, the number of jobs or the order in which runs finish.

Examples
--------
>>> from fltheory.sweep import parse_seeds
>>> parse_seeds("0..3"), parse_seeds("1,5,7..8")
([0, 1, 2, 3], [1, 5, 7, 8])
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from fltheory._checks import check_int

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike

__all__ = ["run_sweep", "parse_seeds", "add_sweep_arguments", "sweep_command", "SUMMARY_KEYS",
           "SWEEP_FILE", "POINT_FILE"]

#: Final metrics summarised over the seeds.
SUMMARY_KEYS = ("accuracy", "loss", "distance_to_optimum", "epsilon", "bits_total",
                "backdoor_success", "wall_time")
#: Name of the summary file written in ``out_dir``.
SWEEP_FILE = "sweep.json"
#: Name of each point's file (``out_dir/seed_<s>/point.json``), written when the point finishes.
POINT_FILE = "point.json"


def parse_seeds(text: Any) -> list[int]:
    """Seeds from ``"0..9"`` (inclusive), ``"0,3,5"``, ``"0..4,10"``, an int or an iterable.

    Examples
    --------
    >>> parse_seeds("2..4")
    [2, 3, 4]
    >>> parse_seeds(range(3))
    [0, 1, 2]
    >>> parse_seeds("3..1")
    Traceback (most recent call last):
    ...
    ValueError: seeds must be 'A..B' with A <= B, a comma-separated list or both, got '3..1'
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return [check_int("seeds", text, minimum=0)]
    if not isinstance(text, str):
        try:
            seeds = [check_int("seeds", s, minimum=0) for s in text]
        except TypeError:
            raise ValueError(f"seeds must be a string like '0..9', an int or a list of ints, "
                             f"got {text!r}") from None
    else:
        bad = ValueError("seeds must be 'A..B' with A <= B, a comma-separated list or both, "
                         f"got {text!r}")
        seeds = []
        for part in text.replace(" ", "").split(","):
            if not part:
                raise bad
            if ".." in part:
                a, _, b = part.partition("..")
                if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
                    raise bad
                seeds.extend(range(int(a), int(b) + 1))
            elif part.isdigit():
                seeds.append(int(part))
            else:
                raise bad
    if not seeds:
        raise ValueError("seeds must not be empty")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return seeds


def _one(config_dict: dict, seed: int, out_dir: str | None, noise_scale: float) -> dict:
    """One run of the sweep (executed by a joblib worker)."""
    import inspect

    from fltheory.config import ExperimentConfig
    from fltheory.fl import simulate

    cfg = ExperimentConfig.from_dict(config_dict).replace(seed=seed, run__progress=False)
    kw = {}
    if noise_scale != 1.0:
        if "noise_scale" not in inspect.signature(simulate).parameters:
            raise ValueError("noise_scale needs fltheory.fl.simulate with a noise_scale argument")
        kw["noise_scale"] = noise_scale
    run = simulate(cfg, out_dir=out_dir, progress=False, **kw)
    final = {k: run.last(k) for k in SUMMARY_KEYS if any(k in m for m in run.metrics)}
    point = {"seed": seed, "rounds": run.rounds, "final": final,
             "accuracy": [m.get("accuracy") for m in run.metrics],
             "out_dir": out_dir}
    if out_dir is not None:  # the point's own file: a rerun of the sweep skips this seed
        from fltheory._io import write_json_atomic

        write_json_atomic(Path(out_dir) / POINT_FILE,
                          {"config": config_dict, "noise_scale": noise_scale, "point": point})
    return point


def _done(out: Path | None, base: dict, seed: int, noise_scale: float) -> dict | None:
    """The finished point of ``seed`` from a previous (interrupted) sweep, or ``None``."""
    if out is None:
        return None
    path = out / f"seed_{seed}" / POINT_FILE
    if not path.is_file():
        return None
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a damaged file: run the point again
    from fltheory._io import jsonable

    if data.get("config") != json.loads(json.dumps(jsonable(base))) \
            or data.get("noise_scale") != noise_scale:
        raise ValueError(f"{path} holds a run of a different configuration; use another out_dir "
                         "or remove the old sweep")
    return data["point"]


def _dask_client(scheduler: str | None, jobs: int):
    """A ``dask.distributed.Client``: connected to ``scheduler``, or on a local cluster of
    ``jobs`` single-threaded worker processes bound to 127.0.0.1."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError('backend "dask" needs dask.distributed: pip install '
                         '"fltheory[dask]"') from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, ValueError, TimeoutError) as exc:
            raise ValueError(f"scheduler {scheduler!r} is not reachable: {exc}") from None
    n = jobs if jobs > 0 else 2
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address=None, processes=True)
    return Client(cluster), cluster


def _stats(values: list) -> dict:
    v = np.array([float(x) for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def run_sweep(config: ConfigLike, seeds: Iterable[int] | str, jobs: int = 1, out_dir: Any = None,
              backend: str = "loky", *, noise_scale: float = 1.0, verbose: int = 0,
              scheduler: str | None = None, client: Any = None) -> dict:
    """Run ``config`` once per seed, ``jobs`` at a time, through joblib.

    Parameters
    ----------
    config : ExperimentConfig, dict or path
        The recipe; each run replaces its ``seed``.
    seeds : iterable of int or str
        Seeds (``"0..9"`` is accepted, see :func:`parse_seeds`).
    jobs : int
        Parallel runs (joblib's ``n_jobs``: ``-1`` uses every worker the backend offers).
    out_dir : str or path, optional
        Write ``seed_<s>/result.json`` and ``params.pt`` per run and ``sweep.json`` here.
    backend : str
        joblib backend: ``"loky"`` (processes, default), ``"threading"``, ``"sequential"``, a
        cluster backend registered with joblib (``"ray"``; see the module docs), or ``"dask"``:
        the points are submitted to a Dask cluster (``scheduler``, ``client``, or a local cluster
        of ``jobs`` worker processes on 127.0.0.1).
    noise_scale : float
        Passed to :func:`fltheory.fl.simulate` (a planted bug for testing audits).
    verbose : int
        joblib's verbosity.
    scheduler : str, optional
        With ``backend="dask"``: the scheduler's address (``"tcp://host:8786"``).
    client : dask.distributed.Client, optional
        With ``backend="dask"``: an existing client (takes precedence over ``scheduler``).

    Notes
    -----
    With ``out_dir``, every finished point writes ``seed_<s>/point.json``; rerunning the same
    sweep into the same ``out_dir`` skips those seeds (listed in ``"resumed"``), so an
    interrupted sweep resumes where it stopped.  A point file of another configuration is refused.

    Returns
    -------
    dict
        ``{"config", "seeds", "runs": [per-seed summaries], "summary": {metric: {mean, std,
        min, max, n}}, "backend", "jobs", "seconds", "files"}`` (also written to
        ``sweep.json``).

    Examples
    --------
    >>> res = run_sweep({"data": {"num_clients": 4}, "training": {"rounds": 2}}, "0..1",
    ...                 backend="sequential")
    >>> [r["seed"] for r in res["runs"]], res["summary"]["accuracy"]["n"]
    ([0, 1], 2)
    """
    from joblib import Parallel, delayed

    from fltheory._io import write_json_atomic
    from fltheory.config import load_config

    cfg = load_config(config)
    seeds = parse_seeds(seeds)
    jobs = check_int("jobs", jobs)
    if jobs == 0 or jobs < -1:
        raise ValueError(f"jobs must be >= 1 or -1 (every worker), got {jobs}")
    if not isinstance(backend, str) or not backend:
        raise ValueError(f"backend must be a joblib backend name, got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler is used with backend='dask' only, got backend={backend!r}")
    out = None if out_dir is None else Path(out_dir)
    t0 = time.perf_counter()
    base = cfg.to_dict()
    noise_scale = float(noise_scale)
    done = {s: p for s in seeds if (p := _done(out, base, s, noise_scale)) is not None}
    todo = [s for s in seeds if s not in done]
    args = [(base, s, None if out is None else str(out / f"seed_{s}"), noise_scale)
            for s in todo]
    try:
        if backend == "dask":
            runs = _run_dask(args, jobs, scheduler, client) if args else []
        else:
            from fltheory._progress import bar

            pbar = bar(len(args), "seeds", unit="run")
            runs = []
            gen = "generator" if backend in ("loky", "threading", "multiprocessing",
                                             "sequential") else "list"
            for r in (Parallel(n_jobs=jobs, backend=backend, verbose=verbose, return_as=gen)(
                    delayed(_one)(*a) for a in args) if args else []):
                runs.append(r)
                pbar.update(1)      # as each run finishes (with a generator backend)
            pbar.close()
    except ValueError as exc:
        if "backend" in str(exc).lower() and backend not in ("loky", "threading",
                                                             "multiprocessing", "sequential"):
            raise ValueError(f"backend {backend!r} is not registered with joblib: import and "
                             "register it first (dask: create a dask.distributed.Client; ray: "
                             "ray.util.joblib.register_ray())") from exc
        raise
    runs = sorted(list(runs) + list(done.values()), key=lambda r: r["seed"])
    keys = [k for k in SUMMARY_KEYS if any(k in r["final"] for r in runs)]
    summary = {k: _stats([r["final"].get(k) for r in runs]) for k in keys}
    result = {"config": base, "name": cfg.name, "seeds": seeds, "runs": runs,
              "summary": summary, "backend": backend, "jobs": jobs,
              "seconds": time.perf_counter() - t0, "resumed": sorted(done), "files": []}
    if out is not None:
        files = [str(out / f"seed_{s}" / "result.json") for s in seeds]
        files.append(str(out / SWEEP_FILE))
        result["files"] = files
        write_json_atomic(out / SWEEP_FILE, result)
    return result


def _run_dask(args: list[tuple], jobs: int, scheduler: str | None, client: Any) -> list[dict]:
    """Submit the points to Dask; each finished point has written its file when it returns."""
    cluster = None
    own = client is None
    if own:
        client, cluster = _dask_client(scheduler, jobs)
    try:
        from dask.distributed import as_completed

        futures = [client.submit(_one, *a, pure=False) for a in args]
        return [fut.result() for fut in as_completed(futures)]
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


# --------------------------------------------------------------------------------------------------
# Command line (``fltheory run CONFIG --seeds 0..9 --jobs N``)
# --------------------------------------------------------------------------------------------------
def add_sweep_arguments(parser) -> None:
    """Add ``--seeds``, ``--jobs`` and ``--backend`` to the ``fltheory run`` parser."""
    parser.add_argument("--seeds", default=None, metavar="A..B",
                        help="run a sweep over these seeds (e.g. 0..9 or 0,3,5); each run in "
                             "DIR/seed_<s>/, the summary in DIR/sweep.json")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel runs of a sweep (joblib n_jobs; -1: every core)")
    parser.add_argument("--backend", default="loky",
                        help="where a sweep's runs execute: loky (local processes), threading, "
                             "dask (a Dask cluster: --scheduler, or a local one of --jobs "
                             "workers), or a joblib backend registered by a cluster library (ray)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --backend dask: the Dask scheduler (tcp://host:8786)")


def sweep_command(args) -> int:
    """``fltheory run CONFIG --seeds ... [--jobs N] [--backend B] --out DIR [--json]``."""
    from fltheory._table import emit, print_table

    res = run_sweep(args.config, args.seeds, jobs=args.jobs, out_dir=args.out,
                    backend=getattr(args, "backend", "loky"),
                    scheduler=getattr(args, "scheduler", None))

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float) and math.isinf(v):
            return "inf"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    def render():
        keys = [k for k in ("accuracy", "loss", "distance_to_optimum", "epsilon",
                            "backdoor_success") if k in res["summary"]]
        print(f"{res['name']}: {len(res['seeds'])} seeds, {res['jobs']} jobs ({res['backend']}), "
              f"{res['seconds']:.1f} s")
        if res["resumed"]:
            print(f"resumed: seeds {res['resumed']} were already done in {args.out}")
        print_table([[r["seed"], *(fmt(r["final"].get(k)) for k in keys)] for r in res["runs"]],
                    ["seed", *keys])
        print()
        print_table([[k, fmt(s["mean"]), fmt(s["std"]), fmt(s["min"]), fmt(s["max"])]
                     for k, s in res["summary"].items() if k in keys],
                    ["metric", "mean", "std", "min", "max"])
        print("\nfiles written:")
        for f in res["files"][-1:]:
            print(f"  {f}")
        print(f"  ({len(res['seeds'])} x result.json, params.pt in {args.out}/seed_<s>/)")

    emit(res, getattr(args, "json", False), render)
    return 0
