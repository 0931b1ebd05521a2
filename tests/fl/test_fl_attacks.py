"""Each attack matches its formula (REFERENCES.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from fltheory.fl import aggregators as A
from fltheory.fl import attacks as K
from fltheory.fl import models


def _honest(h=8, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((h, d)) + 1.0
    return x, torch.tensor(x)


def test_sign_flip_and_ipm():
    x, t = _honest()
    np.testing.assert_allclose(K.get("sign_flip")(t, 3).numpy(), np.tile(-x.mean(0), (3, 1)))
    np.testing.assert_allclose(K.get("ipm", tau=2.5)(t, 2).numpy(),
                               np.tile(-2.5 * x.mean(0), (2, 1)))
    assert K.get("ipm")(t, 0).shape == (0, 6)


@pytest.mark.parametrize("n,f", [(20, 4), (25, 5), (50, 10), (10, 1)])
def test_alie_z_conventions(n, f):
    s = np.floor(n / 2 + 1) - f
    assert K.alie_z(n, f, "paper") == pytest.approx(norm.ppf((n - s) / n), rel=1e-10)
    assert K.alie_z(n, f, "honest") == pytest.approx(norm.ppf((n - f - s) / (n - f)), rel=1e-10)


def test_alie_z_refuses_too_many_attackers():
    with pytest.raises(ValueError, match="quantile level"):
        K.alie_z(10, 6, "paper")


@pytest.mark.parametrize("rule", ["honest", "paper"])
@pytest.mark.parametrize("ddof", [0, 1])
def test_alie_vector(rule, ddof):
    x, t = _honest(h=16, seed=1)
    f = 4
    z = K.alie_z(16 + f, f, rule)
    expected = x.mean(0) - z * x.std(0, ddof=ddof)
    atk = K.get("alie", z_rule=rule, ddof=ddof)
    out = atk(t, f)
    np.testing.assert_allclose(out.numpy(), np.tile(expected, (f, 1)), rtol=1e-12)
    assert atk.last_z == pytest.approx(z)
    # explicit z and explicit n
    np.testing.assert_allclose(K.ALIE(z=1.5)(t, 1)[0].numpy(), x.mean(0) - 1.5 * x.std(0, ddof=1))
    z30 = K.alie_z(30, f, rule)
    np.testing.assert_allclose(K.ALIE(z_rule=rule, n=30, ddof=ddof)(t, f)[0].numpy(),
                               x.mean(0) - z30 * x.std(0, ddof=ddof))


def _damage(agg, honest, byz):
    value = agg(torch.cat([honest, byz]))[0]
    return float(torch.linalg.vector_norm(value - honest.mean(0)))


@pytest.mark.parametrize("rule", ["cwtm", "krum", "gm"])
def test_optimal_alie_beats_its_grid_and_default_alie(rule):
    x, t = _honest(h=12, d=10, seed=2)
    f = 3
    agg = A.get(rule, f=f)
    atk = K.OptimalALIE(tau_range=(0.0, 8.0), num_points=9)
    byz = atk(t, f, aggregator=agg)
    mean, std = t.mean(0), t.std(0)
    np.testing.assert_allclose(byz.numpy(), np.tile((mean - atk.last_tau * std).numpy(), (f, 1)))
    best = _damage(agg, t, byz)
    assert best == pytest.approx(atk.last_error, rel=1e-9)
    for tau in np.linspace(0, 8, 9):
        assert best >= _damage(agg, t, (mean - tau * std).expand(f, -1)) - 1e-12
    assert best >= _damage(agg, t, K.ALIE()(t, f)) - 1e-12


def test_optimal_ipm_against_mean_takes_largest_factor():
    _, t = _honest()
    atk = K.OptimalIPM(tau_range=(0.0, 4.0))
    byz = atk(t, 2, aggregator=A.Mean())
    assert atk.last_tau == pytest.approx(4.0)
    np.testing.assert_allclose(byz.numpy(), np.tile((-4.0 * t.mean(0)).numpy(), (2, 1)))
    with pytest.raises(ValueError, match="aggregator must be"):
        atk(t, 2)


def test_mimic_gaussian_nonfinite():
    x, t = _honest()
    np.testing.assert_allclose(K.Mimic(target=3)(t, 2).numpy(), np.tile(x[3], (2, 1)))
    out = K.Mimic(target="random")(t, 2, generator=0)
    assert any(np.allclose(out[0].numpy(), row) for row in x)
    with pytest.raises(ValueError, match="target must be <"):
        K.Mimic(target=20)(t, 1)
    g = K.Gaussian(mu=2.0, sigma=3.0)(torch.zeros(2, 20000), 5, generator=1)
    assert g.shape == (5, 20000)
    assert abs(float(g.mean()) - 2.0) < 0.02 and abs(float(g.std()) - 3.0) < 0.02
    assert torch.equal(g, K.Gaussian(mu=2.0, sigma=3.0)(torch.zeros(2, 20000), 5, generator=1))
    nan = K.get("nan")(t, 2)
    assert torch.isnan(nan).all()
    part = K.NonFinite("-inf", fraction=0.5)(t, 2, generator=0)
    assert (torch.isinf(part).sum(1) == 3).all()
    finite = ~torch.isinf(part[0])
    np.testing.assert_allclose(part[0][finite].numpy(), x.mean(0)[finite.numpy()])


def test_nonfinite_attack_is_rejected_by_the_server():
    _, t = _honest(h=9, d=5)
    byz = K.NonFinite("nan")(t, 3)
    value, info = A.get("cwtm", f=3)(torch.cat([t, byz]))
    assert info.rejected == 3 and torch.isfinite(value).all()


def test_label_flip():
    x = torch.zeros(4, 2)
    y = torch.tensor([0, 1, 5, 9])
    _, yf = K.get("label_flip", num_classes=10).poison(x, y)
    assert yf.tolist() == [9, 8, 4, 0]
    with pytest.raises(ValueError, match="y must lie in"):
        K.LabelFlip(3).poison(x, y)


def test_backdoor_trigger_scaling_and_success_rate():
    bd = K.Backdoor(target=1, size=2, value=1.0, poison_fraction=0.5, num_clients=20,
                    server_lr=2.0)
    x = torch.zeros(6, 1, 5, 5)
    y = torch.zeros(6, dtype=torch.long)
    xt = bd.apply_trigger(x)
    assert float(xt[:, :, 3:, 3:].min()) == 1.0 and float(xt.sum()) == 6 * 4
    xp, yp = bd.poison(x, y, generator=0)
    poisoned = (yp == 1)
    assert int(poisoned.sum()) == 3
    assert torch.equal(xp[poisoned], xt[poisoned]) and float(xp[~poisoned].abs().sum()) == 0.0
    assert bd.gamma == 10.0
    g, local = torch.ones(3), torch.tensor([2.0, 1.0, 0.0])
    assert torch.equal(bd.model_replacement(local, g), g + 10.0 * (local - g))
    assert torch.equal(bd.scale_update(local - g), 10.0 * (local - g))

    # A model that predicts class 1 iff the bottom-right pixel is lit: success rate 1.
    class _Model:
        def predict(self, params, inputs):
            return (inputs.reshape(inputs.shape[0], -1)[:, -1] > 0.5).long()

    x_test = torch.zeros(10, 1, 5, 5)
    y_test = torch.tensor([0, 1] * 5)
    assert bd.success_rate(_Model(), None, x_test, y_test) == 1.0
    # With a real (untrained, zero) logistic model nothing maps to the target: rate 0.
    flat = K.Backdoor(target=1, image_shape=(5, 5))
    lr = models.logistic_regression(25, 2)
    assert flat.success_rate(lr, lr.init(), x_test.reshape(10, 25), y_test) == 0.0


def test_registry_and_validation():
    assert {"alie", "optimal_alie", "backdoor", "mimic"} <= set(K.available())
    with pytest.raises(ValueError, match="name must be one of"):
        K.get("bogus")
    with pytest.raises(ValueError, match="z_rule must be one of"):
        K.ALIE(z_rule="other")
    with pytest.raises(ValueError, match="tau_range must have low < high"):
        K.OptimalALIE(tau_range=(3.0, 1.0))
    with pytest.raises(ValueError, match="f must be >= 0"):
        K.SignFlip()(torch.zeros(2, 2), -1)
