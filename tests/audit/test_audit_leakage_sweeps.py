"""Reduced defense sweep: every point carries its seed, DP points their epsilon, and the
epsilon-equivalent is labelled as an empirical equivalence, not a guarantee."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from fltheory.audit import sweeps  # noqa: E402


@pytest.fixture(scope="module")
def points():
    return sweeps.defense_sweep("source", {"dp": [0.0, 4.0, 64.0], "randk": [2], "batch": [0.1]},
                                seed=0)


def test_points_and_dp_trend(points):
    assert [p["defense"] for p in points] == ["dp", "dp", "dp", "randk", "batch"]
    assert all(p["seed"] == 0 for p in points)
    dp = points[:3]
    assert dp[0]["epsilon"] is None and dp[1]["epsilon"] > dp[2]["epsilon"] > 0
    # undefended beats 1/n clearly; strong DP is pulled toward it
    assert dp[0]["success_ci"][0] > 2 * dp[0]["baseline"]
    assert dp[2]["success"] < dp[0]["success"] - 0.15
    assert all(0.0 <= p["test_accuracy"] <= 1.0 for p in points)


def test_epsilon_equivalent_is_labelled(points):
    eq = sweeps.epsilon_equivalent(points)
    assert [e["defense"] for e in eq] == ["randk", "batch"]
    for e in eq:
        assert e["kind"] == "empirical equivalence, not a DP guarantee"
        if e["epsilon_equivalent"] is not None:
            lo = min(p["epsilon"] for p in points if p["epsilon"])
            hi = max(p["epsilon"] for p in points if p["epsilon"])
            assert lo <= e["epsilon_equivalent"] <= hi
        else:
            assert e["note"]


def test_epsilon_equivalent_interpolates():
    dp = [{"defense": "dp", "epsilon": e, "success": s, "test_accuracy": 0.5}
          for e, s in [(1.0, 0.1), (100.0, 0.5)]]
    eq = sweeps.epsilon_equivalent(dp + [{"defense": "qsgd", "parameter": 1, "success": 0.3,
                                          "test_accuracy": 0.6}])
    assert eq[0]["epsilon_equivalent"] == pytest.approx(10.0)
    eq = sweeps.epsilon_equivalent(dp + [{"defense": "qsgd", "parameter": 1, "success": 0.05,
                                          "test_accuracy": 0.6}])
    assert eq[0]["epsilon_equivalent"] is None and eq[0]["note"].startswith("<")


def test_run_config_writes_json_and_figure(tmp_path):
    cfg = {"name": "mini", "attack": "source", "seeds": [0, 1],
           "defenses": {"dp": [0.0, 64.0], "prune": [0.1]}}
    res = sweeps.run_config(cfg, str(tmp_path))
    data = json.loads((tmp_path / "mini.json").read_text())
    assert len(data["points"]) == 6 and {p["seed"] for p in data["points"]} == {0, 1}
    assert "not a differential-privacy guarantee" in data["note"]
    assert (tmp_path / "mini_seed0.png").stat().st_size > 1000
    assert (tmp_path / "mini_seed1.pdf").exists()
    assert res["points"][1]["epsilon"] is not None and math.isfinite(res["points"][1]["epsilon"])


def test_validation():
    with pytest.raises(ValueError, match="attack"):
        sweeps.defense_sweep("lira")
    with pytest.raises(ValueError, match="defense"):
        sweeps.defense_sweep("source", {"mixup": [0.5]})


def test_config_file_runs(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name in ("leakage_source.toml", "leakage_passive_mia.toml"):
        import tomllib

        cfg = tomllib.loads((root / "experiments" / "leakage" / name).read_text())
        assert cfg["attack"] in ("source", "passive_mia") and cfg["defenses"]["dp"][0] == 0.0


@pytest.mark.slow
def test_full_source_config(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    res = sweeps.run_config(str(root / "experiments/leakage/leakage_source.toml"), str(tmp_path))
    assert len(res["points"]) == 3 * 29
