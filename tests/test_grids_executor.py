"""The experiment grids through the one executor (fltheory.sweep.run_points): serial, joblib and
a Dask LocalCluster (2 worker processes on 127.0.0.1) give the same JSON; an interrupted grid
resumes from its per-point files and ends equal to an uninterrupted one; a changed configuration
is run again; the CLI options of ``fltheory plot``, ``fltheory tradeoff --validate`` and
``fltheory plan --validate``."""

from __future__ import annotations

import functools
import json
import operator

import pytest

pytest.importorskip("torch")
pytest.importorskip("joblib")

from fltheory import cli  # noqa: E402
from fltheory import compression_runs as cr  # noqa: E402
from fltheory import experiments as ex  # noqa: E402
from fltheory.sweep import point_hash, run_points, without_timings  # noqa: E402

#: Figure 4's quick grid on a smaller recipe: 6 clients (1 label flipper), 2 rounds; the quick
#: grid is {clean, label flip, backdoor} x {mean, cwtm} x seeds.
FIG4 = {"name": "tiny-fig4", "data": {"name": "digits", "num_clients": 6, "partition": "iid"},
        "model": {"name": "logreg"},
        "training": {"algorithm": "fedsgd", "rounds": 2, "lr": 0.5},
        "byzantine": {"num_byzantine": 1, "attack": "label_flip", "aggregator": "cwtm"},
        "run": {"eval_every": 1}}

#: A compression grid of 3 points (+ the SMEA timing) on the synthetic task.
GRID = {
    "name": "tiny-grid", "seeds": [0], "delta": 1e-5, "byzantine_fraction": 0.2,
    "variance_draws": 2,
    "tasks": {"syn": {"data": {"name": "synthetic_logistic", "num_clients": 5,
                               "samples_per_client": 5, "dim": 20},
                      "model": {"name": "logreg"},
                      "training": {"algorithm": "fedavg", "rounds": 2, "local_steps": 1,
                                   "lr": 1.0, "batch_sampling": "poisson"},
                      "privacy": {"level": "record", "clip": 1.0, "batch_rate": 0.5,
                                  "delta": 1e-5},
                      "run": {"eval_every": 1000, "progress": False}}},
    "slices": [{"name": "s", "tasks": ["syn"], "compressors": ["none", "randk_shared"],
                "ratios": [1.0, 0.5], "epsilons": [4.0], "attacks": ["alie"],
                "aggregators": ["cwtm"]},
               {"name": "t", "tasks": ["syn"], "compressors": ["none"], "epsilons": ["none"],
                "attacks": ["none"], "aggregators": ["mean"]}],
    "smea_dense": {"n": 5, "f": 1, "dims": [4, 8]},
}

def _json(res) -> str:
    """The results as the JSON file the command writes (timings removed)."""
    from fltheory._io import jsonable

    return json.dumps(jsonable(without_timings(res)), sort_keys=True)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def fig4_serial():
    return ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                             backend="serial")


@pytest.fixture(scope="module")
def grid_serial():
    return cr.run_compression_grid(GRID, backend="serial")


# --------------------------------------------------------------------------------------------------
# Same JSON on every backend
# --------------------------------------------------------------------------------------------------
def test_fig4_grid_dask_equals_serial(fig4_serial, dask_client, tmp_path):
    res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                            backend="dask", client=dask_client, points_dir=tmp_path)
    assert _json(res) == _json(fig4_serial)
    # 2 seeds x (clean + 2 attacks x 2 rules) points, one file each
    assert len(list(tmp_path.glob("byzantine-attacks.*.json"))) == 2 * 5
    acc = fig4_serial["runs"]["label_flip"]["cwtm"]["final"]
    assert len(acc) == 2 and acc[0] != acc[1]          # the seeds differ


def test_fig4_grid_scheduler_address_and_joblib(fig4_serial, dask_client):
    res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                            backend="dask", scheduler=dask_client.scheduler.address)
    assert _json(res) == _json(fig4_serial)
    res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True, jobs=2)
    assert _json(res) == _json(fig4_serial)


def test_compression_grid_dask_equals_serial(grid_serial, dask_client):
    assert grid_serial["summary"]["points_run"] == 3
    res = cr.run_compression_grid(GRID, backend="dask", client=dask_client)
    assert _json(res) == _json(grid_serial)


def test_audit_and_inversion_grids_dask_equal_serial(dask_client):
    for name, kw in (("audit-vs-theory", {"noise": [2.0]}), ("gradient-inversion", {})):
        ref = ex.run_experiment(name, quick=True, backend="serial", **kw)
        res = ex.run_experiment(name, quick=True, backend="dask", client=dask_client, **kw)
        assert _json(res) == _json(ref), name


# --------------------------------------------------------------------------------------------------
# Interrupted, then resumed
# --------------------------------------------------------------------------------------------------
def _interrupt_after(monkeypatch, module, name: str, calls: int) -> list:
    """Make ``module.name`` raise KeyboardInterrupt at its ``calls + 1``-th call; return the
    list of the arguments of the calls that ran (the function keeps its name, so its points
    keep their hash)."""
    original = getattr(module, name)
    ran: list = []

    @functools.wraps(original)
    def wrapper(*args):
        if len(ran) >= calls:
            raise KeyboardInterrupt
        ran.append(args)
        return original(*args)

    monkeypatch.setattr(module, name, wrapper)
    return ran


def test_interrupted_fig4_grid_resumes_to_the_same_json(fig4_serial, monkeypatch, tmp_path):
    ran = _interrupt_after(monkeypatch, ex, "_fig4_one", 4)
    with pytest.raises(KeyboardInterrupt):
        ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                          backend="serial", points_dir=tmp_path)
    files = sorted(tmp_path.glob("*.json"))
    assert len(ran) == 4 and len(files) == 4            # the 4 finished points are on disk
    stamps = {f: f.stat().st_mtime_ns for f in files}
    monkeypatch.undo()
    ran = _interrupt_after(monkeypatch, ex, "_fig4_one", 10 ** 6)
    res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                            backend="serial", points_dir=tmp_path)
    assert len(ran) == 10 - 4                           # only the missing points ran
    assert all(f.stat().st_mtime_ns == t for f, t in stamps.items())
    assert _json(res) == _json(fig4_serial)
    # resume=False runs every point again (and rewrites its file)
    ran.clear()
    ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True, backend="serial",
                      points_dir=tmp_path, resume=False)
    assert len(ran) == 10


def test_interrupted_compression_grid_on_dask_resumes(grid_serial, dask_client, monkeypatch,
                                                      tmp_path):
    ran = _interrupt_after(monkeypatch, cr, "_item", 2)
    with pytest.raises(KeyboardInterrupt):
        cr.run_compression_grid(GRID, backend="serial", points_dir=tmp_path)
    assert len(ran) == 2 and len(list(tmp_path.glob("*.json"))) == 2
    monkeypatch.undo()
    res = cr.run_compression_grid(GRID, backend="dask", client=dask_client,
                                  points_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 4
    assert _json(res) == _json(grid_serial)


def test_changed_configuration_is_run_again(fig4_serial, monkeypatch, tmp_path):
    ex.run_experiment("byzantine-attacks", FIG4, seeds="0", quick=True, backend="serial",
                      points_dir=tmp_path)
    ran = _interrupt_after(monkeypatch, ex, "_fig4_one", 10 ** 6)
    changed = dict(FIG4, training=dict(FIG4["training"], lr=0.4))
    ex.run_experiment("byzantine-attacks", changed, seeds="0", quick=True, backend="serial",
                      points_dir=tmp_path)
    assert len(ran) == 5                                # no point reused
    ran.clear()
    res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                            backend="serial", points_dir=tmp_path)
    assert len(ran) == 5                                # seed 0 of the first grid reused
    assert _json(res) == _json(fig4_serial)


def test_plan_validation_interrupted_then_resumed_on_dask(dask_client, monkeypatch, tmp_path):
    from plan.test_plan_validate import TINY as DEVICES   # tests/ is on sys.path

    from fltheory.plan import plan
    from fltheory.plan import validate as pv

    pl = plan(DEVICES)
    ref = pv.validate_plan(pl, quick=True, seeds=2)
    ran = _interrupt_after(monkeypatch, pv, "_run_point", 3)
    with pytest.raises(KeyboardInterrupt):
        pv.validate_plan(pl, quick=True, seeds=2, points_dir=tmp_path)
    assert len(list(tmp_path.glob("plan.*.json"))) == len(ran) == 3
    monkeypatch.undo()
    res = pv.validate_plan(pl, quick=True, seeds=2, backend="dask", client=dask_client,
                           points_dir=tmp_path)
    assert len(list(tmp_path.glob("plan.*.json"))) == 2 * len(res.recipes)
    assert _json(res.to_dict()) == _json(ref.to_dict())


# --------------------------------------------------------------------------------------------------
# run_points itself
# --------------------------------------------------------------------------------------------------
def test_run_points_files_hash_and_refusal(tmp_path):
    items = [(1, 2), (3, 4)]
    res, resumed = run_points(operator.add, items, labels=["a", "b"], points_dir=tmp_path)
    assert (res, resumed) == ([3, 7], [])
    h = point_hash(operator.add, (1, 2))
    data = json.loads((tmp_path / f"a.{h[:16]}.json").read_text())
    assert data["hash"] == h and data["result"] == 3 and data["identity"] == [1, 2]
    # a damaged file is run again, an intact one reused
    (tmp_path / f"a.{h[:16]}.json").write_text("{not json")
    assert run_points(operator.add, items, labels=["a", "b"], points_dir=tmp_path) == ([3, 7],
                                                                                         [1])
    # fixed names: another point there is refused (or run again)
    run_points(operator.add, [(1, 1)], names=["p.json"], points_dir=tmp_path)
    with pytest.raises(ValueError, match="different configuration"):
        run_points(operator.add, [(2, 2)], names=["p.json"], points_dir=tmp_path,
                   mismatch="refuse")
    assert run_points(operator.add, [(2, 2)], names=["p.json"], points_dir=tmp_path) == ([4],
                                                                                          [])
    # NaN, infinities and tuples read back as they were computed
    res, _ = run_points(dict, [({"x": (float("inf"), float("nan"))},)], points_dir=tmp_path)
    again, resumed = run_points(dict, [({"x": (float("inf"), float("nan"))},)],
                                points_dir=tmp_path)
    assert resumed == [0] and str(res) == str(again) == "[{'x': [inf, nan]}]"


@pytest.mark.parametrize("kw, match", [
    ({"jobs": 0}, "jobs must be"),
    ({"backend": "serial", "scheduler": "tcp://127.0.0.1:1"}, "backend='dask'"),
    ({"backend": "no-such-cluster", "jobs": 2}, "not registered with joblib"),
    ({"backend": "dask", "scheduler": "tcp://127.0.0.1:1"}, "not reachable"),
    ({"identities": [1]}, "identities must have one entry per item"),
    ({"mismatch": "ignore"}, "mismatch must be"),
])
def test_run_points_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        run_points(operator.add, [(1, 2), (3, 4)], **kw)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
def test_plot_grid_on_dask_then_resume(dask_client, tmp_path, capsys):
    cfg = tmp_path / "fig4.toml"
    from fltheory.config import ExperimentConfig

    cfg.write_text(ExperimentConfig.from_dict(FIG4).to_toml())
    out = tmp_path / "fig"
    argv = ["plot", "byzantine-attacks", "--config", str(cfg), "--quick", "--seeds", "0",
            "--out", str(out)]
    assert cli.main(argv + ["--backend", "dask", "--scheduler",
                            dask_client.scheduler.address]) == 0
    first = json.loads((out / "byzantine_attacks.json").read_text())
    points = sorted((out / "points").glob("*.json"))
    assert len(points) == 5
    stamps = [p.stat().st_mtime_ns for p in points]
    assert cli.main(argv + ["--resume"]) == 0
    assert [p.stat().st_mtime_ns for p in points] == stamps       # nothing ran again
    again = json.loads((out / "byzantine_attacks.json").read_text())
    assert _json(again) == _json(first)
    capsys.readouterr()


GRID_TOML = """
name = "tiny-cli"
seeds = [0]
byzantine_fraction = 0.2
variance_draws = 2
[tasks.syn]
data = {name = "synthetic_logistic", num_clients = 5, samples_per_client = 5, dim = 20}
model = {name = "logreg"}
training = {algorithm = "fedavg", rounds = 2, local_steps = 1, lr = 1.0, batch_sampling = "poisson"}
privacy = {level = "record", clip = 1.0, batch_rate = 0.5, delta = 1e-5}
run = {eval_every = 1000, progress = false}
[[slices]]
name = "s"
tasks = ["syn"]
compressors = ["none"]
epsilons = [4.0]
attacks = ["alie"]
aggregators = ["cwtm"]
[smea_dense]
n = 5
f = 1
dims = [4, 8]
"""


def test_tradeoff_validate_through_the_executor(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID_TOML)
    argv = ["tradeoff", "--validate", str(grid), "--points", str(tmp_path / "pts"), "--json"]
    assert cli.main(argv + ["--backend", "joblib", "--jobs", "2"]) in (0, 1)
    first = json.loads(capsys.readouterr().out)
    assert len(first["rows"]) == 1 and len(list((tmp_path / "pts").glob("*.json"))) == 2
    assert cli.main(argv + ["--resume"]) in (0, 1)
    assert json.loads(capsys.readouterr().out) == first


def test_plot_interrupted_says_how_to_resume(monkeypatch, tmp_path, capsys):
    _interrupt_after(monkeypatch, ex, "_fig4_one", 2)
    cfg = tmp_path / "fig4.toml"
    from fltheory.config import ExperimentConfig

    cfg.write_text(ExperimentConfig.from_dict(FIG4).to_toml())
    out = tmp_path / "fig"
    assert cli.main(["plot", "byzantine-attacks", "--config", str(cfg), "--quick", "--seeds",
                     "0", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"finished points are in {out / 'points'}" in err and "--resume" in err
    assert len(list((out / "points").glob("*.json"))) == 2


@pytest.mark.parametrize("argv, msg", [
    (["plot", "min-batch-size", "--backend", "dask"], "--backend applies"),
    (["plot", "audit-vs-theory", "--quick", "--scheduler", "tcp://h:1"], "backend='dask'"),
    (["plot", "audit-vs-theory", "--quick", "--backend", "joblib", "--jobs", "0"],
     "jobs must be"),
    (["plot", "byzantine-attacks", "--from", "x.json", "--resume"], "cannot be combined"),
    (["tradeoff", "--validate", "g.toml", "--resume"], "--resume needs"),
    (["plan", "d.toml", "--jobs", "2"], "--jobs is an option of --validate"),
])
def test_cli_bad_executor_options(argv, msg, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv + ["--out", str(tmp_path / "o")] if argv[0] == "plot" else argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_fig4_grid_through_rays_joblib_backend(fig4_serial):
    """Ray's joblib backend (``pip install ray``; a local Ray instance, so ``-m slow``)."""
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        register_ray()
        res = ex.run_experiment("byzantine-attacks", FIG4, seeds="0..1", quick=True,
                                backend="ray", jobs=2)
    finally:
        ray.shutdown()
    assert _json(res) == _json(fig4_serial)
