"""Source inference (Hu et al. 2021): beats 1/n on an undefended run, DP noise pulls it to 1/n."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from fltheory.audit.transcript import run_fedavg, sensitive_tabular  # noqa: E402
from fltheory.audit.source_inference import (source_inference,  # noqa: E402
                                             source_posteriors)


@pytest.fixture(scope="module")
def task():
    # 10 clients of 10 records in 21 dimensions, no client shift: only memorisation is left
    return sensitive_tabular(num_clients=10, samples_per_client=10, dim=20, label_noise=0.2,
                             client_shift=0.0, seed=0)


def _run(task, z):
    return run_fedavg(task.model(), task.x, task.y, rounds=10, local_steps=10, lr=1.0,
                      clip=1.0 if z else None, noise_multiplier=z, seed=1)


def test_beats_uniform_guess_on_undefended_run(task):
    res = source_inference(task.model(), _run(task, 0.0), task.x, task.y)
    assert res.baseline == pytest.approx(0.1)
    assert res.trials == 100
    assert res.ci[0] > 2 * res.baseline, res          # measured: 0.45, CI (0.35, 0.55)
    assert res.beats_baseline and math.isinf(res.epsilon)


def test_non_members_are_not_attributed(task):
    # the same attack on fresh records of each client's distribution stays at chance: the
    # signal is membership, not the client's distribution
    res = source_inference(task.model(), _run(task, 0.0), task.x_out, task.y_out)
    assert res.ci[0] < res.baseline < res.ci[1] or res.accuracy < 0.2


def test_dp_noise_pulls_toward_baseline(task):
    clean = source_inference(task.model(), _run(task, 0.0), task.x, task.y)
    strong = source_inference(task.model(), _run(task, 100.0), task.x, task.y)
    run = _run(task, 100.0)
    assert run.epsilon < 1.0
    assert strong.accuracy < clean.accuracy - 0.2
    assert strong.ci[0] <= strong.baseline + 0.05      # CI reaches (about) 1/n


def test_posteriors_and_subsampling(task):
    tr = _run(task, 0.0)
    post = source_posteriors(task.model(), tr, task.x[0], task.y[0])
    assert torch.allclose(post.sum(1), torch.ones(10, dtype=post.dtype))
    r1 = source_inference(task.model(), tr, task.x, task.y, targets=40, seed=3)
    r2 = source_inference(task.model(), tr, task.x, task.y, targets=40, seed=3)
    assert r1 == r2 and r1.trials == 40


def test_validation(task):
    tr = _run(task, 0.0)
    with pytest.raises(ValueError, match="targets"):
        source_inference(task.model(), tr, task.x, task.y, targets=0)
    with pytest.raises(ValueError, match="confidence"):
        source_inference(task.model(), tr, task.x, task.y, confidence=1.5)
    with pytest.raises(ValueError, match="clip"):
        run_fedavg(task.model(), task.x, task.y, noise_multiplier=1.0)
