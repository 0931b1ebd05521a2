"""Models: closed-form per-example gradients, vmap(grad), clipping, and the DP noise's std."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fltheory.fl import models as M


def _batch(b=12, p=5, classes=3, seed=0, regression=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, p, generator=g)
    if regression:
        y = torch.randn(b, generator=g)
    else:
        y = torch.randint(0, classes, (b,), generator=g)
    return x, y


def _loop_grads(model, params, x, y):
    """Reference: one autograd call per example (no vmap, no closed form)."""
    out = []
    for i in range(x.shape[0]):
        p = params.detach().clone().requires_grad_(True)
        loss = model.loss(p, x[i:i + 1], y[i:i + 1])
        (g,) = torch.autograd.grad(loss, p)
        out.append(g)
    return torch.stack(out)


@pytest.mark.parametrize("kind", ["binary", "softmax", "regression"])
def test_glm_closed_form_matches_autograd(kind):
    if kind == "binary":
        model, (x, y) = M.logistic_regression(5, 2), _batch(classes=2)
    elif kind == "softmax":
        model, (x, y) = M.logistic_regression(5, 3), _batch(classes=3)
    else:
        model, (x, y) = M.linear_regression(5), _batch(regression=True)
    params = model.init(seed=1, scheme="uniform")
    ref = _loop_grads(model, params, x, y)
    np.testing.assert_allclose(model.per_sample_grads(params, x, y).numpy(), ref.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.per_sample_grad_norms(params, x, y).numpy(),
                               ref.norm(dim=1).numpy(), rtol=1e-5)
    # closed-form clipped sum vs. the reference clipped sum
    clip = float(ref.norm(dim=1).median())
    scale = torch.clamp(clip / ref.norm(dim=1), max=1.0)
    expected = (scale[:, None] * ref).sum(0)
    got = M.clipped_grad_sum(model, params, x, y, clip=clip, noise_multiplier=0.0)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_vmap_per_sample_grads_match_loop(name):
    if name == "mlp":
        model = M.mlp(6, 3, hidden=(7,))
        x, y = _batch(b=9, p=6, classes=3, seed=2)
    else:
        model = M.cnn((1, 6, 6), 3, channels=(2, 3), hidden=5)
        x = torch.randn(9, 1, 6, 6, generator=torch.Generator().manual_seed(3))
        y = torch.randint(0, 3, (9,), generator=torch.Generator().manual_seed(4))
    params = model.init(seed=0)
    ref = _loop_grads(model, params, x, y)
    np.testing.assert_allclose(model.per_sample_grads(params, x, y).numpy(), ref.numpy(),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.per_sample_grads(params, x, y, chunk_size=4).numpy(),
                               ref.numpy(), rtol=1e-4, atol=1e-6)
    clip = 0.5 * float(ref.norm(dim=1).max())
    expected = (torch.clamp(clip / ref.norm(dim=1), max=1.0)[:, None] * ref).sum(0)
    got, norms = M.clipped_grad_sum(model, params, x, y, clip, 0.0, return_norms=True,
                                    chunk_size=4)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(norms.numpy(), ref.norm(dim=1).numpy(), rtol=1e-4)


@pytest.mark.parametrize("name", ["mlp_tanh", "cnn_tanh"])
def test_fast_chain_path_matches_autograd(name):
    # clipped_grad_sum uses per-layer norms (no per-example gradients) for our MLP and CNN.
    if name == "mlp_tanh":
        model = M.mlp(5, 4, hidden=(6, 3), activation="tanh")
        x, y = _batch(b=10, p=5, classes=4, seed=8)
    else:
        model = M.cnn((2, 5, 5), 4, channels=(3,), hidden=None, activation="tanh")
        x = torch.randn(10, 2, 5, 5, generator=torch.Generator().manual_seed(9))
        y = torch.randint(0, 4, (10,), generator=torch.Generator().manual_seed(10))
    assert model.linear_chain
    params = model.init(seed=1)
    ref = _loop_grads(model, params, x, y)
    np.testing.assert_allclose(model.per_sample_grad_norms(params, x, y).numpy(),
                               ref.norm(dim=1).numpy(), rtol=1e-5)
    clip = float(ref.norm(dim=1).median())
    expected = (torch.clamp(clip / ref.norm(dim=1), max=1.0)[:, None] * ref).sum(0)
    got = M.clipped_grad_sum(model, params, x, y, clip, 0.0)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_generic_module_uses_vmap_path():
    module = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 3))
    model = M.FunctionalModel(module, "cross_entropy", name="custom")
    assert not model.linear_chain
    x, y = _batch(b=7, p=4, classes=3, seed=11)
    params = model.init(seed=0)
    ref = _loop_grads(model, params, x, y)
    clip = float(ref.norm(dim=1).median())
    expected = (torch.clamp(clip / ref.norm(dim=1), max=1.0)[:, None] * ref).sum(0)
    got, norms = M.clipped_grad_sum(model, params.clone().requires_grad_(True), x, y, clip, 0.0,
                                    return_norms=True, chunk_size=3)
    np.testing.assert_allclose(got.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms.numpy(), ref.norm(dim=1).numpy(), rtol=1e-5)


def test_clipped_sum_respects_the_bound():
    model = M.mlp(6, 3, hidden=(8,))
    x, y = _batch(b=20, p=6, classes=3, seed=5)
    params = model.init(seed=0) * 10
    g = M.clipped_grad_sum(model, params, x, y, clip=0.01, noise_multiplier=0.0)
    assert float(g.norm()) <= 20 * 0.01 + 1e-6


@pytest.mark.parametrize("model_name", ["logreg", "mlp"])
def test_noise_has_the_configured_std(model_name):
    # (noisy - clean) / (z C) must be N(0, 1): test mean and std on many coordinates.
    if model_name == "logreg":
        model = M.logistic_regression(2000, 10)  # d = 20010
        x, y = _batch(b=4, p=2000, classes=10, seed=6)
    else:
        model = M.mlp(50, 10, hidden=(300,))  # d = 18310
        x, y = _batch(b=4, p=50, classes=10, seed=6)
    params = model.init(seed=0, scheme="uniform")
    clip, z = 0.7, 1.3
    clean = M.clipped_grad_sum(model, params, x, y, clip, 0.0)
    noisy = M.clipped_grad_sum(model, params, x, y, clip, z, generator=123)
    e = ((noisy - clean) / (z * clip)).double()
    d = e.numel()
    # 5-sigma acceptance regions of the sample mean and the sample variance of N(0, 1).
    assert abs(float(e.mean())) < 5 / math.sqrt(d)
    assert abs(float(e.var()) - 1.0) < 5 * math.sqrt(2.0 / d)
    # A 10 % error in the std would be caught.
    assert abs(1.1 ** 2 - 1.0) > 5 * math.sqrt(2.0 / d)
    again = M.clipped_grad_sum(model, params, x, y, clip, z, generator=123)
    assert torch.equal(noisy, again)
    other = M.clipped_grad_sum(model, params, x, y, clip, z, generator=124)
    assert not torch.equal(noisy, other)


def test_empty_batch_is_pure_noise():
    model = M.logistic_regression(3, 2)
    g = M.clipped_grad_sum(model, torch.zeros(4), torch.zeros(0, 3), torch.zeros(0), 1.0, 0.0)
    assert torch.equal(g, torch.zeros(4))


def test_clipped_grad_sums_many_clients():
    for model in (M.logistic_regression(4, 3), M.mlp(4, 3, hidden=(5,))):
        g = torch.Generator().manual_seed(0)
        xs = torch.randn(5, 7, 4, generator=g)
        ys = torch.randint(0, 3, (5, 7), generator=g)
        params = model.init(seed=2, scheme="uniform")
        per_client = torch.stack([params + 0.1 * i for i in range(5)])
        for p in (params, per_client):
            out = M.clipped_grad_sums(model, p, xs, ys, 0.3, 0.0)
            for i in range(5):
                pi = p if p.dim() == 1 else p[i]
                ref = M.clipped_grad_sum(model, pi, xs[i], ys[i], 0.3, 0.0)
                np.testing.assert_allclose(out[i].numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
        noisy = M.clipped_grad_sums(model, params, xs, ys, 0.3, 2.0, generator=1)
        assert not torch.allclose(noisy[0] - out[0], noisy[1] - out[1])  # independent draws


def test_client_grads_vectorised():
    model = M.mlp(4, 3, hidden=(5,))
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(6, 8, 4, generator=g), torch.randint(0, 3, (6, 8), generator=g)
    params = model.init(seed=0)
    out = model.client_grads(params, xs, ys)
    for i in range(6):
        np.testing.assert_allclose(out[i].numpy(), model.grad(params, xs[i], ys[i]).numpy(),
                                   rtol=1e-5, atol=1e-7)


def test_flatten_roundtrip_init_and_layout():
    model = M.cnn((1, 8, 8), 10)
    p = model.init(seed=3)
    assert p.shape == (model.num_params,)
    assert torch.equal(model.flatten(model.unflatten(p)), p)
    assert torch.equal(p, model.init(seed=3)) and not torch.equal(p, model.init(seed=4))
    lr = M.logistic_regression(3, 2)
    w = lr.unflatten(torch.arange(4.0))
    assert w["linear.weight"].tolist() == [[0.0, 1.0, 2.0]] and w["linear.bias"].tolist() == [3.0]
    ev = lr.evaluate(torch.zeros(4), torch.randn(5, 3), torch.ones(5, dtype=torch.long))
    assert ev["accuracy"] == 0.0 and ev["loss"] == pytest.approx(math.log(2.0))


def test_validation():
    model = M.logistic_regression(3)
    x, y = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="clip must be > 0"):
        M.clipped_grad_sum(model, torch.zeros(4), x, y, clip=0.0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="noise_multiplier must be >= 0"):
        M.clipped_grad_sum(model, torch.zeros(4), x, y, clip=1.0, noise_multiplier=-1.0)
    with pytest.raises(ValueError, match="params must have shape"):
        M.clipped_grad_sum(model, torch.zeros(5), x, y, clip=1.0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="name must be one of"):
        M.get("resnet")
    with pytest.raises(ValueError, match="input_shape"):
        M.cnn((1, 2, 2), 3, channels=(2, 2))
