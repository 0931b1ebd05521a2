"""Exact ε(δ) where the privacy-loss distribution has a closed form (private).

Two cases are exact and cheap, and the PLD lattice is the wrong tool for them (its cost grows
with the number of steps and its tails with 1/δ):

* **Compositions of full-batch Gaussians** (every step a Gaussian with ``q = 1``): ``T`` steps
  with noise multipliers :math:`z_i` compose to a single Gaussian pair
  :math:`(\\mathcal N(\\mu, 1), \\mathcal N(0, 1))` with
  :math:`\\mu = s\\sqrt{\\sum_i 1/z_i^2}` (``s = 1`` under add/remove, ``s = 2`` under
  replace-one), whose privacy profile is (Balle and Wang 2018, Thm. 8; Dong, Roth, Su 2022,
  Cor. 2.13)

  .. math::

      \\delta(\\varepsilon) = \\Phi\\Big(-\\frac{\\varepsilon}{\\mu} + \\frac{\\mu}{2}\\Big)
      - e^{\\varepsilon}\\, \\Phi\\Big(-\\frac{\\varepsilon}{\\mu} - \\frac{\\mu}{2}\\Big).

* **One step of a Gaussian mixture pair with a monotone privacy loss** (the Poisson-subsampled
  Gaussian with ``T = 1``, either relation): the optimal test is the half-line
  :math:`S = \\{x > x_\\varepsilon\\}` where the loss crosses ε, so
  :math:`\\delta(\\varepsilon) = P(S) - e^{\\varepsilon} Q(S)` with Gaussian tail masses.

Both are evaluated in double precision with a charged allowance, so the returned interval is
certified up to floating-point evaluation of :math:`\\Phi`: for any threshold :math:`x_1 \\le
x_\\varepsilon \\le x_2` (a bracket of the crossing),

.. math::

    P(S_{x_2}) - e^{\\varepsilon} Q(S_{x_2}) \\;\\le\\; \\delta(\\varepsilon) \\;\\le\\;
    P(S_{x_1}) - e^{\\varepsilon} Q(S_{x_1}) + e^{\\varepsilon} Q([x_1, x_2]),

(the left side is a test; on :math:`[x_1, x_\\varepsilon]` the density ratio is below
:math:`e^{\\varepsilon}`), and a relative allowance of ``1e-12`` on every Gaussian tail mass
covers their rounding.  ε is then bracketed by bisection to about ``1e-12`` relative.

References
----------
.. [1] B. Balle, Y.-X. Wang. "Improving the Gaussian Mechanism for Differential Privacy:
   Analytical Calibration and Optimal Denoising." ICML 2018, Thm. 8.
.. [2] J. Dong, A. Roth, W. Su. "Gaussian Differential Privacy." JRSS-B 2022, Cor. 2.13.
.. [3] Y. Zhu, J. Dong, Y.-X. Wang. "Optimal Accounting of Differential Privacy via
   Characteristic Function." AISTATS 2022, Sec. 3 (dominating pairs of the subsampled Gaussian).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_ndtr

__all__ = ["gaussian_mu", "ExactProfile", "exact_profile", "epsilon_interval",
           "delta_interval"]

_SQRT2 = math.sqrt(2.0)
_REL_FP = 1e-12        # relative allowance on every computed Gaussian tail mass
_REF_GAUSS = ("exact Gaussian privacy profile (Balle and Wang, ICML 2018, Thm. 8; Dong, Roth, "
              "Su, JRSS-B 2022, Cor. 2.13)")
_REF_ONE = ("exact hockey-stick divergence of one subsampled-Gaussian step (optimal half-line "
            "test of the dominating pair; Zhu, Dong, Wang, AISTATS 2022, Sec. 3)")


def _lse(vals) -> float:
    vals = [v for v in vals if v > -math.inf]
    if not vals:
        return -math.inf
    mx = max(vals)
    return mx + math.log(sum(math.exp(v - mx) for v in vals))


def _log_tail(comps, s: float, x: float) -> float:
    """log of the mixture's mass above ``x``."""
    return _lse([math.log(w) + float(log_ndtr((m - x) / s)) for m, w in comps])


def _log_between(comps, s: float, a: float, b: float) -> float:
    """log of the mixture's mass on ``[a, b]`` (accurate in both tails)."""
    out = []
    for m, w in comps:
        ua, ub = (a - m) / s, (b - m) / s
        if ua >= 0:                      # right tail: Phi(-ua) - Phi(-ub)
            la, lb = float(log_ndtr(-ua)), float(log_ndtr(-ub))
        else:                            # left: Phi(ub) - Phi(ua)
            la, lb = float(log_ndtr(ub)), float(log_ndtr(ua))
        if lb >= la:
            continue
        out.append(math.log(w) + la + math.log(-math.expm1(lb - la)))
    return _lse(out)


def _logmix(comps, s: float, x: float) -> float:
    """log sum_i w_i exp(-(x - m_i)^2 / (2 s^2))."""
    t = [math.log(w) - (x - m) ** 2 / (2.0 * s * s) for m, w in comps]
    mx = max(t)
    return mx + math.log(sum(math.exp(v - mx) for v in t))


class _HalfLinePair:
    """A Gaussian mixture pair with increasing loss (mirrored if the loss decreases)."""

    def __init__(self, pm, pw, qm, qw, sigma: float, increasing: bool, loss: Callable,
                 inverse: Callable | None, fast: Callable | None = None):
        sgn = 1.0 if increasing else -1.0
        self.pm, self.qm = sgn * np.asarray(pm, float), sgn * np.asarray(qm, float)
        self.pw, self.qw = np.asarray(pw, float), np.asarray(qw, float)
        self.lp = [(float(m), float(w)) for m, w in zip(self.pm, self.pw) if w > 0]
        self.lq = [(float(m), float(w)) for m, w in zip(self.qm, self.qw) if w > 0]
        self.s = float(sigma)
        self._loss, self._inv, self._sgn = loss, inverse, sgn
        self._fast = fast
        # loss limits as x -> -inf, +inf (mirrored coordinates)
        self.sup = self._limit(+1)
        self.inf = self._limit(-1)

    def _limit(self, d: int) -> float:
        ip, iq = np.argmax(d * self.pm), np.argmax(d * self.qm)
        mp, mq = self.pm[ip], self.qm[iq]
        if mp == mq:
            return math.log(self.pw[self.pm == mp].sum()) - math.log(self.qw[self.qm == mq].sum())
        return math.inf if d * (mp - mq) > 0 else -math.inf

    def loss(self, x: float) -> float:
        if self._fast is not None:
            return self._fast(x)
        return _logmix(self.lp, self.s, x) - _logmix(self.lq, self.s, x)

    def crossing(self, eps: float) -> tuple[float, float]:
        """A bracket ``x1 <= x_eps <= x2`` of the point where the loss crosses ``eps``."""
        x = None
        if self._inv is not None:
            with np.errstate(all="ignore"):
                v = float(np.asarray(self._inv(np.array([eps])), float).ravel()[0])
            if math.isfinite(v):
                x = self._sgn * v
        if x is None:
            a, b = -1.0, 1.0
            while self.loss(a) > eps:
                a *= 2.0
            while self.loss(b) < eps:
                b *= 2.0
            x = brentq(lambda t: self.loss(t) - eps, a, b, xtol=1e-15 * (abs(a) + abs(b)),
                       rtol=4 * np.finfo(float).eps)
        w = 1e-12 * (abs(x) + self.s)
        for _ in range(40):
            if self.loss(x - w) <= eps <= self.loss(x + w):
                return x - w, x + w
            w *= 4.0
        raise RuntimeError("internal: no bracket of the loss crossing")  # pragma: no cover

    def delta_bounds(self, eps: float) -> tuple[float, float]:
        """Certified (lower, upper) on the hockey-stick divergence at ``eps``."""
        if eps >= self.sup:
            return 0.0, 0.0
        x1, x2 = self.crossing(eps)
        lp1, lp2 = _log_tail(self.lp, self.s, x1), _log_tail(self.lp, self.s, x2)
        lq1 = eps + _log_tail(self.lq, self.s, x1)       # log e^eps Q(x > x1)
        lq2 = eps + _log_tail(self.lq, self.s, x2)
        lqb = eps + _log_between(self.lq, self.s, x1, x2)
        # upper: P(S1) - e^eps Q(S1) + e^eps Q([x1, x2]), plus the rounding allowance
        r1, rb = math.exp(min(lq1 - lp1, 700.0)), math.exp(min(lqb - lp1, 700.0))
        up = math.exp(lp1) * (1.0 - r1 + rb + _REL_FP * (1.0 + r1 + rb))
        lo = 0.0
        for lp, lq in ((lp1, lq1), (lp2, lq2)):
            r = math.exp(min(lq - lp, 700.0))
            lo = max(lo, math.exp(lp) * (1.0 - r - _REL_FP * (1.0 + r)))
        return max(lo, 0.0), min(max(up, 0.0), 1.0)


class ExactProfile:
    """Certified δ(ε) bounds from one or more half-line pairs (the worst direction counts)."""

    def __init__(self, pairs: list[_HalfLinePair], label: str, reference: str):
        self.pairs = pairs
        self.label = label
        self.reference = reference

    def delta_bounds(self, eps: float) -> tuple[float, float]:
        lo = up = 0.0
        for p in self.pairs:
            a, b = p.delta_bounds(eps)
            lo, up = max(lo, a), max(up, b)
        return lo, up


def gaussian_mu(steps, relation: str) -> float | None:
    """μ of a composition of full-batch Gaussian steps (``None`` if any step is not one)."""
    from fltheory.accounting._steps import GaussianStep

    tot = 0.0
    for s, c in steps:
        if not isinstance(s, GaussianStep) or s.q < 1.0:   # incl. masked bounds (_NoAmpStep)
            return None
        tot += c / (s.z * s.z)
    if tot <= 0:
        return None
    return (2.0 if relation == "replace_one" else 1.0) * math.sqrt(tot)


def exact_profile(steps, relation: str) -> ExactProfile | None:
    """The exact profile of ``steps`` if one of the closed forms applies, else ``None``."""
    from fltheory.accounting._steps import GaussianStep

    mu = gaussian_mu(steps, relation)
    if mu is not None:
        pair = _HalfLinePair([mu], [1.0], [0.0], [1.0], 1.0, True,
                             loss=lambda x, m=mu: m * x - m * m / 2.0,
                             inverse=lambda l, m=mu: l / m + m / 2.0,
                             fast=lambda x, m=mu: m * x - m * m / 2.0)
        return ExactProfile([pair], f"exact (Gaussian, mu = {mu:.6g})", _REF_GAUSS)
    if len(steps) == 1 and steps[0][1] == 1 and isinstance(steps[0][0], GaussianStep):
        pairs = []
        for p in steps[0][0].pairs(relation).values():
            pairs.append(_HalfLinePair(p.pm, p.pw, p.qm, p.qw, p.sigma, p.increasing,
                                       loss=p.loss, inverse=p._inverse))  # noqa: SLF001
        return ExactProfile(pairs, "exact (one subsampled-Gaussian step)", _REF_ONE)
    return None


_REF_TV = ("ε = 0 from the total variation: TV(P^T, Q^T) <= T TV(P, Q) (hybrid argument), with "
           "the exact TV of each subsampled-Gaussian dominating pair (Zhu, Dong, Wang, AISTATS "
           "2022, Sec. 3)")


def zero_epsilon(steps, relation: str, delta: float) -> bool:
    """Whether ``δ(0) <= delta`` is certified, so that ε(δ) = 0 exactly.

    :math:`\\delta(0)` is the total variation distance of the composed pair, at most the sum of
    the per-step distances (for every direction of the neighbouring relation); each per-step
    distance is the certified upper bound of :meth:`_HalfLinePair.delta_bounds` at ε = 0.
    Only Poisson-subsampled Gaussian steps are handled (``False`` otherwise).
    """
    from fltheory.accounting._steps import GaussianStep

    if not steps or any(type(s) is not GaussianStep for s, _ in steps):
        return False
    # quick rejection: the pairs differ by q (N(s, z^2) - N(0, z^2)) in both directions, so
    # TV = q (2 Phi(s / (2 z)) - 1) with s = 1 (add/remove) or 2 (replace-one); only a filter,
    # the decision below uses the certified bounds
    s_ = 2.0 if relation == "replace_one" else 1.0
    est = sum(c * min(s.q, 1.0) * math.erf(s_ / (2.0 * s.z * _SQRT2)) for s, c in steps)
    if est > 1.001 * delta:
        return False
    totals: dict[str, float] = {}
    for s, c in steps:
        for name, p in s.pairs(relation).items():
            hp = _HalfLinePair(p.pm, p.pw, p.qm, p.qw, p.sigma, p.increasing, loss=p.loss,
                               inverse=p._inverse)  # noqa: SLF001
            totals[name] = totals.get(name, 0.0) + c * hp.delta_bounds(0.0)[1]
    return max(totals.values()) <= delta


def epsilon_interval(prof: ExactProfile, delta: float) -> tuple[float, float]:
    """Certified (lower, upper) on ε(δ): root-finding on the certified δ(ε) bounds, then checked."""
    def up(e):
        return prof.delta_bounds(e)[1]

    def lo(e):
        return prof.delta_bounds(e)[0]

    if up(0.0) <= delta:
        return 0.0, 0.0
    b = 1.0
    while up(b) > delta:
        b *= 2.0
        if b > 1e300:
            return 0.0, math.inf
    a = 0.0 if b == 1.0 else b / 2.0
    hi = _solve(up, delta, a, b, upper=True)
    # lower: the largest e with lo(e) > delta (lo(e) <= up(e), so e < hi)
    if lo(0.0) <= delta:
        return 0.0, hi
    la = a if lo(a) > delta else 0.0
    low = _solve(lo, delta, la, hi, upper=False)
    return low, hi


def _solve(f, delta, a, b, upper: bool) -> float:
    """An end of the bracket [a, b] of f(e) = delta (f decreasing, f(a) > delta >= f(b)).

    Brent's method on log f finds the crossing in a few evaluations; the returned point is then
    *checked* (f(b') <= delta for the upper end, f(a') > delta for the lower end) and moved
    outwards until it is, with bisection as the fallback, so the answer is certified.
    """
    def g(e):
        v = f(e)
        return (math.log(v) if v > 0 else -800.0) - math.log(delta)

    try:
        r = brentq(g, a, b, xtol=1e-14 * max(b, 1e-300), rtol=1e-14, maxiter=200)
    except (ValueError, RuntimeError):
        r = None
    if r is not None:
        step = 1e-13 * max(abs(r), 1e-300)
        for _ in range(8):
            if upper and a <= r + step <= b and f(r + step) <= delta:
                return r + step
            if not upper and a <= r - step and f(r - step) > delta:
                return r - step
            step *= 8.0
    lo_, hi_ = _bisect(f, delta, a, b)
    return hi_ if upper else lo_


def _bisect(f, delta, a, b):
    """Invariant f(a) > delta >= f(b); returns (a, b) with b - a <= 1e-13 (b) + 1e-300."""
    for _ in range(200):
        m = 0.5 * (a + b)
        if b - a <= 1e-13 * b or m in (a, b):
            break
        if f(m) > delta:
            a = m
        else:
            b = m
    return a, b


def delta_interval(prof: ExactProfile, eps: float) -> tuple[float, float]:
    """Certified (lower, upper) on δ(ε)."""
    return prof.delta_bounds(eps)
