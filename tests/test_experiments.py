"""Experiment figures 4-6: configs in sync, reduced versions run and draw, redraw from JSON, the
``fltheory plot`` command; the full versions (the committed figures' numbers) are marked slow."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fltheory import cli  # noqa: E402
from fltheory.config import ExperimentConfig  # noqa: E402
from fltheory import experiments as ex  # noqa: E402
from fltheory.figures import experiment_figure  # noqa: E402
from fltheory.plots import experiments as plots_ex  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "experiments" / "configs"


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("name", sorted(ex.EXPERIMENTS))
def test_toml_configs_are_the_figures_base_recipes(name):
    exp = ex.EXPERIMENTS[name]
    path = CONFIGS / exp.config_file
    assert path.is_file()
    assert ExperimentConfig.from_toml(path).to_dict() == ex.default_config(name).to_dict()
    assert f"fltheory plot {name}" in path.read_text()
    assert f"fltheory run experiments/configs/{exp.config_file}" in path.read_text()


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    return out, {name: experiment_figure(name, out, quick=True) for name in ex.EXPERIMENTS}


def test_quick_versions_write_pdf_png_and_json(quick_results):
    out, res = quick_results
    for name, r in res.items():
        stem = ex.EXPERIMENTS[name].stem
        for suffix in (".pdf", ".png", ".json"):
            assert (out / f"{stem}{suffix}").is_file(), (name, suffix)
        data = json.loads((out / f"{stem}.json").read_text())
        assert data["experiment"] == name


def test_quick_byzantine_attacks(quick_results):
    r = quick_results[1]["byzantine-attacks"]["results"]
    assert r["aggregators"] == ["mean", "cwtm"]
    bd = r["runs"]["backdoor"]
    # model replacement wins against the mean, not against the trimmed mean
    assert bd["mean"]["backdoor_success"][0] > 0.9 > bd["cwtm"]["backdoor_success"][0]
    assert bd["cwtm"]["final"][0] > bd["mean"]["final"][0]
    for attack in r["runs"].values():
        cw = attack["cwtm"]
        assert cw["max_kappa_empirical"] <= cw["kappa"]
        assert attack["mean"]["kappa"] is None


def test_quick_audit_vs_theory(quick_results):
    r = quick_results[1]["audit-vs-theory"]["results"]
    assert r["method"] == "gdp" and r["full_batch"]
    for good, bad, one in zip(r["audit"], r["half_noise"], r["one_run"]):
        assert good["consistent"] and one["consistent"]
        assert good["epsilon_lower"] <= good["epsilon_theory"]
        assert abs(good["mu_hat"] - good["mu_theory"]) <= good["mu_tolerance"]
        assert 1.5 < bad["mu_hat"] / bad["mu_theory"] < 2.5
    assert r["half_noise"][0]["consistent"] is False      # z = 1: the bug is refuted


def test_quick_gradient_inversion(quick_results):
    r = quick_results[1]["gradient-inversion"]["results"]
    psnr = {x["defence"]: x["psnr"] for x in r["results"]}
    assert psnr["none"] == "inf"                           # analytic: exact
    noisy = [v for k, v in psnr.items() if k.startswith("dp(")]
    assert noisy and all(10 < v < 40 for v in noisy)


def test_redraw_from_json_gives_the_same_files(quick_results, tmp_path):
    out, _ = quick_results
    for name, exp in ex.EXPERIMENTS.items():
        files = experiment_figure(name, tmp_path, from_json=out / f"{exp.stem}.json")["files"]
        assert sorted(Path(f).suffix for f in files if Path(f).stem == exp.stem) == \
            [".pdf", ".png"]


def test_plot_command_experiments_and_errors(tmp_path, capsys):
    rc, out, _ = run(capsys, "plot", "--list")
    assert rc == 0
    for name in (*ex.EXPERIMENTS, "runs", "validation", "min-batch-size"):
        assert name in out.split()
    rc, out, err = run(capsys, "plot", "audit-vs-theory", "--quick", "--out", tmp_path,
                       "--json", "--config", CONFIGS / "fig5_audit.toml")
    assert rc == 0, err
    files = json.loads(out)["files"]
    assert any(f.endswith("audit_vs_theory.png") for f in files)
    rc, out, err = run(capsys, "plot", "audit-vs-theory", "--from",
                       tmp_path / "audit_vs_theory.json", "--out", tmp_path / "again")
    assert rc == 0 and (tmp_path / "again" / "audit_vs_theory.pdf").is_file()
    for argv, needle in [(("plot", "min-batch-size", "--quick"), "--quick applies"),
                         (("plot", "runs"), "needs --from"),
                         (("plot", "validation", "--from", tmp_path / "nope.json"), "not found"),
                         (("plot", "audit-vs-theory", "--from", tmp_path / "audit_vs_theory.json",
                           "--quick"), "cannot be combined"),
                         (("plot", "byzantine-attacks", "--seeds", "3..1"), "seeds must be")]:
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and needle in err, (argv, err)


def test_draw_runs_of_a_sweep(tmp_path):
    from fltheory.sweep import run_sweep

    cfg = {"name": "tiny", "data": {"num_clients": 4}, "training": {"rounds": 3}}
    run_sweep(cfg, "0..1", out_dir=tmp_path / "sweep", backend="sequential")
    files = plots_ex.draw_runs(tmp_path / "sweep", tmp_path / "runs")
    assert sorted(Path(f).suffix for f in files) == [".pdf", ".png"]


# --------------------------------------------------------------------------------------------------
# Full versions: the numbers of experiments/README.md
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_full_byzantine_attacks(tmp_path):
    r = ex.run_experiment("byzantine-attacks")
    lf = r["runs"]["label_flip"]
    mean = sum(lf["mean"]["final"]) / len(lf["mean"]["final"])
    robust = sum(lf["cwtm"]["final"]) / len(lf["cwtm"]["final"])
    assert robust > mean + 0.01                            # robust rule holds accuracy
    assert min(r["runs"]["ipm"]["mean"]["final"]) < 0.5 < min(r["runs"]["ipm"]["cwtm"]["final"])
    for attack in r["runs"].values():
        for rule in attack.values():
            if rule["kappa"] is not None:
                assert rule["max_kappa_empirical"] <= rule["kappa"]


@pytest.mark.slow
def test_full_audit_vs_theory():
    r = ex.run_experiment("audit-vs-theory")
    assert all(a["consistent"] for a in r["audit"] + r["one_run"])
    assert not any(b["consistent"] for b in r["half_noise"])


@pytest.mark.slow
def test_full_gradient_inversion():
    r = ex.run_experiment("gradient-inversion")
    med = {m: [sorted(v for v in row)[len(row) // 2] for row in rows]
           for m, rows in r["curve"]["psnr"].items()}
    for m, vals in med.items():
        finite = [v if isinstance(v, float) and math.isfinite(v) else 200.0 for v in vals]
        assert finite[0] > 40 > 10 > finite[-1], (m, finite)
