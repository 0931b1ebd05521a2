"""The one release mechanism (fltheory.fl.release): clipping, masks, dense noise, planted bugs --
and each planted bug caught by ``validate`` through an audit of the engine's own release."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fltheory.config import ExperimentConfig  # noqa: E402
from fltheory.fl import models, simulate, training  # noqa: E402
from fltheory.fl.release import BUGS, Release, clipped_grad_sum  # noqa: E402


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# The mechanism
# --------------------------------------------------------------------------------------------------
def test_aggregate_clips_each_update_then_sums():
    u = torch.tensor([[3.0, 4.0], [0.3, 0.4], [float("nan"), 1.0]])
    out = Release(1.0, 0.0).aggregate(u)
    # (3, 4) -> (0.6, 0.8); (0.3, 0.4) unchanged; the non-finite row is dropped
    assert torch.allclose(out.value, torch.tensor([0.9, 1.2]))
    assert out.rejected == 1 and out.positions is None


def test_noise_std_on_every_coordinate_of_the_sum():
    d, z, c = 20000, 1.5, 0.4
    out = Release(c, z).aggregate(torch.zeros(3, d), generator=_gen())
    assert abs(float(out.value.std()) / (z * c) - 1) < 0.03
    assert int((out.value == 0).sum()) == 0


def test_secret_masks_per_record_are_independent():
    # two identical records with gradient g: a mask per record gives 0, g or 2g per coordinate;
    # one mask per client would give only 0 or 2g
    m = models.linear_regression(1)
    x = torch.full((1, 2, 1), 1.0)
    y = torch.full((1, 2), -1.0)       # residual 1 at zero parameters: gradient (1, 1)
    rel = Release(10.0, 0.0, mask="secret", mask_rate=0.5)
    vals = []
    g = _gen(1)
    for _ in range(400):
        out = rel.record_sums(m, torch.zeros(1, 2), x, training.soft_targets(m, y),
                              torch.ones(1, 2), generator=g, mask_generator=g)
        vals.append(out.value[0])
    vals = torch.stack(vals)
    assert set(np.unique(vals.numpy()).tolist()) == {0.0, 1.0, 2.0}
    # each coordinate: Binomial(2, 1/2) -> mean 1
    assert abs(float(vals.mean()) - 1.0) < 0.1


def test_secret_masks_per_client_cover_the_whole_update():
    rel = Release(100.0, 0.0, mask="secret", mask_rate=0.3)
    g = _gen(2)
    u = torch.ones(5000, 1, 4)
    kept = torch.stack([rel.aggregate(u[i], mask_generator=g).value for i in range(500)])
    # one client: each coordinate kept w.p. 0.3, independently of the others
    assert abs(float(kept.mean()) - 0.3) < 0.03
    assert set(np.unique(kept.numpy()).tolist()) == {0.0, 1.0}


def test_record_level_secret_masks_release_dense_noise_and_no_positions():
    m = models.linear_regression(50)
    rel = Release(1.0, 2.0, mask="secret", mask_rate=0.1)
    x = torch.randn(3, 4, 50)
    t = training.soft_targets(m, torch.randn(3, 4))
    out = rel.record_sums(m, torch.zeros(3, 51), x, t, torch.ones(3, 4), generator=_gen(),
                          mask_generator=_gen(1))
    assert out.positions is None and int((out.value == 0).sum()) == 0
    bad = Release(1.0, 2.0, mask="secret", mask_rate=0.1, bug="positions_sent")
    out = bad.record_sums(m, torch.zeros(3, 51), x, t, torch.ones(3, 4), generator=_gen(),
                          mask_generator=_gen(1))
    assert out.positions is not None and tuple(out.positions.shape) == (3, 4, 51)


def test_shared_mask_masks_the_noise_too():
    d = 1000
    mask = (torch.rand(d, generator=_gen(3)) < 0.2).float()
    rel = Release(1.0, 1.0, mask="shared", mask_rate=0.2)
    out = rel.aggregate(torch.ones(4, d), generator=_gen(), shared_mask=mask)
    assert bool((out.value[mask == 0] == 0).all()) and bool((out.value[mask == 1] != 0).all())


@pytest.mark.parametrize("bug", BUGS[:3])
def test_each_bug_changes_the_release(bug):
    c, z = 1.0, 1.0
    u = torch.zeros(1, 20000)
    u[0, 0] = 100.0
    good = Release(c, z).aggregate(u, generator=_gen()).value
    bad = Release(c, z, bug=bug).aggregate(u, generator=_gen()).value
    if bug == "half_noise":
        assert abs(float(bad[1:].std()) / float(good[1:].std()) - 0.5) < 0.02
    elif bug == "double_clip":
        assert float(bad[0] - good[0]) == pytest.approx(1.0, abs=1e-4)   # 2C - C on coord 0
    else:                                  # noise added to the unclipped sum, then clipped
        assert float(torch.linalg.vector_norm(bad)) == pytest.approx(c, rel=1e-5)


def test_release_refuses_bad_arguments():
    with pytest.raises(ValueError, match="bug must be one of"):
        Release(1.0, 1.0, bug="typo")
    with pytest.raises(ValueError, match="positions_sent"):
        Release(1.0, 1.0, bug="positions_sent")
    with pytest.raises(ValueError, match="mask_rate and mask_k"):
        Release(1.0, 1.0, mask="secret")
    with pytest.raises(ValueError, match="clip must be > 0"):
        Release(0.0, 1.0)


def test_clipped_grad_sum_is_the_release():
    m = models.logistic_regression(3)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    p = torch.zeros(4)
    a = clipped_grad_sum(m, p, x, y, 0.5, 1.3, 7)
    b = Release(0.5, 1.3).release_batch(m, p, x, y, 7).value
    assert torch.equal(a, b)
    assert models.clipped_grad_sum is clipped_grad_sum            # the old import path


# --------------------------------------------------------------------------------------------------
# The engine uses it
# --------------------------------------------------------------------------------------------------
def test_engine_record_level_secret_masks_and_positions_bug():
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 3, "samples_per_client": 20,
                 "dim": 4},
        "training": {"rounds": 2, "batch_sampling": "poisson"},
        "privacy": {"level": "record", "batch_rate": 0.5, "noise_multiplier": 1.0},
        "compression": {"name": "prune", "ratio": 0.3, "stage": "mechanism", "mask": "secret"},
        "run": {"progress": False}})
    run = simulate(cfg, record_messages=True)
    assert run.messages.positions is None
    assert run.accounting_event == cfg.accounting_event()
    d = run.info["num_params"]
    assert run.final["bits"] == 3 * 32 * d               # dense messages, no positions
    bad = simulate(cfg, record_messages=True, bug="positions_sent")
    assert bad.messages.positions is not None and bad.final["bits"] > run.final["bits"]
    assert bad.accounting_event == run.accounting_event  # the accountant is not told


def test_engine_client_level_positions_bug_publishes_the_masks():
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "synthetic_logistic", "num_clients": 4, "dim": 4},
        "training": {"rounds": 2},
        "privacy": {"level": "client", "noise_multiplier": 1.0},
        "compression": {"name": "prune", "ratio": 0.3, "stage": "mechanism", "mask": "secret"},
        "run": {"progress": False}})
    assert simulate(cfg, record_messages=True).messages.positions is None
    bad = simulate(cfg, record_messages=True, bug="positions_sent")
    d = bad.info["num_params"]
    assert [tuple(p.shape) for p in bad.messages.positions] == [(4, d), (4, d)]


# --------------------------------------------------------------------------------------------------
# validate catches every planted bug through an audit of the engine's release
# --------------------------------------------------------------------------------------------------
from _recipes import FULL_BATCH_RECORD, FULL_CLIENT  # noqa: E402  (tests/ is on sys.path)

# secret Poisson masks (gamma = 0.01) over whole client updates: the accountant amplifies
SECRET_CLIENT = {
    "name": "secret-client", "data": {"name": "synthetic_logistic", "num_clients": 6,
                                      "samples_per_client": 30, "dim": 30},
    "training": {"rounds": 1, "lr": 0.5},
    "privacy": {"level": "client", "noise_multiplier": 1.0, "clip": 0.5},
    "compression": {"name": "prune", "ratio": 0.01, "stage": "mechanism", "mask": "secret"}}


@pytest.mark.parametrize("bug", ["half_noise", "double_clip", "noise_before_clip"])
@pytest.mark.parametrize("config", [FULL_BATCH_RECORD, FULL_CLIENT], ids=["record", "client"])
def test_validate_catches_planted_release_bug(config, bug):
    from fltheory.validation import validate

    rep = validate(config, quick=True, bug=bug)
    assert "a" in rep.failed, str(rep)
    a = rep.check("a").data
    assert a["epsilon_lower"] > a["epsilon_theory"]
    assert any(bug in n for n in rep.notes)


@pytest.mark.parametrize("seed", [0, 1])
def test_validate_catches_secret_mask_positions_sent(seed):
    from fltheory.validation import validate

    good = validate(SECRET_CLIENT, seed=seed, canaries=4000)
    assert good.status("a") == "PASS", str(good)
    bad = validate(SECRET_CLIENT, seed=seed, canaries=4000, bug="positions_sent")
    assert bad.status("a") == "FAIL", str(bad)
    a = bad.check("a").data
    # the revealed masks void the amplification the accountant claims
    assert a["epsilon_lower"] > a["epsilon_theory"]
    assert math.isclose(a["epsilon_theory"], good.check("a").data["epsilon_theory"])
