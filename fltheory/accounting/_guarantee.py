"""The result object of every privacy computation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["PrivacyGuarantee"]


def _f(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "n/a"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class PrivacyGuarantee:
    """A privacy guarantee that says what it is.

    Attributes
    ----------
    epsilon : float
        Certified upper bound on ε at :attr:`delta` (when computed from δ), or the ε at which
        δ was computed.  ``inf`` only where that is the mathematical answer (e.g. a non-private
        event) or where no finite ε can be certified at this δ.
    epsilon_lower : float or None
        Certified lower bound on the smallest ε for which the mechanism is (ε, δ)-DP;
        ``None`` where the method has none (RDP).
    delta : float
        The δ that was asked for, or (in :func:`~fltheory.accounting.delta`) a certified upper
        bound on δ(ε).
    delta_lower : float or None
        Certified lower bound on δ(ε) (only from :func:`~fltheory.accounting.delta`).
    method : str
        ``"pld"`` (two-sided privacy-loss-distribution accounting), ``"rdp"`` (Rényi DP), or the
        fallback that was used.
    neighboring : str
        ``"add_remove"`` or ``"replace_one"``.
    reference : str
        The papers and theorems the numbers rest on.
    notes : tuple of str
        Anything a reader must know (approximations, fallbacks, tightness).
    upper_method : str or None
        The method that gave the upper bound (``epsilon``, or ``delta`` from
        :func:`~fltheory.accounting.delta`), e.g. ``"pld"``, ``"rdp"`` or
        ``"exact (Gaussian, mu = 2)"``; ``None`` where it is :attr:`method` itself.
    lower_method : str or None
        The method that gave the lower bound, likewise.

    Examples
    --------
    >>> from fltheory.accounting import dp_sgd, epsilon
    >>> g = epsilon(dp_sgd(0.01, 1.0, 1000), delta=1e-5)
    >>> g.epsilon_lower <= g.epsilon
    True
    >>> print(g)  # doctest: +ELLIPSIS
    (ε, δ)-DP with ε ≤ ... (certified lower bound ...) at δ = 1e-05 [pld, add/remove]
    """

    epsilon: float
    delta: float
    method: str
    neighboring: str
    reference: str
    epsilon_lower: float | None = None
    delta_lower: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    upper_method: str | None = None
    lower_method: str | None = None

    def __post_init__(self) -> None:
        for k in ("epsilon", "epsilon_lower", "delta", "delta_lower"):
            v = getattr(self, k)
            if v is not None:
                object.__setattr__(self, k, float(v))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def relative_gap(self) -> float | None:
        """``(epsilon - epsilon_lower) / epsilon`` (``None`` without a lower bound)."""
        if self.epsilon_lower is None:
            return None
        if self.epsilon == 0:
            return 0.0
        if math.isinf(self.epsilon):
            return math.inf
        return (self.epsilon - self.epsilon_lower) / self.epsilon

    def to_dict(self) -> dict:
        """A JSON-friendly dictionary (infinities as the string ``"inf"``)."""
        d = asdict(self)
        d["notes"] = list(self.notes)
        for k in ("epsilon", "epsilon_lower", "delta", "delta_lower"):
            if isinstance(d[k], float) and math.isinf(d[k]):
                d[k] = "inf"
        return d

    def __str__(self) -> str:
        rel = self.neighboring.replace("_", "/").replace("add/remove", "add/remove")
        rel = "replace-one" if self.neighboring == "replace_one" else rel
        if self.delta_lower is not None:
            s = (f"(ε, δ)-DP at ε = {_f(self.epsilon)} with δ ≤ {_f(self.delta)} "
                 f"(certified lower bound {_f(self.delta_lower)}) [{self.method}, {rel}]")
        elif self.epsilon_lower is not None:
            s = (f"(ε, δ)-DP with ε ≤ {_f(self.epsilon)} (certified lower bound "
                 f"{_f(self.epsilon_lower)}) at δ = {_f(self.delta)} [{self.method}, {rel}]")
        else:
            s = (f"(ε, δ)-DP with ε ≤ {_f(self.epsilon)} at δ = {_f(self.delta)} "
                 f"[{self.method}, {rel}; no lower bound]")
        return s
