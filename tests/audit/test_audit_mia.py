"""Membership inference: LiRA beats guessing on an overfit MLP, DP training pushes every attack
towards AUC 1/2, and the one-run bound of every attack stays below the accountant's epsilon."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fltheory.audit import mia  # noqa: E402
from fltheory.fl import models  # noqa: E402


@pytest.fixture(scope="module")
def overfit():
    return mia.membership_inference(pool=300, num_shadow=4, steps=150, hidden=64, seed=0)


def test_attacks_beat_guessing_on_an_overfit_model(overfit):
    assert overfit.train_accuracy == 1.0 and overfit.test_accuracy < 0.97
    auc = {k: m.auc for k, m in overfit.attacks.items()}
    assert auc["loss"] > 0.55
    assert auc["lira_online"] > 0.6 and auc["lira_online"] > auc["loss"]
    low = overfit.attacks["lira_online"].tpr_at_fpr[0.1]
    assert low["fpr"] <= 0.1 and low["tpr"] > 0.15 and low["tpr_lower"] < low["tpr"]
    assert overfit.membership.sum() == overfit.attacks["loss"].members
    assert overfit.epsilon_theory is None  # not private: no epsilon to compare with


def test_dp_training_defeats_the_attacks_and_one_run_bound_is_consistent():
    res = mia.membership_inference(pool=300, num_shadow=4, steps=50, hidden=32, clip=1.0,
                                   noise_multiplier=15.0, seed=0)
    from fltheory.accounting import dp_sgd, epsilon

    assert res.epsilon_theory == pytest.approx(epsilon(dp_sgd(1.0, 15.0, 50), 1e-5).epsilon)
    for name, m in res.attacks.items():
        assert abs(m.auc - 0.5) < 0.1, name
        assert m.one_run is not None and m.one_run.epsilon <= res.epsilon_theory


def test_membership_is_reproducible_and_json(overfit):
    again = mia.membership_inference(pool=300, num_shadow=4, steps=150, hidden=64, seed=0)
    assert np.array_equal(again.membership, overfit.membership)
    assert again.attacks["lira_online"].auc == overfit.attacks["lira_online"].auc
    d = overfit.to_dict()
    assert set(d["attacks"]) == {"loss", "lira_online", "lira_offline"}
    assert "AUC=" in str(overfit)


def test_lira_scores_online_and_offline():
    rng = np.random.default_rng(0)
    n, s = 200, 16
    member_shift = 2.0
    shadow_in = np.zeros((s, n), bool)
    for k in range(0, s, 2):
        perm = rng.permutation(n)
        shadow_in[k, perm[: n // 2]] = True
        shadow_in[k + 1, perm[n // 2:]] = True
    base = rng.normal(0, 1, n)  # per-record difficulty
    shadow = base + member_shift * shadow_in + rng.normal(0, 0.3, (s, n))
    member = rng.random(n) < 0.5
    target = base + member_shift * member + rng.normal(0, 0.3, n)
    from fltheory.audit.stats import roc_auc

    on = mia.lira_scores(target, shadow, shadow_in, online=True)
    off = mia.lira_scores(target, shadow, shadow_in, online=False)
    local = mia.lira_scores(target, shadow, shadow_in, global_variance=False)
    for sc in (on, off, local):
        assert roc_auc(sc, member) > 0.95  # per-record calibration removes the difficulty
    assert roc_auc(target, member) < 0.95  # the raw confidence does worse
    with pytest.raises(ValueError, match="shape"):
        mia.lira_scores(target[:5], shadow, shadow_in)


def test_logit_confidence_matches_probabilities():
    m = models.mlp(5, 4, hidden=(6,))
    p = m.init(seed=0)
    x, y = torch.randn(7, 5), torch.randint(0, 4, (7,))
    phi = mia.logit_confidence(m, p, x, y)
    prob = torch.softmax(m.forward(p, x).double(), -1).gather(1, y.view(-1, 1))[:, 0].numpy()
    assert np.allclose(phi, np.log(prob / (1 - prob)), atol=1e-9)
    both = mia.logit_confidence(m, torch.stack([p, p]), x, y)
    assert both.shape == (2, 7) and np.allclose(both[1], phi)
    b = models.logistic_regression(5)
    pb = b.init(seed=0, scheme="uniform")
    yb = torch.randint(0, 2, (7,))
    z = b.forward(pb, x)[:, 0].double().numpy()
    sig = 1 / (1 + np.exp(-z))
    py = np.where(yb.numpy() == 1, sig, 1 - sig)
    assert np.allclose(mia.logit_confidence(b, pb, x, yb), np.log(py / (1 - py)), atol=1e-9)


def test_train_many_matches_train():
    m = models.logistic_regression(3, 3)
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(2, 20, 3, generator=g), torch.randint(0, 3, (2, 20), generator=g)
    many = mia.train_many(m, xs, ys, steps=10, lr=0.3, seed=4)
    one = mia.train(m, xs[1], ys[1], steps=10, lr=0.3, seed=5)
    assert torch.allclose(many[1], one, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_shadow must be even"):
        mia.membership_inference(num_shadow=3)
    with pytest.raises(ValueError, match="needs clip"):
        mia.membership_inference(noise_multiplier=1.0)
    with pytest.raises(ValueError, match="pool must be <= 1797"):
        mia.membership_inference(pool=2000)
    assert math.isinf(mia.membership_inference(pool=40, num_shadow=2, steps=2, hidden=4,
                                               clip=1.0).epsilon_theory)
