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


def test_datasets_and_models_are_registries():
    pytest.importorskip("torch")
    from fltheory.fl import data, models

    assert isinstance(data.REGISTRY, Registry) and isinstance(models.REGISTRY, Registry)
    assert data.REGISTRY.meta("synthetic_linear") ["task"] == "regression"
    assert data.REGISTRY.meta("synthetic_logistic")["optimum"] is True
    assert data.REGISTRY.meta("digits")["optimum"] is False
    assert models.REGISTRY.meta("logistic_regression")["convex"] is True   # alias of logreg
    assert models.REGISTRY.meta("cnn")["convex"] is False
    assert models.REGISTRY.canonical("Logistic-Regression") == "logreg"
    with pytest.raises(ValueError, match=r"name must be one of .*'digits'.*got 'digts' "
                                         r"\(did you mean 'digits'\?\)"):
        data.get("digts")
    with pytest.raises(ValueError, match=r"did you mean 'mlp'"):
        models.get("mpl")
    # users add their own data set, usable from a configuration's [data] section
    calls = []

    def tiny(c, seed, flatten):
        calls.append((c.num_clients, seed))
        return data.synthetic_linear(num_clients=c.num_clients, samples_per_client=5, dim=2,
                                     seed=seed)

    data.REGISTRY.register("tiny", tiny, task="regression", optimum=True, from_config=tiny)
    try:
        assert data.get("tiny", c=type("C", (), {"num_clients": 3})(), seed=1,
                        flatten=True).num_clients == 3
    finally:
        del data.REGISTRY["tiny"]


def test_config_names_are_the_registries_names():
    # the configuration (below fl in the layers) keeps the names it can describe; they are the
    # canonical names of the engine's registries, no more and no fewer
    pytest.importorskip("torch")
    from fltheory import config
    from fltheory.fl import compressors, data, models

    assert sorted(config.DATASETS) == data.REGISTRY.available()
    assert sorted(config.MODELS) == models.REGISTRY.available()
    assert sorted(config.COMPRESSORS) == compressors.REGISTRY.available()


@pytest.mark.parametrize("section, key, value, choice", [
    ("data", "name", "digts", "digits"),
    ("model", "name", "mpl", "mlp"),
    ("compression", "name", "qsdg", "qsgd"),
    ("byzantine", "aggregator", "cwmt", "cwtm"),
    ("byzantine", "aggregator", "nmm+cwtm", "nnm"),
    ("byzantine", "pre_aggregators", ["bucketting"], "bucketing"),
    ("byzantine", "attack", "alei", "alie"),
])
def test_config_names_validated_before_training(section, key, value, choice, monkeypatch):
    pytest.importorskip("torch")
    import importlib

    from fltheory.errors import ConfigError
    from fltheory.fl.registries import validate_config

    sim_mod = importlib.import_module("fltheory.fl.simulate")

    raw = {"data": {"num_clients": 6}, "byzantine": {"num_byzantine": 1, "attack": "alie"}}
    raw.setdefault(section, {})[key] = value
    if section == "compression":
        raw["compression"]["ratio"] = 0.5
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    msg = str(err.value)
    assert msg.startswith(f"{section}.{key}") and repr(value if isinstance(value, str)
                                                       else value[0]).split("+")[0][:4] in msg
    assert f"did you mean {choice!r}" in msg and "must be one of" in msg
    # the engine refuses it before building anything
    monkeypatch.setattr(sim_mod, "_Engine", lambda *a, **k: pytest.fail("engine was built"))
    with pytest.raises(ConfigError):
        sim_mod.simulate(raw)


def test_cli_exits_2_on_a_component_typo(tmp_path, capsys):
    pytest.importorskip("torch")
    from fltheory import cli

    path = tmp_path / "typo.toml"
    path.write_text('[data]\nnum_clients = 6\n[byzantine]\nnum_byzantine = 1\n'
                    'attack = "alie"\naggregator = "krumm"\n')
    for argv in (["run", str(path), "--out", str(tmp_path / "o")],
                 ["validate", str(path)], ["report", str(path), "--out", str(tmp_path / "r")]):
        rc = cli.main(argv)
        err = capsys.readouterr().err
        assert rc == 2, argv
        assert err.count("\n") == 1 and "byzantine.aggregator" in err and "'krumm'" in err
        assert "did you mean 'krum'" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_for_dataset_refuses_a_user_model_it_cannot_size():
    pytest.importorskip("torch")
    from fltheory.fl import data, models

    models.REGISTRY.register("my_model", lambda **kw: None, convex=False)
    try:
        with pytest.raises(ValueError, match=r"models.get\('my_model'"):
            models.for_dataset(data.synthetic_logistic(num_clients=2, samples_per_client=5,
                                                       dim=2), "my_model")
    finally:
        del models.REGISTRY["my_model"]


@pytest.mark.parametrize("module, kind, section, builtin", [
    ("data", "dataset", "data", "synthetic_logistic"),
    ("models", "model", "model", "logreg"),
    ("compressors", "compressor", "compression", "qsgd"),
])
def test_a_registered_component_can_be_named_in_a_config(module, kind, section, builtin):
    # registering on the engine's registry is all a user does; the configuration (which cannot
    # import fl) then accepts the name and its aliases, and refuses it before registration
    pytest.importorskip("torch")
    import importlib

    from fltheory import config
    from fltheory.config import ExperimentConfig
    from fltheory.errors import ConfigError

    reg = importlib.import_module(f"fltheory.fl.{module}").REGISTRY
    extra = {"compression": {"levels": 4}}.get(section, {})
    with pytest.raises((ConfigError, ValueError), match=rf"{section}\.name must be one of"):
        ExperimentConfig.from_dict({section: {"name": "user_thing", **extra}})
    reg.register("user_thing", reg[builtin], aliases=("user-alias",), **reg.meta(builtin))
    try:
        for spelling in ("user_thing", "User-Thing", "user_alias"):
            cfg = ExperimentConfig.from_dict({section: {"name": spelling, **extra}})
            assert getattr(cfg, section).name == "user_thing"
        with pytest.raises((ConfigError, ValueError), match="user_thing"):
            ExperimentConfig.from_dict({section: {"name": "user_thingg", **extra}})
    finally:
        del reg["user_thing"]
        for k in [k for k, v in config._DECLARED[kind].items() if v == "user_thing"]:
            del config._DECLARED[kind][k]


def test_a_registered_dataset_trains_from_a_config():
    pytest.importorskip("torch")
    from fltheory import config
    from fltheory.fl import data
    from fltheory.fl.simulate import simulate

    data.REGISTRY.register("user_tabular", data.REGISTRY["synthetic_logistic"],
                           **data.REGISTRY.meta("synthetic_logistic"))
    try:
        run = simulate({"data": {"name": "user_tabular", "num_clients": 4, "dim": 5,
                                 "samples_per_client": 20},
                        "training": {"rounds": 2}}, progress=False)
        assert run.config.data.name == "user_tabular" and len(run.metrics) >= 1
        assert 0.0 <= run.metrics[-1]["accuracy"] <= 1.0
    finally:
        del data.REGISTRY["user_tabular"]
        config._DECLARED["dataset"].pop("user_tabular", None)
