"""Compressors: unbiasedness and E||Q(x) - x||^2 <= omega ||x||^2 (REFERENCES.md §5), bits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fltheory.fl import compressors as C

D = 64
REPS = 4000


def _x(seed=0, d=D):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(d, generator=g, dtype=torch.float64)
    x[: d // 4] *= 5  # uneven magnitudes
    return x


def _draws(comp, x, reps=REPS, seed=0):
    """``reps`` independent compressions of ``x`` (one batched call: each row independent)."""
    out = comp(x.expand(reps, -1).clone(), generator=seed)
    return out.value


def _check_unbiased(values, x):
    # E||mean - x||^2 = E||Q(x) - x||^2 / reps for an unbiased Q; a bias b adds ||b||^2.
    reps = values.shape[0]
    mse_of_mean = float(((values.mean(0) - x) ** 2).sum())
    per_draw = float(((values - x) ** 2).sum(1).mean())
    assert mse_of_mean <= 5.0 * per_draw / reps, (mse_of_mean, per_draw / reps)


@pytest.mark.parametrize("comp", [C.RandK(8), C.QSGD(1), C.QSGD(4),
                                  C.BernoulliMask(0.3, rescale=True)],
                         ids=["randk", "qsgd1", "qsgd4", "bernoulli"])
def test_unbiased_and_variance_bound(comp):
    x = _x(1)
    values = _draws(comp, x)
    _check_unbiased(values, x)
    err = float(((values - x) ** 2).sum(1).mean())
    omega = comp.omega(D)
    bound = omega * float(x @ x)
    assert err <= bound * 1.05  # sampling slack
    if isinstance(comp, (C.RandK, C.BernoulliMask)):  # these attain the bound in expectation
        assert err == pytest.approx(bound, rel=0.08)


def test_qsgd_s1_exact_variance_and_worst_case():
    x = _x(2)
    exact = float(x.norm() * x.abs().sum() - x @ x)
    values = _draws(C.QSGD(1), x)
    assert float(((values - x) ** 2).sum(1).mean()) == pytest.approx(exact, rel=0.05)
    flat = torch.ones(D, dtype=torch.float64)  # the worst case of ||x||_1 / ||x||_2 = sqrt(d)
    assert float(flat.norm() * flat.abs().sum() - flat @ flat) == pytest.approx(
        C.QSGD(1).omega(D) * float(flat @ flat))


def test_randk_is_not_unbiased_without_scaling():
    x = _x(3)
    values = _draws(C.RandK(8, scale=False), x)
    with pytest.raises(AssertionError):
        _check_unbiased(values, x)


def test_one_bit_quantizer():
    q = C.StochasticOneBit(c=1.0, B=2.0)
    x = torch.linspace(-1, 1, D, dtype=torch.float64)
    values = _draws(q, x)
    assert set(values.unique().tolist()) == {-2.0, 2.0}
    _check_unbiased(values, x)
    err = float(((values - x) ** 2).sum(1).mean())
    assert err == pytest.approx(q.variance(x), rel=0.03)
    assert q.variance(x) == pytest.approx(D * 4.0 - float(x @ x))
    assert q.epsilon == pytest.approx(math.log(3.0))
    assert C.StochasticOneBit(c=1.0).epsilon == math.inf
    # P(+B) = (B + x) / (2B) for a single coordinate
    p_hat = float((_draws(q, torch.tensor([0.5], dtype=torch.float64), reps=20000) > 0).double()
                  .mean())
    assert p_hat == pytest.approx(2.5 / 4.0, abs=0.015)
    with pytest.raises(ValueError, match="B must be >= c"):
        C.StochasticOneBit(c=1.0, B=0.5)


def test_topk_sign_scaled_sign():
    x = torch.tensor([[0.5, -4.0, 3.0, 0.1], [1.0, 1.0, -2.0, 0.0]])
    out = C.TopK(2)(x)
    assert out.value.tolist() == [[0.0, -4.0, 3.0, 0.0], [0.0, 1.0, -2.0, 0.0]] or \
        out.value.tolist() == [[0.0, -4.0, 3.0, 0.0], [1.0, 0.0, -2.0, 0.0]]
    assert out.bits == 2 * (2 * 32 + min(2 * 2, 4))
    err = ((out.value - x) ** 2).sum(1)
    assert bool((err <= (1 - C.TopK(2).delta(4)) * (x * x).sum(1) + 1e-6).all())
    assert C.Sign()(x).value.tolist() == [[1, -1, 1, 1], [1, 1, -1, 1]]
    assert C.Sign()(x).bits == 8
    ss = C.ScaledSign()(x)
    np.testing.assert_allclose(ss.value[0].numpy(), 7.6 / 4 * np.array([1, -1, 1, 1]), rtol=1e-6)
    assert ss.bits == 2 * (4 + 32)


def test_masks_secret_vs_shared_and_seeding():
    x = torch.ones(5, 100)
    shared = C.RandK(10, mask="shared")(x, generator=3).value
    assert all(torch.equal(shared[0] != 0, shared[i] != 0) for i in range(5))
    secret = C.RandK(10, mask="secret")(x, generator=3).value
    assert not all(torch.equal(secret[0] != 0, secret[i] != 0) for i in range(1, 5))
    assert torch.equal(secret, C.RandK(10)(x, generator=3).value)
    assert not torch.equal(secret, C.RandK(10)(x, generator=4).value)
    assert C.RandK(10, mask="shared").bits(100) == 320 + 64
    assert C.RandK(10, mask="secret").bits(100) == 10 * 32 + 70  # indices cheaper than a bitmap
    assert C.RandK(30, mask="secret").bits(100) == 30 * 32 + 100  # bitmap cheaper than indices
    bm = C.BernoulliMask(0.2, mask="secret")(x, generator=0)
    kept = (bm.value != 0).sum(dim=1).tolist()
    assert bm.bits == sum(32 * k + min(7 * k, 100) for k in kept)


def test_qsgd_bits_and_zero_vector():
    assert C.QSGD(1).bits(10) == 32 + 10 * 2
    assert C.QSGD(7).bits(10) == 32 + 10 * 4
    out = C.QSGD(2)(torch.zeros(3, 5), generator=0)
    assert torch.equal(out.value, torch.zeros(3, 5))


def test_error_feedback_telescopes():
    ef = C.ErrorFeedback(C.TopK(2))
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(3, 10, generator=g) for _ in range(6)]
    sent = sum(ef(x, client_ids=[4, 7, 9]).value for x in xs)
    residual = torch.stack([ef.memory[i] for i in (4, 7, 9)])
    np.testing.assert_allclose((sent + residual).numpy(), sum(xs).numpy(), rtol=1e-5, atol=1e-5)
    ef.reset()
    assert ef.memory == {}


def test_registry_and_validation():
    assert isinstance(C.get("qsgd", s=2), C.QSGD)
    assert isinstance(C.get("topk", k=3, error_feedback=True), C.ErrorFeedback)
    with pytest.raises(ValueError, match="k must be >= 1"):
        C.get("topk", k=0)
    with pytest.raises(ValueError, match="keep_prob must be in \\(0, 1\\]"):
        C.get("prune", keep_prob=1.5)
    with pytest.raises(ValueError, match="mask must be one of"):
        C.get("randk", k=2, mask="public")


def test_bits_agree_with_the_bounds_module():
    bounds = pytest.importorskip("fltheory.bounds")
    bpr = bounds.bits_per_round
    for d, k in [(1000, 10), (1000, 500), (37, 3)]:
        assert C.RandK(k).bits(d) == bpr("randk", d=d, k=k)
        assert C.RandK(k, mask="shared").bits(d) == bpr("randk", d=d, k=k, index_coding="seed")
        assert C.TopK(k).bits(d) == bpr("topk", d=d, k=k)
    for s in (1, 2, 3, 4, 7, 8, 15):
        assert C.QSGD(s).bits(1000) == bpr("qsgd", d=1000, levels=s)
    assert C.ScaledSign().bits(1000) == bpr("scaled_sign", d=1000)
    with pytest.warns(FutureWarning):          # "sign" is the plain sign in fl and bounds alike
        assert C.Sign().bits(1000) == bpr("sign", d=1000)
    assert C.Identity().bits(1000) == bpr("none", d=1000)
    for s in (1, 4):
        assert C.QSGD(s).omega(400) <= bounds.compressor_variance("qsgd", d=400, levels=s) + 1e-12
    assert C.RandK(10).omega(400) == pytest.approx(bounds.compressor_variance("randk", d=400,
                                                                               k=10))
