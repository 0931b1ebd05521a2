r"""Seed sweeps and experiment grids, in parallel -- locally (joblib) or on a cluster (Dask, Ray).

:func:`run_points` is the one executor of every multi-point run: it runs a list of points (a
module-level function and the arguments of each point) in this process (``backend="serial"``),
in ``jobs`` local joblib worker processes (``"joblib"``) or on a Dask cluster (``"dask"``), and
writes each finished point to its own file, named by the SHA-256 of the point's configuration,
so that an interrupted run resumes: a point on disk with the same hash is read instead of run,
a point whose configuration changed runs again.  Seed sweeps (:func:`run_sweep`), the
experiment figures' grids (:mod:`fltheory.experiments`) and experiment 9's compression grid
(:mod:`fltheory.compression_runs`) all go through it, and their commands share its options
(:func:`add_executor_arguments`: ``--backend``, ``--jobs``, ``--scheduler``, ``--points``,
``--resume``).

:func:`run_sweep` runs one configuration for several seeds, each with
:func:`fltheory.fl.simulate`, writes every run to ``OUT/seed_<s>/`` (``result.json`` and
``params.pt``, as ``fltheory run`` does) and a summary ``OUT/sweep.json`` (final metrics of every
seed, their mean and standard deviation).  From the shell::

    fltheory run experiments/configs/digits_labelflip.toml --seeds 0..9 --jobs 2 --out runs/lf

**Where the points execute is the backend's choice.**  ``"joblib"`` (``"loky"``) uses joblib's
worker processes on this machine; ``"threading"`` threads.  The same call runs on a cluster:

* **Dask** (``pip install "fltheory[dask]"``): ``backend="dask"`` submits every point to a Dask
  cluster -- the scheduler at ``scheduler`` (``--scheduler tcp://host:8786``), an existing
  ``client``, or, with neither, a local cluster of ``jobs`` single-threaded worker processes on
  127.0.0.1::

      fltheory run experiments/configs/digits_labelflip.toml --seeds 0..99 \
          --backend dask --scheduler tcp://scheduler:8786 --out /shared/runs/lf
      fltheory plot byzantine-attacks --seeds 0..9 --backend dask \
          --scheduler tcp://scheduler:8786 --out figures/ [--resume]

* **Ray** (``pip install ray``): register Ray's joblib backend, then use ``"ray"`` (from Python;
  any joblib backend name is accepted)::

      import ray
      from ray.util.joblib import register_ray
      ray.init(address="auto")                         # an existing Ray cluster
      register_ray()
      run_sweep("experiments/configs/digits_labelflip.toml", range(100), jobs=-1,
                out_dir="runs/lf", backend="ray")

The point files are written by the calling process as points finish.  A sweep's runs write
their ``result.json`` and ``params.pt`` from the workers: ``out_dir`` must then be on storage
every worker can write (a shared file system), or ``None``.  Each sweep point is
``seed_<s>/point.json``; running the same sweep again into the same ``out_dir`` skips the seeds
already done.  Every point is seeded and runs with one torch thread, so the results do not
depend on the backend, the number of workers or the order in which points finish.

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

# NumPy and the checks are imported inside the functions: the command-line parsers import this
# module for add_executor_arguments, and ``fltheory ... --help`` stays instant.

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike

__all__ = ["run_sweep", "run_points", "point_hash", "check_executor", "parse_seeds",
           "add_sweep_arguments", "add_executor_arguments", "executor_options", "sweep_command",
           "without_timings", "BACKENDS", "TIMING_KEYS", "SUMMARY_KEYS", "SWEEP_FILE",
           "POINT_FILE"]

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
    import numpy as np

    from fltheory._checks import check_int

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
    """One run of the sweep (executed by a worker)."""
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
    return {"seed": seed, "rounds": run.rounds, "final": final,
            "accuracy": [m.get("accuracy") for m in run.metrics], "out_dir": out_dir}


# --------------------------------------------------------------------------------------------------
# The executor: every multi-point run (seed sweeps, experiment grids) goes through run_points
# --------------------------------------------------------------------------------------------------
#: Executor backends: ``"serial"`` (in this process), ``"joblib"`` (joblib's local worker
#: processes, ``jobs`` of them) and ``"dask"`` (a Dask cluster).  Any other joblib backend name
#: (``"loky"``, ``"threading"``, ``"sequential"``, a registered ``"ray"``) goes to joblib as is.
BACKENDS = ("serial", "joblib", "dask")
_JOBLIB_LOCAL = ("loky", "threading", "multiprocessing", "sequential")


def _plain(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays as Python numbers/lists and tuples as lists; NaN and
    infinities kept (the point files are read back with Python's ``json``, exactly)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    return obj


#: Fields of the grids' results that are wall times, or fitted to wall times: they differ from
#: run to run, everything else is identical on every backend (:func:`without_timings`).
TIMING_KEYS = frozenset({"seconds", "runtime_seconds", "run_seconds", "aggregation_seconds",
                         "rule_seconds", "cost_model", "exponent"})


def without_timings(res: Any) -> Any:
    """``res`` without its :data:`TIMING_KEYS` (at any depth): what two runs of the same grid
    on any backends must have in common.

    Examples
    --------
    >>> without_timings({"points": [{"accuracy": 0.9, "run_seconds": 1.2}], "seconds": 3.0})
    {'points': [{'accuracy': 0.9}]}
    """
    if isinstance(res, dict):
        return {k: without_timings(v) for k, v in res.items() if k not in TIMING_KEYS}
    if isinstance(res, (list, tuple)):
        return [without_timings(v) for v in res]
    return res


def _canonical(obj: Any) -> str:
    import json

    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"))


def point_hash(fn: Any, identity: Any) -> str:
    """SHA-256 of a point: the function's qualified name and its identity, as canonical JSON.

    Examples
    --------
    >>> point_hash(len, {"seed": 0}) == point_hash(len, {"seed": 0})
    True
    >>> point_hash(len, {"seed": 0}) == point_hash(len, {"seed": 1})
    False
    """
    import hashlib

    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
    return hashlib.sha256(_canonical({"fn": name, "identity": identity}).encode()).hexdigest()


def _call(fn: Any, args: tuple) -> Any:
    """Run one point with one torch thread (so that its numbers do not depend on the backend,
    the number of workers or the load of the machine it lands on)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - the grids need torch; kept for pure-NumPy points
        return _plain(fn(*args))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _plain(fn(*args))
    finally:
        torch.set_num_threads(threads)


def _indexed(i: int, fn: Any, args: tuple) -> tuple[int, Any]:
    return i, _call(fn, args)


def _safe_label(label: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(label)).strip("._")[:120] or "point"


def _resolve_backend(backend: str | None, jobs: int) -> str:
    if backend is None:
        return "serial" if jobs == 1 else "joblib"
    if not isinstance(backend, str) or not backend:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or a joblib backend "
                         f"name, got {backend!r}")
    return {"sequential": "serial", "loky": "joblib"}.get(backend, backend)


def check_executor(backend: str | None = None, jobs: int = 1, scheduler: str | None = None
                   ) -> str:
    """Validate the executor options; return the backend that will run the points.

    Examples
    --------
    >>> check_executor(None, 1), check_executor(None, 2), check_executor("loky", 2)
    ('serial', 'joblib', 'joblib')
    >>> check_executor("serial", 1, "tcp://h:8786")
    Traceback (most recent call last):
    ...
    ValueError: scheduler is used with backend='dask' only, got backend='serial'
    """
    from fltheory._checks import check_int

    jobs = check_int("jobs", jobs)
    if jobs == 0 or jobs < -1:
        raise ValueError(f"jobs must be >= 1 or -1 (every worker), got {jobs}")
    name = _resolve_backend(backend, jobs)
    if scheduler is not None and name != "dask":
        raise ValueError(f"scheduler is used with backend='dask' only, got backend={backend!r}")
    return name


def _read_point(path: Path) -> dict | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None           # missing or damaged (an interrupted write never leaves one)
    return data if isinstance(data, dict) and "hash" in data and "result" in data else None


def _write_point(path: Path, label: str, digest: str, identity: Any, result: Any) -> None:
    import json

    from fltheory._io import atomic_write

    text = json.dumps({"label": label, "hash": digest, "identity": _plain(identity),
                       "result": result}, indent=1)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text + "\n", encoding="utf-8")

    atomic_write(path, write)


def run_points(fn: Any, items: list[tuple], *, identities: list | None = None,
               labels: list[str] | None = None, names: list[str] | None = None,
               backend: str | None = None, jobs: int = 1, scheduler: str | None = None,
               client: Any = None, points_dir: Any = None, resume: bool = True,
               mismatch: str = "rerun", desc: str = "points", progress: bool | None = None,
               verbose: int = 0) -> tuple[list, list[int]]:
    """``[fn(*args) for args in items]`` on the chosen backend, each point saved as it finishes.

    The one executor of fltheory's multi-point runs: seed sweeps (:func:`run_sweep`), the
    experiment grids (:mod:`fltheory.experiments`), the compression grid
    (:mod:`fltheory.compression_runs`) and the leakage sweeps (:mod:`fltheory.leakage`).

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled to the workers); its result must be JSON-ready
        (dicts, lists, numbers, strings; NumPy values are converted).
    items : list of tuple
        The arguments of each point.
    identities : list, optional
        What defines each point (default: its arguments): two points with the same function and
        identity are the same point.  Its SHA-256 (:func:`point_hash`) is stored in the point's
        file.
    labels : list of str, optional
        Readable names of the points: the file of point ``i`` is
        ``points_dir/<label>.<hash[:16]>.json`` (without labels ``<hash[:16]>.json``).
    names : list of str, optional
        Fixed file names (relative to ``points_dir``) instead; a file there with another hash
        is run again (``mismatch="rerun"``) or refused (``"refuse"``).
    backend : str, optional
        ``"serial"`` (this process), ``"joblib"`` (``jobs`` local worker processes), ``"dask"``
        (``client``, the scheduler at ``scheduler``, or a local cluster of ``jobs``
        single-threaded worker processes on 127.0.0.1), or another joblib backend name
        (``"threading"``, ``"ray"`` once registered).  Default: serial for ``jobs=1``, else
        joblib.
    jobs : int
        Parallel workers (``-1``: every core; with Dask and no cluster given, 2).
    scheduler : str, optional
        Dask scheduler address (``"tcp://host:8786"``).
    client : dask.distributed.Client, optional
        An existing Dask client.
    points_dir : str or path, optional
        Where each finished point is written (by this process, atomically, as it finishes).
    resume : bool
        Load the points already in ``points_dir`` with the same hash instead of running them.
    mismatch : {"rerun", "refuse"}
        What to do with a fixed-name file (``names``) holding another point.
    desc : str
        Progress-bar label.
    progress : bool, optional
        Draw the bar (default: when stderr is a terminal and output is not quiet).
    verbose : int
        joblib's verbosity.

    Returns
    -------
    (list, list of int)
        The results in the order of ``items`` -- every one as it reads back from its file
        (tuples become lists; NaN and infinities are kept), so a resumed point and a point
        computed now are the same object -- and the indices of the points loaded from disk.

    Notes
    -----
    Every point runs with one torch thread, on every backend: floating-point sums then do not
    depend on how many threads a worker has, and the results are identical whichever backend
    ran them.

    Examples
    --------
    >>> import operator, tempfile
    >>> d = tempfile.mkdtemp()
    >>> run_points(operator.add, [(1, 2), (3, 4)], points_dir=d)
    ([3, 7], [])
    >>> run_points(operator.add, [(1, 2), (3, 4), (5, 6)], points_dir=d)
    ([3, 7, 11], [0, 1])
    """
    import json

    name = check_executor(backend, jobs, scheduler)
    if mismatch not in ("rerun", "refuse"):
        raise ValueError(f"mismatch must be 'rerun' or 'refuse', got {mismatch!r}")
    items = [tuple(it) for it in items]
    ids = list(items) if identities is None else list(identities)
    for what, seq in (("identities", ids), ("labels", labels), ("names", names)):
        if seq is not None and len(seq) != len(items):
            raise ValueError(f"{what} must have one entry per item ({len(items)}), "
                             f"got {len(seq)}")
    out = None if points_dir is None else Path(points_dir)
    digests = [point_hash(fn, i) for i in ids]
    paths: list[Path | None] = [None] * len(items)
    if out is not None:
        for i, h in enumerate(digests):
            if names is not None:
                paths[i] = out / names[i]
            elif labels is not None:
                paths[i] = out / f"{_safe_label(labels[i])}.{h[:16]}.json"
            else:
                paths[i] = out / f"{h[:16]}.json"
    results: list = [None] * len(items)
    resumed = []
    if out is not None and resume:
        for i, path in enumerate(paths):
            data = _read_point(path)
            if data is None:
                continue
            if data["hash"] != digests[i]:
                if mismatch == "refuse":
                    raise ValueError(f"{path} holds a run of a different configuration; use "
                                     "another output directory or remove the old sweep")
                continue
            results[i] = data["result"]
            resumed.append(i)
    todo = [i for i in range(len(items)) if i not in set(resumed)]

    def finish(i: int, result: Any) -> None:
        # the same round trip as a point read from its file
        results[i] = json.loads(json.dumps(result))
        if paths[i] is not None:
            _write_point(paths[i], "" if labels is None else labels[i], digests[i], ids[i],
                         results[i])

    from fltheory._progress import bar

    with bar(len(todo), desc, unit="point", enabled=progress) as pbar:
        if not todo:
            pass
        elif name == "serial":
            for i in todo:
                finish(i, _call(fn, items[i]))
                pbar.update(1)
        elif name == "dask":
            for i, r in _dask_map(fn, [(i, items[i]) for i in todo], jobs, scheduler, client):
                finish(i, r)
                pbar.update(1)
        else:
            for i, r in _joblib_map(fn, [(i, items[i]) for i in todo], jobs, name, verbose):
                finish(i, r)
                pbar.update(1)
    return results, resumed


def _joblib_map(fn: Any, todo: list, jobs: int, backend: str, verbose: int):
    """(index, result) pairs as the points finish, through joblib."""
    try:
        from joblib import Parallel, delayed
    except ImportError:
        raise ValueError("backend 'joblib' needs joblib: pip install 'fltheory[fl]'") from None
    backend = "loky" if backend == "joblib" else backend
    gen = "generator_unordered" if backend in _JOBLIB_LOCAL else "list"
    try:
        yield from Parallel(n_jobs=jobs, backend=backend, verbose=verbose, return_as=gen)(
            delayed(_indexed)(i, fn, args) for i, args in todo)
    except ValueError as exc:
        if "backend" in str(exc).lower() and backend not in _JOBLIB_LOCAL:
            raise ValueError(f"backend {backend!r} is not registered with joblib: import and "
                             "register it first (ray: ray.util.joblib.register_ray()), or use "
                             f"one of {', '.join(BACKENDS)}") from exc
        raise


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


def _dask_map(fn: Any, todo: list, jobs: int, scheduler: str | None, client: Any):
    """(index, result) pairs as the points finish on a Dask cluster."""
    cluster = None
    own = client is None
    if own:
        client, cluster = _dask_client(scheduler, jobs)
    try:
        from dask.distributed import as_completed

        futures = [client.submit(_indexed, i, fn, args, pure=False) for i, args in todo]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def _stats(values: list) -> dict:
    import numpy as np

    v = np.array([float(x) for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def run_sweep(config: ConfigLike, seeds: Iterable[int] | str, jobs: int = 1, out_dir: Any = None,
              backend: str = "loky", *, noise_scale: float = 1.0, verbose: int = 0,
              scheduler: str | None = None, client: Any = None) -> dict:
    """Run ``config`` once per seed, ``jobs`` at a time, through :func:`run_points`.

    Parameters
    ----------
    config : ExperimentConfig, dict or path
        The recipe; each run replaces its ``seed``.
    seeds : iterable of int or str
        Seeds (``"0..9"`` is accepted, see :func:`parse_seeds`).
    jobs : int
        Parallel runs (joblib's ``n_jobs``: ``-1`` uses every worker the backend offers).
    out_dir : str or path, optional
        Write ``seed_<s>/result.json``, ``params.pt`` and ``point.json`` per run and
        ``sweep.json`` here.
    backend : str
        ``"serial"`` (or ``"sequential"``), ``"joblib"`` (or ``"loky"``, the default: local
        worker processes), ``"threading"``, a cluster backend registered with joblib
        (``"ray"``; see the module docs), or ``"dask"``: the points are submitted to a Dask
        cluster (``scheduler``, ``client``, or a local cluster of ``jobs`` worker processes on
        127.0.0.1).
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
    from fltheory._io import write_json_atomic
    from fltheory.config import load_config

    cfg = load_config(config)
    seeds = parse_seeds(seeds)
    check_executor(backend, jobs, scheduler)
    out = None if out_dir is None else Path(out_dir)
    t0 = time.perf_counter()
    base = cfg.to_dict()
    noise_scale = float(noise_scale)
    args = [(base, s, None if out is None else str(out / f"seed_{s}"), noise_scale)
            for s in seeds]
    runs, resumed = run_points(
        _one, args, identities=[{"config": base, "seed": s, "noise_scale": noise_scale}
                                for s in seeds],
        names=[f"seed_{s}/{POINT_FILE}" for s in seeds], mismatch="refuse",
        backend=backend, jobs=jobs, scheduler=scheduler, client=client, points_dir=out,
        desc="seeds", verbose=verbose)
    runs = sorted(runs, key=lambda r: r["seed"])
    keys = [k for k in SUMMARY_KEYS if any(k in r["final"] for r in runs)]
    summary = {k: _stats([r["final"].get(k) for r in runs]) for k in keys}
    result = {"config": base, "name": cfg.name, "seeds": seeds, "runs": runs,
              "summary": summary, "backend": backend, "jobs": jobs,
              "seconds": time.perf_counter() - t0,
              "resumed": sorted(seeds[i] for i in resumed), "files": []}
    if out is not None:
        files = [str(out / f"seed_{s}" / "result.json") for s in seeds]
        files.append(str(out / SWEEP_FILE))
        result["files"] = files
        write_json_atomic(out / SWEEP_FILE, result)
    return result


# --------------------------------------------------------------------------------------------------
# Command line (``fltheory run CONFIG --seeds 0..9 --jobs N``)
# --------------------------------------------------------------------------------------------------
def add_executor_arguments(parser, *, jobs: bool = True, points: bool = True) -> None:
    """Add the executor options of every multi-point command: ``--backend``, ``--jobs``,
    ``--scheduler`` and (``points``) ``--points DIR`` / ``--resume``."""
    parser.add_argument("--backend", default=None,
                        help="where the points run: serial, joblib (--jobs local processes), "
                             "dask (a Dask cluster: --scheduler, or a local one of --jobs "
                             "workers), or another joblib backend (threading, loky, ray once "
                             "registered); default serial, or joblib with --jobs")
    if jobs:
        parser.add_argument("--jobs", type=int, default=1,
                            help="parallel points (joblib n_jobs, Dask local workers; -1: "
                                 "every core)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="with --backend dask: the Dask scheduler (tcp://host:8786)")
    if points:
        parser.add_argument("--points", default=None, metavar="DIR",
                            help="one result file per finished point here (default: "
                                 "OUT/points)")
        parser.add_argument("--resume", action="store_true",
                            help="reuse the points already in the points directory with the "
                                 "same configuration hash; run only the others")


def executor_options(args, points_dir: Any = None) -> dict:
    """The keyword arguments of :func:`run_points` from parsed ``args`` (see
    :func:`add_executor_arguments`); ``points_dir`` is the default of ``--points``."""
    backend = getattr(args, "backend", None)
    jobs = getattr(args, "jobs", 1)
    scheduler = getattr(args, "scheduler", None)
    check_executor(backend, jobs, scheduler)
    points = getattr(args, "points", None) or points_dir
    if getattr(args, "resume", False) and points is None:
        raise ValueError("--resume needs the points directory: pass --points DIR (or --out)")
    return {"backend": backend, "jobs": jobs, "scheduler": scheduler, "points_dir": points,
            "resume": bool(getattr(args, "resume", False))}


def add_sweep_arguments(parser) -> None:
    """Add ``--seeds``, ``--jobs``, ``--backend`` and ``--scheduler`` to the ``fltheory run``
    parser."""
    parser.add_argument("--seeds", default=None, metavar="A..B",
                        help="run a sweep over these seeds (e.g. 0..9 or 0,3,5); each run in "
                             "DIR/seed_<s>/, the summary in DIR/sweep.json")
    add_executor_arguments(parser, points=False)


def sweep_command(args) -> int:
    """``fltheory run CONFIG --seeds ... [--jobs N] [--backend B] --out DIR [--json]``."""
    from fltheory._table import emit, print_table

    res = run_sweep(args.config, args.seeds, jobs=args.jobs, out_dir=args.out,
                    backend=getattr(args, "backend", None) or "loky",
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
