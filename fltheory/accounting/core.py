"""ε and δ of a mechanism, curves, grids and calibration.

Every function here accepts any ``dp_accounting.DpEvent`` built by fltheory's builders (or by
hand), validates it, and returns numbers that say what they are.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import dp_accounting
import numpy as np

from fltheory._checks import (check_array, check_choice, check_nonnegative, check_open_unit,
                              check_positive)
from fltheory.accounting import _exact, _pld
from fltheory.errors import UnsupportedEventError
from fltheory.accounting._guarantee import PrivacyGuarantee
from fltheory.accounting._steps import (ForeignStep, GaussianStep, NonPrivateStep, Step, flatten,
                                        normalize_neighboring)

__all__ = ["epsilon", "delta", "epsilon_curve", "epsilon_grid", "calibrate_noise",
           "calibrate_steps", "calibrate_sampling_rate", "METHODS"]

METHODS = ("pld", "rdp")

#: default target relative gap (ε_upper − ε_lower) / ε_upper of the certified interval
DEFAULT_RTOL = 0.002

_REF_PLD = ("two-sided PLD accounting: pessimistic connect-the-dots upper bound (Doroshenko et al., "
            "PETS 2022, Thm. 3.2) and a label-test lower bound (fltheory, see 'Privacy "
            "accounting'); FFT composition (Koskela et al., AISTATS 2020; Gopi et al., NeurIPS "
            "2021)")
_REF_RDP = ("RDP composition (Mironov, CSF 2017) with the conversion of Balle et al., AISTATS 2020, "
            "Thm. 21 / Canonne, Kamath, Steinke, NeurIPS 2020, Prop. 12")


def _refs(steps: Sequence[tuple[Step, int]], base: str) -> str:
    seen = []
    for s, _ in steps:
        if s.reference and s.reference not in seen:
            seen.append(s.reference)
    return "; ".join([base, *seen])


def _prepare(event, neighboring) -> tuple[list[tuple[Step, int]], str]:
    rel = normalize_neighboring(neighboring)
    steps = flatten(event)
    for s, _ in steps:
        s.check_relation(rel)
    return steps, rel


def _directions(steps, rel, scale: float = 1.0) -> dict[str, list]:
    dirs: dict[str, list] = {}
    for s, c in steps:
        for name, pair in s.pairs(rel).items():
            dirs.setdefault(name, []).append((pair, c * scale))
    # symmetric steps (one "replace" pair) join every direction of the others
    if rel == "add_remove":
        names = set(dirs)
        if names - {"remove", "add"}:
            raise ValueError("internal: unexpected direction names " + repr(names))
    return dirs


# ------------------------------------------------------------------------------------------------
# RDP
# ------------------------------------------------------------------------------------------------
def _rdp_total(steps, rel, orders, fractional: str = "series") -> np.ndarray:
    tot = np.zeros(len(orders))
    foreign = []
    for s, c in steps:
        if isinstance(s, NonPrivateStep):
            return np.full(len(orders), np.inf)
        if isinstance(s, ForeignStep):
            foreign.append((s.event, c))
            continue
        if fractional == "integrated" and type(s) is GaussianStep and rel == "add_remove":
            from fltheory.accounting import _rdp

            tot = tot + c * np.asarray(_rdp.rdp_poisson_gaussian_integrated(s.q, s.z, orders))
            continue
        tot = tot + c * np.asarray(s.rdp(orders, rel), float)
    if foreign:
        nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if rel == "add_remove"
              else dp_accounting.NeighboringRelation.REPLACE_ONE)
        acc = dp_accounting.rdp.RdpAccountant(list(orders), nr)
        ev = dp_accounting.ComposedDpEvent(
            [dp_accounting.SelfComposedDpEvent(e, int(c)) for e, c in foreign])
        if not acc.supports(ev):
            raise UnsupportedEventError(f"event is not supported by the RDP accountant under "
                                        f"{rel}: "
                             f"{foreign[0][0]}")
        acc.compose(ev)
        tot = tot + np.asarray(acc._rdp, float)  # noqa: SLF001 (dp-accounting keeps it private)
    return tot


def _rdp_orders():
    from fltheory.accounting import _rdp

    return np.asarray(_rdp.DEFAULT_ORDERS, float)


def _dropped_note(orders, tot) -> list[str]:
    """A note naming the orders whose RDP is infinite while others are finite."""
    bad = ~np.isfinite(tot)
    if not bad.any() or bad.all():
        return []
    o = orders[bad]
    span = f"{o.min():g}" if o.size == 1 else f"{o.min():g}-{o.max():g}"
    return [f"RDP orders {span} ({o.size} of {orders.size}) were dropped: their fractional-order "
            "series (Mironov, Talwar, Zhang 2019, Sec. 3.3, as in dp-accounting) did not "
            "converge in 1000 terms; rdp_fractional='integrated' evaluates them by quadrature"]


# ------------------------------------------------------------------------------------------------
# epsilon / delta
# ------------------------------------------------------------------------------------------------
def epsilon(event, delta: float, *, method: str = "pld", neighboring="add_remove",
            rtol: float = DEFAULT_RTOL, rdp_fractional: str = "series") -> PrivacyGuarantee:
    """Certified ε of a mechanism at a given δ.

    Parameters
    ----------
    event : dp_accounting.DpEvent
        What was run, e.g. from :func:`dp_sgd`; compositions of supported events are accepted.
    delta : float
        Target δ in (0, 1).
    method : {"pld", "rdp"}
        ``"pld"`` (default) gives a certified upper bound *and* a certified lower bound, refined
        until they are at most ``rtol`` apart (relative); the upper bound is the tightest of the
        certified methods available (see Notes).  ``"rdp"`` gives the Rényi-DP upper bound only
        (valid, looser; no lower bound).
    neighboring : {"add_remove", "replace_one"}
        Neighbouring relation.  With clipping norm ``C`` and noise ``σ = z C``, one record moves
        the sum by ``C`` under add/remove and by ``2C`` under replace-one.
    rtol : float
        Target relative gap ``(ε - ε_lower) / ε`` (default 0.2 %).  Larger is faster.  Where it
        cannot be met (the lattice memory cap), the result says so in ``notes``.
    rdp_fractional : {"series", "integrated"}
        How RDP evaluates fractional orders of the subsampled Gaussian (add/remove):
        ``"series"`` as dp-accounting (orders whose series does not converge are dropped, with
        a note), ``"integrated"`` by numerical quadrature of :math:`A_\\alpha` (never looser).

    Returns
    -------
    PrivacyGuarantee
        ``epsilon`` (certified upper bound), ``epsilon_lower`` (certified lower bound, PLD only),
        ``method``, ``upper_method`` / ``lower_method`` (what gave each side), ``neighboring``,
        ``reference`` and ``notes``.

    Notes
    -----
    For PLD, the upper bound discretises each step's privacy loss by a mean-preserving spread of
    :math:`e^{-\\ell}` onto a lattice (so it dominates the true composition by Jensen's
    inequality), and the lower bound evaluates the test

    .. math::

        \\delta(\\varepsilon) \\;\\ge\\; \\max_t\\; P\\Big(\\sum_i L_i > t\\Big)
        - e^{\\varepsilon} Q\\Big(\\sum_i L_i > t\\Big),

    with :math:`L_i` the lattice label of step :math:`i`, whose laws under :math:`P` and
    :math:`Q` are exact.  Both are composed by FFT, with the truncated mass charged to the bounds.
    For small δ the composed laws are exponentially tilted towards the deciding tail, so the
    floating-point error of the FFT stays far below δ (finite, tight bounds down to δ = 1e-15 and
    beyond).

    With ``method="pld"`` the certified interval comes from the tightest method available:

    * compositions of full-batch Gaussians (``q = 1``) are one Gaussian pair with
      :math:`\\mu = s\\sqrt{\\sum_i 1/z_i^2}`, and
      :math:`\\delta(\\varepsilon) = \\Phi(-\\varepsilon/\\mu + \\mu/2)
      - e^{\\varepsilon}\\Phi(-\\varepsilon/\\mu - \\mu/2)` is evaluated exactly [5]_;
    * a single subsampled-Gaussian step (``T = 1``) is exact through its optimal half-line test;
    * where δ is at least the sum of the steps' total variation distances (each exact from the
      same half-line test at ε = 0), ε is exactly 0 (total variation is subadditive under
      composition);
    * otherwise PLD; where its interval is wider than ``rtol`` (memory cap) the RDP upper bound is
      also computed and the smaller upper bound is reported (``upper_method`` says which).

    References
    ----------
    .. [1] Doroshenko, Ghazi, Kamath, Kumar, Manurangsi. "Connect the Dots: Tighter Discrete
       Approximations of Privacy Loss Distributions." PETS 2022, Thm. 3.2.
    .. [2] Zhu, Dong, Wang. "Optimal Accounting of Differential Privacy via Characteristic
       Function." AISTATS 2022, Sec. 3 (dominating pairs).
    .. [3] Mironov, Talwar, Zhang. "Rényi Differential Privacy of the Sampled Gaussian
       Mechanism." arXiv:1908.10530, 2019, Sec. 3.
    .. [4] Balle, Barthe, Gaboardi, Hsu, Sato. "Hypothesis Testing Interpretations and Rényi
       Differential Privacy." AISTATS 2020, Thm. 21 (RDP to (ε, δ)).
    .. [5] Balle, Wang. "Improving the Gaussian Mechanism for Differential Privacy." ICML 2018,
       Thm. 8.

    Examples
    --------
    >>> from fltheory.accounting import dp_sgd, epsilon
    >>> g = epsilon(dp_sgd(sampling_rate=0.01, noise_multiplier=1.0, steps=10_000), delta=1e-5)
    >>> 6.17 < g.epsilon_lower <= g.epsilon < 6.21
    True
    >>> epsilon(dp_sgd(0.01, 1.0, 10_000), delta=1e-5, method="rdp").epsilon  # doctest: +ELLIPSIS
    6.71...
    """
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rtol = check_positive("rtol", rtol)
    rdp_fractional = check_choice("rdp_fractional", rdp_fractional, ("series", "integrated"))
    steps, rel = _prepare(event, neighboring)
    return _epsilon_steps(steps, rel, d, method, rtol, rdp_fractional)


def _epsilon_steps(steps, rel, d, method, rtol, rdp_fractional: str = "series"
                   ) -> PrivacyGuarantee:
    if any(isinstance(s, NonPrivateStep) for s, _ in steps):
        return PrivacyGuarantee(math.inf, d, method, rel, "non-private event", math.inf,
                                notes=("the event contains a non-private release",))
    if not steps:
        return PrivacyGuarantee(0.0, d, method, rel, "no privacy cost (empty event)", 0.0)
    notes: list[str] = _step_notes(steps)
    if method == "pld" and not all(s.has_pld for s, _ in steps):
        missing = [s for s, _ in steps if not s.has_pld]
        if all(isinstance(s, ForeignStep) for s in missing) and all(
                isinstance(s, ForeignStep) for s, _ in steps):
            return _foreign_pld(steps, rel, d)
        notes.append(f"no PLD for {missing[0].describe()}: RDP upper bound used instead")
        method = "rdp"
    if method == "rdp":
        from fltheory.accounting import _rdp

        orders = _rdp_orders()
        tot = _rdp_total(steps, rel, orders, rdp_fractional)
        eps, order = _rdp.rdp_to_epsilon(orders, tot, d)
        notes.extend(_dropped_note(orders, tot))
        notes.append(f"optimal RDP order {float(np.asarray(order)):g}")
        return PrivacyGuarantee(float(np.asarray(eps)), d, "rdp", rel,
                                _refs(steps, _REF_RDP), None, notes=tuple(notes),
                                upper_method="rdp" + (" (fractional orders integrated)"
                                                      if rdp_fractional == "integrated" else ""))
    prof = _exact.exact_profile(steps, rel)
    if prof is not None:
        lo, up = _exact.epsilon_interval(prof, d)
        has_lower = _has_lower(steps)    # an exact profile of a bound's pair is no lower bound
        return PrivacyGuarantee(up, d, "pld", rel, _refs(steps, prof.reference),
                                lo if has_lower else None, notes=tuple(notes),
                                upper_method=prof.label,
                                lower_method=prof.label if has_lower else None)
    if _exact.zero_epsilon(steps, rel, d):
        has_lower = _has_lower(steps)
        return PrivacyGuarantee(0.0, d, "pld", rel, _refs(steps, _exact._REF_TV),  # noqa: SLF001
                                0.0 if has_lower else None, notes=tuple(notes),
                                upper_method="exact (total variation)",
                                lower_method="exact (total variation)" if has_lower else None)
    res = _pld.compose_pairs(_directions(steps, rel), delta=d, rtol=rtol)[0]
    notes.extend(res.notes)
    up, up_m, ref = res.upper, "pld", _refs(steps, _REF_PLD)
    if _gapr(res) > rtol:
        r_eps = _rdp_upper(steps, rel, d)
        if r_eps is not None and r_eps < up:
            notes.append(("the PLD upper bound is infinite at this delta" if math.isinf(up)
                          else f"the PLD upper bound ({up:.6g}) is looser here")
                         + f": the RDP upper bound {r_eps:.6g} is reported")
            up, up_m, ref = r_eps, "rdp", ref + "; " + _REF_RDP
    lower = min(res.lower, up) if _has_lower(steps) else None
    gap = _gapr(res) if lower is None else (0.0 if up == 0 else (up - lower) / up)
    if gap > rtol:
        notes.append(f"relative gap {gap:.2g} exceeds rtol={rtol:g}")
    return PrivacyGuarantee(up, d, "pld", rel, ref, lower, notes=tuple(notes),
                            upper_method=up_m, lower_method=None if lower is None else "pld")


def _rdp_upper(steps, rel, d) -> float | None:
    """The RDP upper bound on epsilon, or None where a step has no RDP curve."""
    from fltheory.accounting import _rdp

    orders = _rdp_orders()
    try:
        tot = _rdp_total(steps, rel, orders, "integrated")
    except (NotImplementedError, ValueError):
        return None
    eps, _ = _rdp.rdp_to_epsilon(orders, tot, d)
    eps = float(np.asarray(eps))
    return eps if math.isfinite(eps) else None


def _has_lower(steps) -> bool:
    """Whether the steps' label laws give a lower bound of the *mechanism* (Step.has_lower)."""
    return all(getattr(s, "has_lower", True) for s, _ in steps)


def _step_notes(steps) -> list[str]:
    """Notes a step asks to attach to every result (e.g. "not a worst-case guarantee")."""
    out: list[str] = []
    for s, _ in steps:
        for n in getattr(s, "notes", ()):
            if n not in out:
                out.append(n)
    return out


def _gapr(r) -> float:
    if r.upper == 0:
        return 0.0
    if math.isinf(r.upper):
        return math.inf
    return (r.upper - r.lower) / r.upper


def _foreign_pld(steps, rel, d) -> PrivacyGuarantee:
    nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if rel == "add_remove"
          else dp_accounting.NeighboringRelation.REPLACE_ONE)
    acc = dp_accounting.pld.PLDAccountant(nr, value_discretization_interval=1e-4)
    ev = dp_accounting.ComposedDpEvent(
        [dp_accounting.SelfComposedDpEvent(s.event, int(c)) for s, c in steps])
    if not acc.supports(ev):
        raise UnsupportedEventError(f"event is not supported under {rel}: "
                                    f"{steps[0][0].describe()}")
    acc.compose(ev)
    eps = float(acc.get_epsilon(d))
    return PrivacyGuarantee(eps, d, "pld (dp-accounting, upper bound only)", rel,
                            "dp-accounting 0.6.0 PLDAccountant, pessimistic estimate", None,
                            notes=("delegated to dp-accounting: no certified lower bound",))


def delta(event, epsilon: float, *, method: str = "pld", neighboring="add_remove",
          rtol: float = DEFAULT_RTOL) -> PrivacyGuarantee:
    """Certified δ(ε) of a mechanism (upper and, with PLD, lower bound).

    Parameters
    ----------
    event : dp_accounting.DpEvent
        The mechanism.
    epsilon : float
        ε ≥ 0.
    method, neighboring, rtol
        As in :func:`epsilon`; ``rtol`` applies to δ.

    Returns
    -------
    PrivacyGuarantee
        ``delta`` is a certified upper bound on δ(ε), ``delta_lower`` a certified lower bound
        (PLD only).

    Notes
    -----
    .. math::

        \\delta(\\varepsilon) = \\sup_S P(S) - e^{\\varepsilon} Q(S) = H_{e^{\\varepsilon}}(P\\|Q).

    References
    ----------
    .. [1] Doroshenko et al., PETS 2022, Thm. 3.2; Balle et al., AISTATS 2020, Thm. 21.

    Examples
    --------
    >>> from fltheory.accounting import dp_sgd, delta
    >>> g = delta(dp_sgd(0.01, 1.0, 10_000), epsilon=6.0)
    >>> 1.7e-5 < g.delta_lower <= g.delta < 1.8e-5
    True
    """
    e = check_nonnegative("epsilon", epsilon)
    method = check_choice("method", method, METHODS)
    rtol = check_positive("rtol", rtol)
    steps, rel = _prepare(event, neighboring)
    if any(isinstance(s, NonPrivateStep) for s, _ in steps):
        return PrivacyGuarantee(e, 1.0, method, rel, "non-private event", None, 1.0)
    if not steps:
        return PrivacyGuarantee(e, 0.0, method, rel, "no privacy cost (empty event)", None, 0.0)
    notes: list[str] = _step_notes(steps)
    if method == "pld" and not all(s.has_pld for s, _ in steps):
        notes.append("no PLD for this event: RDP upper bound used instead")
        method = "rdp"
    if method == "rdp":
        from fltheory.accounting import _rdp

        orders = _rdp_orders()
        tot = _rdp_total(steps, rel, orders)
        dl, _ = _rdp.rdp_to_delta(orders, tot, e)
        return PrivacyGuarantee(e, float(np.asarray(dl)), "rdp", rel, _refs(steps, _REF_RDP),
                                None, None, notes=tuple(notes))
    prof = _exact.exact_profile(steps, rel)
    if prof is not None:
        lo, up = _exact.delta_interval(prof, e)
        has_lower = _has_lower(steps)
        return PrivacyGuarantee(e, up, "pld", rel, _refs(steps, prof.reference), None,
                                lo if has_lower else None, notes=tuple(notes),
                                upper_method=prof.label,
                                lower_method=prof.label if has_lower else None)
    res = _pld.compose_pairs(_directions(steps, rel), epsilon=e, rtol=rtol)[0]
    has_lo = _has_lower(steps)
    return PrivacyGuarantee(e, res.upper, "pld", rel, _refs(steps, _REF_PLD), None,
                            res.lower if has_lo else None,
                            notes=tuple(notes + res.notes), upper_method="pld",
                            lower_method="pld" if has_lo else None)


# ------------------------------------------------------------------------------------------------
# Curves and grids
# ------------------------------------------------------------------------------------------------
def _linear_in_steps(build: Callable, steps_arr: np.ndarray, rel: str):
    """If build(T) == T x build(1) (same per-step mechanisms), return the per-step list."""
    base, _ = _prepare(build(1), rel)
    big, _ = _prepare(build(int(steps_arr.max())), rel)
    kb = {s.key(): c for s, c in base}
    kB = {s.key(): c for s, c in big}
    if set(kb) != set(kB):
        return None
    t = int(steps_arr.max())
    if any(kB[k] != kb[k] * t for k in kb):
        return None
    return base


def epsilon_curve(build: Callable[[int], object], steps, delta: float, *, method: str = "pld",
                  neighboring="add_remove", rtol: float = DEFAULT_RTOL, return_lower: bool = False):
    """ε (certified upper bound) after each number of steps, sharing one discretisation.

    Parameters
    ----------
    build : callable
        ``build(T)`` returns the event after ``T`` steps, e.g.
        ``lambda T: dp_sgd(0.01, 1.0, T)``.
    steps : array_like of int
        Step counts (≥ 1).
    delta : float
        Target δ.
    method, neighboring, rtol
        As in :func:`epsilon`.
    return_lower : bool
        Also return the certified lower bounds (PLD).

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        ε upper bounds (and lower bounds if asked), one per entry of ``steps``.

    Notes
    -----
    When ``build(T)`` is ``T`` repetitions of one step (checked), every point is obtained from
    the same per-step lattice pmfs: the composed characteristic function is
    :math:`\\varphi^{T}`, so each point costs one inverse FFT instead of a full accounting.

    References
    ----------
    .. [1] Koskela, Jälkö, Honkela. "Computing Tight Differential Privacy Guarantees Using FFT."
       AISTATS 2020, Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> from fltheory.accounting import dp_sgd, epsilon_curve
    >>> eps = epsilon_curve(lambda T: dp_sgd(0.01, 1.0, T), np.array([100, 1000, 10_000]), 1e-5)
    >>> bool(np.all(np.diff(eps) > 0))
    True
    """
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rel = normalize_neighboring(neighboring)
    t_arr = check_array("steps", steps, low=1, integer=True).astype(np.int64)
    shape = t_arr.shape
    t_flat = t_arr.ravel()
    base = _linear_in_steps(build, t_flat, rel)
    if base is None or method == "rdp" or not all(s.has_pld for s, _ in base):
        up, lo = [], []
        if base is not None and method == "rdp":
            from fltheory.accounting import _rdp

            orders = _rdp_orders()
            r1 = _rdp_total(base, rel, orders)
            e, _ = _rdp.rdp_to_epsilon(orders, t_flat[:, None] * r1[None, :], d)
            up = np.asarray(e, float)
            lo = np.full_like(up, np.nan)
        else:
            for t in t_flat:
                g = epsilon(build(int(t)), d, method=method, neighboring=rel, rtol=rtol)
                up.append(g.epsilon)
                lo.append(np.nan if g.epsilon_lower is None else g.epsilon_lower)
        up, lo = np.asarray(up, float).reshape(shape), np.asarray(lo, float).reshape(shape)
        return (up, lo) if return_lower else up
    if any(isinstance(s, NonPrivateStep) for s, _ in base):
        inf = np.full(shape, np.inf)
        return (inf, inf) if return_lower else inf
    res = _pld.compose_pairs(_directions(base, rel), delta=d, rtol=rtol,
                             counts_curve=t_flat.astype(float))
    up = np.array([r.upper for r in res]).reshape(shape)
    lo = np.array([r.lower if _has_lower(base) else np.nan for r in res]).reshape(shape)
    return (up, lo) if return_lower else up


def epsilon_grid(sampling_rate, noise_multiplier, steps, delta: float, *, method: str = "pld",
                 neighboring="add_remove", rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """ε of DP-SGD (Poisson sampling) over NumPy-broadcast parameter arrays.

    Parameters
    ----------
    sampling_rate, noise_multiplier, steps : array_like
        Broadcast together; ``q`` in (0, 1], ``z > 0``, integer ``T ≥ 1``.
    delta : float
        Target δ.
    method : {"pld", "rdp"}
        ``"rdp"`` is fully vectorised and equals dp-accounting's ``RdpAccountant`` to 1e-9
        relative; ``"pld"`` returns certified upper bounds, sharing one discretisation per
        ``(q, z)`` across all ``T``.

    Returns
    -------
    numpy.ndarray
        ε with the broadcast shape.

    References
    ----------
    .. [1] Mironov, Talwar, Zhang, arXiv:1908.10530, 2019 (RDP of the sampled Gaussian).

    Examples
    --------
    >>> import numpy as np
    >>> from fltheory.accounting import epsilon_grid
    >>> e = epsilon_grid(np.array([[0.005], [0.01]]), 1.0, np.array([1000, 10_000]), 1e-5,
    ...                  method="rdp")
    >>> e.shape, bool(e[1, 1] > e[0, 1] > e[0, 0])
    ((2, 2), True)
    """
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rel = normalize_neighboring(neighboring)
    q = check_array("sampling_rate", sampling_rate, low=0, high=1, low_open=True)
    z = check_array("noise_multiplier", noise_multiplier, low=0, low_open=True)
    t = check_array("steps", steps, low=1, integer=True)
    q, z, t = np.broadcast_arrays(q, z, t)
    shape = q.shape
    qf, zf, tf = q.ravel(), z.ravel(), t.ravel()
    if method == "rdp":
        from fltheory.accounting import _rdp

        orders = _rdp_orders()
        if rel == "add_remove":
            r = _rdp.rdp_poisson_gaussian(qf, zf, orders)
        else:
            r = np.stack([_rdp.rdp_replace_one_poisson_gaussian(a, b, orders)
                          for a, b in zip(qf, zf)])
        e, _ = _rdp.rdp_to_epsilon(orders, tf[:, None] * r, d)
        return np.asarray(e, float).reshape(shape)
    out = np.empty(qf.size)
    groups: dict[tuple, list[int]] = {}
    for i, (a, b) in enumerate(zip(qf, zf)):
        groups.setdefault((float(a), float(b)), []).append(i)
    for (a, b), idx in groups.items():
        base = [(GaussianStep(a, b), 1)]
        ts = tf[idx]
        uniq, inv = np.unique(ts, return_inverse=True)
        res = _pld.compose_pairs(_directions(base, rel), delta=d, rtol=rtol,
                                 counts_curve=uniq.astype(float))
        vals = np.array([r.upper for r in res])
        out[idx] = vals[inv]
    return out.reshape(shape)


# ------------------------------------------------------------------------------------------------
# Calibration
# ------------------------------------------------------------------------------------------------
def _upper_only(build, x, d, method, rel, rtol: float = DEFAULT_RTOL) -> float:
    """Certified upper bound on ε at ``x``, refined to relative gap ``rtol`` (the best method)."""
    steps, _ = _prepare(build(x), rel)
    return _epsilon_steps(steps, rel, d, method, rtol).epsilon


def _bisect_log(f: Callable[[float], float], target: float, lo: float, hi: float,
                increasing: bool, rtol: float, max_iter: int = 80) -> tuple[float, float]:
    """Bracket the crossing of f (monotone) with target in log-space to relative width rtol.

    Returns (a, b) with the property: f <= target at the 'safe' end (returned second).
    Uses the secant step in (log x, log f) with bisection safeguards.
    """
    flo, fhi = f(lo), f(hi)
    for _ in range(max_iter):
        if hi / lo - 1.0 <= rtol:
            break
        la, lb = math.log(lo), math.log(hi)
        try:
            ga = math.log(max(flo, 1e-300)) - math.log(target)
            gb = math.log(max(fhi, 1e-300)) - math.log(target)
            m = lb - gb * (lb - la) / (gb - ga) if gb != ga and math.isfinite(ga + gb) else None
        except (ValueError, ZeroDivisionError):
            m = None
        mid = 0.5 * (la + lb)
        if m is None or not (la + 0.02 * (lb - la) < m < lb - 0.02 * (lb - la)):
            m = mid
        xm = math.exp(m)
        fm = f(xm)
        # maintain: f(lo) on one side, f(hi) on the other
        if (fm > target) == (flo > target):
            lo, flo = xm, fm
        else:
            hi, fhi = xm, fm
    return lo, hi


def calibrate_noise(build: Callable[[float], object], target_epsilon: float, delta: float, *,
                    method: str = "pld", neighboring="add_remove", rtol: float = 1e-3,
                    bracket: tuple[float, float] | None = None) -> float:
    """Smallest noise multiplier whose certified ε is at most ``target_epsilon``.

    Parameters
    ----------
    build : callable
        ``build(z)`` returns the event at noise multiplier ``z``.
    target_epsilon : float
        Target ε > 0.
    delta : float
        Target δ.
    method, neighboring
        As in :func:`epsilon`.
    rtol : float
        Relative precision of the returned noise multiplier (default 1e-3).
    bracket : (float, float), optional
        Initial search interval for ``z``.

    Returns
    -------
    float
        A noise multiplier ``z`` with certified ``ε(z) ≤ target_epsilon`` and ``ε(z / (1 + rtol))``
        above the target (as far as the upper bound can tell).

    Notes
    -----
    A safeguarded secant search on :math:`\\log \\varepsilon(\\log z)`.  Every evaluation is
    the certified upper bound of :func:`epsilon` (the tightest method: exact closed forms for
    full-batch Gaussians and single steps, otherwise PLD refined to a relative gap of
    ``min(0.002, max(rtol, 1e-4))``), so the answer is certified and, where the bound is exact,
    within ``rtol`` of the exact smallest noise multiplier.

    References
    ----------
    .. [1] Doroshenko et al., PETS 2022 (the certified upper bound used at every evaluation).

    Examples
    --------
    >>> from fltheory.accounting import calibrate_noise, dp_sgd, epsilon
    >>> z = calibrate_noise(lambda z: dp_sgd(0.01, z, 10_000), target_epsilon=3.0, delta=1e-5)
    >>> 1.5 < z < 1.6 and epsilon(dp_sgd(0.01, z, 10_000), 1e-5).epsilon <= 3.0
    True
    """
    tgt = check_positive("target_epsilon", target_epsilon)
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rel = normalize_neighboring(neighboring)
    rtol = check_positive("rtol", rtol)

    eps_rtol = min(DEFAULT_RTOL, max(rtol, 1e-4))

    def f(z):
        return _upper_only(build, z, d, method, rel, eps_rtol)

    lo, hi = bracket if bracket is not None else (None, None)
    if lo is None:
        x = 1.0
        fx = f(x)
        if fx > tgt:
            lo = x
            hi = x * 2
            while f(hi) > tgt:
                lo, hi = hi, hi * 2
                if hi > 1e6:
                    raise ValueError(f"target_epsilon={tgt:g} is not reachable with noise "
                                     "multipliers up to 1e6")
        else:
            hi = x
            lo = x / 2
            while f(lo) <= tgt:
                lo, hi = lo / 2, lo
                if lo < 1e-4:
                    return hi
    else:
        lo = check_positive("bracket[0]", lo)
        hi = check_positive("bracket[1]", hi)
        if not lo < hi:
            raise ValueError(f"bracket must satisfy lo < hi, got {bracket}")
        if f(hi) > tgt:
            raise ValueError(f"bracket upper end z={hi:g} does not reach target_epsilon={tgt:g}")
    _, hi = _bisect_log(f, tgt, lo, hi, increasing=False, rtol=rtol)
    if eps_rtol != DEFAULT_RTOL:
        # the answer must also pass epsilon() at its default precision (a coarser lattice may
        # give a slightly larger upper bound): move up just enough
        def f_def(z):
            return _upper_only(build, z, d, method, rel, DEFAULT_RTOL)

        if f_def(hi) > tgt:
            step = 1.0 + 2.0 * DEFAULT_RTOL
            lo2, hi2 = hi, hi * step
            while f_def(hi2) > tgt:
                lo2, hi2 = hi2, hi2 * step
            _, hi = _bisect_log(f_def, tgt, lo2, hi2, increasing=False, rtol=rtol)
    return float(hi)


def calibrate_steps(build: Callable[[int], object], target_epsilon: float, delta: float, *,
                    method: str = "pld", neighboring="add_remove",
                    max_steps: int = 10 ** 8) -> int:
    """Largest number of steps whose certified ε is at most ``target_epsilon`` (0 if none).

    Parameters
    ----------
    build : callable
        ``build(T)`` returns the event after ``T`` steps.
    target_epsilon, delta, method, neighboring
        As in :func:`calibrate_noise`.
    max_steps : int
        Search limit.

    Returns
    -------
    int

    References
    ----------
    .. [1] Doroshenko et al., PETS 2022 (certified upper bound at each evaluation).

    Examples
    --------
    >>> from fltheory.accounting import calibrate_steps, dp_sgd
    >>> T = calibrate_steps(lambda T: dp_sgd(0.01, 1.0, T), target_epsilon=2.0, delta=1e-5)
    >>> 1000 < T < 3000
    True
    """
    tgt = check_positive("target_epsilon", target_epsilon)
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rel = normalize_neighboring(neighboring)

    def ok(t: int) -> bool:
        return _upper_only(build, t, d, method, rel) <= tgt

    if not ok(1):
        return 0
    lo = 1
    hi = 2
    while ok(hi):
        lo = hi
        hi *= 2
        if hi > max_steps:
            return max_steps if ok(max_steps) else _int_bisect(ok, lo, max_steps)
    return _int_bisect(ok, lo, hi)


def _int_bisect(ok, lo: int, hi: int) -> int:
    # invariant ok(lo) and not ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def calibrate_sampling_rate(build: Callable[[float], object], target_epsilon: float,
                            delta: float, *, method: str = "pld", neighboring="add_remove",
                            rtol: float = 1e-3) -> float:
    """Largest sampling rate in (0, 1] whose certified ε is at most ``target_epsilon``.

    Parameters
    ----------
    build : callable
        ``build(q)`` returns the event at sampling rate ``q``.
    target_epsilon, delta, method, neighboring, rtol
        As in :func:`calibrate_noise`.

    Returns
    -------
    float

    References
    ----------
    .. [1] Doroshenko et al., PETS 2022 (certified upper bound at each evaluation).

    Examples
    --------
    >>> from fltheory.accounting import calibrate_sampling_rate, dp_sgd
    >>> q = calibrate_sampling_rate(lambda q: dp_sgd(q, 1.0, 10_000), 3.0, 1e-5)
    >>> 0.003 < q < 0.01
    True
    """
    tgt = check_positive("target_epsilon", target_epsilon)
    d = check_open_unit("delta", delta)
    method = check_choice("method", method, METHODS)
    rel = normalize_neighboring(neighboring)
    rtol = check_positive("rtol", rtol)

    def f(q):
        return _upper_only(build, min(q, 1.0), d, method, rel)

    if f(1.0) <= tgt:
        return 1.0
    lo = 0.5
    while f(lo) > tgt:
        lo /= 2
        if lo < 1e-12:
            raise ValueError(f"target_epsilon={tgt:g} is not reachable with sampling rates "
                             ">= 1e-12")
    hi = min(2 * lo, 1.0)
    lo_, hi_ = _bisect_log(f, tgt, lo, hi, increasing=True, rtol=rtol)
    # safe end is the one with f <= target
    return float(lo_ if f(lo_) <= tgt else hi_)

