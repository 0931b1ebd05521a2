"""Per-client settings in the engine ([clients]): what runs is what each client's event says."""

import math

import numpy as np
import pytest
import torch

from fltheory.accounting import epsilon, local_dp_sgd
from fltheory.config import ExperimentConfig
from fltheory.fl import simulate

BASE = {"data": {"name": "synthetic_logistic", "num_clients": 4, "samples_per_client": 40,
                 "dim": 6},
        "training": {"rounds": 4, "batch_sampling": "poisson", "lr": 0.3},
        "privacy": {"level": "record", "batch_rate": 0.2, "noise_multiplier": 1.0},
        "run": {"progress": False}}


def cfg(clients=None, **training):
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    d["training"].update(training)
    if clients is not None:
        d["clients"] = clients
    return ExperimentConfig.from_dict(d)


def test_shared_values_reproduce_the_plain_run():
    plain = simulate(cfg())
    same = simulate(cfg({"noise_multiplier": [1.0] * 4, "batch_rate": [0.2] * 4,
                         "local_steps": [1] * 4}))
    assert torch.equal(plain.params, same.params)
    assert [m["loss"] for m in plain.metrics] == [m["loss"] for m in same.metrics]


def test_each_client_runs_its_own_event():
    c = cfg({"client_rate": [1.0, 1.0, 0.5, 0.25], "batch_rate": [0.1, 0.1, 0.25, 0.5],
             "noise_multiplier": [1.0, 1.0, 2.0, 0.7], "local_steps": [1, 1, 3, 2],
             "delta": [1e-5, 1e-5, 1e-6, 1e-6], "group": ["a", "a", "b", "c"]},
            client_sampling="poisson")
    run = simulate(c)
    assert run.client_events[2] == local_dp_sgd(0.5, 0.25, 2.0, 3, 4)
    assert run.client_events[3] == local_dp_sgd(0.25, 0.5, 0.7, 2, 4)
    assert run.client_guarantees[2].delta == 1e-6 and run.client_guarantees[0].delta == 1e-5
    # the run's single guarantee is the weakest client's at privacy.delta
    worst = max(epsilon(ev, c.privacy.delta).epsilon for ev in run.client_events.values())
    assert run.guarantee.epsilon == pytest.approx(worst, rel=1e-12)
    assert run.info["client_rounds"][0] == 4            # rate 1: every round
    assert run.info["client_group"] == [0, 0, 1, 2]


def test_noise_follows_the_client():
    c = cfg({"noise_multiplier": [0.01, 0.01, 50.0, 50.0]})
    run = simulate(c, record_messages=True)
    msgs = run.messages.messages[0]
    quiet = msgs[:2].norm(dim=1).max()
    loud = msgs[2:].norm(dim=1).min()
    assert loud > 20 * quiet


def test_bits_and_masks_per_client():
    d = 7                                          # synthetic logistic: dim + 1 parameters
    c = cfg({"prune_ratio": [1.0, 1.0, 0.5, 0.5], "qsgd_levels": [0, 7, 0, 1]})
    run = simulate(c, record_messages=True)
    bits = run.info["client_bits_total"]
    assert bits[0] == 4 * 32 * d                   # dense float32
    assert bits[1] == 4 * (32 + d * (1 + math.ceil(math.log2(8))))      # QSGD, s = 7
    # pruned clients share the round's public mask: the noised client 2 fills it, the
    # quantized client 3 stays inside it; bits = 64-bit seed + 32 per kept float
    expected = 0
    for m in run.messages.messages:
        kept = m[2] != 0
        assert not bool(((m[3] != 0) & ~kept).any())
        expected += 64 + 32 * int(kept.sum())
    assert bits[2] == expected


@pytest.mark.parametrize("clients,extra,match", [
    ({"noise_multiplier": [1.0, 2.0]}, {}, "must have data.num_clients=4 entries"),
    ({"client_rate": [0.5] * 4}, {}, "client_sampling='poisson'"),
    ({"noise_multiplier": [-1.0] * 4}, {}, r"clients.noise_multiplier\[0\] must be > 0"),
])
def test_config_errors(clients, extra, match):
    with pytest.raises(ValueError, match=match):
        cfg(clients, **extra)
    d = dict(BASE, privacy={"level": "client"}, clients={"noise_multiplier": [1.0] * 4})
    with pytest.raises(ValueError, match="need privacy.level='record'"):
        ExperimentConfig.from_dict(d)


def test_per_client_toml_round_trip():
    c = cfg({"noise_multiplier": [1.0, 2.0, 1.0, 2.0], "group": ["a", "b", "a", "b"]})
    again = ExperimentConfig.from_dict(c.to_dict())
    assert again.clients.noise_multiplier == [1.0, 2.0, 1.0, 2.0]
    assert np.isfinite(again.epsilon().epsilon)


def test_resume_keeps_the_per_client_counters(tmp_path):
    d = {"noise_multiplier": [1.0, 1.0, 2.0, 2.0], "qsgd_levels": [0, 0, 7, 7]}
    full = simulate(cfg(d))
    c = ExperimentConfig.from_dict({**cfg(d).to_dict(),
                                    "run": {"progress": False, "checkpoint_every": 2}})

    class Stop(Exception):
        pass

    def stop(t, m):
        if t == 3:
            raise Stop

    with pytest.raises(Stop):
        simulate(c, out_dir=tmp_path, callback=stop)
    resumed = simulate(c, out_dir=tmp_path, resume=True)
    assert resumed.info["client_bits_total"] == full.info["client_bits_total"]
    assert resumed.info["client_rounds"] == full.info["client_rounds"]
    assert torch.equal(resumed.params, full.params)
