"""``--validate``: the plan and its baselines run in the engine, the executed events match."""

import json

import pytest

pytest.importorskip("torch")

from fltheory.plan import plan  # noqa: E402
from fltheory.plan.validate import (federation_dataset, format_validation,  # noqa: E402
                                    recipe_config, validate_plan)

TINY = {"name": "tiny", "rounds": 6, "deadline_seconds": 1.0,
        "model": {"name": "logreg", "dataset": "digits"},
        "grid": {"participation": [1.0, 0.5], "batch_size": [8, 32], "local_steps": [1, 2],
                 "prune_ratio": [1.0, 0.5], "quantizer_bits": [32, 4]},
        "device": [{"name": "small", "count": 3, "compute_flops": 1e6, "memory_bytes": 40_000,
                    "uplink_bps": 2e4, "data_size": 30, "epsilon": 1.0, "delta": 1e-5},
                   {"name": "big", "count": 2, "compute_flops": 1e9, "memory_bytes": 1e7,
                    "uplink_bps": 1e6, "data_size": 120, "epsilon": 6.0, "delta": 1e-5}]}


def test_dataset_sizes_follow_the_classes():
    pl = plan(TINY, refine=False)
    ds = federation_dataset(pl.spec)
    assert ds.sizes == [30, 30, 30, 120, 120]
    too_big = dict(TINY, device=[dict(TINY["device"][0], count=100)])
    with pytest.raises(ValueError, match="more than the"):
        federation_dataset(plan(too_big, refine=False).spec)


def test_recipe_config_carries_the_class_settings():
    pl = plan(TINY, refine=False)
    cfg, live = recipe_config(pl)
    s = pl["big"].settings
    assert cfg["clients"]["noise_multiplier"][3:] == [s["noise_multiplier"]] * 2
    assert cfg["clients"]["batch_rate"][3] == s["batch_size"] / 120
    assert [c.name for c in live] == ["small", "big"]


def test_validate_runs_plan_and_baselines(tmp_path):
    pl = plan(TINY)
    from fltheory.plots.planning import plot_plan_validation

    res = validate_plan(pl, quick=True, out_dir=tmp_path, figure=plot_plan_validation)
    assert [r.name for r in res.recipes] == ["plan", "uniform", "sample", "scale"]
    for r in res.recipes:
        assert 0.0 <= r.accuracy_mean <= 1.0
        for c in r.classes:
            assert c["epsilon_run"] <= c["epsilon_target"] * (1 + 1e-9)
            assert c["uplink_bits_measured"] <= c["uplink_budget_bits"]
    data = json.loads((tmp_path / "tiny-validation.json").read_text())
    assert data["recipes"][0]["classes"][0]["name"] == "small"
    assert (tmp_path / "tiny-validation.png").stat().st_size > 0
    assert (tmp_path / "tiny-validation.pdf").stat().st_size > 0
    text = "\n".join(format_validation(res))
    assert "uniform" in text and "sample" in text and "scale" in text
