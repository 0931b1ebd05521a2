"""The one Registry class: aliases, register, available, errors listing the choices, theory links."""

from __future__ import annotations

import pytest

from fltheory.registry import Registry


def test_register_aliases_and_errors():
    reg = Registry("widget")
    reg.register("square", object, aliases=("sq",), deprecated=("box",), sides=4)
    assert reg.canonical("Square") == "square" and reg.canonical("s-q".replace("-", "")) == "square"
    with pytest.warns(DeprecationWarning, match="'box' is deprecated; use 'square'"):
        assert reg.get("box") is object
    assert reg.meta("sq") == {"sides": 4}
    assert reg.available() == ["square"] and reg.available(aliases=True) == ["box", "sq", "square"]
    with pytest.raises(ValueError, match=r"widget must be one of 'square' \(aliases: 'sq'\), "
                                         r"got 'circle'"):
        reg.get("circle")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("sq", int)
    reg.register("sq", int, replace=True)
    assert reg.get("sq") is int and reg.get("square") is object


def test_engine_registries_declare_theory_links():
    pytest.importorskip("torch")
    from fltheory.fl import aggregators, attacks, compressors

    assert aggregators.RULES.meta("trimmed_mean")["kappa_name"] == "cwtm"
    assert aggregators.RULES.meta("krum")["kappa_name"] == "krum"
    assert compressors.REGISTRY.meta("randk")["variance"] == "randk"
    assert compressors.REGISTRY.meta("scaled_sign")["variance"] == "scaled_sign"
    assert compressors.REGISTRY.meta("sign")["variance"] is None     # plain sign: no bound
    assert attacks.REGISTRY.meta("label_flip")["kind"] == "data"
    with pytest.warns(DeprecationWarning):
        assert type(compressors.get("onebit")).__name__ == "StochasticOneBit"
    with pytest.raises(ValueError, match="name must be one of .*'cwtm'"):
        aggregators.get("cwtmm")
    # users add their own components
    aggregators.RULES.register("my_mean", aggregators.Mean, kappa_name="mean")
    try:
        assert aggregators.get("my_mean").name == "mean"
    finally:
        del aggregators.RULES["my_mean"]
