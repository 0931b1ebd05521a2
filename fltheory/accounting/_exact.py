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

Every pair is written in units of the noise (shift ``a = 1/z``, or ``a = μ`` with ``q = 1``
for the Gaussian), with the loss increasing in the threshold (the *add* direction is mirrored),
and the threshold is parametrised by the midpoint ``c`` of the interval on which :math:`P - Q`
puts its mass.  With :math:`\\bar\\Phi` the standard normal tail,
:math:`M(c, h) = \\bar\\Phi(c - h) - \\bar\\Phi(c + h)` the standard normal mass of
:math:`[c - h, c + h]` and :math:`L(t) = \\log(1 - q + q e^t)`:

* *remove* (and the Gaussian): :math:`h = a/2`, :math:`Q(S_c) = \\bar\\Phi(c + h)`, loss
  :math:`L(ac)`;
* *add*: :math:`h = a/2`, :math:`Q(S_c) = (1 - q)\\bar\\Phi(c - h) + q\\bar\\Phi(c + h)`, loss
  :math:`-L(-ac)`, which tends to :math:`-\\log(1 - q)` (δ = 0 beyond);
* *replace*: :math:`h = a`, :math:`Q(S_c) = (1 - q)\\bar\\Phi(c) + q\\bar\\Phi(c + h)`, loss
  :math:`L(ac - a^2/2) - L(-ac - a^2/2)`.

In every case :math:`P(S_c) - Q(S_c) = q\\,M(c, h)`, so the test's value is

.. math::

    \\delta_S(c; \\varepsilon) = q\\, M(c, h) - (e^{\\varepsilon} - 1)\\, Q(S_c),

a difference of two positive terms each computed to full relative precision (the cancellation
of :math:`P(S)` against :math:`e^\\varepsilon Q(S)`, severe at small ε, is done in closed form:
:math:`P(S) - Q(S) = q M` is one mass, not a difference of two).  The
crossing :math:`c_\\varepsilon` (loss = ε) has a closed form (for *replace*, a quadratic in
:math:`e^{ac}`), and :math:`\\delta(\\varepsilon) = \\delta_S(c_\\varepsilon; \\varepsilon)`.

**Certified bounds.**  Any threshold is a test, so :math:`\\delta_S(\\hat c; \\varepsilon) \\le
\\delta(\\varepsilon)` at the computed crossing :math:`\\hat c`.  For the upper bound a bracket
:math:`c_1 \\le c_\\varepsilon \\le c_2` around :math:`\\hat c` is checked on the loss (with an
allowance for the loss's rounding); between :math:`\\hat c` and :math:`c_\\varepsilon` the
density ratio :math:`dP/dQ` lies between :math:`e^{L_1}` and :math:`e^{L_2}` (the loss at the
ends), so

.. math::

    \\delta(\\varepsilon) \\le \\delta_S(\\hat c; \\varepsilon) + e^{\\varepsilon}
    \\max\\big(e^{L_2 - \\varepsilon} - 1,\\; 1 - e^{L_1 - \\varepsilon}\\big)\\,
    Q([c_1, c_2]),

a correction of second order in the bracket's width (:math:`Q([c_1, c_2])` is bounded by the
width times Q's largest density on the bracket).  Every computed mass :math:`X` (:math:`M` and
:math:`Q(S)`) is charged a relative allowance

.. math::

    \\rho_X = 10^{-12} + 2^{-50}\\big((|c| + h + 1)^2 + |\\log X|\\big),

times :math:`(1 + R)/(1 - R)` where :math:`M` is a difference of two tails in ratio
:math:`R \\le 0.45`.  The :math:`10^{-12}` (``_REL_FP``) covers the evaluation of the tails
(``math.erfc`` up to :math:`\\bar\\Phi(37) \\approx 6\\cdot 10^{-300}`, beyond which it
underflows, then ``scipy.special.log_ndtr``; both within a few ulp, about :math:`10^{-15}`
relative), of ``log``, ``exp``, ``expm1``, ``log1p``, of the handful of operations combining
them, and of the 10-point Gauss-Legendre rule used for :math:`M` on short intervals (whose
truncation error is below :math:`10^{-16}` relative there, see :func:`_log_mass`): a margin of
more than 100.  The second term covers the rounding of the tails' arguments (a tail's relative
sensitivity to its argument :math:`y` is at most :math:`|y| + 1`) and of the logarithms in
which the masses are carried.  The bounds are thus certified up to these documented
floating-point accuracies.

**Solving for ε.**  Each direction is solved on its own, in float arithmetic, by Newton's
method on :math:`\\log \\delta` as a function of the threshold :math:`c` (equivalently of
:math:`\\varepsilon = L(c)`; by the envelope theorem
:math:`d\\delta/d\\varepsilon = -e^{\\varepsilon} Q(S_{\\varepsilon})`), started from the
Gaussian-tail approximation :math:`c \\approx h + \\bar\\Phi^{-1}(\\delta / q)` and safeguarded
by bisection.  ε is the largest root over the directions (the worst direction; a direction
whose supremum of the loss lies below the current root is skipped).  The float root is then
*checked*: the upper end must satisfy ``delta_bounds(e)[1] <= delta`` in every direction and the
lower end ``delta_bounds(e)[0] > delta`` in the worst one, each moved outwards, by the step the
slope predicts and then by doubling steps, until it does.  The interval's relative width is a
few :math:`\\rho` times :math:`1 + \\delta / (\\varepsilon e^{\\varepsilon} Q(S))`: about
:math:`10^{-12}`, wider only where ε is ill-conditioned (δ close to :math:`\\delta(0)`, or to
:math:`q` at large ε).

References
----------
.. [1] B. Balle, Y.-X. Wang. "Improving the Gaussian Mechanism for Differential Privacy:
   Analytical Calibration and Optimal Denoising." ICML 2018, Thm. 8.
.. [2] J. Dong, A. Roth, W. Su. "Gaussian Differential Privacy." JRSS-B 2022, Cor. 2.13.
.. [3] Y. Zhu, J. Dong, Y.-X. Wang. "Optimal Accounting of Differential Privacy via
   Characteristic Function." AISTATS 2022, Sec. 3 (dominating pairs of the subsampled Gaussian).
.. [4] L. N. Trefethen. "Is Gauss Quadrature Better than Clenshaw-Curtis?" SIAM Review 50(1),
   2008, Thm. 4.5 (error of Gauss quadrature for analytic integrands).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr

__all__ = ["gaussian_mu", "ExactProfile", "exact_profile", "epsilon_interval",
           "delta_interval"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_REL_FP = 1e-12        # relative allowance on every computed Gaussian mass (see module doc)
_ARG = 2.0 ** -50      # per unit of condition number: argument and logarithm rounding
_LOSS_FP = 2.0 ** -44  # relative allowance on a computed loss value (bracket checks only)
_ERFC_MAX = 37.0       # 0.5 erfc(37 / sqrt 2) = 5.7e-300; beyond, log_ndtr (no underflow)
_NEG_INF = -math.inf
# 10-point Gauss-Legendre rule on [-1, 1]: (node, weight) for the positive nodes (symmetric rule)
_GL = tuple((float(t), float(w)) for t, w in zip(*np.polynomial.legendre.leggauss(10)) if t > 0)
_REF_GAUSS = ("exact Gaussian privacy profile (Balle and Wang, ICML 2018, Thm. 8; Dong, Roth, "
              "Su, JRSS-B 2022, Cor. 2.13)")
_REF_ONE = ("exact hockey-stick divergence of one subsampled-Gaussian step (optimal half-line "
            "test of the dominating pair; Zhu, Dong, Wang, AISTATS 2022, Sec. 3)")


# ------------------------------------------------------------------------------------------------
# Gaussian masses in log space
# ------------------------------------------------------------------------------------------------
def _log_sf(y: float) -> float:
    """log of the standard normal tail mass above ``y``.

    ``math.erfc`` (a few ulp) up to ``y = 37``, where the tail is ``5.7e-300``; beyond it
    underflows, and ``scipy.special.log_ndtr`` (asymptotic series there, a few ulp) is used.
    """
    if y < _ERFC_MAX:
        return math.log(0.5 * math.erfc(y * _INV_SQRT2))
    return float(log_ndtr(-y))


def _lse2(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def _log_mass(c: float, h: float) -> tuple[float, float]:
    """``(log M, rho)``: the standard normal mass of ``[c - h, c + h]`` and its allowance.

    On short intervals (``h <= 1/2`` and ``h |c| <= 1``) a 10-point Gauss-Legendre rule on

    .. math::

        M = \\varphi(c) \\int_{-h}^{h} e^{-cs - s^2/2}\\, ds
          = \\varphi(c)\\, h \\int_{-1}^{1} g(t)\\, dt, \\qquad g(t) = e^{-cht - h^2t^2/2},

    with positive weights and integrand (no cancellation).  ``g`` is entire; on the Bernstein
    ellipse of parameter :math:`\\rho = 8` (where :math:`|t| \\le 4.07`) it is at most
    :math:`e^{4.07 + 2.07}`, and on :math:`[-1, 1]` at least :math:`e^{-1.125}`, so Trefethen's
    bound :math:`\\frac{64}{15} \\max|g|\\, \\rho^{-20} / (\\rho^2 - 1)` puts the truncation
    error below :math:`5 \\cdot 10^{-17}` of the integral.  Otherwise (``R <= 0.45`` then) a
    difference of two tails in ratio ``R``, charged the factor ``(1 + R) / (1 - R)``, or, if the
    interval contains 0, a sum of two ``erf`` (no cancellation).
    """
    c = abs(c)                                    # M is even in c
    base = _ARG * (c + h + 1.0) ** 2
    if h <= 0.5 and c * h <= 1.0:
        s = 0.0
        for t, w in _GL:
            u = h * t
            s += w * math.cosh(c * u) * math.exp(-0.5 * u * u)
        lm = -0.5 * c * c - _LOG_SQRT_2PI + math.log(2.0 * h * s)
        return lm, _REL_FP + base + _ARG * abs(lm)
    lo, hi = c - h, c + h
    if lo >= 0.0:
        l1, l2 = _log_sf(lo), _log_sf(hi)
        r = math.exp(l2 - l1)
        lm = l1 + math.log(-math.expm1(l2 - l1))
        return lm, (_REL_FP + base + _ARG * abs(l1)) * (1.0 + r) / (1.0 - r)
    m = 0.5 * (math.erf(hi * _INV_SQRT2) + math.erf(-lo * _INV_SQRT2))
    lm = math.log(m)
    return lm, _REL_FP + base + _ARG * abs(lm)


def _log_expm1(e: float) -> float:
    """log(e^e - 1) for e >= 0 (``-inf`` at 0), without overflow."""
    if e <= 0.0:
        return _NEG_INF
    if e < 1.0:
        return math.log(math.expm1(e))
    return e + math.log(-math.expm1(-e))


def _big_l(t: float, q: float, lq: float, l1q: float) -> tuple[float, float, float]:
    """``(L(t), L'(t), k)``, :math:`L(t) = \\log(1 - q + q e^t)`, ``k`` its condition.

    ``k`` bounds the rounding error of the computed value in ulp (up to a small factor):
    ``log1p(q expm1(t))`` while its argument is above -1/2 (no cancellation near t = 0), the
    log-sum of the two positive terms below (no cancellation when q is close to 1), and
    ``t + log q + ...`` for large t.  ``q = 1``: ``L(t) = t``.
    """
    if q >= 1.0:
        return t, 1.0, abs(t)
    if t < 30.0:
        y = q * math.expm1(t)
        if y > -0.5:
            v = math.log1p(y)
            d = math.exp(lq + t - v)
            return v, d, abs(v) + abs(y) / (1.0 + y) + abs(t) * d
        v = _lse2(l1q, lq + t)
        d = math.exp(lq + t - v)
        return v, d, abs(v) + abs(l1q) + abs(lq) + abs(t) * d
    v = t + lq + math.log1p((1.0 - q) / q * math.exp(-t))
    return v, math.exp(lq + t - v), abs(t) + abs(lq) + 1.0


# ------------------------------------------------------------------------------------------------
# one dominating pair, in noise units, loss increasing in the threshold c
# ------------------------------------------------------------------------------------------------
class _HalfLinePair:
    """One direction of a Gaussian (mixture) pair; see the module docstring for the forms.

    Parameters
    ----------
    kind : {"remove", "add", "replace"}
        The direction (the Gaussian pair is ``"remove"`` with ``q = 1``).
    q : float
        Sampling rate, ``0 < q <= 1``.
    a : float
        Shift of the Gaussian component in noise units (``1 / z``, or ``μ``).
    """

    def __init__(self, kind: str, q: float, a: float):
        if kind not in ("remove", "add", "replace"):
            raise ValueError(f"kind must be 'remove', 'add' or 'replace', got {kind!r}")
        if kind != "remove" and q >= 1.0:      # q = 1: both add/remove directions are N(a) vs N(0)
            raise ValueError("q = 1 is the Gaussian pair: use kind='remove'")
        self.kind, self.q, self.a = kind, float(q), float(a)
        self.lq = math.log(self.q)
        self.l1q = math.log1p(-self.q) if self.q < 1.0 else _NEG_INF
        self.h = self.a if kind == "replace" else 0.5 * self.a
        # loss limit as c -> +inf (the largest epsilon with delta(epsilon) > 0)
        self.sup = -self.l1q if kind == "add" else math.inf
        # Q(S_c) = sum_i w_i sf(c + o_i): (log w_i, o_i)
        if kind == "remove":
            self.qcomp = ((0.0, self.h),)
        elif kind == "add":
            self.qcomp = ((self.l1q, -self.h), (self.lq, self.h))
        else:
            self.qcomp = ((self.l1q, 0.0), (self.lq, self.h))

    # -- loss --------------------------------------------------------------------------------
    def loss(self, c: float) -> tuple[float, float, float]:
        """``(l, E, l')``: the loss at threshold ``c``, a bound on its rounding, its slope.

        ``E`` is ``2^-44`` (256 ulp) times the condition of the few operations (the value, the
        arguments' magnitudes times the slope; see :func:`_big_l`).  It only sets the width of
        the bracket of the crossing (a second-order term of the upper bound).
        """
        a, q, lq, l1q = self.a, self.q, self.lq, self.l1q
        if self.kind == "remove":
            v, d, k = _big_l(a * c, q, lq, l1q)
            return v, _LOSS_FP * k, a * d
        if self.kind == "add":
            v, d, k = _big_l(-a * c, q, lq, l1q)
            return -v, _LOSS_FP * k, a * d
        ac, a2 = a * c, 0.5 * a * a
        t1, t2 = ac - a2, -ac - a2
        v1, d1, k1 = _big_l(t1, q, lq, l1q)
        v2, d2, k2 = _big_l(t2, q, lq, l1q)
        if abs(ac) < 30.0:
            # L(t1) - L(t2) = log1p(q (e^t1 - e^t2) / (1 - q + q e^t2)): no cancellation near 0
            y = 2.0 * q * math.exp(-a2) * math.sinh(ac) / (1.0 - q + q * math.exp(t2))
            v = math.log1p(y)
            e = _LOSS_FP * (abs(v) + abs(y) / (1.0 + y) * (1.0 + 2.0 * a2 + abs(ac) + abs(t2)))
        else:
            v = v1 - v2
            e = _LOSS_FP * (k1 + k2 + a2 * (d1 + d2))
        return v, e, a * (d1 + d2)

    def crossing(self, eps: float) -> float:
        """The threshold where the loss equals ``eps`` (closed form, float accuracy)."""
        a, q, lq = self.a, self.q, self.lq
        if self.kind == "remove":
            if q >= 1.0:
                return eps / a
            le = _log_expm1(eps)                  # t = log(e^eps - 1 + q) - log q
            t = math.log1p(math.exp(le - lq)) if le < lq else le - lq + math.log1p(
                math.exp(lq - le))
            return t / a
        if self.kind == "add":
            if eps >= self.sup:
                return math.inf
            y = math.expm1(-eps) / q              # e^{-ac} - 1, in (-1, 0]
            if y > -0.5:
                return -math.log1p(y) / a
            # e^{-ac} = (e^{-eps} - (1 - q)) / q, with eps - sup = eps + log(1 - q) exact-ish
            x = eps + self.l1q
            if x >= 0.0:
                return math.inf
            return (eps - math.log(-math.expm1(x)) + lq) / a
        # replace: w = e^{ac} solves q k w^2 - (1 - q)(e^eps - 1) w - e^eps q k = 0, k = e^{-a^2/2}
        lb = self.l1q + _log_expm1(eps)
        lc = 0.5 * eps + math.log(2.0) + lq - 0.5 * a * a
        hi_, lo_ = (lb, lc) if lb > lc else (lc, lb)
        ls = hi_ + 0.5 * math.log1p(math.exp(2.0 * (lo_ - hi_)))   # log sqrt(B^2 + C^2)
        return (_lse2(lb, ls) - lc + 0.5 * eps) / a

    # -- the test at a threshold ---------------------------------------------------------------
    def _log_q(self, c: float) -> tuple[float, float]:
        """``(log Q(S_c), rho)``."""
        out = _NEG_INF
        for lw, o in self.qcomp:
            out = _lse2(out, lw + _log_sf(c + o))
        return out, _REL_FP + _ARG * ((abs(c) + self.h + 1.0) ** 2 + abs(out))

    def _terms(self, c: float, eps: float):
        """log A = log q M(c, h), log B = log (e^eps - 1) Q(S_c), with allowances."""
        lm, rm = _log_mass(c, self.h)
        la = self.lq + lm
        lqs, rq = self._log_q(c)
        lb = _log_expm1(eps) + lqs
        ra = rm + _ARG * (abs(la) + 2.0)
        rb = rq + _ARG * (abs(lb) + eps + 4.0) if lb > _NEG_INF else 0.0
        return la, ra, lb, rb, lqs

    def log_delta(self, c: float) -> tuple[float, float, float, float]:
        """Plain float ``(log δ, ε, d log δ / dc, dε / dc)`` at the optimal test at ``c``."""
        eps, _, dl = self.loss(c)
        if eps <= 0.0:
            eps = 0.0
        la, _, lb, _, lqs = self._terms(c, eps)
        if lb >= la:
            return _NEG_INF, eps, 0.0, dl
        ld = la + math.log(-math.expm1(lb - la))
        return ld, eps, -math.exp(eps + lqs - ld) * dl, dl

    def bounds_log(self, eps: float) -> tuple[float, float, float]:
        """Certified ``(log lower, log upper, log slope)`` of δ(ε); slope = e^ε Q(S)."""
        if eps >= self.sup:
            return _NEG_INF, _NEG_INF, _NEG_INF
        c = self.crossing(eps)
        if not math.isfinite(c):                 # pragma: no cover - eps within rounding of sup
            return _NEG_INF, 0.0, _NEG_INF       # only the trivial bounds 0 <= delta <= 1
        la, ra, lb, rb, lqs = self._terms(c, eps)
        d = math.exp(lb - la) if lb > _NEG_INF else 0.0
        f_lo = (1.0 - ra) - d * (1.0 + rb)
        log_lo = la + math.log(f_lo) if f_lo > 0.0 else _NEG_INF
        f_up = (1.0 + ra) - d * (1.0 - rb)
        # bracket c1 <= c_eps <= c2 around c, checked on the loss with its rounding allowance
        l0, e0, dl0 = self.loss(c)
        w = _ARG * 64.0 * (abs(c) + self.h)
        if dl0 > 0.0:
            w = max(w, 4.0 * (e0 + abs(l0 - eps)) / dl0)
        for _ in range(60):
            l1, e1, _ = self.loss(c - w)
            l2, e2, _ = self.loss(c + w)
            if l1 + e1 <= eps <= l2 - e2:
                break
            w *= 8.0
        else:                                    # pragma: no cover - no bracket: no upper bound
            return log_lo, 0.0, eps + lqs
        eta = max(math.expm1(min(l2 + e2 - eps, 700.0)), -math.expm1(l1 - e1 - eps), 0.0)
        if eta > 0.0:
            # Q([c1, c2]) <= 2 w max density on the bracket (each component's nearest point to 0)
            ldens = _NEG_INF
            for lw, o in self.qcomp:
                y1, y2 = c - w + o, c + w + o
                dist = 0.0 if y1 <= 0.0 <= y2 else min(abs(y1), abs(y2))
                ldens = _lse2(ldens, lw - 0.5 * dist * dist)
            lx = eps + math.log(eta) + math.log(2.0 * w) + ldens - _LOG_SQRT_2PI + 1e-12
            f_up += math.exp(min(lx - la, 700.0))
        log_up = la + math.log(f_up) if f_up > 0.0 else _NEG_INF
        return log_lo, min(log_up, 0.0), eps + lqs

    def delta_bounds(self, eps: float) -> tuple[float, float]:
        """Certified (lower, upper) on the hockey-stick divergence at ``eps``."""
        lo, up, _ = self.bounds_log(eps)
        return _exp_bounds(lo, up)

    # -- plain root ----------------------------------------------------------------------------
    def solve(self, log_delta: float) -> tuple[float, float]:
        """Float ``(ε, c)`` with δ(ε) = δ for this direction (ε = 0 if δ(0) <= δ).

        Newton's method on :math:`F(c) = \\log\\delta(\\varepsilon(c)) - \\log\\delta`
        in the threshold, safeguarded by bisection on the bracket of ``c`` it maintains.
        """
        if self.log_delta(0.0)[0] <= log_delta:
            return 0.0, 0.0
        c = max(self.h + _isf_log(log_delta - self.lq), 0.0)   # delta ~ q sf(c - h)
        cl, cr = 0.0, math.inf
        tol = 2.0 ** -50
        for _ in range(60):
            ld, eps, dld, dl = self.log_delta(c)
            f = ld - log_delta
            if abs(f) <= 1e-13:         # delta to 1e-13: well inside the certified bounds' width
                break
            if f > 0.0:
                cl = c
            else:
                cr = c
            step = -f / dld if (dld < 0.0 and math.isfinite(f)) else math.nan
            # converged when the step moves c, or epsilon, by a few ulp (near the add
            # direction's supremum epsilon hardly depends on c, and delta is all rounding there)
            if abs(step) <= tol * abs(c) or dl * abs(step) <= tol * eps:
                c += step if cl <= c + step <= cr else 0.0
                break
            nc = c + step
            if not cl < nc < cr:                  # also nan: bisect, or expand to the right
                nc = 0.5 * (cl + cr) if math.isfinite(cr) else 2.0 * cl + self.h + 1.0
            if cr - cl <= tol * abs(nc) or dl * (cr - cl) <= tol * eps:
                c = nc
                break
            c = nc
        return max(self.loss(c)[0], 0.0), c


def _exp_bounds(log_lo: float, log_up: float) -> tuple[float, float]:
    """``(exp(log_lo), exp(log_up))`` rounded outwards where they are subnormal or underflow.

    Above the normal range's floor the allowances cover ``exp``'s rounding; below it the
    absolute rounding (half a subnormal unit) is not relative, so the ends are moved by one unit.
    """
    lo, up = math.exp(log_lo), math.exp(log_up)
    if lo < 2.3e-308:
        lo = math.nextafter(lo, 0.0)
    if up < 2.3e-308 and log_up > _NEG_INF:
        up = math.nextafter(up, math.inf)
    return lo, up


def _isf_log(lp: float) -> float:
    """Approximate inverse normal tail at ``log p`` (only a starting point; 5e-4 absolute).

    Abramowitz and Stegun 26.2.23 for ``p < 1/2``, mirrored above.
    """
    if lp >= 0.0:
        return -8.0
    if lp > math.log(0.5):
        p = -math.expm1(lp)                       # the other tail
        return -_isf_log(math.log(p))
    t = math.sqrt(-2.0 * lp)
    return t - (2.515517 + t * (0.802853 + t * 0.010328)) / (
        1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308)))


# ------------------------------------------------------------------------------------------------
# profiles
# ------------------------------------------------------------------------------------------------
class ExactProfile:
    """Certified δ(ε) bounds from one or more half-line pairs (the worst direction counts)."""

    def __init__(self, pairs: list[_HalfLinePair], label: str, reference: str):
        self.pairs = pairs
        self.label = label
        self.reference = reference

    def bounds_log(self, eps: float) -> tuple[float, float]:
        """Certified ``(log lower, log upper)`` of δ(ε) (max over the directions)."""
        lo = up = _NEG_INF
        for p in self.pairs:
            a, b, _ = p.bounds_log(eps)
            lo, up = max(lo, a), max(up, b)
        return lo, up

    def delta_bounds(self, eps: float) -> tuple[float, float]:
        """Certified (lower, upper) on δ(ε)."""
        return _exp_bounds(*self.bounds_log(eps))


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


def _step_pairs(q: float, z: float, relation: str) -> dict[str, _HalfLinePair]:
    """The dominating pairs of one Poisson-subsampled Gaussian step (clip norm 1, std ``z``).

    The same pairs as :func:`fltheory.accounting._pld.subsampled_gaussian_pairs`: remove
    :math:`(qN(1, z^2) + (1-q)N(0, z^2), N(0, z^2))`, add the reverse, replace
    :math:`(qN(1) + (1-q)N(0), qN(-1) + (1-q)N(0))`; ``q = 1``: the Gaussian pair (shift 1, or 2
    under replace-one).
    """
    a = 1.0 / z
    if q >= 1.0:
        g = _HalfLinePair("remove", 1.0, (2.0 if relation == "replace_one" else 1.0) * a)
        return {"replace": g} if relation == "replace_one" else {"remove": g, "add": g}
    if relation == "replace_one":
        return {"replace": _HalfLinePair("replace", q, a)}
    return {"remove": _HalfLinePair("remove", q, a), "add": _HalfLinePair("add", q, a)}


def _is_plain_gaussian_step(s) -> bool:
    from fltheory.accounting._steps import GaussianStep

    return isinstance(s, GaussianStep) and type(s).pairs is GaussianStep.pairs


def exact_profile(steps, relation: str) -> ExactProfile | None:
    """The exact profile of ``steps`` if one of the closed forms applies, else ``None``."""
    mu = gaussian_mu(steps, relation)
    if mu is not None:
        pair = _HalfLinePair("remove", 1.0, mu)
        return ExactProfile([pair], f"exact (Gaussian, mu = {mu:.6g})", _REF_GAUSS)
    if len(steps) == 1 and steps[0][1] == 1 and _is_plain_gaussian_step(steps[0][0]):
        s = steps[0][0]
        pairs = list(_step_pairs(s.q, s.z, relation).values())
        return ExactProfile(pairs, "exact (one subsampled-Gaussian step)", _REF_ONE)
    return None


_REF_TV = ("ε = 0 from the total variation: TV(P^T, Q^T) <= T TV(P, Q) (hybrid argument), with "
           "the exact TV of each subsampled-Gaussian dominating pair (Zhu, Dong, Wang, AISTATS "
           "2022, Sec. 3)")


def zero_epsilon(steps, relation: str, delta: float) -> bool:
    """Whether ``δ(0) <= delta`` is certified, so that ε(δ) = 0 exactly.

    :math:`\\delta(0)` is the total variation distance of the composed pair, at most the sum of
    the per-step distances (for every direction of the neighbouring relation); each per-step
    distance is the certified upper bound of :meth:`_HalfLinePair.delta_bounds` at ε = 0
    (:math:`q\\,M(0, h)`, the mass :math:`q (2\\Phi(s/(2z)) - 1)` up to the allowances).
    Only Poisson-subsampled Gaussian steps are handled (``False`` otherwise).
    """
    from fltheory.accounting._steps import GaussianStep

    if not steps or any(type(s) is not GaussianStep for s, _ in steps):
        return False
    # quick rejection: the pairs differ by q (N(s, z^2) - N(0, z^2)) in both directions, so
    # TV = q (2 Phi(s / (2 z)) - 1) with s = 1 (add/remove) or 2 (replace-one); only a filter,
    # the decision below uses the certified bounds
    s_ = 2.0 if relation == "replace_one" else 1.0
    est = sum(c * min(s.q, 1.0) * math.erf(s_ / (2.0 * s.z) * _INV_SQRT2) for s, c in steps)
    if est > 1.001 * delta:
        return False
    totals: dict[str, float] = {}
    for s, c in steps:
        for name, p in _step_pairs(s.q, s.z, relation).items():
            totals[name] = totals.get(name, 0.0) + c * p.delta_bounds(0.0)[1]
    return max(totals.values()) <= delta


def _certified_below(log_value: float, log_delta: float) -> bool:
    """``exp(log_value) <= delta`` with the rounding of ``log(delta)`` allowed for."""
    return log_value <= log_delta - 2.0 ** -51 * abs(log_delta)


def _certified_above(log_value: float, log_delta: float) -> bool:
    return log_value > log_delta + 2.0 ** -51 * abs(log_delta)


def epsilon_interval(prof: ExactProfile, delta: float) -> tuple[float, float]:
    """Certified (lower, upper) on ε(δ).

    ``(0, 0)`` where the certified :math:`\\delta(0)` is at most δ.  Otherwise each direction's
    root is found in float arithmetic (:meth:`_HalfLinePair.solve`; a direction whose loss
    never exceeds the current root is skipped) and the largest is the estimate :math:`r`.  From
    the worst direction's certified bounds at :math:`r` and the slope
    :math:`d\\delta/d\\varepsilon = -e^{r} Q(S_r)`, the ends are placed 1.1 times the
    predicted distance outwards; the upper end is then checked against the certified upper bound
    of every direction (:math:`\\le \\delta`) and the lower end against the certified lower
    bound of the worst one (:math:`> \\delta`), each moved further outwards by doubling steps
    until its check passes.  Both checks are on certified bounds and δ(ε) is non-increasing, so
    the interval contains ε(δ) whatever the float root's accuracy.
    """
    ldel = math.log(delta)
    if _certified_below(prof.bounds_log(0.0)[1], ldel):
        return 0.0, 0.0
    # plain roots, the directions that can have the largest first; a direction whose
    # supremum of the loss is below the current root has a smaller root (its delta is 0 there)
    r, worst = 0.0, prof.pairs[0]
    for p in sorted(prof.pairs, key=lambda p: -p.sup):
        # a direction whose certified delta at the current root is already at most delta has
        # its own root at most r (delta is non-increasing): one bound instead of a search
        if p.sup > r and not (r > 0.0 and _certified_below(p.bounds_log(r)[1], ldel)):
            e = p.solve(ldel)[0]
            if e > r:
                r, worst = e, p
    # the worst direction's bounds at the root predict both ends (delta has slope
    # -e^eps Q(S) in eps)
    ll, lu, ls = worst.bounds_log(r)
    slope = math.exp(ls) if ls > _NEG_INF else 0.0
    tiny = 4.0 * 2.0 ** -52 * r + 1e-300

    # upper end: every direction's certified upper bound <= delta
    step = 1.1 * (math.exp(lu) - delta) / slope if slope > 0.0 else 0.0
    e = r + max(step, 0.0) + tiny
    grow = step if step > 0.0 else max(2.0 ** -40 * r, 1e-16)
    for _ in range(200):
        if all(_certified_below(p.bounds_log(e)[1], ldel) for p in prof.pairs):
            break
        e += grow
        grow *= 2.0
    else:                                        # pragma: no cover - no finite upper bound
        return 0.0, math.inf
    hi = e

    # lower end: the worst direction's certified lower bound > delta
    step = 1.1 * (delta - math.exp(ll)) / slope if slope > 0.0 else 0.0
    e = r - max(step, 0.0) - tiny
    grow = step if step > 0.0 else max(2.0 ** -40 * r, 1e-300)
    for _ in range(200):
        if e <= 0.0:
            break
        if _certified_above(worst.bounds_log(e)[0], ldel):
            return e, hi
        e -= grow
        grow *= 2.0
    return 0.0, hi


def delta_interval(prof: ExactProfile, eps: float) -> tuple[float, float]:
    """Certified (lower, upper) on δ(ε)."""
    return prof.delta_bounds(eps)
