"""The device planner: devices files, certified epsilon, budgets, infeasibility, stability."""

import json
import math
import subprocess
import sys
from pathlib import Path

import dp_accounting
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from fltheory.accounting import epsilon, local_dp_sgd
from fltheory.errors import ConfigError
from fltheory.plan import load_devices, plan
from fltheory.plan.optimize import min_noise, rdp_epsilon, search_orders

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "experiments" / "devices" / "heterogeneous.toml"
REQUIRED = ("name", "epsilon_target", "epsilon", "memory_bytes", "memory_budget_bytes",
            "uplink_bits", "uplink_budget_bits", "round_seconds", "deadline_seconds",
            "participation", "batch_size", "local_steps", "prune_ratio", "quantizer_bits",
            "noise_multiplier")
SMALL_GRID = {"participation": [1.0, 0.5, 0.2], "batch_size": [4, 16, 64],
              "local_steps": [1, 4], "prune_ratio": [1.0, 0.25], "quantizer_bits": [32, 4]}


def device(name="phone", **kw):
    d = {"name": name, "count": 5, "compute_flops": 1e9, "memory_bytes": 1e6,
         "uplink_bps": 1e6, "data_size": 100, "epsilon": 2.0, "delta": 1e-5}
    d.update(kw)
    return d


def spec(*devices, **kw):
    d = {"rounds": 20, "deadline_seconds": 1.0, "model": {"d": 650}, "grid": SMALL_GRID,
         "device": list(devices) or [device()]}
    d.update(kw)
    return d


# ---------------------------------------------------------------------------------- loader
def test_loader_names_file_and_key(tmp_path):
    f = tmp_path / "dev.toml"
    f.write_text(EXAMPLE.read_text().replace("data_size = 30", "data_sise = 30"))
    with pytest.raises(ConfigError, match=r"dev\.toml: unknown key 'device\[0\]\.data_sise'"):
        load_devices(f)
    f.write_text(EXAMPLE.read_text().replace("count = 12", "count = -1"))
    with pytest.raises(ConfigError, match=r"dev\.toml: device 'sensors'\.count must be >= 1"):
        load_devices(f)
    f.write_text("rounds = [")
    with pytest.raises(ConfigError, match="dev.toml: invalid TOML"):
        load_devices(f)
    with pytest.raises(ConfigError, match="devices file not found"):
        load_devices(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="device names must be unique"):
        load_devices(spec(device("a"), device("a")))
    with pytest.raises(ConfigError, match=r"device\[0\]\.epsilon is required"):
        load_devices(spec({k: v for k, v in device().items() if k != "epsilon"}))
    with pytest.raises(ConfigError, match=r"grid\.quantizer_bits values must be in"):
        load_devices(spec(grid={"quantizer_bits": [12]}))


def test_example_file_loads():
    sp = load_devices(EXAMPLE)
    assert [c.name for c in sp.classes] == ["sensors", "phones", "servers"]
    assert sp.model.d == 650                      # logistic regression on digits: 64*10 + 10
    assert sp.classes[0].uplink_budget_bits == sp.classes[0].uplink_bps * sp.deadline_seconds


@pytest.mark.parametrize("name,dataset", [("logreg", "digits"), ("mlp", "digits"),
                                          ("logreg", "synthetic_logistic"),
                                          ("mlp", "synthetic_logistic")])
def test_model_dimension_matches_engine(name, dataset):
    pytest.importorskip("torch")
    from fltheory.config import ExperimentConfig
    from fltheory.fl.simulate import build_dataset, build_model

    cfg = ExperimentConfig.from_dict({"data": {"name": dataset, "num_clients": 2},
                                      "model": {"name": name, "hidden": 16}})
    expected = build_model(cfg, build_dataset(cfg)).num_params
    sp = load_devices(spec(model={"name": name, "dataset": dataset, "hidden": 16}))
    assert sp.model.d == expected


# ---------------------------------------------------------------------------------- accounting
@pytest.mark.parametrize("q,z,k,t", [(0.1, 2.0, 4, 7), (0.5, 1.2, 1, 30), (1.0, 3.0, 2, 5)])
def test_rdp_full_participation_equals_dp_accounting(q, z, k, t):
    """p = 1: K*T Poisson-subsampled Gaussian steps, dp-accounting's RdpAccountant."""
    orders = search_orders()
    acc = dp_accounting.rdp.RdpAccountant(orders=list(orders))
    acc.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), k * t))
    assert rdp_epsilon(1.0, q, z, k, t, 1e-5) == pytest.approx(acc.get_epsilon(1e-5), rel=1e-9)


@pytest.mark.parametrize("p,q,z,k,t", [(0.3, 0.1, 2.0, 4, 7), (0.05, 0.5, 1.0, 8, 40)])
def test_rdp_revealed_mixture_from_dp_accounting(p, q, z, k, t):
    """p < 1: the revealed mixture built by hand from dp-accounting's K-step RDP."""
    from dp_accounting.rdp import rdp_privacy_accountant as ra

    orders = search_orders()
    acc = dp_accounting.rdp.RdpAccountant(orders=list(orders))
    acc.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), k))
    rk = np.asarray(acc._rdp)
    mix = np.array([np.logaddexp(math.log(1 - p), math.log(p) + (a - 1) * r) / (a - 1)
                    for a, r in zip(orders, rk)])
    ref, _ = ra.compute_epsilon(orders, t * mix, 1e-5)
    assert rdp_epsilon(p, q, z, k, t, 1e-5) == pytest.approx(ref, rel=1e-9)
    # and the fltheory accountant (all orders) is at most the integer-order search bound
    g = epsilon(local_dp_sgd(p, q, z, k, t), 1e-5, method="rdp")
    assert g.epsilon <= ref * (1 + 1e-9)


def test_min_noise_is_safe_and_tight():
    p = np.array([1.0, 0.5, 0.1])
    z = min_noise(p, 0.2, 4, 30, 2.0, 1e-5)
    assert (rdp_epsilon(p, 0.2, z, 4, 30, 1e-5) <= 2.0).all()
    assert (rdp_epsilon(p, 0.2, z / 1.003, 4, 30, 1e-5) > 2.0).all()
    assert np.all(np.diff(z) < 0)                  # less participation, less noise
    assert np.isinf(min_noise(1.0, 1.0, 16, 1000, 0.01, 1e-5, max_noise=2.0))


# ---------------------------------------------------------------------------------- plans
def _check_budgets(pl):
    sp = pl.spec
    for c, cls in zip(pl.classes, sp.classes):
        if not c.feasible:
            assert c.reason
            continue
        s = c.settings
        assert c.epsilon <= cls.epsilon
        ev = local_dp_sgd(s["participation"], s["batch_size"] / cls.data_size,
                          s["noise_multiplier"], s["local_steps"], sp.rounds)
        assert epsilon(ev, cls.delta).epsilon <= cls.epsilon * (1 + 1e-9)
        assert c.memory_bytes <= cls.memory_bytes
        assert c.uplink_bits <= cls.uplink_budget_bits
        assert c.round_seconds <= sp.deadline_seconds
        assert s["batch_size"] <= cls.data_size


def test_example_plan_meets_every_budget_and_json_schema():
    pl = plan(EXAMPLE)
    assert pl.feasible
    _check_budgets(pl)
    data = json.loads(json.dumps(pl.to_dict()))
    for row in data["classes"]:
        for key in REQUIRED:
            assert key in row, key
    # the sensors' memory budget binds in the example (documented in the docs page)
    assert "memory" in pl["sensors"].binding


def test_resource_model_independent_formula():
    """memory = 4 d' (2 + B_hi), bits = 64 [r<1] + 32 d' or 32 + b d', seconds = flops/F + bits/U."""
    pl = plan(spec(device(memory_bytes=60_000, data_size=80)), refine=False)
    c, cls = pl.classes[0], pl.spec.classes[0]
    s = c.settings
    d = 650
    dk = d if s["prune_ratio"] == 1 else stats.binom.ppf(1 - 1e-6, d, s["prune_ratio"])
    bhi = max(stats.binom.ppf(1 - 1e-6, cls.data_size, s["batch_size"] / cls.data_size), 1)
    assert c.memory_bytes == pytest.approx(4 * dk * (2 + bhi))
    b = s["quantizer_bits"]
    bits = (32 * dk if b == 32 else 32 + b * dk) + (64 if s["prune_ratio"] < 1 else 0)
    assert c.uplink_bits == pytest.approx(bits)
    flops = s["local_steps"] * (10 * bhi + 12) * dk + (5 * dk if b < 32 else 0)
    assert c.round_seconds == pytest.approx(flops / 1e9 + bits / 1e6)


def test_infeasible_classes_are_explained():
    pl = plan(spec(device("ok"), device("tiny", memory_bytes=100.0)), refine=False)
    assert pl["ok"].feasible and not pl["tiny"].feasible
    assert "memory" in pl["tiny"].reason and "over by" in pl["tiny"].reason
    row = pl.to_dict()["classes"][1]
    assert row["feasible"] is False and row["reason"] == pl["tiny"].reason
    pl = plan(spec(device("strict", epsilon=0.01), grid={**SMALL_GRID,
                                                         "max_noise_multiplier": 0.5}),
              refine=False)
    assert not pl["strict"].feasible and pl["strict"].reason.startswith("epsilon")



def test_jointly_infeasible_budgets_name_the_closest_point():
    """Each budget met by some grid point, none meeting all: the reason says which exceed."""
    from fltheory.plan.optimize import _infeasible_reason

    sp = load_devices(spec())
    g = {"noise_multiplier": np.array([1.0, 1.0]), "memory_bytes": np.array([10.0, 1e8]),
         "round_seconds": np.array([1e3, 0.1]), "uplink_bits": np.array([1.0, 1.0]),
         "batch_size": np.array([4, 4]), "local_steps": np.array([1, 1]),
         "prune_ratio": np.array([1.0, 1.0]), "quantizer_bits": np.array([32, 32])}
    viol = {"epsilon": np.zeros(2), "memory": g["memory_bytes"] / 1e6,
            "round_time": g["round_seconds"] / 1.0, "uplink": np.zeros(2)}
    reason = _infeasible_reason(sp, sp.classes[0], g, viol)
    assert reason.startswith("each budget can be met alone but not all together")
    assert "memory x100" in reason and "round time" not in reason


def test_plan_stable_under_seeds():
    ref = plan(EXAMPLE, seed=0, refine=False)
    for seed in (1, 2, 7):
        other = plan(EXAMPLE, seed=seed, refine=False)
        assert [c.settings for c in other.classes] == [c.settings for c in ref.classes]


def test_binding_constraint_relaxed_changes_the_choice():
    """Relax the binding memory budget of the sensors: the planner uses the room."""
    sp = load_devices(EXAMPLE)
    base = plan(sp, refine=False)
    assert "memory" in base["sensors"].binding
    raw = sp.to_dict()
    from dataclasses import replace

    big = replace(sp.classes[0], memory_bytes=sp.classes[0].memory_bytes * 100)
    relaxed = plan(sp.replace_classes([big, *sp.classes[1:]]), refine=False)
    assert relaxed.objective["J"] < base.objective["J"]
    assert raw["classes"][0]["name"] == "sensors"


@given(st.lists(st.tuples(st.integers(1, 20), st.floats(1e4, 1e10), st.floats(1e3, 1e8),
                          st.floats(1e3, 1e8), st.integers(5, 300), st.floats(0.3, 10.0)),
                min_size=1, max_size=3),
       st.integers(5, 60), st.floats(0.05, 5.0))
def test_constraints_always_met(classes, rounds, deadline):
    devs = [device(f"c{i}", count=n, compute_flops=f, memory_bytes=m, uplink_bps=u,
                   data_size=ds, epsilon=e) for i, (n, f, m, u, ds, e) in enumerate(classes)]
    pl = plan(spec(*devs, rounds=rounds, deadline_seconds=deadline), refine=False)
    _check_budgets(pl)


def test_optimisation_module_does_not_import_torch():
    code = ("import sys; from fltheory.plan import plan; "
            "plan({'rounds': 5, 'deadline_seconds': 1.0, 'model': {'d': 50}, 'device': "
            "[{'name': 'a', 'count': 2, 'compute_flops': 1e9, 'memory_bytes': 1e6, "
            "'uplink_bps': 1e6, 'data_size': 50, 'epsilon': 3.0, 'delta': 1e-5}]}, "
            "refine=False); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ---------------------------------------------------------------------------------- CLI
def test_cli_plan_json_and_errors(capsys, tmp_path):
    from fltheory.cli import main

    assert main(["plan", str(EXAMPLE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in out["classes"]] == ["sensors", "phones", "servers"]
    assert main(["plan", str(EXAMPLE)]) == 0
    text = capsys.readouterr().out
    assert "sensors" in text and "binds" in text and "Pareto" in text
    assert main(["plan", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "devices file not found" in err[0]
    assert main(["plan", str(EXAMPLE), "--quick"]) == 2
