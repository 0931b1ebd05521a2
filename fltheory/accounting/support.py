"""Which accounting method can analyse an event: :func:`supports`."""

from __future__ import annotations

import dp_accounting

from fltheory._checks import check_choice
from fltheory.accounting._steps import ForeignStep, NonPrivateStep
from fltheory.accounting.core import METHODS, _prepare, _rdp_orders, _rdp_total

__all__ = ["supports"]


def supports(event, method: str = "pld", *, neighboring="add_remove") -> bool:
    """Whether :func:`~fltheory.accounting.epsilon` analyses ``event`` with ``method`` itself.

    ``"pld"``: every step has a privacy-loss distribution (otherwise :func:`epsilon` falls back
    to RDP, noting it); ``"rdp"``: every step has Rényi-DP curves.  A non-private event is
    supported (its ε is ∞, the mathematical answer); an event of another neighbouring relation
    than the one it allows, or an ``UnsupportedDpEvent``, is not.  ``method`` outside
    ``("pld", "rdp")`` raises ``ValueError``.

    Examples
    --------
    >>> from fltheory.accounting import dp_sgd, supports
    >>> supports(dp_sgd(0.01, 1.0, 100), "pld"), supports(dp_sgd(0.01, 1.0, 100), "rdp")
    (True, True)
    >>> import dp_accounting
    >>> supports(dp_accounting.UnsupportedDpEvent(), "rdp")
    False
    """
    method = check_choice("method", method, METHODS)
    try:
        steps, rel = _prepare(event, neighboring)
    except ValueError:
        return False
    if any(isinstance(s, NonPrivateStep) for s, _ in steps):
        return True
    if method == "pld":
        if all(s.has_pld for s, _ in steps):
            return True
        if not all(isinstance(s, ForeignStep) for s, _ in steps):
            return False
        nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if rel == "add_remove"
              else dp_accounting.NeighboringRelation.REPLACE_ONE)
        acc = dp_accounting.pld.PLDAccountant(nr)
        return bool(acc.supports(dp_accounting.ComposedDpEvent(
            [dp_accounting.SelfComposedDpEvent(s.event, int(c)) for s, c in steps])))
    try:
        _rdp_total(steps, rel, _rdp_orders())
    except (ValueError, NotImplementedError):
        return False
    return True
