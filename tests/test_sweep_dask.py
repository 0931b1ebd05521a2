"""Sweeps on Dask (a LocalCluster on 127.0.0.1) and resuming an interrupted sweep."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("joblib")
distributed = pytest.importorskip("dask.distributed")

from fltheory import cli  # noqa: E402
from fltheory.sweep import POINT_FILE, SWEEP_FILE, run_sweep  # noqa: E402

TINY = {"name": "tiny-dask", "data": {"num_clients": 4},
        "training": {"rounds": 2, "lr": 0.5},
        "byzantine": {"num_byzantine": 1, "attack": "sign_flip", "aggregator": "cwmed"}}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       protocol="tcp",
                                       host="127.0.0.1", dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_dask_equals_sequential_and_writes_points(client, tmp_path):
    ref = run_sweep(TINY, "0..2", backend="sequential")
    res = run_sweep(TINY, "0..2", backend="dask", client=client, out_dir=tmp_path)
    assert [r["seed"] for r in res["runs"]] == [0, 1, 2]
    assert [r["accuracy"] for r in res["runs"]] == [r["accuracy"] for r in ref["runs"]]
    for s in (0, 1, 2):
        point = json.loads((tmp_path / f"seed_{s}" / POINT_FILE).read_text())
        assert point["result"]["seed"] == s and len(point["hash"]) == 64
    assert json.loads((tmp_path / SWEEP_FILE).read_text())["backend"] == "dask"


def test_interrupted_sweep_resumes(client, tmp_path):
    first = run_sweep(TINY, "0..1", backend="dask", client=client, out_dir=tmp_path)
    assert first["resumed"] == []
    marker = tmp_path / "seed_0" / "result.json"
    stamp = marker.stat().st_mtime_ns
    # "interrupt": seed 2 never ran; rerun the full sweep into the same directory
    again = run_sweep(TINY, "0..2", backend="dask", client=client, out_dir=tmp_path)
    assert again["resumed"] == [0, 1]
    assert marker.stat().st_mtime_ns == stamp  # seed 0 was not run again
    ref = run_sweep(TINY, "0..2", backend="sequential")
    assert [r["accuracy"] for r in again["runs"]] == [r["accuracy"] for r in ref["runs"]]
    # a different configuration in the same directory is refused, not mixed in
    other = dict(TINY, training={"rounds": 3, "lr": 0.5})
    with pytest.raises(ValueError, match="different configuration"):
        run_sweep(other, "0..2", backend="sequential", out_dir=tmp_path)


def test_scheduler_address_and_cli(client, tmp_path, capsys):
    address = client.scheduler.address
    res = run_sweep(TINY, "3", backend="dask", scheduler=address)
    assert [r["seed"] for r in res["runs"]] == [3]
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('name = "tiny-dask"\n[data]\nnum_clients = 4\n[training]\nrounds = 2\n'
                   'lr = 0.5\n[byzantine]\nnum_byzantine = 1\nattack = "sign_flip"\n'
                   'aggregator = "cwmed"\n')
    out = tmp_path / "cli"
    code = cli.main(["run", str(cfg), "--seeds", "0..1", "--backend", "dask",
                     "--scheduler", address, "--out", str(out)])
    assert code == 0
    assert (out / "seed_1" / POINT_FILE).is_file() and (out / SWEEP_FILE).is_file()
    assert "dask" in capsys.readouterr().out


def test_bad_dask_arguments():
    with pytest.raises(ValueError, match="backend='dask'"):
        run_sweep(TINY, "0", backend="loky", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="not reachable"):
        run_sweep(TINY, "0", backend="dask", scheduler="tcp://127.0.0.1:1")


@pytest.mark.slow
def test_ray_through_joblib():
    """Ray's joblib backend (``pip install ray``; ~45 s here, so run with ``-m slow``)."""
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    try:
        register_ray()
        res = run_sweep(TINY, "0..1", jobs=2, backend="ray")
    finally:
        ray.shutdown()
    ref = run_sweep(TINY, "0..1", backend="sequential")
    assert [r["accuracy"] for r in res["runs"]] == [r["accuracy"] for r in ref["runs"]]
