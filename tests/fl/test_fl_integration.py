"""The building blocks compose into an FL round: data -> model -> attack -> compression -> rule."""

from __future__ import annotations

import torch

from fltheory.fl import aggregators, attacks, compressors, data, models


def _fedsgd(ds, rule, byzantine, rounds=40, lr=1.0):
    model = models.for_dataset(ds, "logistic_regression")
    params = model.init()
    agg = aggregators.get(rule, f=len(byzantine))
    flip = attacks.get("label_flip", num_classes=ds.num_classes)
    local = [flip.poison(*ds.client(i)) if i in byzantine else ds.client(i)
             for i in range(ds.num_clients)]
    for _ in range(rounds):
        # closed-form per-example gradients of logistic regression, averaged per client
        updates = torch.stack([model.per_sample_grads(params, x, y).mean(0) for x, y in local])
        step, info = agg(updates)
        assert info.rejected == 0
        params = params - lr * step
    return model.evaluate(params, ds.x_test, ds.y_test)["accuracy"]


def test_robust_rule_beats_mean_under_label_flipping():
    ds = data.digits(num_clients=20, seed=0)
    byz = set(range(4))
    acc_mean = _fedsgd(ds, "mean", byz)
    acc_cwtm = _fedsgd(ds, "cwtm", byz)
    assert acc_cwtm > acc_mean + 0.01, (acc_cwtm, acc_mean)


def test_dp_round_with_compression_and_attack_is_reproducible():
    ds = data.synthetic_logistic(num_clients=8, samples_per_client=32, dim=10, seed=1)
    model = models.logistic_regression(10, 2)
    xs, ys = ds.stacked()

    def one_round(seed):
        g = torch.Generator().manual_seed(seed)
        params = model.init()
        sums = models.clipped_grad_sums(model, params, xs, ys, clip=1.0, noise_multiplier=1.0,
                                        generator=g)
        sent, bits = compressors.get("randk", k=5)(sums / 32, generator=g)
        byz = attacks.get("alie")(sent[:6], f=2)
        value, info = aggregators.get("nnm+cwtm", f=2)(torch.cat([sent[:6], byz]))
        return value, bits

    a, bits = one_round(3)
    b, _ = one_round(3)
    c, _ = one_round(4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert bits == 8 * compressors.get("randk", k=5).bits(11)
