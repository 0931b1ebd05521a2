"""The engine's component registries, and the check of a configuration's names against them.

Every named component of an :class:`~fltheory.config.ExperimentConfig` is looked up in one
:class:`~fltheory.registry.Registry` of :mod:`fltheory.fl`:

========================================  ===============================================
configuration key                         registry
========================================  ===============================================
``data.name``                             :data:`fltheory.fl.data.REGISTRY`
``model.name``                            :data:`fltheory.fl.models.REGISTRY`
``compression.name``                      :data:`fltheory.fl.compressors.REGISTRY`
``byzantine.aggregator``                  :data:`fltheory.fl.aggregators.RULES` (a ``+``-joined
                                          name: pre-aggregators, then the rule)
``byzantine.pre_aggregators``             :data:`fltheory.fl.aggregators.PRE_AGGREGATORS`
``byzantine.attack``                      :data:`fltheory.fl.attacks.REGISTRY` (``"none"``: no
                                          attack)
========================================  ===============================================

:func:`validate_config` checks them all before any training -- :func:`fltheory.fl.simulate`,
:func:`fltheory.validation.validate`, :func:`fltheory.audit.canary_audit`, the report and the
command line call it -- so a typo is a :class:`~fltheory.errors.ConfigError` naming the key, the
value, the choices and the closest one (exit status 2 on the command line), never a failure in
the middle of a run.

Examples
--------
>>> from fltheory.fl.registries import validate_config
>>> validate_config({"byzantine": {"num_byzantine": 2, "attack": "alie",
...                                "aggregator": "cwmt"}})
Traceback (most recent call last):
...
fltheory.errors.ConfigError: byzantine.aggregator must be one of 'caf', 'cc', 'cwmed', 'cwtm', 'gm', 'krum', 'mda', 'mean', 'multikrum', 'smea' (aliases: ...), got 'cwmt' (did you mean 'cwtm'?)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..registry import Registry
from . import aggregators, attacks, compressors, data, models

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike, ExperimentConfig

__all__ = ["REGISTRIES", "validate_config"]

#: Configuration key -> the registry its value is looked up in.
REGISTRIES: dict[str, Registry] = {
    "data.name": data.REGISTRY,
    "model.name": models.REGISTRY,
    "compression.name": compressors.REGISTRY,
    "byzantine.aggregator": aggregators.RULES,
    "byzantine.pre_aggregators": aggregators.PRE_AGGREGATORS,
    "byzantine.attack": attacks.REGISTRY,
}


def _check(key: str, value: Any, registry: Registry) -> str:
    try:
        return registry.canonical(value, param=key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def validate_config(config: ConfigLike) -> ExperimentConfig:
    """The configuration, parsed, with every component name checked against the registries.

    Parameters
    ----------
    config : ExperimentConfig, mapping or path to a TOML file

    Returns
    -------
    ExperimentConfig
        The parsed configuration (names are not rewritten: aliases stay as written).

    Raises
    ------
    ConfigError
        Naming the key, the value, the registered choices and the closest name, for the first
        unknown name (``data.name``, ``model.name``, ``compression.name``,
        ``byzantine.aggregator``, ``byzantine.pre_aggregators[i]``, ``byzantine.attack``).
    """
    from fltheory.config import load_config

    cfg = load_config(config)
    _check("data.name", cfg.data.name, data.REGISTRY)
    _check("model.name", cfg.model.name, models.REGISTRY)
    _check("compression.name", cfg.compression.name, compressors.REGISTRY)
    bz = cfg.byzantine
    if not isinstance(bz.aggregator, str) or not bz.aggregator.strip():
        raise ConfigError(f"byzantine.aggregator must be a non-empty string, "
                          f"got {bz.aggregator!r}")
    *pre, rule = (p.strip() for p in bz.aggregator.split("+"))
    for p in pre:
        _check("byzantine.aggregator (pre-aggregator before '+')", p,
               aggregators.PRE_AGGREGATORS)
    _check("byzantine.aggregator", rule, aggregators.RULES)
    for i, p in enumerate(bz.pre_aggregators):
        if not isinstance(p, aggregators.PreAggregator):
            _check(f"byzantine.pre_aggregators[{i}]", p, aggregators.PRE_AGGREGATORS)
    if not (isinstance(bz.attack, str) and bz.attack.strip().lower() == "none"):
        _check("byzantine.attack", bz.attack, attacks.REGISTRY)
    return cfg
