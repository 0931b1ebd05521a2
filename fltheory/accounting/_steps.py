"""From dp-accounting events to the mechanisms fltheory accounts for.

An event tree (``ComposedDpEvent``, ``SelfComposedDpEvent``, ...) is flattened into a list of
``(Step, count)``.  A :class:`Step` knows its dominating pairs (for PLD accounting) and its RDP
curve, under either neighbouring relation.  New mechanisms register a handler with
:func:`register_event`, so every accounting function (``epsilon``, ``delta``, calibration,
curves) accepts them without change.

Conventions (documented on the theory page): the noise multiplier is ``z = σ / C`` with ``C``
the clipping norm (the largest contribution of one record).  Under add/remove the sum moves by
at most ``C``; under replace-one by at most ``2C``.  Both methods use this convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import dp_accounting
import numpy as np

from fltheory.accounting import _pld

__all__ = ["Step", "GaussianStep", "WORGaussianStep", "ForeignStep", "flatten",
           "register_event", "NEIGHBORING", "normalize_neighboring"]

NEIGHBORING = ("add_remove", "replace_one")

_NR = dp_accounting.NeighboringRelation


def normalize_neighboring(value) -> str:
    """Accept ``"add_remove"``/``"replace_one"`` (any case, ``-`` or ``_``) or the dp-accounting enum."""
    if isinstance(value, _NR):
        if value == _NR.ADD_OR_REMOVE_ONE:
            return "add_remove"
        if value == _NR.REPLACE_ONE:
            return "replace_one"
        raise ValueError(f"neighboring must be 'add_remove' or 'replace_one', got {value}")
    from fltheory._checks import check_choice

    aliases = {"add_or_remove": "add_remove", "add_or_remove_one": "add_remove",
               "ar": "add_remove", "replace": "replace_one", "ro": "replace_one",
               "substitution": "replace_one"}
    if isinstance(value, str):
        v = value.strip().lower().replace("-", "_").replace("/", "_")
        value = aliases.get(v, v)
    return check_choice("neighboring", value, NEIGHBORING)


class Step:
    """One mechanism invocation (per-step view)."""

    #: whether a dominating pair exists (PLD accounting possible)
    has_pld: bool = True
    #: whether the label laws of :meth:`pairs` are dominated by the mechanism, so that their
    #: certified lower bound is one of the mechanism's epsilon (False: epsilon_lower is None)
    has_lower: bool = True
    #: relations the step supports
    relations: tuple[str, ...] = NEIGHBORING
    reference: str = ""

    def pairs(self, relation: str) -> dict[str, _pld.DominatingPair]:
        raise NotImplementedError

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        raise NotImplementedError

    def key(self) -> tuple:
        return (type(self).__name__, id(self))

    def check_relation(self, relation: str) -> None:
        if relation not in self.relations:
            allowed = " or ".join(repr(r) for r in self.relations)
            raise ValueError(f"neighboring must be {allowed} for {self.describe()}, "
                             f"got {relation!r}")

    def describe(self) -> str:
        return type(self).__name__


_REF_SGM = ("Mironov, Talwar, Zhang 2019, arXiv:1908.10530 (RDP of the sampled Gaussian, Sec. 3); "
            "Zhu, Dong, Wang, AISTATS 2022 (dominating pairs, add/remove, Sec. 3)")


@dataclass(eq=False)
class GaussianStep(Step):
    """Poisson-subsampled Gaussian with rate ``q`` (``q = 1``: plain Gaussian), multiplier ``z``."""

    q: float
    z: float
    reference = _REF_SGM

    def key(self) -> tuple:
        return ("sgm", self.q, self.z)

    def describe(self) -> str:
        return f"Poisson-subsampled Gaussian (q={self.q:g}, z={self.z:g})"

    def pairs(self, relation: str) -> dict[str, _pld.DominatingPair]:
        return _cached_pairs(self.q, self.z, relation)

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        from fltheory.accounting import _rdp

        if relation == "add_remove":
            return np.asarray(_rdp.rdp_poisson_gaussian(self.q, self.z, orders), float)
        return np.asarray(_rdp.rdp_replace_one_poisson_gaussian(self.q, self.z, orders), float)


_PAIR_CACHE: dict[tuple, dict] = {}


def _cached_pairs(q: float, z: float, relation: str) -> dict:
    k = (q, z, relation)
    got = _PAIR_CACHE.get(k)
    if got is None:
        if len(_PAIR_CACHE) > 256:
            _PAIR_CACHE.clear()
        got = _pld.subsampled_gaussian_pairs(q, z, relation)
        _PAIR_CACHE[k] = got
    return got


@dataclass(eq=False)
class WORGaussianStep(Step):
    """Fixed-size sampling without replacement (rate ``q = m / n``) of a Gaussian; RDP only."""

    q: float
    z: float
    has_pld = False
    relations = ("replace_one",)
    reference = ("Wang, Balle, Kasiviswanathan, AISTATS 2019, arXiv:1808.00087, Thm. 27 "
                 "(RDP of subsampling without replacement; an upper bound, not tight)")

    def key(self) -> tuple:
        return ("wor", self.q, self.z)

    def describe(self) -> str:
        return f"Gaussian with fixed-size sampling without replacement (q={self.q:g}, z={self.z:g})"

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        from fltheory.accounting import _rdp

        return np.asarray(_rdp.rdp_sampled_without_replacement_gaussian(self.q, self.z, orders),
                          float)


@dataclass(eq=False)
class ForeignStep(Step):
    """A dp-accounting event fltheory has no pair for: delegated to dp-accounting's accountants."""

    event: object
    has_pld = False
    reference = "dp-accounting 0.6.0 accountants (delegated)"

    def key(self) -> tuple:
        return ("foreign", repr(self.event))

    def describe(self) -> str:
        return type(self.event).__name__


@dataclass(eq=False)
class NonPrivateStep(Step):
    """A release without privacy (ε = ∞)."""

    reference = "dp-accounting NonPrivateDpEvent"
    has_pld = False

    def key(self) -> tuple:
        return ("nonprivate",)


_HANDLERS: list[tuple[type, Callable]] = []


def register_event(cls: type, handler: Callable) -> None:
    """Register ``handler(event) -> list[(Step, count)]`` for a ``DpEvent`` subclass."""
    _HANDLERS.insert(0, (cls, handler))
    _HANDLER_OF.clear()


#: event type -> its registered handler (or None): the first match of ``_HANDLERS``
_HANDLER_OF: dict[type, Callable | None] = {}


def _handler_of(event):
    t = type(event)
    try:
        return _HANDLER_OF[t]
    except KeyError:
        pass
    found = next((handler for cls, handler in _HANDLERS if isinstance(event, cls)), None)
    _HANDLER_OF[t] = found
    return found


def _check_gauss(z, where: str) -> float:
    from fltheory._checks import check_positive

    return check_positive(f"noise_multiplier ({where})", z)


def _effective_z(ev) -> float | None:
    """Noise multiplier of a nested composition of Gaussians (None if not all Gaussian)."""
    if isinstance(ev, dp_accounting.GaussianDpEvent):
        return _check_gauss(ev.noise_multiplier, "GaussianDpEvent")
    if isinstance(ev, dp_accounting.SelfComposedDpEvent):
        z = _effective_z(ev.event)
        return None if z is None else z / math.sqrt(ev.count)
    if isinstance(ev, dp_accounting.ComposedDpEvent):
        zs = [_effective_z(e) for e in ev.events]
        if any(z is None for z in zs):
            return None
        return 1.0 / math.sqrt(sum(1.0 / z ** 2 for z in zs))
    return None


def flatten(event, count: int = 1, out: list | None = None) -> list[tuple[Step, int]]:
    """Flatten a dp-accounting event into ``[(Step, count), ...]`` (same steps merged)."""
    if out is None:
        out = []
        _flatten(event, count, out)
        merged: dict[tuple, list] = {}
        for st, c in out:
            k = st.key()
            if k in merged:
                merged[k][1] += c
            else:
                merged[k] = [st, c]
        return [(s, c) for s, c in merged.values() if c > 0]
    _flatten(event, count, out)
    return out


def _flatten(event, count: int, out: list) -> None:
    from fltheory._checks import check_int, check_probability

    if not isinstance(event, dp_accounting.DpEvent):
        raise ValueError(f"event must be a dp_accounting.DpEvent, got {type(event).__name__}")
    handler = _handler_of(event)
    if handler is not None:
        for st, c in handler(event):
            out.append((st, c * count))
        return
    if isinstance(event, dp_accounting.NoOpDpEvent):
        return
    if isinstance(event, dp_accounting.NonPrivateDpEvent):
        out.append((NonPrivateStep(), count))
        return
    if isinstance(event, dp_accounting.SelfComposedDpEvent):
        c = check_int("count (SelfComposedDpEvent)", event.count, minimum=0)
        _flatten(event.event, count * c, out)
        return
    if isinstance(event, dp_accounting.ComposedDpEvent):
        for e in event.events:
            _flatten(e, count, out)
        return
    if isinstance(event, dp_accounting.GaussianDpEvent):
        out.append((GaussianStep(1.0, _check_gauss(event.noise_multiplier, "GaussianDpEvent")),
                    count))
        return
    if isinstance(event, dp_accounting.PoissonSampledDpEvent):
        q = check_probability("sampling_probability (PoissonSampledDpEvent)",
                              event.sampling_probability) if event.sampling_probability != 0 \
            else 0.0
        if q == 0:
            return
        z = _effective_z(event.event)
        if z is None:
            out.append((ForeignStep(event), count))
        else:
            out.append((GaussianStep(q, z), count))
        return
    if isinstance(event, dp_accounting.SampledWithoutReplacementDpEvent):
        n = check_int("source_dataset_size", event.source_dataset_size, minimum=1)
        m = check_int("sample_size", event.sample_size, minimum=0, maximum=n)
        z = _effective_z(event.event)
        if m == 0:
            return
        if z is None:
            out.append((ForeignStep(event), count))
        else:
            out.append((WORGaussianStep(m / n, z), count))
        return
    if isinstance(event, dp_accounting.UnsupportedDpEvent):
        from fltheory.errors import UnsupportedEventError

        raise UnsupportedEventError("event is an UnsupportedDpEvent: no accountant can bound its "
                                    "privacy")
    out.append((ForeignStep(event), count))
