"""``fltheory run CONFIG --out DIR``: tables, JSON, resume, errors, the example configurations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fltheory import cli
from fltheory.config import ExperimentConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "experiments" / "configs").glob("*.toml"))


@pytest.fixture(autouse=True)
def _with_run_command(monkeypatch):
    # until the lead wires "fltheory._cli_run" into fltheory.cli._COMMAND_MODULES
    mods = list(cli._COMMAND_MODULES)
    if "fltheory._cli_run" not in mods:
        mods.append("fltheory._cli_run")
    monkeypatch.setattr(cli, "_COMMAND_MODULES", mods)


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def small_config(tmp_path: Path, **changes) -> Path:
    cfg = ExperimentConfig.from_dict({
        "name": "cli-small", "data": {"num_clients": 6}, "training": {"rounds": 4, "lr": 0.5},
        "byzantine": {"num_byzantine": 1, "attack": "sign_flip", "aggregator": "cwmed"},
        "run": {"checkpoint_every": 2}})
    if changes:
        cfg = cfg.replace(**changes)
    path = tmp_path / "small.toml"
    path.write_text(cfg.to_toml())
    return path


def test_run_writes_results_and_prints_a_table(tmp_path, capsys):
    out_dir = tmp_path / "out"
    rc, out, err = run(capsys, "run", small_config(tmp_path), "--out", out_dir, "--quiet")
    assert rc == 0 and err == ""
    assert "round" in out and "accuracy" in out and "result.json" in out
    res = json.loads((out_dir / "result.json").read_text())
    assert res["name"] == "cli-small" and res["rounds"] == 4
    assert (out_dir / "params.pt").is_file() and (out_dir / "checkpoint.pt").is_file()


def test_run_json_and_resume(tmp_path, capsys):
    path = small_config(tmp_path)
    rc, out, _ = run(capsys, "run", path, "--out", tmp_path / "a", "--json", "--quiet")
    first = json.loads(out)
    assert rc == 0 and len(first["metrics"]) == 4
    # a resumed run (from the round-2 checkpoint) gives the same metrics
    rc, out, _ = run(capsys, "run", path, "--out", tmp_path / "a", "--json", "--quiet",
                     "--resume")
    again = json.loads(out)
    assert rc == 0 and again["info"]["resumed_from"] == 2
    strip = [{k: v for k, v in m.items() if k != "wall_time"} for m in again["metrics"]]
    assert strip == [{k: v for k, v in m.items() if k != "wall_time"} for m in first["metrics"]]


@pytest.mark.parametrize("content,needle", [
    ("[training]\nrouns = 3\n", "unknown key 'training.rouns'"),
    ("[privacy]\nlevel = \"client\"\n[byzantine]\naggregator = \"cwtm\"\n",
     "aggregator must be 'mean'"),
    ("[data\n", "invalid TOML"),
])
def test_bad_configs_are_one_line_errors(tmp_path, capsys, content, needle):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    rc, out, err = run(capsys, "run", path, "--out", tmp_path / "o")
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_missing_config_and_missing_out(tmp_path, capsys):
    rc, _, err = run(capsys, "run", tmp_path / "nope.toml", "--out", tmp_path)
    assert rc == 2 and "config file not found" in err
    rc, _, err = run(capsys, "run", tmp_path / "nope.toml")
    assert rc == 2 and "--out" in err


def test_help_shows_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert "fltheory run experiments/configs/" in out and "--resume" in out


def test_example_configs_exist_and_build_their_events():
    names = {p.name for p in CONFIGS}
    assert {"digits_labelflip.toml", "synthetic_dp_record.toml",
            "digits_dp_client.toml"} <= names
    for p in CONFIGS:
        cfg = ExperimentConfig.from_toml(p)
        cfg.accounting_event()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_configs_run(path, tmp_path, capsys):
    rc, out, err = run(capsys, "run", path, "--out", tmp_path, "--quiet", "--json")
    assert rc == 0, err
    res = json.loads(out)
    cfg = ExperimentConfig.from_toml(path)
    assert res["rounds"] == cfg.training.rounds
    assert res["summary"]["accuracy"] > 0.7
    if cfg.privacy.level != "none":
        assert 0 < res["accounting"]["epsilon"] < 10


def test_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import fltheory.fl as fl

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fl, "simulate", interrupted)
    rc, _, err = run(capsys, "run", small_config(tmp_path), "--out", tmp_path / "o")
    assert rc == 130 and "--resume" in err


def test_resume_without_checkpoint_starts_over_and_says_so(tmp_path, capsys):
    rc, _, err = run(capsys, "run", small_config(tmp_path, run__checkpoint_every=0), "--out",
                     tmp_path / "fresh", "--resume", "--quiet")
    assert rc == 0 and "no checkpoint" in err
