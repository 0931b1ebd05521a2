"""simulate(config): what is run is what is accounted; noise, attacks, checkpoints, results."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from fltheory.accounting import (coordinate_sampled_gaussian, dp_fedavg, epsilon, epsilon_curve,
                                 local_dp_sgd, mixup)
from fltheory.config import ExperimentConfig
from fltheory.fl import compressors, data, models, simulate
from fltheory.fl.simulate import CHECKPOINT, PARAMS, RESULT

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "experiments" / "configs"


def cfg_of(**sections) -> ExperimentConfig:
    d = {"data": {"name": "digits", "num_clients": 10}, "training": {"rounds": 4, "lr": 0.5},
         "run": {"progress": False}}
    for key, value in sections.items():
        if isinstance(value, dict):
            d.setdefault(key, {}).update(value)
        else:
            d[key] = value
    return ExperimentConfig.from_dict(d)


def record_cfg(**extra) -> ExperimentConfig:
    sec = {"training": {"batch_sampling": "poisson", "local_steps": 2},
           "privacy": {"level": "record", "batch_rate": 0.2, "noise_multiplier": 1.0}}
    for k, v in extra.items():
        sec.setdefault(k, {}).update(v)
    return cfg_of(**sec)


def strip_time(metrics):
    return [{k: v for k, v in m.items() if k != "wall_time"} for m in metrics]


# --------------------------------------------------------------------------------------------------
# The accounting event of the run is the accountant's event of the config
# --------------------------------------------------------------------------------------------------
EVENT_CASES = {
    "record_all": (record_cfg(), lambda c: local_dp_sgd(1.0, 0.2, 1.0, 2, 4)),
    "record_poisson_clients": (
        record_cfg(training={"client_sampling": "poisson", "client_rate": 0.4}),
        lambda c: local_dp_sgd(0.4, 0.2, 1.0, 2, 4)),
    "record_fixed_cohort": (
        record_cfg(training={"client_sampling": "fixed", "cohort_size": 4, "client_rate": 0.3}),
        lambda c: local_dp_sgd(1.0, 0.2, 1.0, 2, 4)),
    "client_poisson": (
        cfg_of(training={"client_sampling": "poisson", "client_rate": 0.5},
               privacy={"level": "client", "noise_multiplier": 0.8}),
        lambda c: dp_fedavg(0.5, 0.8, 4)),
    "client_secret_masks": (
        cfg_of(privacy={"level": "client", "noise_multiplier": 0.8},
               compression={"name": "prune", "ratio": 0.3, "stage": "mechanism",
                            "mask": "secret"}),
        lambda c: coordinate_sampled_gaussian(0.3, 0.8, 4, mask="secret",
                                                      mask_unit="client")),
    "client_shared_masks": (
        cfg_of(privacy={"level": "client", "noise_multiplier": 0.8},
               compression={"name": "prune", "ratio": 0.3, "stage": "mechanism",
                            "mask": "shared"}),
        lambda c: dp_fedavg(1.0, 0.8, 4)),
    "record_mixup": (
        record_cfg(mixup={"enabled": True, "alpha": 0.4}),
        lambda c: mixup(0.2, 1.0, 8, stats.beta(0.4, 0.4))),
}


@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_run_event_equals_the_accountants_event(case):
    cfg, independent = EVENT_CASES[case]
    run = simulate(cfg)
    assert run.accounting_event == cfg.accounting_event()
    # ... and equals the event built directly with the accounting builders (the threat model
    # the config maps to is the documented one)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run.accounting_event == independent(cfg)
    assert run.rounds == cfg.training.rounds


def test_epsilon_metric_is_the_accountants_curve():
    cfg = record_cfg(training={"client_sampling": "poisson", "client_rate": 0.5, "rounds": 6})
    run = simulate(cfg)
    eps = run.metric("epsilon")
    curve = epsilon_curve(lambda t: cfg.accounting_event(int(t)), np.arange(1, 7),
                          cfg.privacy.delta)
    assert np.array_equal(eps, curve)
    assert np.all(np.diff(eps) > 0)
    g = epsilon(cfg.accounting_event(), cfg.privacy.delta)
    assert math.isclose(eps[-1], g.epsilon, rel_tol=0.01)
    assert run.guarantee.epsilon_lower <= run.guarantee.epsilon
    assert run.to_dict()["accounting"]["event"] == repr(cfg.accounting_event())


def test_no_privacy_has_infinite_epsilon_and_no_guarantee():
    run = simulate(cfg_of())
    assert np.all(np.isinf(run.metric("epsilon"))) and run.guarantee is None


# --------------------------------------------------------------------------------------------------
# The noise is where the event says, with the configured standard deviation
# --------------------------------------------------------------------------------------------------
def zero_dataset(num_clients: int, m: int, dim: int) -> data.FederatedDataset:
    """Linear regression on x = 0, y = 0: the weights' data gradient is exactly zero, the
    bias's is the bias itself (0 at the zero initialisation)."""
    return data.FederatedDataset(
        x=[torch.zeros(m, dim) for _ in range(num_clients)],
        y=[torch.zeros(m) for _ in range(num_clients)],
        x_test=torch.zeros(4, dim), y_test=torch.zeros(4), task="regression", name="zeros")


def variance_ratio_ok(samples: np.ndarray, sigma: float) -> float:
    """Empirical variance over the predicted one; chi-square 1e-6 band (the test can fail)."""
    n = samples.size
    ratio = float(np.mean(samples ** 2) / sigma ** 2)
    lo, hi = stats.chi2.ppf([1e-6, 1 - 1e-6], n) / n
    assert lo < ratio < hi, (ratio, lo, hi)
    return ratio


@pytest.mark.parametrize("mix", [False, True])
def test_record_level_noise_std_per_local_step(mix):
    n, m, dim, k, lr, q, z, c = 8, 40, 1500, 3, 0.1, 0.25, 1.3, 0.7
    cfg = ExperimentConfig.from_dict({
        "seed": 3, "data": {"name": "synthetic_linear", "num_clients": n, "dim": dim},
        "model": {"name": "linreg"},
        "training": {"rounds": 1, "local_steps": k, "lr": lr, "batch_sampling": "poisson"},
        "privacy": {"level": "record", "batch_rate": q, "noise_multiplier": z, "clip": c},
        "mixup": {"enabled": mix}, "run": {"progress": False}})
    run = simulate(cfg, dataset=zero_dataset(n, m, dim))
    w = run.params[:dim].double().numpy()          # pure noise: K steps, n clients averaged
    scale = 0.5 if mix else 1.0                      # E[lambda] under mixup
    sigma = lr * math.sqrt(k) * z * c / (q * m * scale) / math.sqrt(n)
    variance_ratio_ok(w, sigma)
    # the wrong formulas would be rejected: no per-step noise, or noise not averaged
    for wrong in (sigma / math.sqrt(k), sigma * math.sqrt(n)):
        with pytest.raises(AssertionError):
            variance_ratio_ok(w, wrong)


@pytest.mark.parametrize("mask", [None, "secret", "shared"])
def test_client_level_noise_std_on_the_sum(mask):
    n, m, dim, qc, z, c, gamma = 20, 5, 1200, 0.5, 2.0, 0.3, 0.25
    sec = {"seed": 1, "data": {"name": "synthetic_linear", "num_clients": n, "dim": dim},
           "model": {"name": "linreg"},
           "training": {"rounds": 1, "lr": 0.1, "client_sampling": "poisson",
                        "client_rate": qc},
           "privacy": {"level": "client", "noise_multiplier": z, "clip": c},
           "run": {"progress": False}}
    if mask:
        sec["compression"] = {"name": "prune", "ratio": gamma, "stage": "mechanism",
                              "mask": mask}
    cfg = ExperimentConfig.from_dict(sec)
    run = simulate(cfg, dataset=zero_dataset(n, m, dim))
    p = run.params.double().numpy()                # zero updates: the release is pure noise
    sigma = z * c / (qc * n)
    if mask == "shared":
        kept = p != 0
        # noise only on the kept coordinates of the public mask
        assert abs(kept.mean() - gamma) < 5 * math.sqrt(gamma * (1 - gamma) / p.size)
        variance_ratio_ok(p[kept], sigma)
    else:
        assert np.count_nonzero(p) == p.size        # noise on every coordinate
        variance_ratio_ok(p, sigma)


def test_zero_dataset_update_is_zero_without_noise_sanity():
    # the premise of the noise tests: without DP the zero dataset leaves the model unchanged
    run = simulate(ExperimentConfig.from_dict({
        "data": {"name": "synthetic_linear", "num_clients": 3, "dim": 5},
        "model": {"name": "linreg"}, "training": {"rounds": 2, "local_steps": 3},
        "run": {"progress": False}}), dataset=zero_dataset(3, 4, 5))
    assert bool((run.params == 0).all())


# --------------------------------------------------------------------------------------------------
# Reproducibility, checkpoints, resume
# --------------------------------------------------------------------------------------------------
def test_same_seed_same_metrics_different_seed_different():
    cfg = record_cfg(training={"client_sampling": "poisson", "client_rate": 0.6},
                     compression={"name": "randk", "k": 40, "mask": "secret"})
    a, b = simulate(cfg), simulate(cfg)
    assert strip_time(a.metrics) == strip_time(b.metrics)
    assert torch.equal(a.params, b.params)
    c = simulate(cfg.replace(seed=1))
    assert strip_time(c.metrics) != strip_time(a.metrics)


def _resume_cfg() -> ExperimentConfig:
    return record_cfg(training={"rounds": 7, "momentum": 0.5, "client_sampling": "poisson",
                                "client_rate": 0.7},
                      compression={"name": "topk", "ratio": 0.1, "error_feedback": True},
                      byzantine={"num_byzantine": 2, "attack": "alie", "aggregator": "cwtm"},
                      run={"checkpoint_every": 2, "eval_every": 2})


def test_interrupted_then_resumed_run_equals_uninterrupted(tmp_path):
    cfg = _resume_cfg()
    full = simulate(cfg, out_dir=tmp_path / "full")

    class Stop(Exception):
        pass

    def stop_at_5(t, m):
        if t == 5:
            raise Stop

    with pytest.raises(Stop):
        simulate(cfg, out_dir=tmp_path / "cut", callback=stop_at_5)
    assert (tmp_path / "cut" / CHECKPOINT).is_file()
    assert not (tmp_path / "cut" / RESULT).exists()
    state = torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)
    assert state["round"] == 4 and state["ef_memory"]        # error-feedback memory is saved
    resumed = simulate(cfg, out_dir=tmp_path / "cut", resume=True)
    assert resumed.info["resumed_from"] == 4
    assert strip_time(resumed.metrics) == strip_time(full.metrics)
    assert torch.equal(resumed.params, full.params)
    # the run written to disk is the same too
    a = json.loads((tmp_path / "full" / RESULT).read_text())
    b = json.loads((tmp_path / "cut" / RESULT).read_text())
    assert strip_time(a["metrics"]) == strip_time(b["metrics"])


def test_resume_from_a_checkpoint_of_another_config_is_refused(tmp_path):
    cfg = _resume_cfg()

    def stop(t, m):
        if t == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(cfg, out_dir=tmp_path, callback=stop)
    other = cfg.replace(training__lr=0.25)
    with pytest.raises(ValueError, match="training.lr"):
        simulate(other, out_dir=tmp_path, resume=True)
    # run-time options may differ
    ok = simulate(cfg.replace(run__checkpoint_every=3, run__progress=False), out_dir=tmp_path,
                  resume=True)
    assert ok.info["resumed_from"] == 2


def test_results_written_atomically_as_json(tmp_path):
    cfg = cfg_of(byzantine={"num_byzantine": 2, "attack": "sign_flip", "aggregator": "cwmed"})
    run = simulate(cfg, out_dir=tmp_path)
    res = json.loads((tmp_path / RESULT).read_text())
    assert res["rounds"] == 4 and len(res["metrics"]) == 4
    assert res["accounting"]["epsilon"] == "inf"
    assert res["byzantine_ids"] == run.byzantine_ids
    assert ExperimentConfig.from_dict(res["config"]) == cfg
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp files
    params = torch.load(tmp_path / PARAMS, weights_only=True)["params"]
    assert torch.equal(params, run.params)
    assert json.loads(run.to_json())["summary"]["accuracy"] == run.final["accuracy"]


# --------------------------------------------------------------------------------------------------
# Algorithms, sampling, compression, Byzantine clients
# --------------------------------------------------------------------------------------------------
def test_fedsgd_equals_fedavg_with_one_local_step():
    a = simulate(cfg_of(training={"algorithm": "fedsgd", "lr": 0.7, "momentum": 0.3}))
    b = simulate(cfg_of(training={"algorithm": "fedavg", "local_steps": 1, "lr": 0.7,
                                  "momentum": 0.3}))
    assert torch.allclose(a.params, b.params, atol=1e-6)


def test_vectorised_local_steps_equal_a_per_client_loop():
    cfg = cfg_of(model={"name": "mlp", "hidden": 8},
                 data={"partition": "dirichlet", "alpha": 0.5},      # unequal client sizes
                 training={"rounds": 2, "local_steps": 3, "lr": 0.3, "server_lr": 0.8})
    run = simulate(cfg)
    ds = data.digits(num_clients=10, partition_method="dirichlet", alpha=0.5, seed=0)
    model = models.for_dataset(ds, "mlp", hidden=(8,))
    params = model.init(seed=0)
    for _ in range(2):
        updates = []
        for i in range(10):
            x, y = ds.client(i)
            p = params.clone()
            for _ in range(3):
                p = p - 0.3 * model.grad(p, x, y)
            updates.append(p - params)
        params = params + 0.8 * torch.stack(updates).mean(0)
    assert torch.allclose(run.params, params, atol=1e-5)


def test_client_sampling_modes():
    fixed = simulate(record_cfg(training={"client_sampling": "fixed", "cohort_size": 3,
                                          "rounds": 5}))
    assert fixed.metric("clients").tolist() == [3.0] * 5
    pois = simulate(cfg_of(training={"client_sampling": "poisson", "client_rate": 0.3,
                                     "rounds": 40}))
    counts = pois.metric("clients")
    assert 2.0 < counts.mean() < 4.0 and counts.std() > 0


def test_bits_sent():
    d = 650                                            # digits, softmax regression
    plain = simulate(cfg_of())
    assert plain.metric("bits").tolist() == [32 * d * 10] * 4
    rk = simulate(cfg_of(compression={"name": "randk", "k": 65, "mask": "secret"}))
    assert rk.final["bits"] == 10 * compressors.RandK(65).bits(d)
    assert rk.final["bits_total"] == 4 * rk.final["bits"]


def test_update_attack_replaces_updates_using_the_honest_mean():
    cfg = cfg_of(training={"algorithm": "fedsgd", "rounds": 1, "lr": 1.0},
                 byzantine={"num_byzantine": 3, "attack": "sign_flip", "aggregator": "mean"})
    run = simulate(cfg)
    ds = data.digits(num_clients=10, seed=0)
    model = models.for_dataset(ds, "logistic_regression")
    p0 = model.init(seed=0)
    honest = [i for i in range(10) if i not in run.byzantine_ids]
    gbar = torch.stack([model.grad(p0, *ds.client(i)) for i in honest]).mean(0)
    expected = float(gbar.double().norm() ** 2) * (2 * 3 / 10) ** 2
    assert run.final["byzantine"] == 3 and len(run.byzantine_ids) == 3
    assert math.isclose(run.final["agg_error"], expected, rel_tol=1e-4)
    assert torch.allclose(run.params, p0 - (7 - 3) / 10 * gbar, atol=1e-6)


def test_nonfinite_updates_are_rejected_and_counted():
    run = simulate(cfg_of(byzantine={"num_byzantine": 2, "attack": "nan",
                                     "aggregator": "mean"}))
    assert run.metric("rejected").tolist() == [2.0] * 4
    assert bool(torch.isfinite(run.params).all()) and run.final["accuracy"] > 0.5


def test_backdoor_reports_its_success_rate():
    run = simulate(cfg_of(byzantine={"num_byzantine": 2, "attack": "backdoor",
                                     "aggregator": "mean", "attack_params": {"target": 3}}))
    assert 0.0 <= run.final["backdoor_success"] <= 1.0


def test_synthetic_task_reports_distance_to_optimum():
    run = simulate(ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 5, "dim": 5,
                 "samples_per_client": 200},
        "training": {"rounds": 30, "lr": 1.0}, "run": {"progress": False}}))
    dist = run.metric("distance_to_optimum")
    assert dist[-1] < 0.5 * dist[0]


def test_client_level_dp_refuses_a_robust_rule():
    # issue 12: the constraint lives in the configuration's validation (refused before the run)
    with pytest.raises(ValueError, match="aggregator must be 'mean'"):
        simulate(cfg_of(privacy={"level": "client"}, byzantine={"aggregator": "cwtm"}))


def test_dataset_override_must_match_num_clients():
    with pytest.raises(ValueError, match="num_clients=10"):
        simulate(cfg_of(), dataset=data.digits(num_clients=4))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        simulate(cfg_of(device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_cuda_run_matches_cpu_run():  # pragma: no cover - runs on GPU machines only
    cfg = record_cfg(model={"name": "mlp", "hidden": 16})
    cpu = simulate(cfg)
    gpu = simulate(cfg.replace(device="cuda"))
    assert gpu.rounds == cpu.rounds
    assert torch.allclose(gpu.params, cpu.params, atol=1e-3)


def test_mixup_and_models_run():
    for extra in ({"model": {"name": "cnn", "hidden": 16}},
                  {"model": {"name": "mlp", "hidden": 16}, "mixup": {"enabled": True}}):
        run = simulate(cfg_of(training={"rounds": 2, "batch_sampling": "fixed",
                                        "batch_size": 16}, **extra))
        assert run.rounds == 2 and math.isfinite(run.final["loss"])


# --------------------------------------------------------------------------------------------------
# Acceptance: digits, 20 clients, 4 label flippers -- the robust rule beats the mean
# --------------------------------------------------------------------------------------------------
def test_end_to_end_label_flipping_robust_rule_ahead_of_mean():
    base = ExperimentConfig.from_toml(CONFIGS / "digits_labelflip.toml").replace(
        run__progress=False)
    assert (base.data.num_clients, base.byzantine.num_byzantine) == (20, 4)
    runs = {rule: simulate(base.replace(byzantine__aggregator=rule))
            for rule in ("mean", "cwtm", "nnm+cwtm")}
    acc = {k: r.final["accuracy"] for k, r in runs.items()}
    loss = {k: r.final["loss"] for k, r in runs.items()}
    assert acc["nnm+cwtm"] > acc["mean"] + 0.03, acc
    assert acc["cwtm"] > acc["mean"] + 0.01, acc
    assert loss["nnm+cwtm"] < loss["cwtm"] < loss["mean"], loss
    # the robust rule stays close to the honest mean; the mean is pulled away
    assert runs["nnm+cwtm"].metric("agg_error").mean() < runs["mean"].metric("agg_error").mean()


def test_client_chunking_does_not_change_the_computation(monkeypatch):
    import sys

    cfg = cfg_of(model={"name": "mlp", "hidden": 8}, training={"rounds": 2, "local_steps": 2})
    whole = simulate(cfg)
    engine_module = sys.modules["fltheory.fl.simulate"]
    monkeypatch.setattr(engine_module, "_CHUNK_PARAMS", 3 * 610)    # 3 clients per chunk (d = 610)
    chunked = simulate(cfg)
    assert torch.allclose(whole.params, chunked.params, atol=1e-6)
    dp = simulate(record_cfg(model={"name": "mlp", "hidden": 8}))
    assert dp.rounds == 4 and math.isfinite(dp.final["loss"])


def test_progress_bar_on_request_and_silent_by_default(capsys):
    simulate(cfg_of(training={"rounds": 3}), progress=True)
    err = capsys.readouterr().err
    assert "rounds:" in err and "/3 [" in err           # tqdm: count, elapsed, ETA
    simulate(cfg_of(training={"rounds": 3}))          # stderr is not a terminal here
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("level", ["record", "client"])
def test_rounds_without_any_client(level):
    sec = {"training": {"client_sampling": "poisson", "client_rate": 0.02, "rounds": 1,
                        "batch_sampling": "poisson"},
           "privacy": {"level": level, "batch_rate": 0.2}}
    run = simulate(cfg_of(**sec))
    m = run.final
    assert m["clients"] == 0 and m["bits"] == 0 and m["agg_error"] is None
    assert bool(torch.isfinite(run.params).all())
    # the server of DP-FedAvg releases its noise even when nobody took part (the mechanism
    # the accountant analyses); with record-level DP nothing is released
    moved = bool((run.params != 0).any())           # softmax regression starts at zero
    assert moved == (level == "client")


@pytest.mark.parametrize("level", ["record", "client"])
def test_planted_half_noise_bug_changes_the_engines_noise(level):
    """noise_scale=0.5 (the validation's planted bug) halves the released noise, nothing else."""
    n, m, dim = 8, 40, 1500
    priv = {"level": level, "noise_multiplier": 1.3, "clip": 0.7}
    train = {"rounds": 1, "lr": 0.1}
    if level == "record":
        priv["batch_rate"] = 0.25
        train["batch_sampling"] = "poisson"
    cfg = ExperimentConfig.from_dict({
        "seed": 3, "data": {"name": "synthetic_linear", "num_clients": n, "dim": dim},
        "model": {"name": "linreg"}, "training": train, "privacy": priv,
        "run": {"progress": False}})
    full = simulate(cfg, dataset=zero_dataset(n, m, dim)).params[:dim].double().numpy()
    half_run = simulate(cfg, dataset=zero_dataset(n, m, dim), noise_scale=0.5)
    half = half_run.params[:dim].double().numpy()
    sigma = float(np.sqrt(np.mean(full ** 2)))
    variance_ratio_ok(half, sigma / 2)
    with pytest.raises(AssertionError):
        variance_ratio_ok(half, sigma)
    assert half_run.accounting_event == cfg.accounting_event()   # the accountant is not told
    with pytest.raises(ValueError, match="noise_scale"):
        simulate(cfg, dataset=zero_dataset(n, m, dim), noise_scale=0.0)


def test_rule_f_lowered_in_small_rounds_is_recorded_and_warned():
    # n = 10, f = 4 Byzantine clients, Poisson client sampling at rate 0.3: most rounds have
    # m < 9 clients, where the trimmed mean admits only f <= (m - 1) // 2
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 10, "samples_per_client": 10,
                 "dim": 3},
        "training": {"rounds": 12, "client_sampling": "poisson", "client_rate": 0.3},
        "byzantine": {"num_byzantine": 4, "attack": "sign_flip", "aggregator": "cwtm"},
        "run": {"progress": False}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = simulate(cfg)
    lowered, exceeded = [], []
    for m in run.metrics:
        if m["clients"] == 0:
            assert m["f_effective"] is None
            continue
        assert m["rejected"] == 0
        assert m["f_effective"] == min(4, (m["clients"] - 1) // 2)   # independent of the engine
        if m["f_effective"] < 4:
            lowered.append(m["round"])
        if m["byzantine"] > m["f_effective"]:
            exceeded.append(m["round"])
    assert lowered and exceeded            # the seed gives both kinds of rounds
    assert run.info["f_lowered_rounds"] == lowered
    assert run.info["f_exceeded_rounds"] == exceeded
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any(f"in {len(exceeded)} round(s)" in s and "does not cover" in s for s in msgs)


def test_rule_f_kept_with_every_client():
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 10, "samples_per_client": 10,
                 "dim": 3},
        "training": {"rounds": 3},
        "byzantine": {"num_byzantine": 4, "attack": "sign_flip", "aggregator": "cwtm"},
        "run": {"progress": False}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run = simulate(cfg)
    assert run.metric("f_effective").tolist() == [4.0] * 3
    assert run.info["f_lowered_rounds"] == [] and run.info["f_exceeded_rounds"] == []
