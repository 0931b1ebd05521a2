"""fltheory.validation: every check passes on correct runs, the planted half-noise bug is flagged,
each check can fail, and the report is written (JSON + figure)."""

from __future__ import annotations

import inspect
import json

import pytest

torch = pytest.importorskip("torch")

from fltheory import validation  # noqa: E402
from fltheory.validation import ValidationReport, validate  # noqa: E402

from _recipes import FULL_BATCH_RECORD, FULL_CLIENT  # noqa: E402  (tests/ is on sys.path)

# subsampled, client sampling, rand-k updates, Byzantine clients: every check has something to do
RECIPE = {
    "name": "recipe", "data": {"name": "synthetic_logistic", "num_clients": 10,
                               "samples_per_client": 60, "dim": 8},
    "training": {"rounds": 6, "local_steps": 2, "lr": 0.5, "client_sampling": "poisson",
                 "client_rate": 0.8, "batch_sampling": "poisson"},
    "privacy": {"level": "record", "noise_multiplier": 1.0, "batch_rate": 0.2},
    "compression": {"name": "randk", "ratio": 0.5, "mask": "secret"},
    "byzantine": {"num_byzantine": 1, "attack": "sign_flip", "aggregator": "cwtm"}}
# robust D-GD: FedSGD, full batches, no DP -- the error floor applies
DGD = {
    "name": "dgd", "data": {"name": "synthetic_logistic", "num_clients": 8,
                            "samples_per_client": 40, "dim": 6, "heterogeneity": 1.0},
    "training": {"algorithm": "fedsgd", "rounds": 8, "lr": 0.5},
    "byzantine": {"num_byzantine": 1, "attack": "alie", "aggregator": "cwmed"}}

ENGINE_HAS_NOISE_SCALE = "noise_scale" in inspect.signature(
    __import__("fltheory.fl", fromlist=["simulate"]).simulate).parameters


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("config", [FULL_BATCH_RECORD, FULL_CLIENT], ids=["record", "client"])
def test_correct_run_passes_and_half_noise_is_flagged(config, seed):
    good = validate(config, seed=seed, quick=True)
    assert good.passed, str(good)
    assert good.status("a") == "PASS" and good.status("b") == "PASS"
    a = good.check("a").data
    assert a["method"] == "gdp" and a["epsilon_lower"] <= a["epsilon_theory"]
    assert abs(good.check("b").data["mu_hat"] - good.check("b").data["mu_theory"]) <= \
        good.check("b").data["mu_tolerance"]

    bad = validate(config, seed=seed, quick=True, noise_scale=0.5)
    assert not bad.passed
    # the GDP audit refutes the claimed epsilon and mu_hat is about twice sqrt(T)/z
    assert {"a", "b"} <= set(bad.failed), str(bad)
    b = bad.check("b").data
    assert 1.6 < b["mu_hat"] / b["mu_theory"] < 2.4
    if ENGINE_HAS_NOISE_SCALE and config is FULL_CLIENT:
        # the server's noise dominates the aggregation error: the engine check sees 1/4
        assert b["engine"]["ratio"] < 0.5 and not b["engine"]["ok"]


def test_subsampled_recipe_every_check_runs_and_half_noise_is_flagged_by_b():
    good = validate(RECIPE, quick=True)
    assert good.passed, str(good)
    assert [good.status(k) for k in "abcd"] == ["PASS"] * 4
    assert good.check("a").data["method"] == "hypothesis_test"
    assert good.check("b").data["probe_steps"] == 1          # z = 1: T' = ceil(z^2)
    eng = good.check("b").data["engine"]
    assert eng["ok"] and eng["ratio"] >= 0.9
    d = good.check("d").data
    k = round(0.5 * d["d"])
    assert d["bound"] == pytest.approx(d["d"] / k - 1)        # rand-k: omega = d/k - 1
    assert all(v["ok"] for v in d["vectors"].values())
    c = good.check("c").data
    assert c["judged_rounds"] > 0 and not c["violations"]
    bad = validate(RECIPE, quick=True, noise_scale=0.5)
    assert bad.status("b") == "FAIL"
    assert bad.check("b").data["mu_consistent"] is False


@pytest.mark.skipif(not ENGINE_HAS_NOISE_SCALE, reason="simulate has no noise_scale")
def test_engine_noise_check_measures_the_engine(monkeypatch):
    # the audits see the correct noise, only the engine adds half: (b) still fails
    from fltheory.fl import simulate as real

    def half(cfg, **kw):
        kw["noise_scale"] = 0.5
        return real(cfg, **kw)

    import fltheory.fl as fl

    monkeypatch.setattr(fl, "simulate", half)
    rep = validate(FULL_CLIENT, quick=True)
    assert rep.status("a") == "PASS"
    eng = rep.check("b").data["engine"]
    assert rep.status("b") == "FAIL" and eng["ratio"] < 0.5


def test_kappa_check_fails_when_the_bound_is_violated(monkeypatch):
    import fltheory.bounds as bounds

    monkeypatch.setattr(bounds, "kappa", lambda *a, **k: 1e-9)
    rep = validate(RECIPE, quick=True)
    assert rep.status("c") == "FAIL" and "exceed kappa" in rep.check("c").summary


def test_compressor_check_fails_when_the_bound_is_violated(monkeypatch):
    monkeypatch.setattr(validation, "_theory_variance", lambda comp, d: (0.5, "omega = 0.5"))
    rep = validate(RECIPE, quick=True)
    assert rep.status("d") == "FAIL"


def test_error_floor_where_the_theorem_applies():
    rep = validate(DGD, quick=True)
    e = rep.check("e")
    assert e.status == "PASS", e.summary
    fl = e.data["floor"]
    assert fl["gamma"] <= 1 / fl["L"]
    assert len(fl["grad_norm2"]) == DGD["training"]["rounds"]
    assert fl["avg_grad_norm2"] <= fl["bound"]
    assert fl["bound"] == pytest.approx(2 * fl["delta0"] / (fl["gamma"] * 8)
                                        + fl["kappa"] * fl["G2"])
    assert rep.status("c") == "PASS"
    # too large a step: the descent lemma does not hold, the floor says so
    big = validate({**DGD, "training": {**DGD["training"], "lr": 50.0}}, quick=True)
    assert big.status("e") == "N/A" and "1/L" in big.check("e").summary


def test_not_applicable_checks_say_why():
    rep = validate({"data": {"num_clients": 4}, "training": {"rounds": 2}}, quick=True)
    assert [rep.status(k) for k in "abcde"] == ["N/A"] * 5
    assert "privacy.level = 'none'" in rep.check("a").summary
    assert "num_byzantine = 0" in rep.check("c").summary
    assert "no compression" in rep.check("d").summary
    assert rep.passed


def test_report_files_json_round_trip_and_determinism(tmp_path):
    from fltheory.plots.validation import plot_validation

    rep = validate(RECIPE, quick=True, seed=3, out_dir=tmp_path, figure=plot_validation)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["validation.json", "validation.pdf", "validation.png"]
    data = json.loads((tmp_path / "validation.json").read_text())
    assert data["passed"] is True and [c["key"] for c in data["checks"]] == list("abcde")
    back = ValidationReport.from_dict(data)
    assert back.verdicts() == rep.verdicts()
    assert all(line.startswith(f"({k}) ") for line, k in zip(rep.verdicts(), "abcde"))
    again = validate(RECIPE, quick=True, seed=3)
    assert again.verdicts() == rep.verdicts()
    assert "PASSED" in str(rep)


@pytest.mark.parametrize("kw, needle", [({"seed": -1}, "seed must be >= 0"),
                                        ({"noise_scale": 0.0}, "noise_scale must be > 0"),
                                        ({"canaries": 5}, "canaries must be >= 20"),
                                        ({"confidence": 1.5}, "confidence must be in (0, 1)")])
def test_bad_arguments_name_the_parameter(kw, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        validate(FULL_BATCH_RECORD, **kw)


@pytest.mark.slow
def test_full_validation_of_the_default_recipe_is_under_two_minutes():
    import time

    from fltheory.report import VALIDATION_CONFIG

    t0 = time.perf_counter()
    rep = validate(VALIDATION_CONFIG)
    assert rep.passed, str(rep)
    assert time.perf_counter() - t0 < 120
    bad = validate(VALIDATION_CONFIG, noise_scale=0.5)
    assert "b" in bad.failed
