"""Named accounting scenarios: one builder each, with its parameters, for the CLI and reports.

``fltheory epsilon --scenario NAME ...`` looks scenarios up here.  A module that adds a builder
registers it with :func:`register_scenario`; the CLI's ``--help`` lists every scenario with an
example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Param", "Scenario", "SCENARIOS", "register_scenario", "get_scenario"]


@dataclass(frozen=True)
class Param:
    """A scenario parameter.

    ``role`` tells calibration how ε depends on it: ``"noise"`` (ε decreases), ``"rate"``
    (ε increases, value in (0, 1]), ``"count"`` (ε increases, integer) or ``None``.
    """

    name: str
    type: type
    help: str
    default: Any = None
    role: str | None = None
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Scenario:
    """A named builder ``build(**params) -> DpEvent``."""

    name: str
    build: Callable[..., Any]
    params: tuple[Param, ...]
    summary: str
    example: str
    neighboring: tuple[str, ...] = ("add_remove", "replace_one")
    extra: dict = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        names = ", ".join(p.name for p in self.params)
        raise ValueError(f"scenario {self.name!r} has no parameter {name!r} (it has: {names})")


SCENARIOS: dict[str, Scenario] = {}


def register_scenario(s: Scenario) -> Scenario:
    """Add (or replace) a scenario."""
    SCENARIOS[s.name] = s
    return s


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name`` (``ValueError`` listing the valid names otherwise)."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(sorted(SCENARIOS))}, got {name!r}")
    return SCENARIOS[key]


def _register_core() -> None:
    from fltheory.accounting.builders import dp_sgd

    register_scenario(Scenario(
        name="dp_sgd",
        build=dp_sgd,
        params=(
            Param("sampling_rate", float, "Poisson sampling rate q in (0, 1]", role="rate"),
            Param("noise_multiplier", float, "noise multiplier z = sigma / C", role="noise"),
            Param("steps", int, "number of steps T", role="count"),
            Param("sampling", str, "poisson | without_replacement (shuffle is refused)",
                  default="poisson", choices=("poisson", "without_replacement", "shuffle")),
        ),
        summary="central DP-SGD (Abadi et al. 2016), record-level DP",
        example="fltheory epsilon --sampling-rate 0.01 --noise-multiplier 1.0 --steps 10000 "
                "--delta 1e-5",
    ))


_register_core()
