"""``fltheory report CONFIG``, ``fltheory report --validate`` and ``fltheory validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fltheory import cli
from fltheory.config import ExperimentConfig
from fltheory.report import (CONFIG_SECTIONS, VALIDATION_CONFIG, build_report,
                             config_compression_section, config_privacy_section,
                             config_robustness_section)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "experiments" / "configs"

RECORD = {"name": "rec", "data": {"name": "synthetic_logistic", "num_clients": 20,
                                  "samples_per_client": 50, "dim": 9},
          "training": {"rounds": 10, "local_steps": 2, "client_sampling": "poisson",
                       "client_rate": 0.5, "batch_sampling": "poisson"},
          "privacy": {"level": "record", "noise_multiplier": 1.0, "batch_rate": 0.1},
          "compression": {"name": "randk", "k": 2, "mask": "shared"},
          "byzantine": {"num_byzantine": 2, "attack": "alie", "aggregator": "nnm+cwtm"}}


def run(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_privacy_section_is_the_configs_accounting(tmp_path):
    cfg = ExperimentConfig.from_dict(RECORD)
    sec = config_privacy_section(tmp_path, cfg)
    g = cfg.epsilon()
    assert sec["data"]["guarantee"]["epsilon"] == pytest.approx(g.epsilon)
    assert sec["data"]["guarantee"]["epsilon_lower"] == pytest.approx(g.epsilon_lower)
    assert sec["data"]["epsilon_rdp"] >= g.epsilon
    used = {r["source"].split(" (")[0]: r["used"] for r in sec["data"]["amplification"]}
    assert used == {"client sampling": True, "Poisson batches": True,
                    "randk compression of the update": False}
    curve = sec["data"]["curve"]
    assert list(curve["epsilon"]) == sorted(curve["epsilon"])
    assert curve["epsilon"][-1] == pytest.approx(g.epsilon, rel=0.01)
    assert {Path(f).suffix for f in sec["figures"]} == {".pdf", ".png"}
    visible = config_privacy_section(tmp_path, cfg.replace(privacy__cohort_visible=True))
    assert visible["data"]["guarantee"]["epsilon"] > g.epsilon
    assert not visible["data"]["amplification"][0]["used"]
    none = config_privacy_section(tmp_path, {"privacy": {"level": "none"}})
    assert none["data"]["epsilon"] == float("inf") and not none["figures"]


def test_robustness_section_uses_the_configs_rule(tmp_path):
    from fltheory.bounds import kappa, kappa_lower_bound

    sec = config_robustness_section(tmp_path, RECORD)["data"]
    assert sec["kappa_name"] == "cwtm" and sec["nnm"] is True
    assert sec["kappa"] == pytest.approx(kappa("cwtm", n=20, f=2, nnm=True))
    assert sec["kappa_lower_bound"] == pytest.approx(kappa_lower_bound(n=20, f=2))
    mb = sec["min_batch_size"]
    assert mb["b"] > 0 and mb["steps"] == 20
    mean = config_robustness_section(tmp_path, {**RECORD, "byzantine": {
        "num_byzantine": 2, "attack": "alie", "aggregator": "mean"}})
    assert "kappa" not in mean["data"] and any("not robust" in x for x in mean["lines"])
    # issue 12: f >= n/2 is refused by the configuration itself (never capped)
    with pytest.raises(ValueError, match="no robust aggregation tolerates f >= n/2"):
        config_robustness_section(tmp_path, {"data": {"num_clients": 4}, "byzantine": {
            "num_byzantine": 2, "attack": "alie", "aggregator": "cwtm"}})


def test_compression_section(tmp_path):
    sec = config_compression_section(tmp_path, RECORD)["data"]
    assert sec["d"] == 10 and sec["k"] == 2
    assert sec["omega"] == pytest.approx(10 / 2 - 1)
    assert sec["bits"] < sec["bits_dense"] and sec["noise_energy_ratio"] == pytest.approx(0.2)
    assert config_compression_section(tmp_path, {})["data"]["name"] == "none"


def test_compression_section_sign_names(tmp_path):
    pytest.importorskip("torch")            # the model dimension comes from the engine
    # "scaled_sign" is (||x||_1/d) sign(x): contraction 1 - 1/d (d = 10), d + 32 bits
    scaled = config_compression_section(
        tmp_path, {**RECORD, "compression": {"name": "scaled_sign"}})["data"]
    assert scaled["omega"] == pytest.approx(1 - 1 / 10) and scaled["bits"] == 10 + 32
    assert scaled["unbiased"] is False
    # "sign" is the plain sign: no bound, and the section says which compressor has one
    plain = config_compression_section(tmp_path, {**RECORD, "compression": {"name": "sign"}})
    assert "omega" not in plain["data"]
    assert any("plain sign" in line and "scaled_sign" in line for line in plain["lines"])


EXAMPLES = [CONFIGS / f"{name}.toml" for name in (
    "digits_labelflip", "synthetic_dp_record", "digits_dp_client", "fig4_byzantine", "fig5_audit",
    "fig6_inversion")]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_config_reports(path, tmp_path):
    res = build_report(tmp_path, config=path)
    assert list(res["sections"]) == [k for k, _ in CONFIG_SECTIONS]
    data = json.loads((tmp_path / "report.json").read_text())
    assert set(data) == {k for k, _ in CONFIG_SECTIONS}


def test_report_config_command(tmp_path, capsys):
    rc, out, err = run(capsys, "report", CONFIGS / "synthetic_dp_record.toml", "--out", tmp_path)
    assert rc == 0, err
    for needle in ("Privacy of 'synthetic-dp-record'", "lower bound", "amplification",
                   "Robustness of", "Compression of", "omega"):
        assert needle in out
    rc, _, err = run(capsys, "report", CONFIGS / "synthetic_dp_record.toml", "--section",
                     "fl_privacy")
    assert rc == 2 and "section must be one of privacy, robustness, compression" in err
    rc, _, err = run(capsys, "report", "--full")
    assert rc == 2 and "--full applies to --validate" in err
    rc, _, err = run(capsys, "report", tmp_path / "missing.toml")
    assert rc == 2 and "config file not found" in err


def test_report_validate_runs_the_small_validation(tmp_path, capsys):
    pytest.importorskip("torch")
    rc, out, err = run(capsys, "report", "--section", "fl_privacy", "--validate", "--out",
                       tmp_path)
    assert rc == 0, out + err
    assert "Validation: theory vs run" in out and VALIDATION_CONFIG["name"] in out
    for key in "abcde":
        assert f"({key}) " in out
    assert "PASSED" in out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["validation"]["data"]["passed"] is True
    assert (tmp_path / "validation.json").is_file() and (tmp_path / "validation.png").is_file()


def test_validate_command(tmp_path, capsys):
    pytest.importorskip("torch")
    cfg = ExperimentConfig.from_dict({
        "name": "tiny-client", "data": {"name": "synthetic_logistic", "num_clients": 6,
                                        "samples_per_client": 30, "dim": 30},
        "training": {"rounds": 4, "lr": 0.5},
        "privacy": {"level": "client", "noise_multiplier": 2.0, "clip": 0.5}})
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    rc, out, err = run(capsys, "validate", path, "--quick", "--out", tmp_path / "v")
    assert rc == 0, out + err
    assert "PASSED" in out and (tmp_path / "v" / "validation.pdf").is_file()
    rc, out, _ = run(capsys, "validate", path, "--quick", "--noise-scale", "0.5", "--json")
    assert rc == 1
    data = json.loads(out)
    assert data["passed"] is False and {"a", "b"} <= set(data["failed"])
    rc, _, err = run(capsys, "validate", path, "--noise-scale", "-1")
    assert rc == 2 and "noise_scale must be > 0" in err
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    assert "--noise-scale 0.5" in capsys.readouterr().out
