"""fltheory.sweep: seed parsing, sweeps through joblib (sequential, threads, local processes)
with identical results, files, the command line."""

from __future__ import annotations

import argparse
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("joblib")

from fltheory import cli  # noqa: E402
from fltheory.sweep import (SWEEP_FILE, add_sweep_arguments, parse_seeds, run_sweep,  # noqa: E402
                            sweep_command)

TINY = {"name": "tiny-sweep", "data": {"num_clients": 4},
        "training": {"rounds": 3, "lr": 0.5},
        "byzantine": {"num_byzantine": 1, "attack": "sign_flip", "aggregator": "cwmed"}}


@pytest.mark.parametrize("text, seeds", [("0..3", [0, 1, 2, 3]), ("5", [5]), ("1,4,2", [1, 4, 2]),
                                         ("0..1,7..8", [0, 1, 7, 8]), (3, [3]),
                                         (range(2), [0, 1]), (" 2 .. 3 ", [2, 3])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a..b", "3..1", "1,,2", "-1", "0..2,1", [], [-1], 1.5])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds(text)


def test_backends_give_identical_results(tmp_path):
    ref = run_sweep(TINY, "0..2", backend="sequential")
    thr = run_sweep(TINY, "0..2", jobs=2, backend="threading")
    loky = run_sweep(TINY, [2, 0, 1], jobs=2, backend="loky", out_dir=tmp_path)
    for res in (thr, loky):
        assert [r["seed"] for r in res["runs"]] == [0, 1, 2]
        assert [r["accuracy"] for r in res["runs"]] == [r["accuracy"] for r in ref["runs"]]
    acc = [r["final"]["accuracy"] for r in ref["runs"]]
    assert len(set(acc)) > 1                         # the seeds differ
    s = ref["summary"]["accuracy"]
    assert s["n"] == 3 and s["min"] <= s["mean"] <= s["max"]
    for seed in (0, 1, 2):
        assert (tmp_path / f"seed_{seed}" / "result.json").is_file()
        assert json.loads((tmp_path / f"seed_{seed}" / "result.json").read_text())[
            "config"]["seed"] == seed
    data = json.loads((tmp_path / SWEEP_FILE).read_text())
    assert data["seeds"] == [2, 0, 1] and data["backend"] == "loky"
    assert data["summary"]["accuracy"]["mean"] == pytest.approx(s["mean"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="jobs must be"):
        run_sweep(TINY, "0", jobs=0)
    with pytest.raises(ValueError, match="not registered with joblib"):
        run_sweep(TINY, "0..1", jobs=2, backend="no-such-cluster")


def test_sweep_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--out")
    parser.add_argument("--json", action="store_true")
    add_sweep_arguments(parser)
    path = tmp_path / "tiny.toml"
    from fltheory.config import ExperimentConfig

    path.write_text(ExperimentConfig.from_dict(TINY).to_toml())
    args = parser.parse_args([str(path), "--out", str(tmp_path / "o"), "--seeds", "0..1",
                              "--jobs", "1", "--backend", "sequential"])
    assert sweep_command(args) == 0
    out = capsys.readouterr().out
    assert "tiny-sweep: 2 seeds" in out and "accuracy" in out and "sweep.json" in out
    args = parser.parse_args([str(path), "--out", str(tmp_path / "j"), "--seeds", "3",
                              "--json", "--backend", "sequential"])
    assert sweep_command(args) == 0
    assert json.loads(capsys.readouterr().out)["seeds"] == [3]


def _run_has_seeds() -> bool:
    mods = list(cli._COMMAND_MODULES)
    if "fltheory._cli_run" not in mods:
        return False
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return "run" in sub.choices and "--seeds" in sub.choices["run"].format_help()


@pytest.mark.skipif(not _run_has_seeds(), reason="fltheory run --seeds not wired yet")
def test_fltheory_run_seeds_jobs(tmp_path, capsys):
    from fltheory.config import ExperimentConfig

    path = tmp_path / "tiny.toml"
    path.write_text(ExperimentConfig.from_dict(TINY).to_toml())
    rc = cli.main(["run", str(path), "--seeds", "0..1", "--jobs", "2", "--out",
                   str(tmp_path / "o"), "--json"])
    assert rc == 0
    assert [r["seed"] for r in json.loads(capsys.readouterr().out)["runs"]] == [0, 1]
