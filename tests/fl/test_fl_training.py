"""The vectorised client kernels (fltheory.fl.training) and mixup (fltheory.fl.mixup)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from fltheory.fl import data, mixup, models, training


def _model_and_batch(kind: str, k: int = 3, b: int = 7, seed: int = 0):
    torch.manual_seed(seed)
    if kind == "mlp":
        m = models.mlp(12, 4, hidden=(6,))
    elif kind == "mlp_tanh2":
        m = models.mlp(12, 4, hidden=(6, 5), activation="tanh")
    elif kind == "cnn":
        m = models.cnn((1, 8, 8), 4, channels=(3, 4), hidden=5)
    elif kind == "softmax":
        m = models.logistic_regression(12, 4)
    elif kind == "binary":
        m = models.logistic_regression(12, 2)
    else:
        m = models.linear_regression(12)
    p = torch.stack([m.init(seed=s, scheme="uniform") for s in range(k)])
    shape = (1, 8, 8) if kind == "cnn" else (12,)
    x = torch.randn(k, b, *shape)
    if m.loss_name == "mse":
        y = torch.randn(k, b)
    elif m.loss_name == "bce":
        y = torch.randint(0, 2, (k, b))
    else:
        y = torch.randint(0, 4, (k, b))
    return m, p, x, y


KINDS = ["mlp", "mlp_tanh2", "cnn", "softmax", "binary", "linear"]


@pytest.mark.parametrize("kind", KINDS)
def test_clipped_sums_equal_per_example_reference(kind):
    m, p, x, y = _model_and_batch(kind)
    w = torch.rand(x.shape[0], x.shape[1])
    w[0, 2:] = 0.0
    sums, norms = training.clipped_sums(m, p, x, training.soft_targets(m, y), w, clip=0.3)
    for k in range(x.shape[0]):
        g = models.FunctionalModel.per_sample_grads(m, p[k], x[k], y[k])  # plain vmap(grad)
        ref = (torch.clamp(0.3 / g.norm(dim=1), max=1.0) * w[k]) @ g
        assert torch.allclose(sums[k], ref, atol=2e-5, rtol=1e-4)
        assert torch.allclose(norms[k], g.norm(dim=1), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_weighted_grads_equal_reference(kind):
    m, p, x, y = _model_and_batch(kind, seed=1)
    w = torch.rand(x.shape[0], x.shape[1])
    got = training.weighted_grads(m, p, x, training.soft_targets(m, y), w)
    for k in range(x.shape[0]):
        g = models.FunctionalModel.per_sample_grads(m, p[k], x[k], y[k])
        assert torch.allclose(got[k], w[k] @ g, atol=2e-5, rtol=1e-4)


def test_clipped_sums_bound_each_example_by_clip():
    # one example with a huge gradient moves the sum by at most clip (the DP sensitivity)
    m, p, x, y = _model_and_batch("mlp", k=1, b=5)
    t = training.soft_targets(m, y)
    w = torch.ones(1, 5)
    base, _ = training.clipped_sums(m, p, x[:, :4], t[:, :4], w[:, :4], clip=0.1)
    x2 = x.clone()
    x2[0, 4] *= 1e4
    full, norms = training.clipped_sums(m, p, x2, t, w, clip=0.1)
    assert float(norms[0, 4]) > 10.0
    assert float((full - base).norm()) <= 0.1 * (1 + 1e-5)


def test_batched_outputs_match_forward():
    for kind in ("cnn", "softmax"):
        m, p, x, y = _model_and_batch(kind)
        out = training.batched_outputs(m, p, x)
        for k in range(x.shape[0]):
            assert torch.allclose(out[k], m.forward(p[k], x[k]), atol=1e-5)


def test_soft_targets_of_mixed_labels_give_mixed_gradients():
    # gradients are linear in the targets: soft targets = mixture of the two hard-label gradients
    m, p, x, y = _model_and_batch("mlp", k=1, b=4)
    y2 = (y + 1) % 4
    t1, t2 = training.soft_targets(m, y), training.soft_targets(m, y2)
    w = torch.ones(1, 4)
    g1 = training.weighted_grads(m, p, x, t1, w)
    g2 = training.weighted_grads(m, p, x, t2, w)
    gm = training.weighted_grads(m, p, x, 0.3 * t1 + 0.7 * t2, w)
    assert torch.allclose(gm, 0.3 * g1 + 0.7 * g2, atol=1e-5)


def test_client_stack_pads_and_masks():
    ds = data.digits(num_clients=4, partition_method="dirichlet", alpha=0.3, seed=1)
    st = training.ClientStack.from_dataset(ds)
    assert st.sizes.tolist() == ds.sizes
    assert st.valid.sum(1).tolist() == ds.sizes
    for i in range(4):
        assert torch.equal(st.x[i, : ds.sizes[i]], ds.x[i])
        assert bool((st.x[i, ds.sizes[i]:] == 0).all())


def test_poisson_batches_rate_and_validity():
    valid = torch.ones(4, 5000, dtype=torch.bool)
    valid[3, 100:] = False
    g = torch.Generator().manual_seed(0)
    mask = training.poisson_batches(valid, torch.tensor([0.1, 0.2, 0.5, 1.0]), g)
    rates = mask[:3].float().mean(1)
    assert torch.allclose(rates, torch.tensor([0.1, 0.2, 0.5]), atol=0.02)
    assert int(mask[3].sum()) == 100 and not bool((mask & ~valid).any())


def test_fixed_batches_exact_size_without_replacement():
    valid = torch.ones(3, 10, dtype=torch.bool)
    valid[2, 3:] = False
    mask = training.fixed_batches(valid, 4, torch.Generator().manual_seed(1))
    assert mask.sum(1).tolist() == [4, 4, 3]
    # uniform: each position chosen with probability 4/10 over many draws
    g = torch.Generator().manual_seed(2)
    freq = sum(training.fixed_batches(valid[:1], 4, g).float() for _ in range(2000)) / 2000
    assert torch.allclose(freq[0], torch.full((10,), 0.4), atol=0.05)


def test_compact_and_gather_roundtrip():
    mask = torch.tensor([[True, False, True, True], [False, False, False, False],
                         [False, True, False, False]])
    idx, w = training.compact(mask)
    assert w.tolist() == [[1, 1, 1], [0, 0, 0], [1, 0, 0]]
    t = torch.arange(12).reshape(3, 4)
    got = training.gather(t, idx)
    assert got[0].tolist() == [0, 2, 3] and int(got[2, 0]) == 9


def test_record_weights_follow_the_accounted_law():
    # every sampled record gets its own Beta(a, a) weight, independent of the others
    rng = np.random.default_rng(0)
    w = torch.ones(500, 9)
    w[:, 7:] = 0.0
    lam = mixup.record_weights(w, 0.4, rng)
    assert bool((lam[:, 7:] == 0).all())
    vals = lam[:, :7].double().numpy()
    assert stats.kstest(vals.reshape(-1), stats.beta(0.4, 0.4).cdf).pvalue > 1e-3
    # the wrong law is detected by the same test (the test can fail)
    assert stats.kstest(vals.reshape(-1), stats.beta(2.0, 2.0).cdf).pvalue < 1e-6
    assert abs(vals.mean() - mixup.MEAN_WEIGHT) < 0.02
    # independence across records of one batch (pairs with 1 - lambda would give -1)
    corr = np.corrcoef(vals[:, 0], vals[:, 1])[0, 1]
    assert abs(corr) < 0.15


def test_mix_batch_mixes_inputs_and_targets_with_partners_of_the_batch():
    rng = np.random.default_rng(1)
    g = torch.Generator().manual_seed(1)
    x = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    t = torch.nn.functional.one_hot(torch.arange(6), 6).float().unsqueeze(0)
    w = torch.tensor([[1.0, 1, 1, 1, 0, 0]])
    xm, tm = mixup.mix_batch(x, t, w, 1.0, rng, g)
    # each mixed example only uses records of the batch (positions 0..3)
    assert bool((tm[0, :4, 4:] == 0).all())
    assert torch.allclose(tm[0, :4].sum(1), torch.ones(4))
    assert torch.allclose(xm[0, :4, 0], (tm[0, :4] * torch.arange(6.0)).sum(1), atol=1e-6)
