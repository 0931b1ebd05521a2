"""Experiment configuration: one description of a training recipe, read by theory and experiment.

An :class:`ExperimentConfig` is what a user writes (a TOML file) to describe an FL recipe.  The
accountant reads it through :meth:`ExperimentConfig.accounting_event`; the FL engine
(:func:`fltheory.fl.simulate`) runs the same object and returns the accounting event of what it
actually executed, built by the same function, so the two cannot disagree (DESIGN principle 1).

Unknown or invalid keys are rejected with the key named: ``training.rouns`` →
``ConfigError: unknown key 'training.rouns' (valid keys: ...)`` (a ``ValueError``).

Example TOML::

    name = "digits-labelflip"
    seed = 0

    [data]
    name = "digits"
    num_clients = 20
    partition = "iid"

    [model]
    name = "logreg"

    [training]
    algorithm = "fedavg"
    rounds = 30
    local_steps = 2
    lr = 0.5
    batch_sampling = "poisson"

    [privacy]
    level = "record"          # none | record | client
    noise_multiplier = 1.0
    clip = 1.0
    batch_rate = 0.1

    [byzantine]
    num_byzantine = 4
    attack = "label_flip"
    aggregator = "cwtm"
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
import os
from collections.abc import Mapping
from typing import Any, Union

from fltheory._checks import (check_choice, check_int, check_nonnegative, check_open_unit,
                              check_positive, check_probability)
from fltheory.errors import ConfigError

__all__ = ["DataConfig", "ModelConfig", "TrainingConfig", "PrivacyConfig", "CompressionConfig",
           "ByzantineConfig", "MixupConfig", "RunConfig", "ClientsConfig", "ExperimentConfig",
           "load_config", "ConfigLike", "DATASETS", "MODELS", "PRIVACY_LEVELS", "recipe",
           "recipe_names", "declare_component",
           "RECIPES_DIR"]

DATASETS = ("digits", "synthetic_logistic", "synthetic_linear", "mnist", "npz")
MODELS = ("logreg", "linreg", "mlp", "cnn")
PARTITIONS = ("iid", "dirichlet", "shards")
ALGORITHMS = ("fedavg", "fedsgd")
CLIENT_SAMPLING = ("all", "poisson", "fixed")
BATCH_SAMPLING = ("poisson", "fixed", "full")
PRIVACY_LEVELS = ("none", "record", "client")
# The component names a configuration can describe: the canonical names of the engine's
# registries (fltheory.fl.data / models / compressors .REGISTRY; tests/test_registry.py asserts
# they are equal).  Aggregators, pre-aggregators and attacks are checked against the engine's
# registries by fltheory.fl.validate_config at every entry point, before any training.
COMPRESSORS = ("none", "topk", "magnitude_prune", "randk", "qsgd", "sign", "scaled_sign",
               "one_bit", "prune")
# deprecated names -> the one name used by the config, fl and bounds
_COMPRESSOR_ALIASES = {"onebit": "one_bit"}
# Names registered on the engine's data, model and compressor registries (each registration
# calls declare_component): a component a user registers with fltheory.fl can be named in a
# configuration, and an alias given at registration resolves to its canonical name.
_DECLARED: dict[str, dict[str, str]] = {"dataset": {}, "model": {}, "compressor": {}}
_BUILTIN = {"dataset": DATASETS, "model": MODELS, "compressor": COMPRESSORS}


def declare_component(kind: str, name: str, aliases: tuple[str, ...] = ()) -> None:
    """Let configurations name a component registered on the engine's registries.

    Called by :class:`fltheory.registry.Registry` for ``fltheory.fl.data.REGISTRY``,
    ``fltheory.fl.models.REGISTRY`` and ``fltheory.fl.compressors.REGISTRY``; a user does not
    call it directly: registering a component there is enough.

    Parameters
    ----------
    kind : {"dataset", "model", "compressor"}
        The section the name is checked in (``data.name``, ``model.name``,
        ``compression.name``).
    name : str
        The canonical name.
    aliases : tuple of str
        Other accepted spellings (resolved to ``name``).
    """
    table = _DECLARED.get(kind)
    if table is None:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _DECLARED))}, got {kind!r}")
    table[name] = name
    for a in aliases:
        table[a] = name


def _component(kind: str, param: str, value: Any) -> str:
    """``value`` as the canonical name of a built-in or registered component of ``kind``."""
    declared = _DECLARED[kind]
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        if key in declared:
            return declared[key]
    builtin = _BUILTIN[kind]
    extra = sorted(set(declared.values()) - set(builtin))
    return check_choice(param, value, builtin + tuple(extra))
MASKS = ("shared", "secret")
COMPRESSION_STAGES = ("update", "mechanism")


@dataclass
class DataConfig:
    """Data set and partition among clients."""

    name: str = "digits"
    path: str | None = None
    num_clients: int = 20
    partition: str = "iid"
    alpha: float = 0.5
    shards_per_client: int = 2
    dim: int = 20
    samples_per_client: int = 100
    heterogeneity: float = 0.0
    test_fraction: float = 0.2

    def validate(self, prefix: str = "data") -> None:
        self.name = _component("dataset", f"{prefix}.name", self.name)
        self.num_clients = check_int(f"{prefix}.num_clients", self.num_clients, minimum=1)
        self.partition = check_choice(f"{prefix}.partition", self.partition, PARTITIONS)
        self.alpha = check_positive(f"{prefix}.alpha", self.alpha)
        self.shards_per_client = check_int(f"{prefix}.shards_per_client", self.shards_per_client,
                                           minimum=1)
        self.dim = check_int(f"{prefix}.dim", self.dim, minimum=1)
        self.samples_per_client = check_int(f"{prefix}.samples_per_client",
                                            self.samples_per_client, minimum=1)
        self.heterogeneity = check_nonnegative(f"{prefix}.heterogeneity", self.heterogeneity)
        self.test_fraction = check_open_unit(f"{prefix}.test_fraction", self.test_fraction)
        if self.name in ("mnist", "npz") and not self.path:
            raise ValueError(f"{prefix}.path is required for data.name={self.name!r}")


@dataclass
class ModelConfig:
    """Model family (functional torch models in :mod:`fltheory.fl.models`)."""

    name: str = "logreg"
    hidden: int = 64

    def validate(self, prefix: str = "model") -> None:
        self.name = _component("model", f"{prefix}.name", self.name)
        self.hidden = check_int(f"{prefix}.hidden", self.hidden, minimum=1)


@dataclass
class TrainingConfig:
    """Federated optimisation: rounds, local steps, sampling of clients and batches."""

    algorithm: str = "fedavg"
    rounds: int = 30
    local_steps: int = 1
    lr: float = 0.1
    server_lr: float = 1.0
    momentum: float = 0.0
    client_sampling: str = "all"
    client_rate: float = 1.0
    cohort_size: int | None = None
    batch_sampling: str = "full"
    batch_size: int = 32
    weight_decay: float = 0.0

    def validate(self, prefix: str = "training") -> None:
        self.algorithm = check_choice(f"{prefix}.algorithm", self.algorithm, ALGORITHMS)
        self.rounds = check_int(f"{prefix}.rounds", self.rounds, minimum=1)
        self.local_steps = check_int(f"{prefix}.local_steps", self.local_steps, minimum=1)
        self.lr = check_positive(f"{prefix}.lr", self.lr)
        self.server_lr = check_positive(f"{prefix}.server_lr", self.server_lr)
        self.momentum = check_nonnegative(f"{prefix}.momentum", self.momentum)
        if self.momentum >= 1:
            raise ValueError(f"{prefix}.momentum must be in [0, 1), got {self.momentum}")
        self.client_sampling = check_choice(f"{prefix}.client_sampling", self.client_sampling,
                                            CLIENT_SAMPLING)
        self.client_rate = check_probability(f"{prefix}.client_rate", self.client_rate)
        if self.cohort_size is not None:
            self.cohort_size = check_int(f"{prefix}.cohort_size", self.cohort_size, minimum=1)
        if self.client_sampling == "fixed" and self.cohort_size is None:
            raise ValueError(f"{prefix}.cohort_size is required with client_sampling='fixed'")
        self.batch_sampling = check_choice(f"{prefix}.batch_sampling", self.batch_sampling,
                                           BATCH_SAMPLING)
        self.batch_size = check_int(f"{prefix}.batch_size", self.batch_size, minimum=1)
        self.weight_decay = check_nonnegative(f"{prefix}.weight_decay", self.weight_decay)
        if self.algorithm == "fedsgd" and self.local_steps != 1:
            raise ValueError(f"{prefix}.local_steps must be 1 for algorithm='fedsgd', "
                             f"got {self.local_steps}")

    @property
    def effective_client_rate(self) -> float:
        """Poisson client rate the accountant may use.

        ``client_rate`` with ``client_sampling="poisson"``; 1 otherwise: every client takes part
        (``"all"``), or a fixed-size cohort (``"fixed"``), for which no amplification by client
        sampling is claimed (the accountant has no fixed-size two-level analysis; counting every
        round as a participation is a valid upper bound).
        """
        return self.client_rate if self.client_sampling == "poisson" else 1.0


@dataclass
class PrivacyConfig:
    """Differential privacy: none, record-level (local DP-SGD) or client-level (DP-FedAvg).

    ``record``: every client runs DP-SGD with Poisson batches at rate ``batch_rate``, per-example
    clipping to ``clip`` and noise ``noise_multiplier * clip`` on each step's sum.
    ``client``: every client's update is clipped to ``clip`` and the server adds
    ``noise_multiplier * clip`` noise to the sum.
    """

    level: str = "none"
    noise_multiplier: float = 1.0
    clip: float = 1.0
    delta: float = 1e-5
    batch_rate: float | None = None
    cohort_visible: bool = False
    neighboring: str = "add_remove"

    def validate(self, prefix: str = "privacy") -> None:
        self.level = check_choice(f"{prefix}.level", self.level, PRIVACY_LEVELS)
        self.noise_multiplier = check_positive(f"{prefix}.noise_multiplier",
                                               self.noise_multiplier)
        self.clip = check_positive(f"{prefix}.clip", self.clip)
        self.delta = check_open_unit(f"{prefix}.delta", self.delta)
        if self.batch_rate is not None:
            self.batch_rate = check_probability(f"{prefix}.batch_rate", self.batch_rate)
        if self.level == "record" and self.batch_rate is None:
            raise ValueError(f"{prefix}.batch_rate (Poisson rate of the local batches) is "
                             "required with privacy.level='record'")
        if not isinstance(self.cohort_visible, bool):
            raise ValueError(f"{prefix}.cohort_visible must be true or false, "
                             f"got {self.cohort_visible!r}")
        from fltheory.accounting import normalize_neighboring

        self.neighboring = normalize_neighboring(self.neighboring)


@dataclass
class CompressionConfig:
    """Update compression (:mod:`fltheory.fl.compressors`).

    ``stage="update"`` (default) compresses each client's finished update: after the local noise
    for record-level DP (post-processing, no effect on the accounting); for client-level DP the
    client compresses its update and the server clips the *decoded* message to ``privacy.clip``
    before the noisy sum, so the sensitivity stays ``clip`` whatever the compressor does.

    ``stage="mechanism"`` (random coordinate masks only: ``name="prune"`` with ``ratio`` the
    keep probability, or ``name="randk"``) applies the mask *inside* the DP mechanism, to the
    clipped contribution before the noise.  ``mask="secret"``: each client draws its own mask,
    never published, and the noise covers every coordinate; with client-level DP, Poisson
    (``prune``) masks and every client taking part, the accountant uses
    :func:`fltheory.accounting.coordinate_sampled_gaussian` (amplification by secret masks).
    ``mask="shared"``: one public mask per round for everyone, noise only on the kept
    coordinates; no amplification (the gain is dimension: noise energy ``k σ²`` instead of
    ``d σ²``).  With record-level DP a secret mask is drawn for every record and applied to its
    clipped gradient before the sum (:class:`fltheory.fl.release.Release`); no amplification
    by these masks is claimed by the accountant (the masked gradient still has norm
    ``<= clip``).

    ``params`` holds extra keyword arguments of the compressor (e.g. ``{c = 1.0, B = 3.0}`` for
    ``one_bit`` (``onebit``: deprecated alias), ``{rescale = true}`` for ``prune``).

    Names are those of :mod:`fltheory.fl.compressors` and :mod:`fltheory.bounds`: ``sign`` is
    the plain sign :math:`\\mathrm{sign}(x)`, ``scaled_sign`` is
    :math:`\\tfrac{\\|x\\|_1}{d}\\mathrm{sign}(x)`; ``magnitude_prune`` keeps the fraction
    ``ratio`` of largest-magnitude coordinates (top-k by fraction).
    """

    name: str = "none"
    k: int | None = None
    ratio: float | None = None
    levels: int | None = None
    mask: str = "shared"
    error_feedback: bool = False
    stage: str = "update"
    params: dict = field(default_factory=dict)

    def validate(self, prefix: str = "compression") -> None:
        if isinstance(self.name, str) and self.name.strip().lower() in _COMPRESSOR_ALIASES:
            new = _COMPRESSOR_ALIASES[self.name.strip().lower()]
            warnings.warn(f"{prefix}.name={self.name!r} is deprecated; use {new!r}",
                          DeprecationWarning, stacklevel=4)
            self.name = new
        self.name = _component("compressor", f"{prefix}.name", self.name)
        if self.k is not None:
            self.k = check_int(f"{prefix}.k", self.k, minimum=1)
        if self.ratio is not None:
            self.ratio = check_probability(f"{prefix}.ratio", self.ratio)
        if self.levels is not None:
            self.levels = check_int(f"{prefix}.levels", self.levels, minimum=1)
        self.mask = check_choice(f"{prefix}.mask", self.mask, MASKS)
        if self.name == "magnitude_prune" and not self.ratio:
            raise ValueError(f"{prefix}.ratio (the kept fraction, > 0) is required for "
                             f"{prefix}.name='magnitude_prune', got {self.ratio!r}")
        if self.name in ("topk", "randk", "prune") and self.k is None and self.ratio is None:
            raise ValueError(f"{prefix}.k or {prefix}.ratio is required for "
                             f"compression.name={self.name!r}")
        self.stage = check_choice(f"{prefix}.stage", self.stage, COMPRESSION_STAGES)
        if not isinstance(self.params, dict):
            raise ValueError(f"{prefix}.params must be a table, got {self.params!r}")
        if not isinstance(self.error_feedback, bool):
            raise ValueError(f"{prefix}.error_feedback must be true or false, "
                             f"got {self.error_feedback!r}")
        if self.stage == "mechanism":
            if self.name not in ("prune", "randk"):
                raise ValueError(f"{prefix}.stage='mechanism' needs a random coordinate mask "
                                 f"({prefix}.name='prune' or 'randk'), got {self.name!r}")
            if self.name == "prune" and self.ratio is None:
                raise ValueError(f"{prefix}.ratio (the keep probability of each coordinate) is "
                                 f"required with {prefix}.stage='mechanism' and name='prune'")
            if self.error_feedback:
                raise ValueError(f"{prefix}.error_feedback is not available with "
                                 f"{prefix}.stage='mechanism' (the residual would carry "
                                 "un-noised data into later rounds)")


@dataclass
class ByzantineConfig:
    """Byzantine clients, their attack, and the server's (pre-)aggregation rule.

    ``num_byzantine`` (f) is both the number of attacking clients and the f the rule is built
    for.  It must be below half the clients and at most what the rule admits with all clients
    (or the fixed cohort), checked before training.  With Poisson client sampling a round may
    have fewer clients; a rule that admits fewer than f of them then runs with the largest f it
    admits, recorded per round (metric ``f_effective``), and the engine warns when more
    Byzantine clients took part in a round than that f (see :mod:`fltheory.fl.simulate`, step 6).
    """

    num_byzantine: int = 0
    attack: str = "none"
    attack_params: dict = field(default_factory=dict)
    aggregator: str = "mean"
    aggregator_params: dict = field(default_factory=dict)
    pre_aggregators: list = field(default_factory=list)

    def validate(self, prefix: str = "byzantine") -> None:
        self.num_byzantine = check_int(f"{prefix}.num_byzantine", self.num_byzantine, minimum=0)
        for key in ("attack_params", "aggregator_params"):
            if not isinstance(getattr(self, key), dict):
                raise ValueError(f"{prefix}.{key} must be a table, got {getattr(self, key)!r}")
        if not isinstance(self.pre_aggregators, (list, tuple)):
            raise ValueError(f"{prefix}.pre_aggregators must be a list, "
                             f"got {self.pre_aggregators!r}")
        self.pre_aggregators = list(self.pre_aggregators)
        if self.num_byzantine > 0 and self.attack == "none":
            raise ValueError(f"{prefix}.attack is required when {prefix}.num_byzantine > 0")


@dataclass
class MixupConfig:
    """Mixup of client data, weights λ ~ Beta(alpha, alpha).

    Without record-level DP the engine mixes inputs and labels of random pairs (Zhang et al.
    2018).  With record-level DP it mixes *clipped per-example gradients*: every sampled record
    enters the step's sum with its own weight λ ~ Beta(alpha, alpha), independent of the other
    records, so one record moves the sum by λ·clip -- the mechanism
    :func:`fltheory.accounting.mixup` accounts (see :mod:`fltheory.fl.mixup` for why pairs with
    weights λ and 1 − λ would not match it).  The weights are never released, so the
    hidden-weights account (``reveal_weights=False``, the default) is the exact one;
    ``reveal_weights=True`` gives the revealed-weights mixture (valid, looser).
    """

    enabled: bool = False
    alpha: float = 0.4
    reveal_weights: bool = False

    def validate(self, prefix: str = "mixup") -> None:
        self.alpha = check_positive(f"{prefix}.alpha", self.alpha)
        for key in ("enabled", "reveal_weights"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{prefix}.{key} must be true or false, "
                                 f"got {getattr(self, key)!r}")

    def weight_law(self):
        """The law of one record's mixup weight λ: ``scipy.stats.beta(alpha, alpha)``.

        The engine draws the weights from it and the accountant reads it.
        """
        from scipy import stats

        return stats.beta(self.alpha, self.alpha)


@dataclass
class RunConfig:
    """Run-time options: evaluation cadence, checkpoints, progress bar."""

    eval_every: int = 1
    checkpoint_every: int = 0
    progress: bool = True

    def validate(self, prefix: str = "run") -> None:
        self.eval_every = check_int(f"{prefix}.eval_every", self.eval_every, minimum=1)
        self.checkpoint_every = check_int(f"{prefix}.checkpoint_every", self.checkpoint_every,
                                          minimum=0)


@dataclass
class ClientsConfig:
    """Per-client settings (heterogeneous devices, :mod:`fltheory.plan`), one value per client.

    Each list, when given, has ``data.num_clients`` entries and overrides, for record-level DP:
    ``client_rate`` (Poisson participation, with ``training.client_sampling = "poisson"``),
    ``batch_rate`` (Poisson batch rate), ``noise_multiplier``, ``local_steps``, ``prune_ratio``
    (the client trains and sends the coordinates of a mask kept with this probability, one
    public mask per round and ratio, noise on the kept coordinates only) and ``qsgd_levels``
    (QSGD of the noised update on the kept coordinates; 0 = none).  ``delta`` (one per client)
    is the δ at which each client's guarantee is reported, ``group`` names the device class.
    Client :math:`i`'s mechanism is :func:`~fltheory.accounting.local_dp_sgd` with its own
    values (:meth:`ExperimentConfig.client_accounting_event`).
    """

    client_rate: list | None = None
    batch_rate: list | None = None
    noise_multiplier: list | None = None
    local_steps: list | None = None
    prune_ratio: list | None = None
    qsgd_levels: list | None = None
    delta: list | None = None
    group: list | None = None

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "group")

    def validate(self, prefix: str = "clients") -> None:
        checks = {"client_rate": check_probability, "batch_rate": check_probability,
                  "noise_multiplier": check_positive, "prune_ratio": check_probability,
                  "delta": check_open_unit,
                  "local_steps": lambda n, v: check_int(n, v, minimum=1),
                  "qsgd_levels": lambda n, v: check_int(n, v, minimum=0)}
        for key, fn in checks.items():
            vals = getattr(self, key)
            if vals is None:
                continue
            if not isinstance(vals, (list, tuple)):
                raise ValueError(f"{prefix}.{key} must be a list (one value per client), "
                                 f"got {vals!r}")
            setattr(self, key, [fn(f"{prefix}.{key}[{i}]", v) for i, v in enumerate(vals)])
        if self.group is not None:
            if not isinstance(self.group, (list, tuple)):
                raise ValueError(f"{prefix}.group must be a list of names, got {self.group!r}")
            self.group = [str(g) for g in self.group]

    def value(self, key: str, i: int, default):
        """Client ``i``'s value of ``key`` (``default`` when the list is not given)."""
        vals = getattr(self, key)
        return default if vals is None else vals[i]


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig,
             "privacy": PrivacyConfig, "compression": CompressionConfig,
             "byzantine": ByzantineConfig, "mixup": MixupConfig, "run": RunConfig,
             "clients": ClientsConfig}


@dataclass
class ExperimentConfig:
    """A whole FL experiment: data, model, training, privacy, compression, attacks.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({
    ...     "training": {"rounds": 100, "client_sampling": "poisson", "client_rate": 0.1},
    ...     "privacy": {"level": "client", "noise_multiplier": 1.0}})
    >>> ev = cfg.accounting_event()
    >>> from fltheory.accounting import epsilon
    >>> g = epsilon(ev, cfg.privacy.delta)
    >>> 0 < g.epsilon_lower <= g.epsilon
    True
    >>> ExperimentConfig.from_dict({"training": {"rouns": 3}})
    Traceback (most recent call last):
    ...
    fltheory.errors.ConfigError: unknown key 'training.rouns' (valid keys: algorithm, rounds, ...)
    """

    name: str = "experiment"
    seed: int = 0
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    compression: CompressionConfig = field(default_factory=CompressionConfig)
    byzantine: ByzantineConfig = field(default_factory=ByzantineConfig)
    mixup: MixupConfig = field(default_factory=MixupConfig)
    run: RunConfig = field(default_factory=RunConfig)
    clients: ClientsConfig = field(default_factory=ClientsConfig)

    def __post_init__(self) -> None:
        try:
            self.validate()
        except ConfigError:
            raise
        except ValueError as exc:   # every invalid field is a configuration error
            raise ConfigError(str(exc)) from None

    # ------------------------------------------------------------------ validation
    def validate(self) -> "ExperimentConfig":
        """Check every field (and cross-field constraints); returns ``self``."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        self.seed = check_int("seed", self.seed, minimum=0)
        if not isinstance(self.device, str) or not (self.device == "cpu"
                                                    or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        for key in _SECTIONS:
            getattr(self, key).validate(key)
        n, f = self.data.num_clients, self.byzantine.num_byzantine
        if 2 * f >= n:
            # refused, never capped: no aggregation rule tolerates f >= n/2 (breakdown point)
            raise ValueError(f"byzantine.num_byzantine must be < data.num_clients / 2 = {n / 2:g} "
                             f"(no robust aggregation tolerates f >= n/2), got {f}")
        bz = self.byzantine
        if self.privacy.level == "client" and (bz.aggregator.strip().lower() != "mean"
                                               or bz.pre_aggregators):
            raise ValueError(
                "byzantine.aggregator must be 'mean' without pre_aggregators with "
                f"privacy.level='client', got {bz.aggregator!r}: DP-FedAvg releases the noisy "
                "sum of clipped updates (the mechanism the accountant analyses); a robust rule "
                "in place of the sum has another sensitivity. Use privacy.level='record' "
                "(noise added by each client) to combine DP with robust aggregation")
        if self.training.cohort_size is not None and self.training.cohort_size > n:
            raise ValueError(f"training.cohort_size must be <= data.num_clients={n}, "
                             f"got {self.training.cohort_size}")
        if self.privacy.level == "client" and self.training.client_sampling == "fixed":
            raise ValueError("training.client_sampling='fixed' has no tight client-level "
                             "accountant; use 'poisson' (client_rate) or 'all' with "
                             "privacy.level='client'")
        c = self.compression
        if c.stage == "mechanism" and self.privacy.level == "none":
            raise ValueError("compression.stage='mechanism' puts the mask inside the DP "
                             "mechanism and needs privacy.level='record' or 'client'; use "
                             "compression.stage='update' without DP")
        self._validate_clients()
        if self.privacy.level == "record" and self.training.batch_sampling != "poisson":
            raise ValueError("privacy.level='record' needs training.batch_sampling='poisson' "
                             "(the accountant assumes Poisson batches; shuffled or fixed batches "
                             "are not covered by a Poisson accountant)")
        return self

    def _validate_clients(self) -> None:
        cl, n = self.clients, self.data.num_clients
        if not cl.enabled:
            return
        for f in fields(cl):
            vals = getattr(cl, f.name)
            if vals is not None and len(vals) != n:
                raise ValueError(f"clients.{f.name} must have data.num_clients={n} entries, "
                                 f"got {len(vals)}")
        if self.privacy.level != "record":
            raise ValueError("clients.* per-client settings need privacy.level='record' (local "
                             f"DP-SGD with per-client parameters), got {self.privacy.level!r}")
        if cl.client_rate is not None and self.training.client_sampling != "poisson":
            raise ValueError("clients.client_rate needs training.client_sampling='poisson', got "
                             f"{self.training.client_sampling!r}")
        if self.compression.name != "none" and (cl.prune_ratio is not None
                                                or cl.qsgd_levels is not None):
            raise ValueError("clients.prune_ratio / clients.qsgd_levels replace the compression "
                             "section: set compression.name='none'")
        if self.mixup.enabled:
            raise ValueError("clients.* per-client settings are not available with mixup")

    def client_accounting_event(self, client: int, rounds: int | None = None):
        """The event of client ``client`` under per-client settings (:class:`ClientsConfig`).

        :func:`~fltheory.accounting.local_dp_sgd` with the client's participation rate, batch
        rate, noise multiplier and local steps (the shared values where no list is given);
        pruning with a public mask and quantization are post-processing.

        Examples
        --------
        >>> cfg = ExperimentConfig.from_dict({"data": {"num_clients": 2},
        ...     "training": {"rounds": 5, "batch_sampling": "poisson",
        ...                  "client_sampling": "poisson", "client_rate": 0.5},
        ...     "privacy": {"level": "record", "batch_rate": 0.1},
        ...     "clients": {"noise_multiplier": [1.0, 2.0]}})
        >>> from fltheory.accounting import local_dp_sgd
        >>> cfg.client_accounting_event(1) == local_dp_sgd(0.5, 0.1, 2.0, 1, 5)
        True
        """
        import dp_accounting

        from fltheory.accounting import local_dp_sgd

        i = check_int("client", client, minimum=0)
        if i >= self.data.num_clients:
            raise ValueError(f"client must be < data.num_clients={self.data.num_clients}, "
                             f"got {i}")
        t = self.training.rounds if rounds is None else check_int("rounds", rounds, minimum=0)
        if self.privacy.level == "none":
            return dp_accounting.NonPrivateDpEvent()
        if t == 0:
            return dp_accounting.NoOpDpEvent()
        if not self.clients.enabled:
            return self.accounting_event(t)
        cl, tr, p = self.clients, self.training, self.privacy
        return local_dp_sgd(cl.value("client_rate", i, tr.effective_client_rate),
                            cl.value("batch_rate", i, p.batch_rate),
                            cl.value("noise_multiplier", i, p.noise_multiplier),
                            cl.value("local_steps", i, tr.local_steps), t,
                            cohort_visible=p.cohort_visible)

    def client_delta(self, client: int) -> float:
        """The δ of client ``client``'s guarantee (``clients.delta`` or ``privacy.delta``)."""
        return self.clients.value("delta", client, self.privacy.delta)

    def weakest_client(self) -> int:
        """The client with the largest certified ε at ``privacy.delta`` (per-client settings).

        Remembered per recipe (the engine asks for it once per accounting call).
        """
        evs = tuple(self.client_accounting_event(i) for i in range(self.data.num_clients))
        return _weakest(evs, self.privacy.delta, self.privacy.neighboring)

    # ------------------------------------------------------------------ accounting
    def accounting_event(self, rounds: int | None = None, *,
                         client_rate: float | None = None):
        """The dp-accounting event of this recipe (after ``rounds`` rounds, default all).

        ``privacy.level="none"`` gives a ``NonPrivateDpEvent`` (ε = ∞).  The FL engine calls
        this same method with what it actually executed.

        * ``privacy.level="client"``: :func:`~fltheory.accounting.dp_fedavg` with the Poisson
          client rate; with secret Poisson coordinate masks inside the mechanism
          (``compression.stage="mechanism"``, ``mask="secret"``, ``name="prune"``) and every
          client taking part, :func:`~fltheory.accounting.coordinate_sampled_gaussian`.
        * ``privacy.level="record"``: :func:`~fltheory.accounting.local_dp_sgd` (two-level
          sampling, revealed participation); with mixup,
          :func:`~fltheory.accounting.mixup` over ``local_steps * rounds`` steps with weights
          Beta(``mixup.alpha``, ``mixup.alpha``), every round counted as a participation.

        Parameters
        ----------
        rounds : int, optional
            Rounds completed (default ``training.rounds``).
        client_rate : float, optional
            Poisson client rate used (default :attr:`TrainingConfig.effective_client_rate`).

        Returns
        -------
        dp_accounting.DpEvent
        """
        return self._accounting(rounds, client_rate)[0]

    # ------------------------------------------------------------------ derived facts
    def full_batch(self) -> bool:
        """Whether the DP mechanism touches every record (record level) or every client
        (client level) at every step: its trade-off curve is then Gaussian, μ = √T/z.

        Examples
        --------
        >>> ExperimentConfig.from_dict({"privacy": {"level": "client"}}).full_batch()
        True
        """
        p, t = self.privacy, self.training
        if p.level == "record":
            return p.batch_rate == 1.0 and t.effective_client_rate == 1.0
        return t.effective_client_rate == 1.0

    def dp_steps(self, rounds: int | None = None) -> int:
        """Releases of the DP mechanism per participant: ``local_steps * rounds`` at record
        level, ``rounds`` at client level (0 without DP).

        Examples
        --------
        >>> ExperimentConfig.from_dict({"training": {"rounds": 5, "local_steps": 3,
        ...     "batch_sampling": "poisson"}, "privacy": {"level": "record",
        ...     "batch_rate": 0.1}}).dp_steps()
        15
        """
        t = self.training.rounds if rounds is None else rounds
        if self.privacy.level == "none":
            return 0
        return t * self.training.local_steps if self.privacy.level == "record" else t

    def kept_coordinates(self, d: int) -> float:
        """Coordinates of a ``d``-parameter model a message keeps (expected, for Poisson
        masks): ``k`` or ``ratio * d`` for rand-k / top-k / prune, ``d`` otherwise.

        Examples
        --------
        >>> ExperimentConfig.from_dict({"compression": {"name": "randk", "ratio": 0.25}}
        ...                            ).kept_coordinates(100)
        25.0
        """
        c = self.compression
        if c.name in ("randk", "topk", "prune"):
            if c.k is not None:
                return float(min(c.k, d))
            return float(c.ratio * d)
        return float(d)

    def accounting_rationale(self) -> list[dict]:
        """Why :meth:`accounting_event` is what it is: one row per amplification source the
        recipe has, ``{"source", "used", "why"}`` -- whether the accountant uses it, and why
        (the report prints these).  Built by the same decisions as the event.

        Examples
        --------
        >>> cfg = ExperimentConfig.from_dict({
        ...     "training": {"client_sampling": "poisson", "client_rate": 0.1},
        ...     "privacy": {"level": "client"}})
        >>> [(r["source"], r["used"]) for r in cfg.accounting_rationale()]
        [('client sampling (Poisson, rate 0.1)', True)]
        """
        return self._accounting(None, None)[1]

    def _accounting(self, rounds: int | None, client_rate: float | None
                    ) -> tuple[Any, list[dict]]:
        """The accounting event and its rationale, decided together (one decision tree)."""
        import dp_accounting

        from fltheory.accounting import dp_fedavg, local_dp_sgd

        tr, p, c = self.training, self.privacy, self.compression
        t = tr.rounds if rounds is None else check_int("rounds", rounds, minimum=0)
        qc = tr.effective_client_rate if client_rate is None else \
            check_probability("client_rate", client_rate)
        rows: list[dict] = []
        if self.clients.enabled and p.level != "none":
            # per-client settings: the weakest client's event (every record is protected at
            # least that well; client_accounting_event gives each client's own)
            rows.append({"source": "per-client settings", "used": False,
                         "why": "the weakest client's event (every record is protected at least "
                                "that well)"})
            return self.client_accounting_event(self.weakest_client(), t), rows
        if p.level == "none":
            return dp_accounting.NonPrivateDpEvent(), rows

        def row(source: str, used: bool, why: str) -> None:
            rows.append({"source": source, "used": bool(used), "why": why})

        mixed = p.level == "record" and self.mixup.enabled
        if tr.client_sampling == "poisson":
            src = f"client sampling (Poisson, rate {tr.client_rate:g})"
            if p.cohort_visible:
                row(src, False, "privacy.cohort_visible = true: against a server that sees who "
                                "takes part, client sampling gives no amplification")
            elif mixed:
                row(src, False, "no two-level (client sampling x mixup) analysis: every round "
                                "counts as a participation (a valid upper bound)")
            else:
                row(src, True, "cohort hidden from the adversary: " + (
                    "revealed mixture over participation (two-level sampling; the product "
                    "rate q_c q_l would be unsound)" if p.level == "record"
                    else "Poisson-subsampled Gaussian per round (DP-FedAvg)"))
        elif tr.client_sampling == "fixed":
            row(f"client sampling (fixed cohort of {tr.cohort_size})", False,
                "no fixed-size two-level analysis: every round counts as a participation (a "
                "valid upper bound)")
        else:
            row("client sampling", False, "every client takes part every round")
        if p.level == "record":
            if mixed:
                row(f"mixup (Beta({self.mixup.alpha:g}, {self.mixup.alpha:g}))", True,
                    "revealed-weight mixture of subsampled Gaussians (valid, looser)"
                    if self.mixup.reveal_weights else "hidden weights, one per record, never "
                    "released: the exact pair")
            row(f"Poisson batches (rate {p.batch_rate:g})", p.batch_rate < 1.0,
                "subsampled Gaussian per local step" if p.batch_rate < 1.0
                else "full batches: no sampling amplification")
        secret_amplified = (p.level == "client" and c.stage == "mechanism"
                            and c.mask == "secret" and c.name == "prune" and qc == 1.0)
        if c.name != "none":
            if secret_amplified:
                row(f"secret Poisson coordinate masks (keep {c.ratio:g})", True,
                    "one mask per client over its whole update (client-level DP), hidden, noise "
                    "on every coordinate: coordinate_sampled_gaussian(mask_unit='client') (RDP)")
            elif c.stage == "mechanism" and c.mask == "secret" and p.level == "record":
                row(f"{c.name} secret masks per record", False,
                    "an independent mask per record before the sum, noise on every "
                    "coordinate; no amplification claimed (the masked gradient still has norm "
                    "<= clip)")
            elif c.stage == "mechanism":
                row(f"{c.name} masks inside the mechanism ({c.mask})", False,
                    "shared/fixed-size masks or masks with client sampling: no amplification "
                    "claimed (the gain is dimension)")
            else:
                row(f"{c.name} compression of the update", False,
                    "applied after the noise: post-processing, neither costs nor buys privacy"
                    + (" (its data-dependent selection is covered by the noise added before "
                       "it)" if c.name == "topk" else ""))
        if t == 0:
            return dp_accounting.NoOpDpEvent(), rows
        if p.level == "client":
            if secret_amplified:
                from fltheory.accounting import coordinate_sampled_gaussian

                return coordinate_sampled_gaussian(c.ratio, p.noise_multiplier, t,
                                                   mask="secret", mask_unit="client"), rows
            return dp_fedavg(qc, p.noise_multiplier, t, cohort_visible=p.cohort_visible), rows
        local = tr.local_steps
        if mixed:
            from fltheory.accounting import mixup

            return mixup(p.batch_rate, p.noise_multiplier, local * t, self.mixup.weight_law(),
                         reveal_weights=self.mixup.reveal_weights), rows
        return local_dp_sgd(qc, p.batch_rate, p.noise_multiplier, local, t,
                            cohort_visible=p.cohort_visible), rows

    def epsilon(self, rounds: int | None = None, **kw):
        """Certified ε of this recipe at ``privacy.delta`` (see :func:`fltheory.accounting.epsilon`)."""
        from fltheory.accounting import epsilon

        return epsilon(self.accounting_event(rounds), self.privacy.delta,
                       neighboring=self.privacy.neighboring, **kw)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """Plain nested dictionary (round-trips through :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExperimentConfig":
        """Build from a nested dictionary; unknown keys raise ``ValueError`` naming the key."""
        if not isinstance(data, dict):
            raise ConfigError(f"configuration must be a table, got {type(data).__name__}")
        top = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - top)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} (valid keys: {', '.join(sorted(top))})")
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                sec_cls = _SECTIONS[key]
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} must be a table, got {value!r}")
                valid = [f.name for f in fields(sec_cls)]
                bad = [k for k in value if k not in valid]
                if bad:
                    raise ConfigError(f"unknown key '{key}.{bad[0]}' "
                                      f"(valid keys: {', '.join(valid)})")
                kw[key] = sec_cls(**value)
            else:
                kw[key] = value
        return cls(**kw)

    @classmethod
    def from_toml(cls, path) -> "ExperimentConfig":
        """Load a TOML file.

        Raises :class:`~fltheory.errors.ConfigError` naming the file for a missing file, a
        syntax error, or a file without any recipe section (an empty file would otherwise run
        the default recipe silently).
        """
        from fltheory._io import read_toml

        path = Path(path)
        data = read_toml(path)
        if not any(key in _SECTIONS for key in data):
            raise ConfigError(f"{path}: no recipe (none of the sections "
                              f"[{'], ['.join(_SECTIONS)}]); an empty file is refused rather "
                              "than run as the default recipe")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_toml(self) -> str:
        """TOML text of this configuration (``None`` values omitted)."""
        def val(v):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if isinstance(v, float):
                return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
            if isinstance(v, (list, tuple)):
                return "[" + ", ".join(val(x) for x in v) + "]"
            if isinstance(v, dict):
                return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
            return str(v)

        d = self.to_dict()
        lines = [f"{k} = {val(d[k])}" for k in ("name", "seed", "device")]
        for sec in _SECTIONS:
            lines.append("")
            lines.append(f"[{sec}]")
            for k, v in d[sec].items():
                if v is not None:
                    lines.append(f"{k} = {val(v)}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes) -> "ExperimentConfig":
        """A copy with top-level fields or ``section__field`` entries changed."""
        d = self.to_dict()
        for key, v in changes.items():
            if "__" in key:
                sec, sub = key.split("__", 1)
                if sec not in d or not isinstance(d[sec], dict):
                    raise ValueError(f"unknown section {sec!r}")
                d[sec][sub] = v
            else:
                d[key] = v
        return ExperimentConfig.from_dict(d)


#: Folder of the built-in recipes (TOML files shipped with the package).
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


def recipe_names() -> list[str]:
    """Names of the built-in recipes (:func:`recipe`).

    Examples
    --------
    >>> "fig5_audit" in recipe_names()
    True
    """
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def recipe(name: str) -> ExperimentConfig:
    """A built-in recipe (the report's default, each figure's base), loaded from its TOML file
    through the same path as a user's file (:meth:`ExperimentConfig.from_toml`).

    Examples
    --------
    >>> recipe("fig5_audit").privacy.batch_rate
    1.0
    """
    names = recipe_names()
    key = check_choice("recipe", name, names)
    return ExperimentConfig.from_toml(RECIPES_DIR / f"{key}.toml")


@functools.lru_cache(maxsize=64)
def _weakest(events: tuple, delta: float, neighboring: str) -> int:
    from fltheory.accounting import per_client_epsilon

    eps = per_client_epsilon(list(events), delta, neighboring=neighboring)
    return max(eps, key=lambda i: (eps[i].epsilon, -i))


#: What the entry points (:func:`fltheory.fl.simulate`, :func:`fltheory.validation.validate`,
#: the audits, the report) accept as a configuration: an :class:`ExperimentConfig`, the mapping
#: of a TOML file's tables, or the path of a TOML file; :func:`load_config` turns it into an
#: :class:`ExperimentConfig`.
ConfigLike = Union[ExperimentConfig, Mapping[str, Any], str, os.PathLike]


def load_config(source: ConfigLike) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a path, a mapping, or an existing config."""
    if isinstance(source, ExperimentConfig):
        return source
    if isinstance(source, Mapping):
        return ExperimentConfig.from_dict(dict(source))
    return ExperimentConfig.from_toml(source)


del dataclasses
