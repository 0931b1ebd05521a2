"""Attribute inference (gradient- and model-based): beats the majority guess, DP pulls it back."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fltheory.audit.transcript import local_optimum, run_fedavg, sensitive_tabular  # noqa: E402
from fltheory.audit.attribute_inference import (gradient_attribute_inference,  # noqa: E402
                                                model_attribute_inference,
                                                summarize_attribute_guesses)


@pytest.fixture(scope="module")
def task():
    return sensitive_tabular(num_clients=10, samples_per_client=10, dim=20, seed=0)


def _run(task, z):
    # clipping belongs to the DP release: the undefended run (z = 0) is unclipped (issue 12)
    return run_fedavg(task.model(), task.x, task.y, rounds=3, local_steps=5, lr=0.5,
                      clip=1.0 if z > 0 else None, noise_multiplier=z, seed=1)


def test_gradient_attack_beats_majority_undefended(task):
    res = gradient_attribute_inference(task.model(), _run(task, 0.0), task.x, task.y,
                                       task.sensitive_index)
    assert res.baseline == pytest.approx(0.62)
    assert res.beats_baseline, res                       # measured 0.93, AUC 0.98
    assert res.accuracy > res.baseline + 0.2 and res.auc > 0.85


def test_gradient_attack_falls_with_dp_noise(task):
    clean = gradient_attribute_inference(task.model(), _run(task, 0.0), task.x, task.y,
                                         task.sensitive_index)
    noisy_run = _run(task, 50.0)
    noisy = gradient_attribute_inference(task.model(), noisy_run, task.x, task.y,
                                         task.sensitive_index)
    assert noisy_run.epsilon < 5
    assert noisy.auc < clean.auc - 0.2
    assert noisy.ci[0] <= noisy.baseline                # back within reach of the majority guess


def test_model_based_needs_the_local_model(task):
    m = task.model()
    opt = local_optimum(m, task.x, task.y)
    local = model_attribute_inference(m, opt, task.x, task.y, task.sensitive_index)
    assert local.beats_baseline and local.auc > 0.9     # measured 0.93 / 0.97
    # the effect of s has a client-specific sign: one global model cannot invert it
    tr = run_fedavg(m, task.x, task.y, rounds=30, lr=0.5, seed=0)
    glob = model_attribute_inference(m, tr.final, task.x, task.y, task.sensitive_index)
    assert glob.accuracy < local.accuracy - 0.15
    assert not glob.beats_baseline


def test_summary_and_validation():
    r = summarize_attribute_guesses(np.array([1.0, -1.0, 1.0, 1.0]), [1, 0, 0, 1], method="x")
    assert (r.correct, r.trials, r.baseline, r.auc) == (3, 4, 0.5, 0.75)
    with pytest.raises(ValueError, match="same size"):
        summarize_attribute_guesses([1.0], [1, 0], method="x")
    task = sensitive_tabular(num_clients=2, samples_per_client=3, dim=2, seed=0)
    with pytest.raises(ValueError, match="sensitive_index"):
        model_attribute_inference(task.model(), torch.zeros(4), task.x, task.y, 7)
    with pytest.raises(ValueError, match="sensitive_rate"):
        sensitive_tabular(sensitive_rate=1.0)
