"""Mixup as a source of privacy: the revealed-weights guarantee and the hidden-weights number.

In DP-SGD with mixup on (clipped) per-example gradients, a record enters a mixed example with
weight :math:`\\lambda \\sim D` and the step adds Gaussian noise to the sum.  The record's
contribution is :math:`\\lambda g` with :math:`\\|g\\| \\le C`, so given :math:`\\lambda` the
step is a Poisson-subsampled Gaussian with sensitivity :math:`\\lambda C`.

The other records in a mixed example can reveal :math:`\\lambda` (the weights sum to one), so
the sound guarantee is the *revealed* mixture over :math:`\\lambda`.  Treating
:math:`\\lambda` as hidden (one Gaussian mixture) gives a smaller number that is *not* a
worst-case guarantee; it is available only labelled as such.
"""

from __future__ import annotations

import math
import warnings

import attr
import dp_accounting
import numpy as np

from fltheory._checks import check_int, check_positive, check_probability
from fltheory.accounting import _pld, _steps
from fltheory.accounting._lattice import RevealedMixturePair, SplitPair
from fltheory.accounting._warn import NotAGuaranteeWarning
from fltheory.accounting.fl_sampling import revealed_rdp
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["mixup", "MixupDpEvent", "mixup_weights"]

_REF_MIXUP = ("revealed mixture over the mixup weight of Poisson-subsampled Gaussians with "
              "sensitivity lambda C (fltheory, 'Amplification in federated learning', Sec. "
              "mixup); mixup and privacy: Xiao, Devadas, IACR ePrint 2021/687")
_HIDDEN_NOTE = ("NOT A WORST-CASE GUARANTEE: mixup weights assumed hidden; the other records of "
                "a mixed example can reveal the weight (the weights sum to one), and the sound "
                "guarantee is the revealed-weights mixture (reveal_weights=True)")


@attr.define(frozen=True)
class MixupDpEvent(dp_accounting.DpEvent):
    """One DP-SGD step with mixup of clipped per-example gradients.

    Each record is included with probability ``sampling_rate``; an included record enters one
    mixed example with weight :math:`\\lambda` drawn from the law given by ``weights_high``
    (``weights_low``: lower ends of the bins of a continuous law, used for the certified lower
    bound) with ``probabilities``; Gaussian noise :math:`\\mathcal N(0, z^2C^2I)` is added to
    the sum.

    Threat model
        ``reveal_weights=True``: the adversary may learn every mixup weight (e.g. from the
        other record of a mixed example): the guarantee is the revealed mixture.
        ``reveal_weights=False``: the weights are assumed secret; this is *not* a worst-case
        guarantee (see :func:`mixup`).
    """

    sampling_rate: float
    noise_multiplier: float
    weights_low: tuple
    weights_high: tuple
    probabilities: tuple
    reveal_weights: bool = True


def mixup_weights(weights, bins: int = 16) -> tuple[tuple, tuple, tuple]:
    """Normalise a mixup-weight law to ``(low, high, probabilities)``.

    ``weights`` may be a number in (0, 1], a sequence of numbers (equally likely), a
    ``{value: probability}`` mapping, a pair ``(values, probabilities)``, or a frozen
    ``scipy.stats`` distribution on [0, 1] (cut into ``bins`` equal-probability bins: the
    upper ends give the guarantee, the lower ends the certified lower bound).

    Examples
    --------
    >>> from fltheory.accounting.mixup import mixup_weights
    >>> mixup_weights({0.5: 0.5, 1.0: 0.5})
    ((0.5, 1.0), (0.5, 1.0), (0.5, 0.5))
    """
    if hasattr(weights, "ppf") and hasattr(weights, "cdf"):
        b = check_int("bins", bins, minimum=1)
        lo_, hi_ = (float(v) for v in weights.support())
        if lo_ < 0 or hi_ > 1:
            raise ValueError(f"weights distribution must live on [0, 1], its support is "
                             f"[{lo_:g}, {hi_:g}]")
        # equal-probability edges plus a uniform grid in lambda (the sensitivity)
        qe = np.asarray(weights.ppf(np.linspace(0.0, 1.0, b + 1)), float)
        geo = 2.0 ** -np.arange(1, 11)     # fine near 1, where the sensitivity is largest
        edges = np.unique(np.clip(np.concatenate([qe[np.isfinite(qe)],
                                                  np.linspace(0.0, 1.0, b + 1), 1.0 - geo]),
                                  0.0, 1.0))
        probs = np.diff(np.asarray(weights.cdf(edges), float))
        keep = probs > 0
        low, high, probs = edges[:-1][keep], edges[1:][keep], probs[keep]
        probs = probs / probs.sum()
        return tuple(low.tolist()), tuple(high.tolist()), tuple(probs.tolist())
    if isinstance(weights, dict):
        vals = np.asarray(list(weights.keys()), float)
        probs = np.asarray(list(weights.values()), float)
    elif isinstance(weights, tuple) and len(weights) == 2 and np.ndim(weights[0]) == 1:
        vals = np.asarray(weights[0], float)
        probs = np.asarray(weights[1], float)
    else:
        vals = np.atleast_1d(np.asarray(weights, float))
        probs = np.full(vals.shape, 1.0 / vals.size)
    if vals.ndim != 1 or vals.size == 0 or vals.shape != probs.shape:
        raise ValueError("weights must be a number, a sequence, a {value: probability} mapping, "
                         "a (values, probabilities) pair or a scipy.stats distribution")
    if not np.all(np.isfinite(vals)) or np.any(vals < 0) or np.any(vals > 1):
        bad = vals[~((vals >= 0) & (vals <= 1))][0]
        raise ValueError(f"mixup weights must be in [0, 1], got {bad}")
    if np.any(probs < 0) or abs(float(probs.sum()) - 1.0) > 1e-9:
        raise ValueError(f"weight probabilities must be >= 0 and sum to 1, got sum "
                         f"{float(probs.sum()):.12g}")
    probs = probs / probs.sum()
    return tuple(vals.tolist()), tuple(vals.tolist()), tuple(probs.tolist())


def _gauss_mixture_rdp(pm, pw, qm, qw, sigma: float, orders: np.ndarray) -> np.ndarray:
    """D_alpha(P || Q) of two Gaussian mixtures with common std, by quadrature (log-space)."""
    # the integrand P^a Q^(1-a) of Gaussians peaks near a * (mean difference): cover it
    amax = float(np.max(orders))
    spread = max(max(pm), max(qm)) - min(min(pm), min(qm))
    lo = min(min(pm), min(qm)) - 40 * sigma - amax * spread
    hi = max(max(pm), max(qm)) + 40 * sigma + amax * spread
    x = np.linspace(lo, hi, 200_001)
    dx = x[1] - x[0]

    def logmix(means, ws):
        t = [math.log(w) - (x - m) ** 2 / (2 * sigma ** 2) for m, w in zip(means, ws) if w > 0]
        return np.logaddexp.reduce(np.stack(t), axis=0) - math.log(sigma * math.sqrt(2 * math.pi))

    lp, lq = logmix(pm, pw), logmix(qm, qw)
    # normalise both densities on the grid (the discretisation error then cancels to first
    # order, which matters at orders near 1 where the divergence is tiny)
    lp -= np.logaddexp.reduce(lp) + math.log(dx)
    lq -= np.logaddexp.reduce(lq) + math.log(dx)
    a = np.asarray(orders, float)[:, None]
    t = a * lp[None, :] + (1 - a) * lq[None, :]
    mx = t.max(axis=1, keepdims=True)
    s = mx[:, 0] + np.log(np.exp(t - mx).sum(axis=1) * dx)
    return np.maximum(s / (np.asarray(orders, float) - 1.0), 0.0)


class _RevealedSGMMixture(_pld.DominatingPair):
    """Revealed mixture over λ of Poisson-subsampled Gaussians (shift λ, std z), add/remove.

    All components share one set of loss levels (multiples of ``h``), so the mixture's cell
    between two levels has the exact loss interval of those levels and the summed masses of
    the components (the engine's spread is linear in the masses, so this equals discretising
    each component separately).  Component cells come from the closed-form inverse of the loss:
    remove :math:`x(l) = \\frac{z^2}{\\lambda}\\log(1 + \\mathrm{expm1}(l)/q) + \\lambda/2`, add
    :math:`x(l) = \\frac{z^2}{\\lambda}\\log(1 + \\mathrm{expm1}(-l)/q) + \\lambda/2`.
    """

    _MAX_LEVELS = 20_000

    def __init__(self, q: float, z: float, lams, ws, direction: str):
        self.q, self.z = float(q), float(z)
        lams = np.asarray(lams, float)
        ws = np.asarray(ws, float)
        self.zero_w = float(ws[lams <= 0].sum())
        self.lams, self.ws = lams[lams > 0], ws[lams > 0]
        self.direction = direction
        self.name = f"mixup revealed weights ({direction})"
        self._mom = None

    def key(self) -> tuple:
        return ("mixsgm", self.q, self.z, self.lams.tobytes(), self.ws.tobytes(), self.direction)

    def loss_moments(self) -> tuple[float, float]:
        if self._mom is None:
            m1, m2 = 0.0, 0.0
            for lam, w in zip(self.lams, self.ws):
                m, v = _steps._cached_pairs(self.q, self.z / lam, "add_remove")[
                    self.direction].loss_moments()
                m1 += w * m
                m2 += w * (v + m * m)
            self._mom = (m1, max(m2 - m1 * m1, 1e-300))
        return self._mom

    def _loss(self, x: np.ndarray, lam: float) -> np.ndarray:
        q, z = self.q, self.z
        t = (2 * lam * x - lam * lam) / (2 * z * z)
        val = np.logaddexp(math.log1p(-q), math.log(q) + t) if q < 1 else t
        return val if self.direction == "remove" else -val

    def cells(self, h: float, tail: float) -> _pld.Cells:
        q, z = self.q, self.z
        k = -special_ndtri(max(tail, 1e-300) / 4.0)
        xl, xr = -k * z, float(self.lams.max()) + k * z
        ends = [self._loss(np.array([xl, xr]), lam) for lam in self.lams]
        lmin = min(float(e.min()) for e in ends)
        lmax = max(float(e.max()) for e in ends)
        k0, k1 = math.ceil(lmin / h), math.floor(lmax / h)
        stride = max(1, math.ceil((k1 - k0 + 1) / self._MAX_LEVELS))
        levels = np.arange(k0, k1 + 1, stride, dtype=float) * h
        nl = levels.size
        # limits of the loss as x -> -inf / +inf
        lim = math.log1p(-q) if q < 1 else -math.inf
        if self.direction == "remove":
            lo_lim, hi_lim = lim, math.inf
        else:
            lo_lim, hi_lim = -math.inf, -lim
        lo = np.concatenate([[lo_lim], levels])
        hi = np.concatenate([levels, [hi_lim]])
        p = np.zeros(nl + 1)
        qq = np.zeros(nl + 1)
        sgn = 1.0 if self.direction == "remove" else -1.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            em1 = np.expm1(sgn * levels) / q
            inner = np.where(em1 > -1.0, np.log1p(em1), -np.inf)
        for lam, w in zip(self.lams, self.ws):
            x = (z * z / lam) * inner + lam / 2.0        # edges, increasing in sgn * level
            x = np.where(np.isnan(x), -np.inf, x)
            if self.direction == "remove":
                edges = np.concatenate([[-np.inf], x, [np.inf]])
                pure = _pld._interval_prob(_ZERO, _ONE, z, edges)
                shifted = _pld._interval_prob(np.array([lam]), _ONE, z, edges)
                p += w * ((1 - q) * pure + q * shifted)
                qq += w * pure
            else:
                # loss decreases in x: level l_j <-> x_j decreasing in j
                edges = np.concatenate([[-np.inf], x[::-1], [np.inf]])
                pure = _pld._interval_prob(_ZERO, _ONE, z, edges)[::-1]
                shifted = _pld._interval_prob(np.array([lam]), _ONE, z, edges)[::-1]
                p += w * pure
                qq += w * ((1 - q) * pure + q * shifted)
        if self.zero_w > 0:
            p = np.concatenate([p, [self.zero_w]])
            qq = np.concatenate([qq, [self.zero_w]])
            lo = np.concatenate([lo, [0.0]])
            hi = np.concatenate([hi, [0.0]])
        return _pld.Cells(p=p, q=qq, lo=lo, hi=hi)


_ZERO = np.array([0.0])
_ONE = np.array([1.0])


def special_ndtri(x: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(x))


class MixupStep(_steps.Step):
    """One mixup step: revealed mixture over the weight, or the hidden-weights mixture."""

    def __init__(self, q, z, low, high, probs, reveal):
        self.q, self.z = q, z
        self.low, self.high, self.probs = low, high, probs
        self.reveal = reveal
        self.reference = _REF_MIXUP
        self.notes = () if reveal else (_HIDDEN_NOTE,)
        if not reveal:
            self.relations = ("add_remove",)
            self.reference = _HIDDEN_NOTE + "; " + _REF_MIXUP
        self._pairs: dict = {}

    def key(self) -> tuple:
        return ("mixup", self.q, self.z, self.low, self.high, self.probs, self.reveal)

    def describe(self) -> str:
        kind = "revealed" if self.reveal else "hidden (not a guarantee)"
        return f"mixup step (q={self.q:g}, z={self.z:g}, weights {kind})"

    def check_relation(self, relation: str) -> None:
        if relation not in self.relations:
            raise ValueError("mixup with hidden weights is only available under add/remove "
                             f"(and is not a guarantee), got {relation!r}; use "
                             "reveal_weights=True for a guarantee under either relation")

    def _components(self, lams, relation):
        comps = []
        for lam, w in zip(lams, self.probs):
            if w <= 0:
                continue
            comps.append((w, None if lam <= 0 else
                          _steps._cached_pairs(self.q, self.z / lam, relation), lam))
        return comps

    def pairs(self, relation: str) -> dict:
        if relation in self._pairs:
            return self._pairs[relation]
        if self.reveal and relation == "add_remove":
            out = {}
            for name in ("remove", "add"):
                up = _RevealedSGMMixture(self.q, self.z, self.high, self.probs, name)
                lab = up if self.low == self.high else _RevealedSGMMixture(
                    self.q, self.z, self.low, self.probs, name)
                out[name] = up if lab is up else SplitPair(up, lab, name=up.name)
        elif self.reveal:
            up = self._components(self.high, relation)
            same = self.low == self.high
            lowc = None if same else self._components(self.low, relation)
            names = [n for _, p, _ in up if p is not None for n in p] or (
                ["remove", "add"] if relation == "add_remove" else ["replace"])
            out = {}
            for name in dict.fromkeys(names):
                comps = [(w, None if p is None else p[name], 1) for w, p, _ in up]
                lab = None if lowc is None else [(w, None if p is None else p[name], 1)
                                                 for w, p, _ in lowc]
                out[name] = RevealedMixturePair(comps, lab, name=f"mixup revealed ({name})")
        else:
            lams = np.asarray(self.high, float)
            ws = np.asarray(self.probs, float)
            z = self.z
            pm = np.concatenate([[0.0], lams])
            pw = np.concatenate([[1.0 - self.q], self.q * ws])
            rem = _pld.GaussianMixturePair(pm, pw, [0.0], [1.0], z, increasing=True,
                                           name="mixup hidden weights (remove)")
            add = _pld.GaussianMixturePair([0.0], [1.0], pm, pw, z, increasing=False,
                                           name="mixup hidden weights (add)")
            out = {"remove": rem, "add": add}
        self._pairs[relation] = out
        return out

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        orders = np.asarray(orders, float)
        if self.reveal:
            comps = []
            for lam, w in zip(self.high, self.probs):
                r = (np.zeros(orders.shape) if lam <= 0 else
                     np.asarray(_steps.GaussianStep(self.q, self.z / lam).rdp(orders, relation),
                                float))
                comps.append((w, r))
            return revealed_rdp(orders, comps)
        lams = np.asarray(self.high, float)
        pm = np.concatenate([[0.0], lams])
        pw = np.concatenate([[1.0 - self.q], self.q * np.asarray(self.probs, float)])
        return _gauss_mixture_rdp(pm, pw, [0.0], [1.0], self.z, orders)


def _handle_mixup(ev: MixupDpEvent):
    q = check_probability("sampling_rate", ev.sampling_rate)
    z = check_positive("noise_multiplier", ev.noise_multiplier)
    low, high, probs = tuple(ev.weights_low), tuple(ev.weights_high), tuple(ev.probabilities)
    if not (len(low) == len(high) == len(probs)) or not low:
        raise ValueError("weights_low, weights_high and probabilities must have equal, "
                         "non-zero lengths")
    if all(h <= 0 for h in high):
        return []
    return [(MixupStep(q, z, low, high, probs, bool(ev.reveal_weights)), 1)]


_steps.register_event(MixupDpEvent, _handle_mixup)


def mixup(sampling_rate: float, noise_multiplier: float, steps: int, weights, *,
          reveal_weights: bool = True, bins: int = 16):
    """DP-SGD with mixup of clipped per-example gradients: the sound revealed-weights account.

    Each step includes every record with probability :math:`q`; an included record enters one
    mixed example with weight :math:`\\lambda \\sim D` (independent of the data); the mixed,
    clipped gradients are summed and :math:`\\mathcal N(0, z^2C^2I)` is added.  Given
    :math:`\\lambda` the step is a Poisson-subsampled Gaussian with noise multiplier
    :math:`z/\\lambda`.

    ``reveal_weights=True`` (the guarantee): the weight is visible to the adversary, so the
    step is the revealed mixture

    .. math::

        H_{e^\\varepsilon}(P\\|Q) = \\mathbb E_{\\lambda\\sim D}\\,
        H_{e^\\varepsilon}\\big(P_{q, z/\\lambda} \\,\\|\\, Q_{q, z/\\lambda}\\big),
        \\qquad e^{(\\alpha-1)\\varepsilon(\\alpha)} = \\mathbb E_\\lambda
        e^{(\\alpha-1)\\varepsilon_{q, z/\\lambda}(\\alpha)} .

    It lies between the hidden-weights number and no mixup (:math:`\\lambda = 1`).  For a
    continuous :math:`D` the weights are rounded up to the ends of ``bins`` equal-probability
    bins (upper bound) and down (certified lower bound: a post-processing of the mechanism).

    ``reveal_weights=False`` treats :math:`\\lambda` as hidden -- the single mixture
    :math:`(1-q)\\mathcal N(0) + q\\,\\mathbb E_\\lambda \\mathcal N(\\lambda)` against
    :math:`\\mathcal N(0)`.  That is optimistic and **not a worst-case guarantee**; the result
    is labelled so (notes, reference) and a :class:`NotAGuaranteeWarning` is issued.

    Assumptions: mixing happens after per-example clipping (clipping the mixed example instead
    removes the :math:`\\lambda` scaling: account it as :func:`dp_sgd`); each record enters at
    most one mixed example per step (otherwise group privacy is needed).

    Parameters
    ----------
    sampling_rate : float
        :math:`q \\in (0, 1]`.
    noise_multiplier : float
        :math:`z > 0`.
    steps : int
        Number of steps.
    weights
        The law of the record's weight :math:`\\lambda \\in [0, 1]`: see
        :func:`mixup_weights` (a number, values, a mapping, or e.g. ``scipy.stats.beta(a, a)``).
    reveal_weights : bool
        See above (default ``True``).
    bins : int
        Bins for a continuous law.

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(MixupDpEvent(...), steps)``.

    References
    ----------
    .. [1] H. Xiao, S. Devadas. "Towards Understanding Practical Randomness Beyond Noise:
       Differential Privacy and Mixup." IACR ePrint 2021/687 (mixup as a source of privacy).
    .. [2] H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. "mixup: Beyond Empirical Risk
       Minimization." ICLR 2018.

    Examples
    --------
    >>> from fltheory.accounting import mixup, dp_sgd, epsilon
    >>> rev = epsilon(mixup(0.01, 1.0, 1000, weights=[0.5, 1.0]), 1e-5).epsilon
    >>> full = epsilon(dp_sgd(0.01, 1.0, 1000), 1e-5).epsilon
    >>> rev < full
    True
    """
    q = check_probability("sampling_rate", sampling_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_int("steps", steps, minimum=1)
    low, high, probs = mixup_weights(weights, bins)
    if not reveal_weights:
        warnings.warn("mixup with reveal_weights=False is not a worst-case DP guarantee: the "
                      "other records of a mixed example can reveal the weight; use "
                      "reveal_weights=True (revealed mixture) for a guarantee",
                      NotAGuaranteeWarning, stacklevel=2)
    return dp_accounting.SelfComposedDpEvent(
        MixupDpEvent(q, z, low, high, probs, bool(reveal_weights)), t)


def _mixup_build(sampling_rate, noise_multiplier, steps, beta_a=0.4, reveal_weights="yes"):
    from scipy import stats

    from fltheory.accounting.fl_sampling import _flag

    reveal = _flag(reveal_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAGuaranteeWarning)
        return mixup(sampling_rate, noise_multiplier, steps, stats.beta(beta_a, beta_a),
                     reveal_weights=reveal)


register_scenario(Scenario(
    name="mixup",
    build=_mixup_build,
    params=(
        Param("sampling_rate", float, "Poisson sampling rate q", role="rate"),
        Param("noise_multiplier", float, "noise multiplier z", role="noise"),
        Param("steps", int, "number of steps", role="count"),
        Param("beta_a", float, "mixup weight law Beta(a, a)", default=0.4),
        Param("reveal_weights", str, "yes: guarantee; no: NOT a guarantee (labelled)",
              default="yes", choices=("yes", "no")),
    ),
    summary="DP-SGD with mixup of clipped gradients (revealed weights = the guarantee)",
    example="fltheory epsilon --scenario mixup --sampling-rate 0.01 --noise-multiplier 1.0 "
            "--steps 1000 --beta-a 0.4 --delta 1e-5",
))
