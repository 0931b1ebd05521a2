"""Per-device privacy budgets: heterogeneous clients, each with its own guarantee.

Devices differ in how often they take part, how much noise protects them and for how many
rounds they are used.  :func:`per_client_epsilon` accounts each client's own event (clients with
identical events are computed once); :func:`calibrate_per_client` finds, for each device class,
the noise multiplier (or the number of participations / the sampling rate) that meets that
class's own target ε.
"""

from __future__ import annotations

from typing import Callable, Hashable, Mapping, Sequence

from fltheory._checks import check_choice, check_open_unit, check_positive
from fltheory.accounting._steps import flatten, normalize_neighboring

__all__ = ["per_client_epsilon", "calibrate_per_client", "SOLVE_FOR"]

SOLVE_FOR = ("noise_multiplier", "participations", "sampling_rate")


def _items(obj) -> list[tuple[Hashable, object]]:
    if isinstance(obj, Mapping):
        return list(obj.items())
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        return list(enumerate(obj))
    raise ValueError("events must be a mapping {client: event} or a sequence of events, got "
                     f"{type(obj).__name__}")


def per_client_epsilon(events, delta: float, *, method: str = "pld",
                       neighboring="add_remove", rtol: float = 0.005) -> dict:
    """Each client's own certified ε, for clients with heterogeneous mechanisms.

    Client :math:`i` has its own event :math:`\\mathcal M_i` (its participation rate
    :math:`q_i`, noise :math:`z_i`, rounds :math:`T_i`, ...); its guarantee is
    :math:`\\varepsilon_i(\\delta)` of :math:`\\mathcal M_i` alone, since neighbouring datasets
    differ in client :math:`i`'s data only.  Clients whose events flatten to the same
    mechanism are accounted once.

    Parameters
    ----------
    events : mapping or sequence of dp_accounting.DpEvent
        ``{client_id: event}`` (or a list, keyed by position).
    delta : float
        Target δ (the same for every client).
    method, neighboring, rtol
        As in :func:`~fltheory.accounting.epsilon`.

    Returns
    -------
    dict
        ``{client_id: PrivacyGuarantee}``.

    References
    ----------
    .. [1] Z. Jorgensen, T. Yu, G. Cormode. "Conservative or Liberal? Personalized
       Differential Privacy." ICDE 2015 (personalized privacy budgets).
    .. [2] H. B. McMahan et al. ICLR 2018 (client-level DP of DP-FedAvg).

    Examples
    --------
    >>> from fltheory.accounting import dp_fedavg, per_client_epsilon
    >>> out = per_client_epsilon({"phone": dp_fedavg(0.001, 1.0, 1000),
    ...                           "laptop": dp_fedavg(0.01, 1.0, 1000)}, delta=1e-5)
    >>> out["phone"].epsilon < out["laptop"].epsilon
    True
    """
    from fltheory.accounting.core import epsilon as _epsilon

    d = check_open_unit("delta", delta)
    rel = normalize_neighboring(neighboring)
    cache: dict = {}
    out = {}
    for cid, ev in _items(events):
        key = tuple(sorted((repr(s.key()), c) for s, c in flatten(ev)))
        if key not in cache:
            cache[key] = _epsilon(ev, d, method=method, neighboring=rel, rtol=rtol)
        out[cid] = cache[key]
    return out


def calibrate_per_client(build: Callable[[Hashable, float], object], targets, delta: float, *,
                         solve_for: str = "noise_multiplier", method: str = "pld",
                         neighboring="add_remove") -> dict:
    """For each device class, the parameter that meets its own target ε.

    ``build(name, x)`` returns the event of class ``name`` with the free parameter ``x``:

    * ``solve_for="noise_multiplier"``: the smallest noise multiplier with certified
      :math:`\\varepsilon \\le` target (:func:`~fltheory.accounting.calibrate_noise`);
    * ``solve_for="participations"``: the largest number of rounds / participations
      (:func:`~fltheory.accounting.calibrate_steps`; ``x`` is an int);
    * ``solve_for="sampling_rate"``: the largest participation rate
      (:func:`~fltheory.accounting.calibrate_sampling_rate`).

    Parameters
    ----------
    build : callable
        ``build(name, x) -> DpEvent``.
    targets : mapping
        ``{name: target_epsilon}``.
    delta : float
        Target δ.
    solve_for : {"noise_multiplier", "participations", "sampling_rate"}
        The free parameter.
    method, neighboring
        As in :func:`~fltheory.accounting.epsilon`.

    Returns
    -------
    dict
        ``{name: value}`` (float, or int for participations).

    References
    ----------
    .. [1] Z. Jorgensen, T. Yu, G. Cormode. ICDE 2015 (personalized budgets).

    Examples
    --------
    >>> from fltheory.accounting import calibrate_per_client, dp_fedavg
    >>> rates = {"phone": 0.001, "hospital": 0.1}
    >>> z = calibrate_per_client(lambda c, z: dp_fedavg(rates[c], z, 1000),
    ...                          {"phone": 1.0, "hospital": 8.0}, delta=1e-5)
    >>> 0 < z["phone"] < z["hospital"]
    True
    """
    from fltheory.accounting.core import (calibrate_noise, calibrate_sampling_rate,
                                          calibrate_steps)

    d = check_open_unit("delta", delta)
    solve_for = check_choice("solve_for", solve_for, SOLVE_FOR)
    rel = normalize_neighboring(neighboring)
    out = {}
    for name, tgt in _items(targets):
        t = check_positive(f"targets[{name!r}]", tgt)

        def f(x, _n=name):
            return build(_n, x)

        if solve_for == "noise_multiplier":
            out[name] = calibrate_noise(f, t, d, method=method, neighboring=rel)
        elif solve_for == "participations":
            out[name] = calibrate_steps(f, t, d, method=method, neighboring=rel)
        else:
            out[name] = calibrate_sampling_rate(f, t, d, method=method, neighboring=rel)
    return out
