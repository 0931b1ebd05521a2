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


def _sweep(attacks, seeds, defenses, **grid):
    """A leakage table in the file's schema: the built-in recipe of each attack plus a grid."""
    return {"name": grid.pop("name", "mini"),
            "recipes": {a: sweeps.default_recipe(a).name.replace("-", "_") for a in attacks},
            "grid": {"attacks": list(attacks), "seeds": list(seeds), "defenses": defenses,
                     **grid}}


def test_run_config_writes_json_with_seeds_and_figures(tmp_path):
    cfg = _sweep(["source", "eavesdropper"], [0, 1],
                 {"dp": [0.0, 64.0], "random_prune": [0.9]},
                 figures=["privacy_utility", "success_vs_epsilon", "eavesdropper"])
    from fltheory.plots.leakage import draw_sweep

    res = leakage.run_config(cfg, str(tmp_path), figure=draw_sweep)
    data = json.loads((tmp_path / "mini.json").read_text())
    assert len(data["points"]) == 2 * 2 * 3
    assert {(p["attack"], p["seed"]) for p in data["points"]} == {
        (a, s) for a in ("source", "eavesdropper") for s in (0, 1)}
    assert all("seed" in e for e in data["epsilon_equivalent"])
    assert "not a differential-privacy guarantee" in data["note"]
    # the JSON states each attack's recipe in full and the grid
    assert data["config"]["recipes"]["source"]["data"]["num_clients"] == 10
    assert data["config"]["recipes"]["eavesdropper"]["training"]["rounds"] == 40
    assert data["config"]["grid"]["seeds"] == [0, 1]
    for fig in cfg["grid"]["figures"]:
        assert (tmp_path / f"mini_{fig}.png").stat().st_size > 5000
        assert (tmp_path / f"mini_{fig}.pdf").exists()
    assert math.isfinite(res["points"][1]["epsilon"])


def test_jobs_do_not_change_the_results(tmp_path):
    """One worker or two: the same JSON, apart from the timings."""
    cfg = _sweep(["source", "loss_threshold", "eavesdropper"], [0, 1],
                 {"dp": [0.0, 16.0], "random_prune": [0.5], "dp+topk": [[8.0, 0.3]]})

    def strip(d):
        d.pop("seconds", None)
        d.pop("jobs", None)
        d.pop("files", None)
        for p in d["points"]:
            p.pop("seconds")
        return json.dumps(d, sort_keys=True)

    one = leakage.run_config(cfg, str(tmp_path / "j1"), jobs=1)
    two = leakage.run_config(cfg, str(tmp_path / "j2"), jobs=2)
    assert one["jobs"] == 1 and two["jobs"] == 2
    assert len(one["points"]) == 3 * 2 * 4
    assert strip(one) == strip(two)
    f1, f2 = (json.loads((tmp_path / j / "mini.json").read_text()) for j in ("j1", "j2"))
    assert strip(f1) == strip(f2)


def test_recipe_sets_the_fl_setting():
    """The run follows the recipe: fewer clients in the recipe, fewer source classes."""
    small = sweeps.default_recipe("source").replace(data__num_clients=4)
    pts = sweeps.defense_sweep("source", {"dp": [0.0]}, recipes={"source": small})
    assert pts[0]["baseline"] == pytest.approx(1 / 4)                 # 1/n with n = 4
    clip = sweeps.default_recipe("source").replace(privacy__clip=0.01)
    assert sweeps.recipe_setting(clip, "source")["clip"] == 0.01
    with pytest.raises(ValueError, match="recipes key"):
        sweeps.defense_sweep("source", {"dp": [0.0]}, recipes={"nope": small})
    with pytest.raises(ValueError, match="jobs must be >= 1 or -1"):
        leakage.run_config(_sweep(["source"], [0], {"dp": [0.0]}), jobs=0)


@pytest.mark.parametrize("change, match", [
    ({"data": {"name": "digits"}}, "data.name must be 'synthetic_logistic'"),
    ({"model": {"name": "mlp"}}, "model.name must be 'logreg'"),
    ({"privacy": {"level": "record", "batch_rate": 0.5},
      "training": {"batch_sampling": "poisson"}}, "privacy.level must be 'none'"),
    ({"training": {"momentum": 0.9}}, "training.momentum = 0.9 is not supported"),
    ({"training": {"client_sampling": "poisson", "client_rate": 0.5}},
     "training.client_sampling = 'poisson'"),
    ({"compression": {"name": "topk", "ratio": 0.1}}, "compression.name = 'topk'"),
    ({"mixup": {"enabled": True}}, "mixup.enabled = True"),
    ({"training": {"batch_sampling": "poisson"}}, "training.batch_sampling"),
])
def test_recipe_the_runs_cannot_honour_is_refused(change, match):
    from fltheory.errors import ConfigError

    recipe = {"data": {"name": "synthetic_logistic"}}
    for sec, kv in change.items():
        recipe[sec] = {**recipe.get(sec, {}), **kv}
    with pytest.raises(ConfigError, match=match):
        sweeps.recipe_setting(recipe, "source")


def test_eavesdropper_recipe_needs_a_ridge():
    from fltheory.errors import ConfigError

    with pytest.raises(ConfigError, match="weight_decay must be > 0 for the eavesdropper"):
        sweeps.recipe_setting({"data": {"name": "synthetic_logistic"},
                               "training": {"weight_decay": 0.0}}, "eavesdropper")


def _write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


VALID = """name = "c"
[recipes]
source = "leakage_source"
eavesdropper = "my_recipe.toml"
[grid]
attacks = ["source", "eavesdropper"]
seeds = [3, 1]
figures = ["eavesdropper"]
[grid.defenses]
dp = [0.0, 16.0]
"dp+qsgd" = [[4.0, 2]]
"""

MY_RECIPE = """[data]
name = "synthetic_logistic"
num_clients = 6
samples_per_client = 12
dim = 3
[training]
rounds = 7
weight_decay = 0.2
[privacy]
clip = 0.5
"""


def test_schema_valid_file(tmp_path):
    (tmp_path / "my_recipe.toml").write_text(MY_RECIPE)        # path relative to the file
    sw = leakage.load_sweep(_write(tmp_path, VALID))
    assert sw["name"] == "c" and sw["seeds"] == [3, 1] and sw["figures"] == ["eavesdropper"]
    assert sw["attacks"] == ["source", "eavesdropper"]
    assert sw["defenses"] == {"dp": [0.0, 16.0], "dp+qsgd": [[4.0, 2]]}
    src, eav = sw["recipes"]["source"], sw["recipes"]["eavesdropper"]
    assert (src.name, src.data.num_clients, src.training.rounds) == ("leakage-source", 10, 10)
    setting = sweeps.recipe_setting(eav, "eavesdropper")
    assert (setting["num_clients"], setting["samples_per_client"], setting["dim"],
            setting["rounds"], setting["l2"], setting["clip"]) == (6, 12, 3, 7, 0.2, 0.5)
    # an inline table is a recipe too
    inline = VALID.replace('"my_recipe.toml"', "{data = {name = 'synthetic_logistic', num_clients = 6}, "
                           "training = {weight_decay = 0.1}}")
    sw = leakage.load_sweep(_write(tmp_path, inline, "d.toml"))
    assert sw["recipes"]["eavesdropper"].data.num_clients == 6


@pytest.mark.parametrize("text, match", [
    # the former flat format: refused, saying what to move where
    ('name = "c"\nattacks = ["source"]\nseeds = [0]\nclip = 1.0\n[defenses]\ndp = [0.0]\n',
     r"c.toml: the leakage format is now a recipe per attack plus a grid; found the former "
     r"top-level key\(s\) attacks, seeds, clip, defenses: move .*\[grid.defenses\].*\[recipes\]"),
    ("", r"c.toml: no leakage sweep \(no \[grid\] table"),
    ('name = "c"\n', r"c.toml: no leakage sweep"),
    (VALID + "extra = 1\n", r"grid.defenses.extra must be a non-empty list"),
    (VALID.replace("[grid]\n", "[grid]\nrepeats = 2\n"),
     r"c.toml: unknown key 'grid.repeats' \(valid keys: attacks, seeds, defenses, figures\)"),
    (VALID.replace('name = "c"\n', 'name = "c"\nclips = 1.0\n'),
     r"c.toml: unknown key 'clips' \(valid keys: name, description, recipes, grid\)"),
    (VALID.replace('eavesdropper = "my_recipe.toml"\n', ""),
     "c.toml: no recipe for attack 'eavesdropper': add to \\[recipes\\] "
     'eavesdropper = "leakage_eavesdropper"'),
    (VALID.replace("[recipes]\n", "[recipes]\nlira = \"leakage_membership\"\n"),
     "recipes.lira names no attack of grid.attacks"),
    (VALID.replace('"leakage_source"', '"leakage_nope"'),
     "recipes.source = 'leakage_nope' is neither a built-in recipe"),
    (VALID.replace("my_recipe", "absent"), r"config file not found: .*absent.toml"),
    (VALID.replace('"leakage_source"', '{training = {lr = -1.0}}'),
     r"recipes.source: training.lr must be > 0"),
    (VALID.replace("seeds = [3, 1]", "seeds = [3, 3]"), "grid.seeds must be distinct"),
    (VALID.replace("seeds = [3, 1]", "seeds = [-1]"), "grid.seeds"),
    (VALID.replace('"dp+qsgd" = [[4.0, 2]]', 'topk = [2]'),
     r"c.toml: topk parameter must be in \(0, 1\]"),
    (VALID.replace('"dp+qsgd" = [[4.0, 2]]', 'gzip = [1]'), "c.toml: defense"),
    (VALID.replace('figures = ["eavesdropper"]', 'figures = ["pie"]'), "grid.figures"),
    (VALID.replace('attacks = ["source", "eavesdropper"]', 'attacks = []'), "grid.attacks"),
])
def test_schema_refusals_name_the_file_and_key(tmp_path, text, match):
    from fltheory.errors import ConfigError

    (tmp_path / "my_recipe.toml").write_text(MY_RECIPE)
    with pytest.raises(ConfigError, match=match):
        leakage.load_sweep(_write(tmp_path, text))


def test_config_validation(tmp_path):
    from fltheory.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        leakage.run_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="the leakage config: no leakage sweep"):
        leakage.run_config({})
    with pytest.raises(ConfigError, match="former top-level key"):
        leakage.run_config({"attack": "source", "defenses": {"dp": [0.0]}})


def test_cli_one_command_one_config(tmp_path, capsys):
    from fltheory.cli import main

    cfg = _write(tmp_path, 'name = "c"\n[recipes]\nsource = "leakage_source"\n[grid]\n'
                 'attacks = ["source"]\nseeds = [3]\n[grid.defenses]\ndp = [0.0, 16.0]\n'
                 'qsgd = [1]\n')
    assert main(["leakage", cfg, "--out", str(tmp_path / "o"), "--jobs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "seed=3 source" in out and "empirical, not a guarantee" in out
    assert "(2 jobs)" in out
    data = json.loads((tmp_path / "o" / "c.json").read_text())
    assert [p["seed"] for p in data["points"]] == [3, 3, 3]
    bad = _write(tmp_path, 'name = "c"\n[recipes]\nsource = "leakage_source"\n[grid]\n'
                 'attacks = ["source"]\n[grid.defenses]\ntopk = [2]\n', "bad.toml")
    old = _write(tmp_path, 'attacks = ["source"]\n[defenses]\ndp = [0.0]\n', "old.toml")
    for argv, msg in [([bad], "topk parameter must be in (0, 1]"),
                      ([old], "old.toml: the leakage format is now a recipe per attack"),
                      ([cfg, "--jobs", "0"], "--jobs must be >= 1 or -1"),
                      ([cfg, "--jobs", "-2"], "--jobs must be >= 1 or -1")]:
        assert main(["leakage", *argv, "--out", str(tmp_path / "o2")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
    assert not (tmp_path / "o2").exists()               # refused before the output is touched


@pytest.mark.parametrize("name", ["privacy_utility.toml", "success_vs_epsilon.toml",
                                  "eavesdropper.toml"])
def test_experiment_configs_are_valid(name):
    sw = leakage.load_sweep(ROOT / "experiments" / "leakage" / name)
    assert sw["defenses"]["dp"][0] == 0.0                     # the undefended run first
    for a, r in sw["recipes"].items():                        # the built-in recipe of its task
        assert r.to_dict() == sweeps.default_recipe(a).to_dict()


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
