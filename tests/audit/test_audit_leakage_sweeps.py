"""Defense sweeps of every leakage attack: each beats its trivial baseline on the undefended run
and falls toward it as DP noise grows; every point carries its seed, DP points their epsilon,
and the epsilon-equivalent is labelled as an empirical equivalence, not a guarantee."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fltheory.audit import sweeps  # noqa: E402
from fltheory import leakage  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trend():
    """Every attack at seed 0: undefended, and DP with z = 64 (epsilon < 1 on every task)."""
    torch.set_num_threads(1)
    return sweeps.defense_sweep(list(sweeps.ATTACKS), {"dp": [0.0, 64.0]}, seed=0)


@pytest.mark.parametrize("attack", list(sweeps.ATTACKS))
def test_attack_beats_baseline_then_falls_with_dp(trend, attack):
    none, dp = [p for p in trend if p["attack"] == attack]
    assert (none["defense"], none["parameter"], none["epsilon"]) == ("dp", 0.0, None)
    base = none["baseline"]
    # undefended: the whole confidence interval above the trivial baseline
    assert none["success_ci"][0] > base, none
    # DP noise (epsilon < 1): at most 3/4 of the undefended advantage is left
    assert dp["epsilon"] is not None and dp["epsilon"] < 1.0
    assert abs(dp["success"] - base) < 0.75 * (none["success"] - base), (none, dp)
    assert 0.0 <= dp["test_accuracy"] <= 1.0 and dp["seed"] == 0


def test_baselines_are_the_trivial_ones(trend):
    by = {p["attack"]: p for p in trend if p["parameter"] == 0.0}
    assert by["source"]["baseline"] == pytest.approx(1 / 10)
    for a in ("passive_mia", "passive_mia_series", "loss_threshold", "lira"):
        assert by[a]["baseline"] == 0.5 and by[a]["metric"] == "auc"
    for a in ("attribute_gradient", "attribute_model", "eavesdropper"):
        assert 0.5 <= by[a]["baseline"] < 1.0 and by[a]["metric"] == "accuracy"


def test_eavesdropper_extras_and_source_protocols(trend):
    none = next(p for p in trend if p["attack"] == "eavesdropper" and p["parameter"] == 0.0)
    ex = none["extras"]
    assert ex["distance"] < ex["baseline_distance"]
    assert ex["reconstruction_accuracy"] > ex["global_model_accuracy"]
    src = next(p for p in trend if p["attack"] == "source" and p["parameter"] == 0.0)
    assert src["extras"]["best_round_accuracy"] >= src["extras"]["last_round_accuracy"] > 0.1


@pytest.fixture(scope="module")
def noise_free():
    grid = {"dp": [0.0, 4.0, 64.0], "magnitude_prune": [0.9], "random_prune": [0.9],
            "qsgd": [1], "topk": [0.1], "randk": [0.1], "mixup": [1.0], "batch": [0.1]}
    return sweeps.defense_sweep("source", grid, seed=0)


def test_every_defense_runs(noise_free):
    assert [p["defense"] for p in noise_free] == [
        "dp", "dp", "dp", "magnitude_prune", "random_prune", "qsgd", "topk", "randk", "mixup",
        "batch"]
    dp = noise_free[:3]
    assert dp[1]["epsilon"] > dp[2]["epsilon"] > 0
    assert all(p["epsilon"] is None for p in noise_free[3:])      # no noise, no guarantee
    assert all(p["seed"] == 0 and 0 <= p["test_accuracy"] <= 1 for p in noise_free)


def test_epsilon_equivalent_is_labelled(noise_free):
    eq = sweeps.epsilon_equivalent(noise_free)
    assert len(eq) == 7 and all(e["attack"] == "source" and e["seed"] == 0 for e in eq)
    lo = min(p["epsilon"] for p in noise_free if p["epsilon"])
    hi = max(p["epsilon"] for p in noise_free if p["epsilon"])
    for e in eq:
        assert e["kind"] == "empirical equivalence, not a DP guarantee"
        if e["epsilon_equivalent"] is not None:
            assert lo <= e["epsilon_equivalent"] <= hi
            assert e["accuracy_gain"] == pytest.approx(
                e["test_accuracy"] - e["dp_accuracy_at_equivalent"])
        else:
            assert e["note"][0] in "<>"


def test_epsilon_equivalent_interpolates_per_attack():
    dp = [{"attack": a, "seed": 0, "defense": "dp", "epsilon": e, "success": s,
           "test_accuracy": 0.5} for a in ("x", "y") for e, s in [(1.0, 0.1), (100.0, 0.5)]]
    eq = sweeps.epsilon_equivalent(dp + [
        {"attack": "x", "seed": 0, "defense": "qsgd", "parameter": 1, "success": 0.3,
         "test_accuracy": 0.6},
        {"attack": "y", "seed": 0, "defense": "qsgd", "parameter": 1, "success": 0.05,
         "test_accuracy": 0.6}])
    assert eq[0]["epsilon_equivalent"] == pytest.approx(10.0)      # log-linear midpoint
    assert eq[0]["accuracy_gain"] == pytest.approx(0.1)
    assert eq[1]["epsilon_equivalent"] is None and eq[1]["note"].startswith("<")


def test_combined_defenses_and_parameters():
    kw = sweeps._defense_kwargs("dp+qsgd", [4.0, 2], 10, 1.0)
    assert kw["noise_multiplier"] == 4.0 and kw["compressor"].s == 2
    kw = sweeps._defense_kwargs("topk", 0.25, 8, 1.0)
    assert kw["compressor"].compressor.k == 2                     # 25 % of 8, error feedback
    assert sweeps._defense_kwargs("random_prune", 0.9, 8, 1.0)["compressor"].keep_prob == \
        pytest.approx(0.1)


@pytest.mark.parametrize("attack, grid, match", [
    ("nope", {"dp": [0.0]}, "attack"),
    ("source", {"gzip": [1]}, "defense"),
    ("source", {"topk": [0.0]}, r"topk parameter must be in \(0, 1\]"),
    ("source", {"random_prune": [1.0]}, r"random_prune parameter must be in \[0, 1\)"),
    ("source", {"dp": [-1.0]}, "noise multiplier"),
    ("source", {"qsgd+topk": [[2, 0.5]]}, "two compressors"),
    ("source", {"dp+qsgd": [4.0]}, "needs 2 parameters"),
    ("source", {"dp+mixup": [[4.0, 1.0]]}, "mixup must be 0"),
])
def test_bad_input_names_the_parameter(attack, grid, match):
    with pytest.raises(ValueError, match=match):
        sweeps.defense_sweep(attack, grid)


def test_run_config_writes_json_with_seeds_and_figures(tmp_path):
    cfg = {"name": "mini", "attacks": ["source", "eavesdropper"], "seeds": [0, 1],
           "defenses": {"dp": [0.0, 64.0], "random_prune": [0.9]},
           "figures": ["privacy_utility", "success_vs_epsilon", "eavesdropper"]}
    from fltheory.plots.leakage import draw_sweep

    res = leakage.run_config(cfg, str(tmp_path), figure=draw_sweep)
    data = json.loads((tmp_path / "mini.json").read_text())
    assert len(data["points"]) == 2 * 2 * 3
    assert {(p["attack"], p["seed"]) for p in data["points"]} == {
        (a, s) for a in ("source", "eavesdropper") for s in (0, 1)}
    assert all("seed" in e for e in data["epsilon_equivalent"])
    assert "not a differential-privacy guarantee" in data["note"]
    for fig in cfg["figures"]:
        assert (tmp_path / f"mini_{fig}.png").stat().st_size > 5000
        assert (tmp_path / f"mini_{fig}.pdf").exists()
    assert math.isfinite(res["points"][1]["epsilon"])


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        leakage.run_config({"attack": "source", "defences": {}})
    with pytest.raises(ValueError, match="seeds"):
        leakage.run_config({"attack": "source", "seeds": []})
    with pytest.raises(ValueError, match="figures"):
        leakage.run_config({"attack": "source", "figures": ["pie"], "defenses": {"dp": [0.0]}})
    with pytest.raises(ValueError, match="not found"):
        leakage.run_config(str(tmp_path / "missing.toml"))
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.toml: no sweep"):
        leakage.run_config(str(empty))


def test_cli_one_command_one_config(tmp_path, capsys):
    from fltheory.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "c"\nattacks = ["source"]\nseeds = [3]\n[defenses]\n'
                   'dp = [0.0, 16.0]\nqsgd = [1]\n')
    assert main(["leakage", str(cfg), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "seed=3 source" in out and "empirical, not a guarantee" in out
    data = json.loads((tmp_path / "o" / "c.json").read_text())
    assert [p["seed"] for p in data["points"]] == [3, 3, 3]
    bad = tmp_path / "bad.toml"
    bad.write_text('attacks = ["source"]\n[defenses]\ntopk = [2]\n')
    assert main(["leakage", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "topk parameter must be in (0, 1]" in err[0]


@pytest.mark.parametrize("name", ["privacy_utility.toml", "success_vs_epsilon.toml",
                                  "eavesdropper.toml"])
def test_experiment_configs_are_valid(name):
    import tomllib

    cfg = tomllib.loads((ROOT / "experiments" / "leakage" / name).read_text())
    assert cfg["defenses"]["dp"][0] == 0.0                     # the undefended run first
    for d, values in cfg["defenses"].items():
        for v in values:
            sweeps._defense_kwargs(d, v, 10, 1.0)
    for a in cfg["attacks"]:
        assert a in sweeps.ATTACKS


def test_eavesdropper_experiment_runs(tmp_path):
    """Experiment 7c in full (a few seconds)."""
    from fltheory.plots.leakage import draw_sweep

    res = leakage.run_config(str(ROOT / "experiments/leakage/eavesdropper.toml"), str(tmp_path),
                             figure=draw_sweep)
    pts = res["points"]
    none = [p for p in pts if p["defense"] == "dp" and p["parameter"] == 0.0]
    noisy = [p for p in pts if p["defense"] == "dp" and p["parameter"] == 32.0]
    assert len(none) == len(noisy) == 5
    mean = lambda ps, k: sum(p[k] for p in ps) / len(ps)  # noqa: E731
    assert mean(none, "success") > mean(noisy, "success") + 0.15
    assert (tmp_path / "eavesdropper.png").exists()      # one name, not eavesdropper_eavesdropper


@pytest.mark.slow
@pytest.mark.parametrize("name", ["privacy_utility.toml", "success_vs_epsilon.toml"])
def test_full_experiment(tmp_path, name):
    res = leakage.run_config(str(ROOT / "experiments" / "leakage" / name), str(tmp_path))
    assert res["points"] and all("seed" in p for p in res["points"])


def test_epsilon_equivalent_is_monotone_in_attack_success():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6),
           st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6))
    def check(dp_success, probes):
        eps = [0.5 * 2.0 ** i for i in range(len(dp_success))]
        dp = [{"attack": "a", "seed": 0, "defense": "dp", "epsilon": e, "success": s,
               "test_accuracy": 0.5} for e, s in zip(eps, dp_success)]
        probes = sorted(probes)
        pts = [{"attack": "a", "seed": 0, "defense": "qsgd", "parameter": i, "success": s,
                "test_accuracy": 0.5} for i, s in enumerate(probes)]
        eq = sweeps.epsilon_equivalent(dp + pts)
        vals = [e["epsilon_equivalent"] for e in eq]
        finite = [v for v in vals if v is not None]
        assert all(eps[0] <= v <= eps[-1] for v in finite)
        assert finite == sorted(finite)              # more success -> larger equivalent ε
        for e, v in zip(eq, vals):                   # outside the curve: said, not guessed
            assert (v is None) == bool(e["note"])

    check()
