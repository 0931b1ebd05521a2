"""Passive MIA from the clients' updates over rounds (Zari, Xu & Neglia 2021), pooled clients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fltheory.audit.transcript import run_fedavg, sensitive_tabular  # noqa: E402
from fltheory.audit.passive_mia import passive_mia, passive_mia_scores  # noqa: E402


@pytest.fixture(scope="module")
def task():
    return sensitive_tabular(num_clients=5, samples_per_client=100, dim=100, label_noise=0.1,
                             seed=0)


def _attack(task, z, score="cosine", compressor=None):
    tr = run_fedavg(task.model(), task.x, task.y, rounds=20, local_steps=10, lr=0.5,
                    clip=1.0 if z else None, noise_multiplier=z, compressor=compressor, seed=0)
    return tr, passive_mia(task.model(), tr, range(5), (task.x, task.y),
                           (task.x_out, task.y_out), score=score, bootstrap=200)


@pytest.mark.parametrize("score", ["cosine", "loss_drop"])
def test_beats_guessing_undefended(task, score):
    _, res = _attack(task, 0.0, score)
    assert res.beats_baseline, res                       # measured AUC 0.67, CI ~(0.63, 0.70)
    assert res.auc > 0.6 and res.ci[0] > 0.5
    assert res.members == res.non_members == 500


def test_rounds_beat_the_final_model_loss_attack(task):
    _, res = _attack(task, 0.0)
    assert res.auc > res.loss_auc + 0.03                 # 0.67 vs 0.60


def test_dp_noise_pulls_auc_to_half(task):
    _, clean = _attack(task, 0.0)
    tr, noisy = _attack(task, 64.0)
    assert tr.epsilon < 1.5
    assert noisy.auc < clean.auc - 0.1
    assert noisy.auc_ci[0] < 0.5 < noisy.auc_ci[1] or abs(noisy.auc - 0.5) < 0.05


def test_single_client_and_scores(task):
    tr, _ = _attack(task, 0.0)
    r = passive_mia(task.model(), tr, 0, (task.x[0], task.y[0]), (task.x_out[0], task.y_out[0]),
                    bootstrap=50)
    assert r.members == 100 and 0.0 <= r.auc <= 1.0
    s = passive_mia_scores(task.model(), tr, 0, task.x[0], task.y[0], per_round=True)
    assert s.shape == (20, 100)


def test_validation(task):
    tr, _ = _attack(task, 0.0)
    with pytest.raises(ValueError, match="score"):
        passive_mia(task.model(), tr, 0, (task.x[0], task.y[0]), (task.x_out[0], task.y_out[0]),
                    score="lira")
    with pytest.raises(ValueError, match="client"):
        passive_mia(task.model(), tr, 9, (task.x[0], task.y[0]), (task.x_out[0], task.y_out[0]))
    with pytest.raises(ValueError, match="client"):
        passive_mia(task.model(), tr, [0, 1], (task.x, task.y), (task.x_out, task.y_out))
