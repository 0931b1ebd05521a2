"""Experiment 9 (compression runs): grid, measurements, SMEA's spectral constant, figures, CLI."""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from fltheory.bounds import _reference_aggregators as ref  # noqa: E402
from fltheory import compression_runs as cr  # noqa: E402
from fltheory.fl import aggregators  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: A grid small enough for the suite: 6 clients, 3 rounds, one slice per measurement kind.
TINY = {
    "name": "tiny", "seeds": [0], "delta": 1e-5, "byzantine_fraction": 0.2,
    "qsgd_levels": [[1.0, 15], [0.1, 3], [0.01, 1]], "variance_draws": 4,
    "tasks": {
        "mlp": {"data": {"name": "digits", "num_clients": 6, "partition": "iid"},
                "model": {"name": "mlp", "hidden": 8},
                "training": {"algorithm": "fedavg", "rounds": 3, "local_steps": 1, "lr": 2.0,
                             "batch_sampling": "poisson"},
                "privacy": {"level": "record", "clip": 1.0, "batch_rate": 0.5, "delta": 1e-5},
                "run": {"eval_every": 1000, "progress": False}},
        "syn": {"data": {"name": "synthetic_logistic", "num_clients": 6,
                         "samples_per_client": 5, "dim": 50},
                "model": {"name": "logreg"},
                "training": {"algorithm": "fedavg", "rounds": 2, "local_steps": 1, "lr": 1.0,
                             "batch_sampling": "poisson"},
                "privacy": {"level": "record", "clip": 1.0, "batch_rate": 0.5, "delta": 1e-5},
                "run": {"eval_every": 1000, "progress": False}},
    },
    "slices": [
        {"name": "accuracy_vs_bits", "tasks": ["mlp"],
         "compressors": ["none", "randk_shared", "randk_secret", "topk_ef", "qsgd", "scaled_sign"],
         "ratios": [1.0, 0.1], "epsilons": [4.0], "attacks": ["alie"],
         "aggregators": ["cwtm"]},
        {"name": "rules_attacks", "tasks": ["mlp"], "compressors": ["none"],
         "epsilons": ["none"], "attacks": ["ipm", "label_flip"],
         "aggregators": ["nnm+cwtm", "smea", "krum"]},
        {"name": "nodp_masks", "tasks": ["mlp"], "compressors": ["randk_shared", "randk_secret"],
         "ratios": [0.1], "epsilons": ["none"], "attacks": ["alie"], "aggregators": ["cwtm"]},
        {"name": "scaling", "tasks": ["syn"], "dims": [50, 200], "compressors": ["randk_shared"],
         "ratios": [0.1], "epsilons": [4.0], "attacks": ["alie"], "aggregators": ["cwtm"],
         "time_rules": ["mean", "cwtm", "smea"]},
    ],
    "smea_dense": {"n": 6, "f": 1, "dims": [4, 8, 16]},
}


@pytest.fixture(scope="module")
def tiny():
    return cr.run_compression_grid(TINY)


def test_toml_mirrors_default_grid():
    with open(ROOT / "experiments" / "grids" / "compression_runs.toml", "rb") as fh:
        assert tomllib.load(fh) == cr.DEFAULT_GRID
    path = ROOT / "experiments" / "grids" / "compression_runs.toml"
    assert cr.load_grid(path, quick=True) == cr.load_grid(quick=True)
    assert cr.load_grid(path) == cr.load_grid()


def test_quick_grid_covers_every_compressor_and_rule():
    pts = cr.expand_points(cr.load_grid(quick=True), [0])
    assert {p["compressor"] for p in pts} == set(cr.COMPRESSORS)
    assert {"mean", "cwtm", "krum", "gm", "smea"} <= {p["aggregator"] for p in pts}
    assert {"none", "ipm", "label_flip", "alie"} == {p["attack"] for p in pts}


@pytest.mark.parametrize("bad,match", [
    ({"slices": [{"name": "s", "tasks": ["mlp"], "compressors": ["zip"]}]}, "compressors"),
    ({"slices": [{"name": "s", "tasks": ["mlp"], "attacks": ["gaussian"]}]}, "attacks"),
    ({"slices": [{"name": "s", "tasks": ["nope"]}]}, "tasks"),
    ({"slices": [{"name": "s", "tasks": ["mlp"], "ratios": [2.0]}]}, "ratios"),
    ({"slices": [{"name": "s", "tasks": ["mlp"], "epsilons": [-1.0]}]}, "epsilons"),
    ({"slices": [{"name": "s", "typo": 1}]}, "typo"),
    ({"byzantine_fraction": 0.6}, "byzantine_fraction"),
    # "sign" is the plain sign everywhere; the grid's scaled sign is "scaled_sign"
    ({"slices": [{"name": "s", "tasks": ["mlp"], "compressors": ["sign"]}]},
     "plain sign.*scaled_sign"),
])
def test_bad_grid_named(bad, match):
    with pytest.raises(ValueError, match=match):
        cr.load_grid({**TINY, **bad})


def _pairs(n, f, d, seed, spread):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x[:f] = spread * rng.standard_normal((f, d)) + spread
    return x


@given(n=st.integers(4, 7), d=st.integers(1, 4), seed=st.integers(0, 10_000),
       spread=st.sampled_from([0.0, 0.5, 3.0, 100.0]))
def test_engine_smea_matches_bounds_reference_and_spectral_bound(n, d, seed, spread):
    """Engine SMEA = the bounds' reference SMEA; its error is <= 4f/(n-2f) lambda_max(Sigma_S)
    for EVERY set S of n-f inputs (exhaustive: the honest set may be any of them)."""
    f = (n - 1) // 2
    x = _pairs(n, f, d, seed, spread)
    value, _ = aggregators.get("smea", f=f)(torch.tensor(x))
    np.testing.assert_allclose(value.numpy(), ref.smea(x, f), rtol=1e-9, atol=1e-9)
    kap = cr.smea_kappa(n, f)
    for s in itertools.combinations(range(n), n - f):
        xs = x[list(s)]
        c = xs - xs.mean(0)
        lam = np.linalg.eigvalsh(c.T @ c / len(s))[-1]
        err = float(np.sum((value.numpy() - xs.mean(0)) ** 2))
        assert err <= kap * lam * (1 + 1e-9) + 1e-9


def test_smea_constant_attained_order_on_two_point_instance():
    # f inputs at 1, n-f at 0 (d = 1): SMEA averages the n-f zeros; for the honest set
    # "f ones + n-2f zeros" (variance f(n-2f)/(n-f)^2) the ratio is exactly f/(n-2f), the
    # universal lower bound on kappa, below the derived 4f/(n-2f).
    n, f = 7, 2
    x = np.zeros((n, 1))
    x[:f] = 1.0
    value, _ = aggregators.get("smea", f=f)(torch.tensor(x))
    s = x[: n - f]
    ratio = float(((value.numpy() - s.mean(0)) ** 2).sum()) / float(s.var())
    assert math.isclose(ratio, f / (n - 2 * f), rel_tol=1e-9)
    assert ratio <= cr.smea_kappa(n, f)


def test_points_measured_consistently(tiny):
    from fltheory.accounting import epsilon
    from fltheory.bounds import bits_per_round

    pts = {(p["task"], p["compressor"], p["ratio"], p["attack"], p["aggregator"], p["dim"]): p
           for p in tiny["points"] if p["epsilon_target"] is not None or p["compressor"] == "none"}
    secret = [p for p in tiny["points"] if p["compressor"] == "randk_secret"]
    assert secret and all(p["skipped"] is False or p["reason"] for p in secret)
    run = [p for p in tiny["points"] if not p["skipped"]]
    assert len(run) >= 10
    for p in run:
        # the runner's recomputation from the recorded messages = the engine's own diagnostic
        np.testing.assert_allclose(p["robust_error_measured"], p["robust_error_engine"],
                                   rtol=1e-5, atol=1e-9)
        if p["epsilon_target"] is not None:
            assert p["epsilon"] <= p["epsilon_target"] * (1 + 1e-6)
            assert p["noise_multiplier"] > 0
        else:
            assert p["epsilon"] == math.inf
    dense = pts[("mlp", "none", 1.0, "alie", "cwtm", None)]
    d = dense["d"]
    assert dense["bits"] == 32 * d == bits_per_round("none", d)
    shared = pts[("mlp", "randk_shared", 0.1, "alie", "cwtm", None)]
    k = round(0.1 * d)
    assert shared["bits"] == 32 * k + 64            # values + a 64-bit seed, per honest client
    assert shared["aggregation_dim"] == k           # the rule works in k dimensions
    assert shared["compressor_variance_bound"] == pytest.approx(d / k - 1)
    assert shared["compressor_variance_measured"] == pytest.approx(d / k - 1, rel=0.25)
    # the certified epsilon is that of the executed event, recomputed independently
    from fltheory.config import ExperimentConfig

    cfg = ExperimentConfig.from_dict(cr.point_config(cr.load_grid(TINY), {
        **{k_: dense[k_] for k_ in ("task", "compressor", "ratio", "attack", "aggregator",
                                    "seed", "dim")}, "epsilon_target": 4.0},
        dense["noise_multiplier"]))
    assert epsilon(cfg.accounting_event(), 1e-5).epsilon == pytest.approx(dense["epsilon"],
                                                                          rel=1e-9)


def test_summary_and_timing(tiny):
    s = tiny["summary"]
    assert s["rounds_with_prediction"] > 0
    assert s["fraction_within_prediction"] >= 0.95
    assert s["bits_match"][0] == s["bits_match"][1]
    sc = [p for p in tiny["points"] if p["slice"] == "scaling" and not p["skipped"]]
    assert {p["dim"] for p in sc} == {50, 200}
    assert all(set(p["rule_seconds"]) == {"mean", "cwtm", "smea"} for p in sc)
    sd = tiny["smea_dense"]
    assert sd["agrees"] and sd["dims"] == [4, 8, 16]
    assert set(tiny["cost_model"]) == {"mean", "cwtm", "smea"}
    assert tiny["theory"]["columns"]["mode"][0] == "dense"


def test_figures_and_cli(tiny, tmp_path):
    from fltheory.cli import main
    from fltheory.plots.compression_runs import STEMS

    path = cr.write_results(tiny, tmp_path)
    assert main(["plot", "compression-runs", "--from", path, "--out", str(tmp_path)]) == 0
    for stem in STEMS:
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
        assert (tmp_path / f"{stem}.pdf").is_file()
    assert main(["tradeoff", "--validate", path, "--json"]) in (0, 1)


def test_validate_rows(tiny, capsys, tmp_path):
    from fltheory._cli_compression import validation_rows
    from fltheory.cli import main

    rows = validation_rows(tiny)
    assert {r["compressor"] for r in rows} >= {"none", "randk_shared", "qsgd", "scaled_sign"}
    assert all(r["verdict"] == "holds" or r["verdict"].startswith("fails: ") for r in rows)
    path = cr.write_results(tiny, tmp_path)
    rc = main(["tradeoff", "--validate", path])
    out = capsys.readouterr().out
    assert "theory vs run" in out and "verdict" in out
    assert rc == (0 if all(r["verdict"] == "holds" for r in rows) else 1)


@pytest.mark.parametrize("argv,msg", [
    (["plot", "compression-runs", "--from", "x.json", "--quick"], "--quick cannot be combined"),
    (["plot", "compression-runs", "--from", "missing.json"], "not found"),
    (["plot", "compression-runs", "--jobs", "0"], "jobs must be"),
    (["tradeoff"], "--d is required"),
    (["tradeoff", "--validate", "missing.json"], "not found"),
])
def test_cli_bad_input_one_line(argv, msg, capsys, tmp_path):
    from fltheory.cli import main

    assert main(argv + ["--out", str(tmp_path)] if argv[0] == "plot" else argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_results_json_roundtrip(tiny, tmp_path):
    path = cr.write_results(tiny, tmp_path)
    data = cr.load_results(path)
    run = [p for p in data["points"] if not p["skipped"]]
    assert run[0].keys() >= {"compressor", "k", "aggregator", "attack", "epsilon", "accuracy",
                             "aggregation_seconds", "bits", "robust_error_measured",
                             "robust_error_predicted"}
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"experiment": "x"}))
    with pytest.raises(ValueError, match="not a compression-runs.json"):
        cr.load_results(bad)


def test_results_of_earlier_releases_name_the_scaled_sign(tmp_path):
    # the grid never ran the plain sign: "sign" in old results is the scaled sign, renamed
    path = tmp_path / "compression-runs.json"
    path.write_text(json.dumps({"experiment": "compression-runs",
                                "points": [{"compressor": "sign"}, {"compressor": "qsgd"}]}))
    with pytest.warns(DeprecationWarning, match="scaled_sign"):
        data = cr.load_results(path)
    assert [p["compressor"] for p in data["points"]] == ["scaled_sign", "qsgd"]
