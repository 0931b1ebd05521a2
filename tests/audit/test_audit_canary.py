"""Canary audits against the accountant: consistent for the correct mechanism, flagged for half
the noise, mu_hat close to sqrt(T)/z for full-batch runs.

Every audit of this file is collected in ``_AUDITS``; the last test asserts that none of the
empirical lower bounds exceeds the theoretical epsilon of its (correct) mechanism.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from fltheory.audit import canary as C  # noqa: E402
from fltheory.config import ExperimentConfig  # noqa: E402

_AUDITS: list = []


def _keep(res):
    if res.mechanism["noise_scale"] == 1.0:
        _AUDITS.append(res)
    return res


# (sampling rate, z, T, method): full batch and subsampled, every method
RECORD_CASES = [
    (1.0, 2.0, 4, "gdp"),
    (1.0, 2.0, 4, "hypothesis_test"),
    (1.0, 2.0, 4, "one_run"),
    (1.0, 1.0, 1, "one_run"),
    (0.1, 1.0, 50, "hypothesis_test"),
    (0.1, 1.0, 50, "one_run"),
    (0.5, 0.7, 10, "one_run"),
]


@pytest.mark.parametrize("q,z,T,method", RECORD_CASES)
def test_record_audit_is_consistent(q, z, T, method):
    res = _keep(C.gradient_canary_audit(q, z, T, canaries=1000, method=method, seed=0))
    assert res.consistent and res.epsilon_lower <= res.epsilon_theory
    assert res.method == method and res.level == "record"
    assert 0 < res.epsilon_theory_lower <= res.epsilon_theory
    if method == "one_run":
        assert res.details["unclipped_canary_steps"] == 0
        assert res.details["guesses"] in res.details["guesses_tried"]


@pytest.mark.parametrize("qc,z,T,method", [(1.0, 2.0, 4, "gdp"), (1.0, 2.0, 4, "one_run"),
                                          (0.5, 1.0, 10, "one_run"),
                                          (0.5, 1.0, 10, "hypothesis_test")])
def test_client_audit_is_consistent(qc, z, T, method):
    res = _keep(C.client_canary_audit(qc, z, T, canaries=600, method=method, seed=1))
    assert res.consistent and res.level == "client"


@pytest.mark.parametrize("level,method", [("record", "gdp"), ("record", "one_run"),
                                          ("client", "gdp"), ("client", "one_run")])
def test_full_batch_mu_hat_matches_sqrt_T_over_z(level, method):
    fn = C.gradient_canary_audit if level == "record" else C.client_canary_audit
    res = _keep(fn(1.0, 4.0, 16, canaries=1000, method=method, seed=2))
    assert res.mu_theory == 1.0  # sqrt(16) / 4
    assert abs(res.mu_hat - res.mu_theory) <= res.mu_tolerance
    assert res.mu_tolerance == pytest.approx(C.MU_TOLERANCE_SE * res.mu_hat_se)
    assert res.mu_tolerance < 0.35 and res.mu_consistent


def test_half_noise_is_flagged_by_the_gdp_audit():
    """The planted bug: the mechanism adds half the noise the accountant assumes."""
    bad = C.gradient_canary_audit(1.0, 2.0, 4, canaries=2000, method="gdp", noise_scale=0.5,
                                  seed=0)
    assert not bad.consistent
    assert bad.margin > 2.0  # measured 4.8 (lower bound 9.2 vs claimed 4.38)
    assert bad.mu_lower > 1.5  # certified: mu >= 1.87 while the claim is mu = 1
    assert bad.mu_consistent is False
    good = _keep(C.gradient_canary_audit(1.0, 2.0, 4, canaries=2000, method="gdp", seed=0))
    assert good.consistent and good.mu_lower <= 1.0


@pytest.mark.parametrize("fn", [C.gradient_canary_audit, C.client_canary_audit])
def test_half_noise_doubles_mu_hat_in_one_run(fn):
    bad = fn(1.0, 4.0, 16, canaries=1000, method="one_run", noise_scale=0.5, seed=3)
    assert bad.mu_consistent is False and bad.mu_hat == pytest.approx(2.0, abs=0.35)


def test_half_noise_flagged_through_a_config():
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 2, "samples_per_client": 40,
                 "dim": 5},
        "training": {"rounds": 2, "local_steps": 2, "batch_sampling": "poisson"},
        "privacy": {"level": "record", "noise_multiplier": 2.0, "batch_rate": 1.0}})
    good = _keep(C.canary_audit(cfg, canaries=1000))
    bad = C.canary_audit(cfg, canaries=1000, noise_scale=0.5)
    assert good.method == "gdp" and good.consistent
    assert good.epsilon_theory == pytest.approx(cfg.epsilon().epsilon)
    assert good.mu_theory == pytest.approx(1.0)
    assert not bad.consistent and bad.epsilon_lower > bad.epsilon_theory


def test_config_record_level_digits_one_run_with_client_sampling():
    cfg = ExperimentConfig.from_dict({
        "seed": 4,
        "data": {"name": "digits", "num_clients": 10},
        "training": {"rounds": 10, "local_steps": 2, "batch_sampling": "poisson",
                     "client_sampling": "poisson", "client_rate": 0.5, "lr": 0.5},
        "privacy": {"level": "record", "noise_multiplier": 1.0, "batch_rate": 0.2}})
    res = _keep(C.canary_audit(cfg, canaries=500, method="one_run"))
    assert res.consistent and res.mu_theory is None
    assert res.mechanism["client_rate"] == 0.5 and res.mechanism["steps"] == 20
    assert res.epsilon_theory == pytest.approx(cfg.epsilon().epsilon)
    assert res.details["unclipped_canary_steps"] == 0 and res.details["config"] == "experiment"


def test_config_client_level_mlp():
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "digits", "num_clients": 8},
        "model": {"name": "mlp", "hidden": 16},
        "training": {"rounds": 5, "client_sampling": "poisson", "client_rate": 0.5},
        "privacy": {"level": "client", "noise_multiplier": 1.0}})
    res = _keep(C.canary_audit(cfg, canaries=300, method="one_run"))
    assert res.level == "client" and res.consistent
    assert res.details["model"] == "mlp"
    auto = _keep(C.canary_audit(cfg, canaries=300))
    assert auto.method == "hypothesis_test"  # subsampled: no GDP conversion


def test_refusals():
    with pytest.raises(ValueError, match="full-batch"):
        C.gradient_canary_audit(0.5, 1.0, 4, canaries=100, method="gdp")
    with pytest.raises(ValueError, match="nothing to audit"):
        C.canary_audit(ExperimentConfig.from_dict({}))
    with pytest.raises(ValueError, match="method must be one of"):
        C.gradient_canary_audit(1.0, 1.0, 4, canaries=100, method="bayes")
    with pytest.raises(ValueError, match="noise_scale must be > 0"):
        C.gradient_canary_audit(1.0, 1.0, 4, canaries=100, noise_scale=0.0)
    with pytest.raises(ValueError, match="canaries must be >= 20"):
        C.gradient_canary_audit(1.0, 1.0, 4, canaries=4)
    with pytest.raises(ValueError, match="GeneralizedLinearModel"):
        from fltheory.fl import models

        x, y = torch.rand(20, 4), torch.randint(0, 2, (20,))
        C.gradient_canary_audit(1.0, 1.0, 2, canaries=20, method="one_run", data=(x, y),
                                model=models.mlp(4, 2, hidden=(3,)))


def test_same_seed_same_numbers_and_json():
    a = C.gradient_canary_audit(0.5, 1.0, 8, canaries=200, method="one_run", seed=5)
    b = C.gradient_canary_audit(0.5, 1.0, 8, canaries=200, method="one_run", seed=5)
    c = C.gradient_canary_audit(0.5, 1.0, 8, canaries=200, method="one_run", seed=6)
    assert a.to_dict() == b.to_dict()
    assert a.mu_hat != c.mu_hat
    d = json.loads(json.dumps(a.to_dict()))
    assert d["consistent"] is True and d["mechanism"]["sampling_rate"] == 0.5
    assert "epsilon >=" in str(a) and "Steinke" in a.reference


def test_stronger_mechanism_gives_smaller_lower_bound():
    lbs = [C.gradient_canary_audit(1.0, z, 4, canaries=1000, method="gdp", seed=7).epsilon_lower
           for z in (1.0, 2.0, 8.0)]
    assert lbs[0] > lbs[1] > lbs[2]


def test_no_audit_exceeds_its_theoretical_epsilon():
    """Acceptance criterion of issue 6: across the audits above, no lower bound exceeds theory."""
    assert len(_AUDITS) >= 15
    worst = max(a.epsilon_lower / a.epsilon_theory for a in _AUDITS)
    assert all(a.epsilon_lower <= a.epsilon_theory for a in _AUDITS), worst
    assert worst < 1.0
