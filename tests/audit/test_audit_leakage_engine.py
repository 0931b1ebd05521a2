"""Leakage attacks on runs of the FL engine (simulate(..., record_messages=True)), the tracing
driver's mixup and error feedback, magnitude pruning, and the attacks' paper protocols."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fltheory.audit.transcript import Transcript, run_fedavg, sensitive_tabular  # noqa: E402
from fltheory.audit.passive_mia import passive_mia  # noqa: E402
from fltheory.audit.source_inference import source_inference  # noqa: E402
from fltheory.config import ExperimentConfig  # noqa: E402
from fltheory.fl import compressors, simulate  # noqa: E402
from fltheory.fl.simulate import build_dataset, build_model  # noqa: E402


def _config(z: float, **training):
    tr = {"rounds": 10, "local_steps": 10, "lr": 1.0, "batch_sampling": "poisson", **training}
    pv = ({"level": "record", "noise_multiplier": z, "clip": 1.0, "batch_rate": 1.0} if z
          else {"level": "none"})
    return ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 10, "samples_per_client": 10,
                 "dim": 20, "heterogeneity": 0.0},
        "model": {"name": "logreg"}, "training": tr, "privacy": pv,
        "run": {"progress": False}})


def _source_attack(cfg):
    run = simulate(cfg, record_messages=True)
    ds = build_dataset(cfg)
    x, y = torch.stack(ds.x), torch.stack(ds.y)
    tr = Transcript.from_run(run)
    return run, tr, source_inference(build_model(cfg, ds), tr, x, y.to(x.dtype))


def test_source_inference_on_an_engine_run():
    run, tr, res = _source_attack(_config(0.0))
    assert tr.rounds == 10 and tr.num_clients == 10 and tr.epsilon == float("inf")
    # the transcript replays the engine: theta_{t+1} = theta_t + mean of the messages
    assert torch.allclose(tr.global_params[1:], tr.global_params[:-1] + tr.messages.mean(1),
                          atol=1e-5)
    assert torch.allclose(tr.final, run.params, atol=1e-6)
    assert res.beats_baseline and res.accuracy > 2 * res.baseline      # measured 0.33 vs 0.10
    run, tr, noisy = _source_attack(_config(64.0))
    assert tr.epsilon == pytest.approx(run.guarantee.epsilon) and tr.epsilon < 1.0
    assert tr.noise_multiplier == 64.0 and tr.clip == 1.0
    assert noisy.accuracy < res.accuracy - 0.1                          # measured 0.10


def test_message_log_shapes_and_refusals(tmp_path):
    cfg = _config(0.0, rounds=3, client_sampling="poisson", client_rate=0.5)
    run = simulate(cfg, record_messages=True)
    log = run.messages
    assert log.rounds == 3 and log.global_params.shape == (4, 21)
    assert all(m.shape == (len(i), 21) for i, m in zip(log.client_ids, log.messages))
    if len({tuple(i.tolist()) for i in log.client_ids}) > 1:
        with pytest.raises(ValueError, match="client_sampling"):
            log.dense()
    assert simulate(cfg).messages is None
    with pytest.raises(ValueError, match="record_messages"):
        Transcript.from_run(simulate(cfg))
    ck = ExperimentConfig.from_dict({**_config(0.0, rounds=4).to_dict(),
                                     "run": {"progress": False, "checkpoint_every": 2}})
    simulate(ck, out_dir=tmp_path)
    assert (tmp_path / "checkpoint.pt").exists()                        # written at round 2
    with pytest.raises(ValueError, match="cannot resume"):
        simulate(ck, out_dir=tmp_path, resume=True, record_messages=True)


def test_fedsgd_messages_become_local_steps():
    cfg = _config(0.0, rounds=2, local_steps=1, algorithm="fedsgd", lr=0.5)
    run = simulate(cfg, record_messages=True)
    dense = run.messages.dense()
    assert torch.allclose(dense, -0.5 * torch.stack(run.messages.messages))


def test_mixup_in_the_driver():
    task = sensitive_tabular(num_clients=3, samples_per_client=10, dim=4, seed=0)
    plain = run_fedavg(task.model(), task.x, task.y, rounds=3, seed=0)
    mixed = run_fedavg(task.model(), task.x, task.y, rounds=3, mixup=1.0, seed=0)
    again = run_fedavg(task.model(), task.x, task.y, rounds=3, mixup=1.0, seed=0)
    assert not torch.allclose(plain.messages, mixed.messages)
    assert torch.equal(mixed.messages, again.messages)                   # seeded
    assert mixed.defense == "mixup(alpha=1)"
    with pytest.raises(ValueError, match="mixup must be 0"):
        run_fedavg(task.model(), task.x, task.y, rounds=1, mixup=1.0, clip=1.0,
                   noise_multiplier=1.0)
    with pytest.raises(ValueError, match="mixup"):
        run_fedavg(task.model(), task.x, task.y, rounds=1, mixup=-1.0)


def test_error_feedback_in_the_driver_sends_the_pruned_mass_later():
    task = sensitive_tabular(num_clients=3, samples_per_client=10, dim=9, seed=0)
    ef = compressors.get("topk", k=2, error_feedback=True)
    tr = run_fedavg(task.model(), task.x, task.y, rounds=6, compressor=ef, seed=0)
    nz = (tr.messages != 0).sum(-1)
    assert int(nz.max()) <= 2
    touched = (tr.messages != 0).any(0).sum(-1)                         # over the rounds
    assert int(touched.min()) > 2                                       # memory re-sends


def test_magnitude_prune_compressor():
    c = compressors.get("magnitude_prune", rate=0.75)
    x = torch.tensor([[4.0, -1.0, 0.5, -3.0, 0.1, 2.0, 0.2, -0.3]])
    out = c(x).value
    assert out.tolist() == [[4.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.0]]  # 25 % of 8 kept
    assert c.bits(8) == compressors.TopK(2).bits(8) and c.delta(8) == 0.25
    assert (compressors.get("magnitude_prune", rate=0.999)(x).value != 0).sum() == 1
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
            compressors.get("magnitude_prune", rate=bad)


def test_source_inference_reports_the_papers_one_round_protocol():
    task = sensitive_tabular(num_clients=4, samples_per_client=8, dim=20, label_noise=0.2,
                             seed=0)
    tr = run_fedavg(task.model(), task.x, task.y, rounds=5, local_steps=10, lr=1.0)
    res = source_inference(task.model(), tr, task.x, task.y)
    assert len(res.per_round_accuracy) == 5
    assert res.best_round_accuracy == max(res.per_round_accuracy)
    # one round alone is the combined rule restricted to that round
    last = source_inference(task.model(), tr, task.x, task.y, rounds=[4])
    assert last.accuracy == pytest.approx(res.last_round_accuracy)


def test_supervised_passive_mia_on_loss_series():
    task = sensitive_tabular(num_clients=5, samples_per_client=100, dim=100, label_noise=0.1,
                             client_specific=False, signal=3.0, seed=1)
    tr = run_fedavg(task.model(), task.x, task.y, rounds=20, local_steps=10, lr=0.5, seed=1)
    args = (task.model(), tr, range(5), (task.x, task.y), (task.x_out, task.y_out))
    sup = passive_mia(*args, score="loss", classifier="logistic", bootstrap=100)
    assert sup.beats_baseline and sup.score == "loss"                    # measured AUC 0.65
    assert sup.members + sup.non_members < 1000 * 0.7                   # scored on held-out half
    with pytest.raises(ValueError, match="classifier"):
        passive_mia(*args, classifier="cnn")
    with pytest.raises(ValueError, match="train_fraction"):
        passive_mia(*args, classifier="logistic", train_fraction=1.0)
    assert np.isfinite(sup.loss_auc)
