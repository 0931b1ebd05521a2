"""Devices files: the device classes of a federation, their resources and privacy targets.

A devices file (TOML) describes who takes part in a federated training run and what each kind of
device can afford.  :func:`load_devices` reads it into a :class:`DevicesSpec`; every error names
the file and the key::

    name = "heterogeneous"
    rounds = 40                  # FL rounds of the run
    deadline_seconds = 2.0       # per-round deadline: local compute + upload

    [model]
    name = "logreg"              # an engine model (fltheory.config.MODELS) ...
    dataset = "digits"           # ... sized for this engine data set
    # d = 650                    # ... or the number of parameters directly

    [[device]]
    name = "sensors"
    count = 12                   # clients of this class
    compute_flops = 2e6          # sustained flop/s
    memory_bytes = 32_768        # memory available for training
    uplink_bps = 2e4             # uplink bit/s
    data_size = 40               # records per client
    epsilon = 1.0                # target (epsilon, delta), record-level DP
    delta = 1e-5

Optional keys: ``[device] uplink_budget_bits`` (bits a client may send per round; default
``uplink_bps * deadline_seconds``); ``[model] hidden`` (MLP / CNN width), ``bytes_per_float``
(4), ``optimizer_slots`` (floats of optimizer state per parameter: 0 for SGD, 1 with momentum,
2 for Adam), ``flops_per_example`` (flops per parameter per example, default 10: forward and
backward 6 [Kaplan et al. 2020], per-example norm and clipping 3, summation 1); ``[privacy]
clip`` (1.0); ``[objective]`` constants of the error bound (``lr``, ``smoothness``,
``initial_gap``, ``heterogeneity``); ``[grid]`` the candidate values the planner searches.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fltheory._checks import check_int, check_open_unit, check_positive
from fltheory.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DeviceClass", "ModelSpec", "Objective", "Grid", "DevicesSpec", "load_devices",
           "DEFAULT_GRID"]

#: Candidate values searched per class (each overridable in the file's ``[grid]`` table).
DEFAULT_GRID = {
    "participation": [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05],
    "batch_size": [4, 8, 16, 32, 64, 128, 256, 512],
    "local_steps": [1, 2, 4, 8, 16],
    "prune_ratio": [1.0, 0.5, 0.25, 0.125],
    "quantizer_bits": [32, 8, 4, 2],
    "max_noise_multiplier": 50.0,
}


@dataclass(frozen=True)
class DeviceClass:
    """One class of devices: how many, what they can compute, hold, send, and their ε target.

    Attributes
    ----------
    name : str
    count : int
        Clients of this class.
    compute_flops : float
        Sustained floating-point operations per second.
    memory_bytes : float
        Memory available for training (model, gradients, optimizer state).
    uplink_bps : float
        Uplink bandwidth in bit/s.
    data_size : int
        Records per client.
    epsilon, delta : float
        Target record-level (ε, δ) of every client of the class.
    uplink_budget_bits : float
        Bits one client may send per round (default ``uplink_bps * deadline``).
    """

    name: str
    count: int
    compute_flops: float
    memory_bytes: float
    uplink_bps: float
    data_size: int
    epsilon: float
    delta: float
    uplink_budget_bits: float


@dataclass(frozen=True)
class ModelSpec:
    """The model: its number of parameters ``d`` and how it is stored and trained."""

    d: int
    name: str | None = None
    dataset: str | None = None
    hidden: int = 64
    bytes_per_float: int = 4
    optimizer_slots: int = 0
    flops_per_example: float = 10.0


@dataclass(frozen=True)
class Objective:
    """Constants of the planner's error bound (see :mod:`fltheory.plan.optimize`).

    ``lr`` η and ``smoothness`` L enter as :math:`L\\eta`; ``initial_gap`` is
    :math:`F(\\theta_0) - F^\\star`; ``heterogeneity`` ζ bounds
    :math:`\\lVert\\nabla F_c - \\nabla F\\rVert` between classes; all in units where the
    clipping norm is ``clip``.
    """

    lr: float = 0.05
    smoothness: float = 1.0
    initial_gap: float = 1.0
    heterogeneity: float = 0.5


@dataclass(frozen=True)
class Grid:
    """Candidate values of each setting (see :data:`DEFAULT_GRID`)."""

    participation: tuple = tuple(DEFAULT_GRID["participation"])
    batch_size: tuple = tuple(DEFAULT_GRID["batch_size"])
    local_steps: tuple = tuple(DEFAULT_GRID["local_steps"])
    prune_ratio: tuple = tuple(DEFAULT_GRID["prune_ratio"])
    quantizer_bits: tuple = tuple(DEFAULT_GRID["quantizer_bits"])
    max_noise_multiplier: float = DEFAULT_GRID["max_noise_multiplier"]


@dataclass(frozen=True)
class DevicesSpec:
    """A whole devices file: classes, model, rounds, deadline, clip, objective and grid."""

    name: str
    rounds: int
    deadline_seconds: float
    model: ModelSpec
    classes: tuple
    clip: float = 1.0
    objective: Objective = field(default_factory=Objective)
    grid: Grid = field(default_factory=Grid)
    source: str | None = None

    @property
    def num_clients(self) -> int:
        return sum(c.count for c in self.classes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = [asdict(c) for c in self.classes]
        return d

    def replace_classes(self, classes) -> "DevicesSpec":
        """A copy with other classes (used by tests and what-if studies)."""
        from dataclasses import replace

        return replace(self, classes=tuple(classes))


_TOP = ("name", "rounds", "deadline_seconds", "model", "device", "privacy", "objective", "grid")
_DEVICE_KEYS = ("name", "count", "compute_flops", "memory_bytes", "uplink_bps", "data_size",
                "epsilon", "delta", "uplink_budget_bits")
_DEVICE_REQUIRED = _DEVICE_KEYS[:-1]
_MODEL_KEYS = ("name", "dataset", "d", "hidden", "bytes_per_float", "optimizer_slots",
               "flops_per_example")
_GRID_LISTS = ("participation", "batch_size", "local_steps", "prune_ratio", "quantizer_bits")
_QUANT_BITS = (2, 3, 4, 5, 6, 7, 8, 16, 32)


def _err(src: str, msg: str) -> ConfigError:
    return ConfigError(f"{src}: {msg}")


def _unknown(src: str, table: dict, valid, where: str) -> None:
    bad = sorted(k for k in table if k not in valid)
    if bad:
        raise _err(src, f"unknown key '{where}{bad[0]}' (valid keys: {', '.join(valid)})")


def _wrap(src: str, fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except ConfigError:
        raise
    except ValueError as exc:
        raise _err(src, str(exc)) from None


#: Features and classes of the engine's shipped data sets (``fltheory.fl.data``).
_DATA_SHAPES = {"digits": (64, 10), "synthetic_logistic": (20, 2)}


def _model_dimension(name: str, dataset: str, hidden: int) -> int:
    """Parameters of the engine's model ``name`` sized for the engine data set ``dataset``.

    Closed forms for the linear and MLP models (checked against the engine in the tests); the
    CNN is built by the engine (imports torch).
    """
    if name in ("logreg", "mlp") and dataset in _DATA_SHAPES:
        f, k = _DATA_SHAPES[dataset]
        if name == "mlp":
            return f * hidden + hidden + hidden * k + k
        return (f + 1) * (1 if k == 2 else k)
    from fltheory.config import ExperimentConfig
    from fltheory.fl.simulate import build_dataset, build_model

    cfg = ExperimentConfig.from_dict({"data": {"name": dataset, "num_clients": 2},
                                      "model": {"name": name, "hidden": hidden}})
    return int(build_model(cfg, build_dataset(cfg)).num_params)


def _model(src: str, raw: Any) -> ModelSpec:
    if not isinstance(raw, dict):
        raise _err(src, f"model must be a table, got {raw!r}")
    _unknown(src, raw, _MODEL_KEYS, "model.")
    hidden = _wrap(src, check_int, "model.hidden", raw.get("hidden", 64), minimum=1)
    bpf = _wrap(src, check_int, "model.bytes_per_float", raw.get("bytes_per_float", 4), minimum=1)
    slots = _wrap(src, check_int, "model.optimizer_slots", raw.get("optimizer_slots", 0),
                  minimum=0)
    fpe = _wrap(src, check_positive, "model.flops_per_example", raw.get("flops_per_example", 10.0))
    name, dataset = raw.get("name"), raw.get("dataset")
    if "d" in raw:
        d = _wrap(src, check_int, "model.d", raw["d"], minimum=1)
        return ModelSpec(d=d, name=name, dataset=dataset, hidden=hidden, bytes_per_float=bpf,
                         optimizer_slots=slots, flops_per_example=fpe)
    if name is None:
        raise _err(src, "model.name (an engine model with model.dataset) or model.d (the "
                        "number of parameters) is required")
    from fltheory.config import DATASETS, MODELS

    if name not in MODELS:
        raise _err(src, f"model.name must be one of {', '.join(MODELS)}, got {name!r}")
    dataset = dataset or "digits"
    if dataset not in ("digits", "synthetic_logistic"):
        raise _err(src, f"model.dataset must be 'digits' or 'synthetic_logistic' (data sets the "
                        f"engine ships; of {', '.join(DATASETS)}), got {dataset!r}; give model.d "
                        "for other models")
    d = _wrap(src, _model_dimension, name, dataset, hidden)
    return ModelSpec(d=d, name=name, dataset=dataset, hidden=hidden, bytes_per_float=bpf,
                     optimizer_slots=slots, flops_per_example=fpe)


def _device(src: str, raw: Any, i: int, deadline: float) -> DeviceClass:
    where = f"device[{i}]"
    if not isinstance(raw, dict):
        raise _err(src, f"{where} must be a table, got {raw!r}")
    _unknown(src, raw, _DEVICE_KEYS, f"{where}.")
    missing = [k for k in _DEVICE_REQUIRED if k not in raw]
    if missing:
        raise _err(src, f"{where}.{missing[0]} is required (keys: {', '.join(_DEVICE_REQUIRED)})")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise _err(src, f"{where}.name must be a non-empty string, got {name!r}")
    where = f"device '{name}'"
    p = lambda k: _wrap(src, check_positive, f"{where}.{k}", raw[k])  # noqa: E731
    count = _wrap(src, check_int, f"{where}.count", raw["count"], minimum=1)
    m = _wrap(src, check_int, f"{where}.data_size", raw["data_size"], minimum=1)
    delta = _wrap(src, check_open_unit, f"{where}.delta", raw["delta"])
    uplink = p("uplink_bps")
    budget = (_wrap(src, check_positive, f"{where}.uplink_budget_bits", raw["uplink_budget_bits"])
              if "uplink_budget_bits" in raw else uplink * deadline)
    return DeviceClass(name=name.strip(), count=count, compute_flops=p("compute_flops"),
                       memory_bytes=p("memory_bytes"), uplink_bps=uplink, data_size=m,
                       epsilon=p("epsilon"), delta=delta, uplink_budget_bits=budget)


def _grid(src: str, raw: Any) -> Grid:
    if raw is None:
        return Grid()
    if not isinstance(raw, dict):
        raise _err(src, f"grid must be a table, got {raw!r}")
    _unknown(src, raw, _GRID_LISTS + ("max_noise_multiplier",), "grid.")
    kw: dict = {}
    for key in _GRID_LISTS:
        if key not in raw:
            continue
        vals = raw[key]
        if not isinstance(vals, list) or not vals:
            raise _err(src, f"grid.{key} must be a non-empty list, got {vals!r}")
        out = []
        for v in vals:
            if key in ("participation", "prune_ratio"):
                x = _wrap(src, check_positive, f"grid.{key}", v)
                if x > 1:
                    raise _err(src, f"grid.{key} values must be in (0, 1], got {v!r}")
            elif key == "quantizer_bits":
                x = _wrap(src, check_int, f"grid.{key}", v, minimum=2)
                if x not in _QUANT_BITS:
                    raise _err(src, f"grid.quantizer_bits values must be in "
                                    f"{list(_QUANT_BITS)} (32 = no quantization), got {v!r}")
            else:
                x = _wrap(src, check_int, f"grid.{key}", v, minimum=1)
            out.append(x)
        kw[key] = tuple(sorted(set(out), reverse=True))
    if "max_noise_multiplier" in raw:
        kw["max_noise_multiplier"] = _wrap(src, check_positive, "grid.max_noise_multiplier",
                                           raw["max_noise_multiplier"])
    return Grid(**kw)


def _from_dict(data: dict, src: str) -> DevicesSpec:
    if not isinstance(data, dict):
        raise _err(src, f"a devices file must be a table, got {type(data).__name__}")
    _unknown(src, data, _TOP, "")
    for key in ("rounds", "deadline_seconds", "model", "device"):
        if key not in data:
            raise _err(src, f"{key} is required (keys: rounds, deadline_seconds, [model], "
                            "[[device]])")
    name = data.get("name", Path(src).stem if src else "devices")
    rounds = _wrap(src, check_int, "rounds", data["rounds"], minimum=1)
    deadline = _wrap(src, check_positive, "deadline_seconds", data["deadline_seconds"])
    model = _model(src, data["model"])
    devs = data["device"]
    if not isinstance(devs, list) or not devs:
        raise _err(src, "device must be a non-empty array of tables ([[device]] entries)")
    classes = tuple(_device(src, raw, i, deadline) for i, raw in enumerate(devs))
    names = [c.name for c in classes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _err(src, f"device names must be unique, got {dup[0]!r} twice")
    priv = data.get("privacy", {})
    if not isinstance(priv, dict):
        raise _err(src, f"privacy must be a table, got {priv!r}")
    _unknown(src, priv, ("clip",), "privacy.")
    clip = _wrap(src, check_positive, "privacy.clip", priv.get("clip", 1.0))
    obj = data.get("objective", {})
    if not isinstance(obj, dict):
        raise _err(src, f"objective must be a table, got {obj!r}")
    _unknown(src, obj, ("lr", "smoothness", "initial_gap", "heterogeneity"), "objective.")
    objective = Objective(**{k: (_wrap(src, check_positive, f"objective.{k}", v)
                                 if k != "heterogeneity" else
                                 _wrap(src, _nonneg, f"objective.{k}", v))
                             for k, v in obj.items()})
    return DevicesSpec(name=str(name), rounds=rounds, deadline_seconds=deadline, model=model,
                       classes=classes, clip=clip, objective=objective,
                       grid=_grid(src, data.get("grid")), source=src or None)


def _nonneg(name, v):
    from fltheory._checks import check_nonnegative

    return check_nonnegative(name, v)


def load_devices(source) -> DevicesSpec:
    """Read a devices file (a path, TOML text in a dict, or a :class:`DevicesSpec`).

    Raises :class:`~fltheory.errors.ConfigError` (a ``ValueError``) naming the file and the key
    for a missing file, invalid TOML, an unknown or missing key or a value out of range.

    Examples
    --------
    >>> from fltheory.plan import load_devices
    >>> spec = load_devices({"rounds": 10, "deadline_seconds": 1.0, "model": {"d": 100},
    ...     "device": [{"name": "phone", "count": 5, "compute_flops": 1e9,
    ...                 "memory_bytes": 1e6, "uplink_bps": 1e6, "data_size": 100,
    ...                 "epsilon": 2.0, "delta": 1e-5}]})
    >>> spec.classes[0].uplink_budget_bits
    1000000.0
    >>> load_devices({"rounds": 10})
    Traceback (most recent call last):
    ...
    fltheory.errors.ConfigError: <dict>: deadline_seconds is required (keys: rounds, deadline_seconds, [model], [[device]])
    """
    if isinstance(source, DevicesSpec):
        return source
    if isinstance(source, dict):
        return _from_dict(source, "<dict>")
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"devices file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return _from_dict(data, str(path))

