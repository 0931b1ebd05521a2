"""Mixup as a source of privacy: hidden weights (record-level mixup) and revealed weights (pairs).

In DP-SGD with mixup on (clipped) per-example gradients, a record enters the step's sum with
weight :math:`\\lambda \\sim D` and the step adds Gaussian noise to the sum.  The record's
contribution is :math:`\\lambda g` with :math:`\\|g\\| \\le C`, so given :math:`\\lambda` the
step is a Poisson-subsampled Gaussian with sensitivity :math:`\\lambda C`.

Which account is exact depends on the mechanism:

* **record-level mixup** (``reveal_weights=False``, the engine's mechanism): every record draws
  its own weight, independent of every other record, and the weight is never released.
  Conditioning on the other records' contributions (independent of the target's weight and the
  same under both neighbours: a post-processing), the target's contribution is
  :math:`\\lambda g` with :math:`\\lambda` hidden, so the single mixture over :math:`\\lambda`
  is the *exact* pair -- a guarantee, with a certified lower bound.
* **pair mixup** (``reveal_weights=True``): another record's weight determines the target's
  (e.g. :math:`\\lambda` and :math:`1-\\lambda`), so the partner can reveal it: the sound
  account is the *revealed* mixture over :math:`\\lambda`; its certified lower bound is that of
  the hidden-weights instance (a partner with zero gradient reveals nothing).
"""

from __future__ import annotations

import math

import attr
import dp_accounting
import numpy as np

from fltheory._checks import check_int, check_positive, check_probability
from fltheory.accounting import _pld, _steps
from fltheory.accounting._lattice import RevealedMixturePair, SplitPair
from fltheory.accounting.fl_sampling import revealed_rdp
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["mixup", "MixupDpEvent", "mixup_weights"]

_REF_MIXUP = ("revealed mixture over the mixup weight of Poisson-subsampled Gaussians with "
              "sensitivity lambda C (fltheory, 'Amplification in federated learning', Sec. "
              "mixup); mixup and privacy: Xiao, Devadas, IACR ePrint 2021/687")
_REF_HIDDEN = ("hidden-weights mixture (record-level mixup, an independent weight per record, "
               "never released): the exact pair (fltheory, 'Soundness', mixup); mixup and "
               "privacy: Xiao, Devadas, IACR ePrint 2021/687")
_CONT_NOTE = ("continuous weight law: the hidden-weights pair is not discretised soundly, so "
              "the revealed-weights mixture with weights rounded up gives the (valid, looser) "
              "upper bound and no lower bound is certified; pass finitely many weights for the "
              "exact account")
_PAIR_NOTE = ("pair mixup (revealed weights): the lower bound is that of the hidden-weights "
              "instance (a partner with zero gradient reveals nothing)")


@attr.define(frozen=True)
class MixupDpEvent(dp_accounting.DpEvent):
    """One DP-SGD step with mixup of clipped per-example gradients.

    Each record is included with probability ``sampling_rate``; an included record enters one
    mixed example with weight :math:`\\lambda` drawn from the law given by ``weights_high``
    (``weights_low``: lower ends of the bins of a continuous law, used for the certified lower
    bound) with ``probabilities``; Gaussian noise :math:`\\mathcal N(0, z^2C^2I)` is added to
    the sum.

    Threat model
        ``reveal_weights=False`` (record-level mixup): every record's weight is drawn
        independently and never released: the hidden-weights pair is exact.
        ``reveal_weights=True`` (pair mixup): the adversary may learn the target's weight
        (e.g. from its partner): the account is the revealed mixture (see :func:`mixup`).
    """

    sampling_rate: float
    noise_multiplier: float
    weights_low: tuple
    weights_high: tuple
    probabilities: tuple
    reveal_weights: bool = False


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
    """One mixup step: hidden weights (record-level, exact) or revealed weights (pair mixup)."""

    def __init__(self, q, z, low, high, probs, reveal):
        self.q, self.z = q, z
        self.low, self.high, self.probs = low, high, probs
        self.reveal = reveal
        self.discrete = tuple(low) == tuple(high)
        self.reference = _REF_MIXUP if reveal else _REF_HIDDEN
        notes = []
        if not self.discrete:
            notes.append(_CONT_NOTE if not reveal else
                         "continuous weight law: no certified lower bound")
            self.has_lower = False
        elif reveal:
            notes.append(_PAIR_NOTE)
        self.notes = tuple(notes)
        if not reveal:
            self.relations = ("add_remove",)
        self._pairs: dict = {}

    def key(self) -> tuple:
        return ("mixup", self.q, self.z, self.low, self.high, self.probs, self.reveal)

    def describe(self) -> str:
        kind = "revealed (pair mixup)" if self.reveal else "hidden (record-level mixup)"
        return f"mixup step (q={self.q:g}, z={self.z:g}, weights {kind})"

    def check_relation(self, relation: str) -> None:
        if relation not in self.relations:
            raise ValueError("record-level mixup (hidden weights) is analysed under add/remove, "
                             f"got {relation!r}; use reveal_weights=True (the revealed "
                             "mixture, a valid upper bound under either relation) for "
                             "replace-one")
        if self.reveal and relation == "replace_one":
            self.has_lower = False       # the hidden-weights label exists under add/remove only

    def _components(self, lams, relation):
        comps = []
        for lam, w in zip(lams, self.probs):
            if w <= 0:
                continue
            comps.append((w, None if lam <= 0 else
                          _steps._cached_pairs(self.q, self.z / lam, relation), lam))
        return comps

    def _hidden(self) -> dict:
        lams = np.asarray(self.high, float)
        ws = np.asarray(self.probs, float)
        pm = np.concatenate([[0.0], lams])
        pw = np.concatenate([[1.0 - self.q], self.q * ws])
        rem = _pld.GaussianMixturePair(pm, pw, [0.0], [1.0], self.z, increasing=True,
                                       name="mixup hidden weights (remove)")
        add = _pld.GaussianMixturePair([0.0], [1.0], pm, pw, self.z, increasing=False,
                                       name="mixup hidden weights (add)")
        return {"remove": rem, "add": add}

    def _revealed_ar(self, lams) -> dict:
        return {name: _RevealedSGMMixture(self.q, self.z, lams, self.probs, name)
                for name in ("remove", "add")}

    def pairs(self, relation: str) -> dict:
        if relation in self._pairs:
            return self._pairs[relation]
        if relation == "add_remove":
            if self.discrete:
                hid = self._hidden()
                if not self.reveal:
                    out = hid                                # exact: upper and lower
                else:
                    up = self._revealed_ar(self.high)
                    out = {k: SplitPair(up[k], hid[k], name=up[k].name) for k in up}
            else:
                out = self._revealed_ar(self.high)           # upper only (has_lower False)
        else:
            up = self._components(self.high, relation)
            names = [n for _, p, _ in up if p is not None for n in p] or ["replace"]
            out = {}
            for name in dict.fromkeys(names):
                comps = [(w, None if p is None else p[name], 1) for w, p, _ in up]
                out[name] = RevealedMixturePair(comps, None, name=f"mixup revealed ({name})")
        self._pairs[relation] = out
        return out

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        # the revealed mixture's RDP: exact for pair mixup, a valid upper bound for hidden
        # weights (the hidden release is a post-processing of the revealed one)
        orders = np.asarray(orders, float)
        comps = []
        for lam, w in zip(self.high, self.probs):
            r = (np.zeros(orders.shape) if lam <= 0 else
                 np.asarray(_steps.GaussianStep(self.q, self.z / lam).rdp(orders, relation),
                            float))
            comps.append((w, r))
        return revealed_rdp(orders, comps)


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
          reveal_weights: bool = False, bins: int = 16):
    """DP-SGD with mixup of clipped per-example gradients: the exact account of the mechanism.

    Each step includes every record with probability :math:`q`; an included record enters the
    sum with weight :math:`\\lambda \\sim D` (independent of the data); the weighted, clipped
    gradients are summed and :math:`\\mathcal N(0, z^2C^2I)` is added.  Given :math:`\\lambda`
    the step is a Poisson-subsampled Gaussian with noise multiplier :math:`z/\\lambda`.

    ``reveal_weights=False`` (default; **record-level mixup**, what the engine runs: an
    independent weight per record, never released).  Conditioning on the other records (a
    post-processing: their contributions are independent of the target's weight and identical
    under both neighbours), one step is exactly the pair

    .. math::

        P = (1-q)\\,\\mathcal N(0, z^2) + q\\,\\mathbb E_{\\lambda\\sim D}\\,
        \\mathcal N(\\lambda, z^2), \\qquad Q = \\mathcal N(0, z^2)

    (add/remove; ``C = 1``), so the PLD gives the tight guarantee *and* a certified lower
    bound.  This needs finitely many weights; for a continuous :math:`D` the revealed mixture
    with weights rounded up to the ends of ``bins`` equal-probability bins is returned (a valid
    upper bound, no lower bound, noted).

    ``reveal_weights=True`` (**pair mixup**, or any scheme where another record's weight
    determines the target's): the partner can reveal :math:`\\lambda`, so the account is the
    revealed mixture

    .. math::

        H_{e^\\varepsilon}(P\\|Q) = \\mathbb E_{\\lambda\\sim D}\\,
        H_{e^\\varepsilon}\\big(P_{q, z/\\lambda} \\,\\|\\, Q_{q, z/\\lambda}\\big),
        \\qquad e^{(\\alpha-1)\\varepsilon(\\alpha)} = \\mathbb E_\\lambda
        e^{(\\alpha-1)\\varepsilon_{q, z/\\lambda}(\\alpha)} ,

    valid under either relation; its certified lower bound (add/remove, finitely many weights)
    is that of the hidden-weights instance (a partner with zero gradient reveals nothing).

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
        ``False``: record-level mixup (hidden weights); ``True``: pair mixup (revealed).
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
    .. [3] fltheory docs, "Soundness" (why the hidden-weights pair is exact for record-level
       mixup; checked by :mod:`fltheory.verify`).

    Examples
    --------
    >>> from fltheory.accounting import mixup, epsilon
    >>> lam = [0.25, 0.5, 0.75, 1.0]
    >>> rec = epsilon(mixup(0.01, 1.0, 1000, lam), 1e-5)
    >>> 0.91 < rec.epsilon_lower <= rec.epsilon < 0.92
    True
    >>> pair = epsilon(mixup(0.01, 1.0, 1000, lam, reveal_weights=True), 1e-5)
    >>> round(pair.epsilon, 2), pair.epsilon_lower <= rec.epsilon
    (1.16, True)
    """
    q = check_probability("sampling_rate", sampling_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_int("steps", steps, minimum=1)
    low, high, probs = mixup_weights(weights, bins)
    return dp_accounting.SelfComposedDpEvent(
        MixupDpEvent(q, z, low, high, probs, bool(reveal_weights)), t)


def _mixup_build(sampling_rate, noise_multiplier, steps, beta_a=0.4, reveal_weights="no"):
    from scipy import stats

    from fltheory.accounting.fl_sampling import _flag

    return mixup(sampling_rate, noise_multiplier, steps, stats.beta(beta_a, beta_a),
                 reveal_weights=_flag(reveal_weights))


register_scenario(Scenario(
    name="mixup",
    build=_mixup_build,
    params=(
        Param("sampling_rate", float, "Poisson sampling rate q", role="rate"),
        Param("noise_multiplier", float, "noise multiplier z", role="noise"),
        Param("steps", int, "number of steps", role="count"),
        Param("beta_a", float, "mixup weight law Beta(a, a)", default=0.4),
        Param("reveal_weights", str, "no: record-level mixup (hidden weights); yes: pair "
              "mixup (revealed weights)", default="no", choices=("yes", "no")),
    ),
    summary="DP-SGD with mixup of clipped gradients (record-level: hidden weights; pairs: "
            "revealed)",
    example="fltheory epsilon --scenario mixup --sampling-rate 0.01 --noise-multiplier 1.0 "
            "--steps 1000 --beta-a 0.4 --delta 1e-5",
))
