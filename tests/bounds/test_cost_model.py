"""The aggregation compute-cost model."""

import math

import numpy as np
import pytest

from fltheory.bounds import COST_AGGREGATORS, aggregation_cost


def test_smea_dense_is_cubic_others_linear():
    d = np.array([1e6, 1e7])
    for name in COST_AGGREGATORS:
        c = aggregation_cost(name, n=20, f=4, d=d)["flops"]
        slope = np.log10(c[1] / c[0])
        assert slope == pytest.approx(1.0, abs=0.02), name
    c = aggregation_cost("smea", n=20, f=4, d=d, smea_method="dense")["flops"]
    assert np.log10(c[1] / c[0]) == pytest.approx(3.0, abs=0.01)


def test_resnet_scale_numbers():
    d = 25_000_000
    dense = aggregation_cost("smea", n=20, f=4, d=d, smea_method="dense")
    assert dense["flops"] == pytest.approx(math.comb(20, 4) * (16 * d ** 2 + d ** 3) + 16 * d,
                                           rel=1e-12)
    assert dense["flops"] > 7e25
    assert dense["memory_bytes"] == pytest.approx(4 * (20 * d + d + d ** 2))
    gram = aggregation_cost("smea", n=20, f=4, d=d)
    assert gram["flops"] < 1e-14 * dense["flops"]
    mean = aggregation_cost("mean", n=20, f=4, d=d)
    assert mean["flops"] == 20 * d and mean["memory_bytes"] == 4 * 21 * d
    assert aggregation_cost("mean", n=20, f=4, d=d, bytes_per_float=8)["memory_bytes"] == 8 * 21 * d


def test_ordering_and_compression_saving():
    d = 25_000_000
    flops = {nm: aggregation_cost(nm, n=20, f=4, d=d)["flops"] for nm in COST_AGGREGATORS}
    assert flops["mean"] < flops["cwmed"] < flops["cwtm"] < flops["krum"] < flops["multikrum"]
    for nm in COST_AGGREGATORS:     # aggregating k = d/100 coordinates is ~100x cheaper
        r = flops[nm] / aggregation_cost(nm, n=20, f=4, d=d // 100)["flops"]
        assert 50 < r <= 100.0 + 1e-9, nm


def test_nnm_composition_and_iterations():
    base = aggregation_cost("cwtm", n=20, f=4, d=1000)
    both = aggregation_cost("cwtm", n=20, f=4, d=1000, nnm=True)
    nnm = aggregation_cost("nnm", n=20, f=4, d=1000)
    assert both["flops"] == base["flops"] + nnm["flops"]
    assert both["aggregator"] == "cwtm+nnm"
    g1 = aggregation_cost("gm", n=20, f=4, d=1000, iterations=10)["flops"]
    g2 = aggregation_cost("gm", n=20, f=4, d=1000, iterations=20)["flops"]
    assert g2 - g1 == 10 * (2 * 400 + 80)
    c1 = aggregation_cost("caf", n=20, f=4, d=1000)["flops"]          # default 2f outer steps
    assert c1 == 8 * (4 * 20 + 5) * 20 * 1000


@pytest.mark.parametrize("kw, msg", [
    (dict(name="sorting", n=20, f=4, d=10), r"aggregator must be one of"),
    (dict(name="krum", n=8, f=4, d=10), r"n > 2f"),
    (dict(name="krum", n=20, f=4, d=0), r"d must be > 0"),
    (dict(name="smea", n=20, f=4, d=10, smea_method="svd"), r"smea_method must be one of"),
    (dict(name="gm", n=20, f=4, d=10, iterations=0), r"iterations must be >= 1"),
])
def test_bad_input(kw, msg):
    with pytest.raises(ValueError, match=msg):
        aggregation_cost(**kw)


@pytest.mark.parametrize("n,f", [(20, 4), (171, 5), (200, 10), (1000, 3)])
def test_subset_rules_are_finite_for_many_clients(n, f):
    # MDA and SMEA count the C(n, f) subsets exactly (a ratio of gamma functions overflowed
    # from n = 171 on and was refused as "undefined"); expected values from math.comb here
    from fltheory.bounds._numeric import aggregation_cost_info
    d = 1000
    h = n - f
    mda = d * n * (n + 1) + d * h + h * (h - 1) * math.comb(n, f) / 2
    smea = d * n * (n + 1) + d * h + (h ** 3 + h ** 2) * math.comb(n, f)
    for got in (aggregation_cost("mda", n=n, f=f, d=d)["flops"],
                aggregation_cost_info("mda", n, f, d)["flops"]):
        assert got == pytest.approx(mda, rel=1e-12)
    assert aggregation_cost("smea", n=n, f=f, d=d)["flops"] == pytest.approx(smea, rel=1e-12)


def test_binomial_values_exact_and_vectorised():
    from fltheory.bounds._domain import binom_values
    assert binom_values(200, 10) == float(math.comb(200, 10))
    assert binom_values(5, 7) == 0.0
    assert math.isinf(binom_values(5000, 2500))            # beyond the float range
    assert math.isnan(binom_values(4.5, 2))
    got = binom_values(np.array([10, 20, 30]), 3)
    assert got.tolist() == [120.0, 1140.0, 4060.0]
