"""Compression trade-off table and Pareto front."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fltheory.bounds import analytic_noise_multiplier, kappa, min_batch_size, vn_threshold
from fltheory.tradeoffs import MODES, TradeoffTable, compression_tradeoff, pareto_front

D = 1_000_000
KS = [1_000, 10_000, 100_000]


@pytest.fixture(scope="module")
def table():
    return compression_tradeoff(D, KS, n=20, f=4, aggregator="cwtm", epsilon=1.0, delta=1e-5,
                                batch_size=512, heterogeneity=0.5)


def _rows(t, mode):
    return np.flatnonzero(t["mode"] == mode)


def test_layout(table):
    assert len(table) == 1 + 2 * len(KS)
    assert table["mode"].tolist() == ["dense"] + ["shared"] * 3 + ["secret"] * 3
    for c in ("k", "bits", "epsilon", "mse", "robust_error", "robust_error_rel",
              "min_batch_size", "flops", "memory_bytes", "noise_energy", "omega", "gamma"):
        assert table[c].shape == (len(table),)
    assert not np.any(np.isnan(np.stack([table[c] for c in table.columns if c != "mode"])))
    with pytest.raises(ValueError, match="column must be one of"):
        table["nope"]


def test_shared_rows_by_hand(table):
    m = table.meta
    z = analytic_noise_multiplier(1.0, 1e-5)
    assert m["noise_multiplier"] == pytest.approx(z)
    s = z * 2 * 1.0 / 512
    h = 16
    kap = kappa("cwtm", n=20, f=4)
    for i, k in zip(_rows(table, "shared"), KS):
        assert table["bits"][i] == 32 * k + 64
        assert table["epsilon"][i] == pytest.approx(1.0, rel=1e-9)
        assert table["noise_energy"][i] == pytest.approx(k * s * s)
        assert table["omega"][i] == pytest.approx(D / k - 1)
        assert table["mse"][i] == pytest.approx((D / k - 1) + D / k * D * s * s / h)
        rho = k / D
        assert table["robust_error"][i] == pytest.approx(kap * ((1 - 1 / h) * k * s * s
                                                                + rho * 0.25))
        # rand-k in expectation keeps the full-d batch-size requirement
        assert table["min_batch_size"][i] == pytest.approx(
            min_batch_size(D, 1.0, 1e-5, "cwtm", calibration="analytic"), rel=1e-9)
    i = _rows(table, "dense")[0]
    assert table["mse"][i] == pytest.approx(D * s * s / h)
    assert table["bits"][i] == 32 * D


def test_monotone_in_k(table):
    sh = _rows(table, "shared")
    assert np.all(np.diff(table["bits"][sh]) > 0)
    assert np.all(np.diff(table["mse"][sh]) < 0)
    assert np.all(np.diff(table["flops"][sh]) > 0)
    se = _rows(table, "secret")
    assert np.all(np.diff(table["epsilon"][se]) > 0)       # less sampling, less amplification


def test_secret_mask_epsilon_against_dp_accounting(table):
    """Per-record masks: replace-one epsilon <= 2 x the add/remove epsilon of a
    Poisson(k/d)-subsampled Gaussian with multiplier 2z (group privacy), which an independent
    dp-accounting PLD of the same add/remove mechanism brackets from below."""
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    z = table.meta["noise_multiplier"]
    assert table.meta["mask_unit"] == "record"
    for i in _rows(table, "secret"):
        acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
        acc.compose(dp_accounting.PoissonSampledDpEvent(
            float(table["gamma"][i]), dp_accounting.GaussianDpEvent(2 * z)))
        ref = acc.get_epsilon(1e-5 / 2)
        # RDP (the proved account of secret masks) is above the PLD of the 1-sparse pair
        assert 2 * ref * (1 - 1e-3) <= table["epsilon"][i]
        assert table["epsilon"][i] < 1.0                      # amplified <= unamplified
        assert table["bits"][i] == 32 * D                     # dense release
        assert table["min_batch_size"][i] == math.inf         # VN unreachable at small k/d


def test_unamplified_epsilon_against_fltheory_accounting(table):
    """The exact composition used for 'epsilon' agrees with fltheory.accounting's PLD."""
    acc = pytest.importorskip("fltheory.accounting")
    g = acc.epsilon(acc.dp_sgd(1.0, table.meta["noise_multiplier"], 1), 1e-5)
    assert g.epsilon == pytest.approx(1.0, rel=5e-3)


def test_secret_min_batch_finite_when_masks_dense():
    t = compression_tradeoff(D, [990_000], modes=("secret",), batch_size=256)
    kf = vn_threshold("cwtm", n=20, f=4)
    gam = 0.99
    z = t.meta["noise_multiplier"]
    want = 2 * z * math.sqrt(D) / math.sqrt(kf ** 2 * gam ** 2 - gam * (1 - gam))
    assert t["min_batch_size"][0] == pytest.approx(want, rel=1e-9)


def test_rounds_and_fixed_noise():
    t = compression_tradeoff(D, [10_000], modes=("dense", "shared"), rounds=100)
    assert t.meta["noise_multiplier"] == pytest.approx(10 * analytic_noise_multiplier(1.0, 1e-5))
    assert t["epsilon"][0] == pytest.approx(1.0, rel=1e-9)
    t = compression_tradeoff(D, [10_000], modes=("dense",), noise_multiplier=3.7306316348)
    assert t["epsilon"][0] == pytest.approx(1.0, rel=1e-6)
    t = compression_tradeoff(D, [10_000], amplification=False)
    assert "secret" not in t["mode"].tolist()
    assert MODES == ("dense", "shared", "secret")


def test_default_grid_and_serialisation():
    t = compression_tradeoff(D, modes=("shared",))
    assert t["k"].tolist() == [100, 1000, 10_000, 100_000]
    from fltheory.cli import _jsonable
    t2 = compression_tradeoff(D, [1000], modes=("secret",))
    txt = json.dumps(_jsonable(t2.to_dict()))
    assert '"inf"' in txt                                   # infinite batch size, not NaN
    assert t.select(t["k"] > 1000)["k"].tolist() == [10_000, 100_000]
    assert t.rows()[0]["mode"] == "shared"


@pytest.mark.parametrize("kw, msg", [
    (dict(d=0), r"d must be >= 1"),
    (dict(d=D, k=[2 * D]), r"k must be <= 1000000"),
    (dict(d=D, k=[]), r"k must not be empty"),
    (dict(d=D, n=8, f=4), r"n must be > 2f"),
    (dict(d=D, epsilon=-1), r"epsilon must be > 0"),
    (dict(d=D, delta=2), r"delta must be in \(0, 1\)"),
    (dict(d=D, modes=("fast",)), r"modes must be one of"),
    (dict(d=D, aggregator="avg"), r"aggregator must be one of"),
    (dict(d=D, noise_multiplier=0), r"noise_multiplier must be > 0"),
])
def test_bad_input(kw, msg):
    with pytest.raises(ValueError, match=msg):
        compression_tradeoff(**kw)


def test_pareto_front_hand_example():
    t = {"bits": [1, 2, 3, 2, 5], "mse": [3, 2, 1, 3, 0.5], "eps": [1, 1, 1, 1, 9]}
    assert pareto_front(t, ["bits", "mse"]).tolist() == [0, 1, 2, 4]
    assert pareto_front(t, ["bits", "mse", "eps"]).tolist() == [0, 1, 2, 4]
    assert pareto_front(t, ["bits"], maximize=["bits"]).tolist() == [4]
    assert pareto_front({"a": [1.0, np.inf]}, ["a"]).tolist() == [0]
    with pytest.raises(ValueError, match="objectives must be columns"):
        pareto_front(t, ["x"])
    with pytest.raises(ValueError, match="maximize must be a subset"):
        pareto_front(t, ["bits"], maximize=["mse"])
    with pytest.raises(ValueError, match="contains NaN"):
        pareto_front({"a": [1.0, np.nan]}, ["a"])


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
                min_size=1, max_size=25))
def test_pareto_front_properties(points):
    P = np.array(points, dtype=float)
    t = {"a": P[:, 0], "b": P[:, 1], "c": P[:, 2]}
    front = set(pareto_front(t, ["a", "b", "c"]).tolist())
    assert front

    def dominates(i, j):
        return np.all(P[i] <= P[j]) and np.any(P[i] < P[j])
    for j in range(len(P)):
        dominated = any(dominates(i, j) for i in range(len(P)))
        assert (j in front) == (not dominated)


def test_pareto_of_table(table):
    front = pareto_front(table, ["bits", "mse", "epsilon"])
    assert 0 in front                     # dense has the smallest MSE
    assert _rows(table, "shared")[0] in front          # fewest bits
    assert isinstance(table, TradeoffTable)
