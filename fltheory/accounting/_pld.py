"""Two-sided privacy-loss-distribution (PLD) accounting.

This module is the numerical engine behind :func:`fltheory.accounting.epsilon` with
``method="pld"``.  It computes, for a composition of mechanisms each described by a
*dominating pair* ``(P, Q)``, a **certified upper bound** and a **certified lower bound** on
the hockey-stick divergence

.. math::

    \\delta(\\varepsilon) = H_{e^\\varepsilon}(P^{\\otimes T} \\,\\|\\, Q^{\\otimes T})
    = \\sup_S \\; P^{\\otimes T}(S) - e^{\\varepsilon} Q^{\\otimes T}(S),

and hence on :math:`\\varepsilon(\\delta)`.

How the two bounds are obtained
-------------------------------
Every mechanism reports its privacy loss :math:`\\ell(x) = \\log(dP/dQ)(x)` on *cells*: pieces of
the output space on which the loss lies in a known interval :math:`[\\ell_{lo}, \\ell_{hi}]`,
with the exact masses :math:`P(\\text{cell})` and :math:`Q(\\text{cell})`.

*Upper bound (connect-the-dots).*  Write :math:`y = e^{-\\ell}`.  For a composition,
:math:`\\delta(\\varepsilon) = \\mathbb{E}_P[(1 - e^{\\varepsilon}\\prod_t y_t)_+]`, a convex
function of each :math:`y_t`.  Inside a cell, :math:`\\mathbb{E}_P[y\\,;\\,\\text{cell}] =
Q(\\text{cell})`; replacing the cell's loss by a two-point law on the grid points
:math:`a \\le \\ell_{lo}` and :math:`b \\ge \\ell_{hi}` that keeps :math:`\\mathbb{E}[y]` is a
mean-preserving spread, so by Jensen's inequality the result can only increase
:math:`\\delta`.  Loss mass that is unbounded above is sent to :math:`+\\infty` (counted fully in
:math:`\\delta`), loss unbounded below is rounded up.  Because the spread preserves
:math:`\\mathbb{E}[y]`, no bias accumulates over thousands of compositions (unlike rounding every
loss up).  This is the construction of Doroshenko et al. (PETS 2022), applied here from exact
cell masses.

*Lower bound (a legitimate test).*  Any set :math:`S` of outputs gives
:math:`\\delta(\\varepsilon) \\ge P(S) - e^{\\varepsilon}Q(S)`.  Label every output by its cell's
grid index :math:`L` (roughly the loss rounded down), compose the *label* laws under :math:`P`
and, separately, under :math:`Q` (both are exact pmfs), and take
:math:`S_t = \\{\\sum_t L_t > t\\}`.  Maximising :math:`P(S_t) - e^{\\varepsilon}Q(S_t)` over
:math:`t` is a certified lower bound whatever the labels are; labels close to the true loss only
make the test near-optimal.  Rounding therefore never shifts the bound by :math:`T h`, which is
what ruins optimistic PLD estimates after many compositions.

*Two directions, one composition.*  Under add/remove the add pair is the remove pair with
:math:`P` and :math:`Q` exchanged, and :math:`H_\\gamma(Q\\|P) = 1 - \\gamma + \\gamma
H_{1/\\gamma}(P\\|Q)` for any two probability laws (and their products), so the remove
direction's certified upper bound at :math:`-\\varepsilon` bounds the add direction at
:math:`\\varepsilon`.  The add direction is composed only where that bound does not already
certify it (:func:`_mirror_covered`).

*Composition* is by FFT on a window of the lattice chosen with Chernoff bounds computed from the
discrete pmfs themselves; the mass that can fall outside the window (at most ``tail``) and a
floating-point allowance for the FFT are charged conservatively: added to the upper bound,
subtracted from the lower bound.  The :math:`Q`-label law is exponentially tilted by
:math:`e^{\\ell}` before composing so that :math:`e^{\\varepsilon}Q(S)` stays accurate for
:math:`\\varepsilon` in the hundreds.

References
----------
.. [1] V. Doroshenko, B. Ghazi, P. Kamath, R. Kumar, P. Manurangsi. "Connect the Dots: Tighter
   Discrete Approximations of Privacy Loss Distributions." PETS 2022, Thm. 3.2 (pessimistic
   connect-the-dots).
.. [2] Y. Zhu, J. Dong, Y.-X. Wang. "Optimal Accounting of Differential Privacy via
   Characteristic Function." AISTATS 2022 (dominating pairs for add/remove, Sec. 3).
.. [3] S. Gopi, Y. T. Lee, L. Wutschitz. "Numerical Composition of Differential Privacy."
   NeurIPS 2021 (error-bounded FFT accounting).
"""

from __future__ import annotations

import contextvars
import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.fft as sfft
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri

__all__ = [
    "Cells",
    "DominatingPair",
    "GaussianMixturePair",
    "DiscretePair",
    "subsampled_gaussian_pairs",
    "TwoSided",
    "compose_pairs",
    "epsilon_curve_pairs",
]

_EPS_MACH = np.finfo(float).eps
_MAX_FFT = 1 << 22  # 4.2M lattice points per composed law (~70 MB of spectra per law)


# ---------------------------------------------------------------------------------------------
# Cells: what a mechanism reports about its privacy loss
# ---------------------------------------------------------------------------------------------
@dataclass
class Cells:
    """Pieces of the output space with exact masses and a loss interval.

    ``p[i]``/``q[i]``: the cell's mass under P and Q (``q`` only where P > 0);
    ``lo[i] <= loss <= hi[i]`` on the cell (``lo`` may be ``-inf``, ``hi`` may be ``+inf``);
    ``p_inf``: P-mass where Q = 0 (infinite loss); ``q_only``: Q-mass where P = 0.
    """

    p: np.ndarray
    q: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p_inf: float = 0.0
    q_only: float = 0.0


class DominatingPair(ABC):
    """A pair (P, Q) whose hockey-stick divergence dominates one step of a mechanism."""

    #: short human-readable description, e.g. "subsampled Gaussian (remove)"
    name: str = "pair"

    @abstractmethod
    def cells(self, h: float, tail: float) -> Cells:
        """Cells aligned (as far as possible) with the lattice ``h * Z``.

        ``tail`` is the largest P- and Q-mass the pair may put in cells that are not aligned
        with the lattice (unbounded tails).
        """

    @abstractmethod
    def loss_moments(self) -> tuple[float, float]:
        """Mean and variance of the (finite part of the) privacy loss under P."""

    def key(self) -> tuple:
        """A hashable identity used to cache discretisations."""
        return (type(self).__name__, id(self))

    def loss_span(self, tail: float) -> float | None:
        """Width of the loss range the cells cover (``None``: unknown).  Only a cost hint."""
        return None


def _interval_prob(means: np.ndarray, weights: np.ndarray, s: float,
                   edges: np.ndarray) -> np.ndarray:
    """Mass of a Gaussian mixture on consecutive intervals of sorted ``edges``.

    ``edges`` includes ``-inf`` and ``+inf`` at its ends; returns ``len(edges) - 1`` masses,
    accurate in both tails (survival-function differences on the right).
    """
    return _interval_probs([(means, weights)], s, edges)[0]


def _interval_probs(mixtures, s: float, edges: np.ndarray) -> list[np.ndarray]:
    """:func:`_interval_prob` of several mixtures ``[(means, weights), ...]`` with the same
    standard deviation: each distinct component mean is evaluated once (all in one array)."""
    means: dict[float, int] = {}
    for ms, ws in mixtures:
        for m, w in zip(ms, ws):
            if w != 0:
                means.setdefault(float(m), len(means))
    if not means:
        return [np.zeros(len(edges) - 1) for _ in mixtures]
    u = (edges[None, :] - np.array(list(means))[:, None]) / s
    t = ndtr(-np.abs(u))                 # the smaller tail, accurate on both sides
    neg = u < 0
    # left of the mean: cdf differences (cdf = t); right of it: survival differences (sf = t)
    d = np.where(neg[:, :-1], np.where(neg[:, 1:], t[:, 1:], 1.0 - t[:, 1:]) - t[:, :-1],
                 t[:, :-1] - t[:, 1:])
    np.maximum(d, 0.0, out=d)
    out = []
    for ms, ws in mixtures:
        acc = None
        for m, w in zip(ms, ws):
            if w == 0:
                continue
            term = float(w) * d[means[float(m)]]
            acc = term if acc is None else acc + term
        out.append(np.zeros(len(edges) - 1) if acc is None else acc)
    return out


class GaussianMixturePair(DominatingPair):
    """P and Q are mixtures of Gaussians with a common standard deviation and monotone loss.

    Parameters
    ----------
    p_means, p_weights, q_means, q_weights
        Mixture components (weights sum to one).
    sigma
        Common standard deviation.
    increasing
        Whether the privacy loss increases with ``x`` (it must be monotone).
    inverse
        Optional exact inverse of the loss, ``x = inverse(l)``; otherwise a dense monotone table
        is interpolated (the cells use the exact loss at their edges either way, so an
        approximate inverse affects tightness only, never validity).
    symmetric
        Whether Q is P reflected about 0 (checked on the components).  The cells are then built
        for ``x >= 0`` and mirrored: ``Q(cell) = P(-cell)`` and the loss is odd, so half the
        masses and losses are computed.
    """

    def __init__(self, p_means, p_weights, q_means, q_weights, sigma: float, *,
                 increasing: bool, inverse=None, name: str = "Gaussian mixture pair",
                 symmetric: bool = False):
        self.pm = np.asarray(p_means, float)
        self.pw = np.asarray(p_weights, float)
        self.qm = np.asarray(q_means, float)
        self.qw = np.asarray(q_weights, float)
        self.sigma = float(sigma)
        self.increasing = increasing
        self._inverse = inverse
        self.name = name
        self._moments: tuple[float, float] | None = None
        self._mirror: GaussianMixturePair | None = None
        self._lims: tuple[float, float] | None = None
        self._last_cells: tuple[tuple, Cells] | None = None
        # components as Python floats (log weight, mean) for scalar evaluations
        pm, qm = self.pm.tolist(), self.qm.tolist()
        self._p_comp = [(math.log(w), m) for m, w in zip(pm, self.pw.tolist()) if w > 0]
        self._q_comp = [(math.log(w), m) for m, w in zip(qm, self.qw.tolist()) if w > 0]
        self._m_lo = min(pm + qm)
        self._m_hi = max(pm + qm)
        self._ranges: dict[float, tuple[float, float]] = {}
        # Q is P reflected about 0 (x -> -x): the loss is odd, and the cells can be mirrored
        self.symmetric = bool(symmetric) and increasing and sorted(
            zip((-m for m in qm), self.qw.tolist())) == sorted(zip(pm, self.pw.tolist()))

    def mirror(self, name: str, inverse=None) -> "GaussianMixturePair":
        """The pair ``(Q, P)``: its cells are this pair's cells with the masses swapped and the
        loss negated (``log dQ/dP = -log dP/dQ`` on every cell), so the two share one
        evaluation of the cells at each lattice step."""
        m = GaussianMixturePair(self.qm, self.qw, self.pm, self.pw, self.sigma,
                                increasing=not self.increasing, inverse=inverse, name=name)
        m._mirror = self
        return m

    def key(self) -> tuple:
        return ("gmix", tuple(self.pm), tuple(self.pw), tuple(self.qm), tuple(self.qw),
                self.sigma, self.increasing)

    # log densities up to the common Gaussian constant
    def _logmix(self, x: np.ndarray, comps) -> np.ndarray:
        """Log density of the mixture ``comps`` (``(log weight, mean)`` pairs) at ``x``."""
        c = -0.5 / (self.sigma * self.sigma)
        terms = [lw + c * (x - m) ** 2 for lw, m in comps]
        if len(terms) == 1:
            return terms[0]
        if len(terms) == 2:
            return np.logaddexp(terms[0], terms[1])
        return np.logaddexp.reduce(np.stack(terms), axis=0)

    def _log_p_q(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log densities of P and Q at ``x`` (up to the common Gaussian constant)."""
        return self._logmix(x, self._p_comp), self._logmix(x, self._q_comp)

    def loss(self, x: np.ndarray) -> np.ndarray:
        lp, lq = self._log_p_q(np.asarray(x, float))
        return lp - lq

    def _limits(self) -> tuple[float, float]:
        """Loss as x -> -inf and x -> +inf."""
        if self._lims is None:
            self._lims = self._compute_limits()
        return self._lims

    def _compute_limits(self) -> tuple[float, float]:
        def lim(sign):
            # dominant component: the one with the extreme mean in direction `sign` (components
            # of zero weight included, as the loss of the mixture's density ratio has them)
            mp = max(sign * m for m in self.pm.tolist()) * sign
            mq = max(sign * m for m in self.qm.tolist()) * sign
            if mp == mq:
                wp = sum(w for m, w in zip(self.pm.tolist(), self.pw.tolist()) if m == mp)
                wq = sum(w for m, w in zip(self.qm.tolist(), self.qw.tolist()) if m == mq)
                return math.log(wp) - math.log(wq)
            return math.inf if sign * (mp - mq) > 0 else -math.inf
        return lim(-1.0), lim(1.0)

    def _x_range(self, tail: float) -> tuple[float, float]:
        r = self._ranges.get(tail)
        if r is None:
            k = -float(ndtri(max(tail, 1e-300) / 4.0))
            r = self._ranges[tail] = (self._m_lo - k * self.sigma, self._m_hi + k * self.sigma)
        return r

    def _loss_at(self, x: float) -> float:
        """The loss at one point (Python floats: cheaper than arrays for a few points)."""
        c = -0.5 / (self.sigma * self.sigma)

        def logmix(comps):
            terms = [lw + c * (x - m) ** 2 for lw, m in comps]
            top = max(terms)
            return top + math.log(math.fsum(math.exp(v - top) for v in terms))
        return logmix(self._p_comp) - logmix(self._q_comp)

    def loss_span(self, tail: float) -> float | None:
        xl, xr = self._x_range(tail)
        return abs(self._loss_at(xr) - self._loss_at(xl))

    def loss_moments(self) -> tuple[float, float]:
        if self._moments is None:
            xl, xr = self._x_range(1e-14)
            # smooth integrand: the trapezoid rule is spectrally accurate (201 points)
            x = np.arange(201.0) * ((xr - xl) / 200.0) + xl     # np.linspace, without its cost
            x[-1] = xr
            lp, lq = self._log_p_q(x)
            dens = np.exp(lp - lp.max())
            w = dens / dens.sum()
            lx = lp - lq
            m = float((w * lx).sum())
            d = lx - m
            v = float((w * (d * d)).sum())
            self._moments = (m, max(v, 1e-300))
        return self._moments

    def _inverse_table(self, levels: np.ndarray, xl: float, xr: float) -> np.ndarray:
        if self._inverse is not None:
            with np.errstate(all="ignore"):
                x = self._inverse(levels)
            return x
        xs = np.linspace(xl, xr, 200001)
        ls = self.loss(xs)
        if not self.increasing:
            xs, ls = xs[::-1], ls[::-1]
        ls = np.maximum.accumulate(ls)
        return np.interp(levels, ls, xs)

    def cells(self, h: float, tail: float) -> Cells:
        if self._mirror is not None:
            c = self._mirror.cells(h, tail)
            return Cells(p=c.q, q=c.p, lo=-c.hi, hi=-c.lo, p_inf=c.q_only, q_only=c.p_inf)
        key = (h, tail, _CELL_BUDGET.get())
        if self._last_cells is not None and self._last_cells[0] == key:
            return self._last_cells[1]
        c = self._cells(h, tail)
        self._last_cells = (key, c)
        return c

    def _cells(self, h: float, tail: float) -> Cells:
        xl, xr = self._x_range(tail)
        l_l, l_r = self._loss_at(xl), self._loss_at(xr)
        lmin, lmax = min(l_l, l_r), max(l_l, l_r)
        budget = _CELL_BUDGET.get()
        if self.symmetric and xl == -xr and 2 * math.floor(l_r / h) <= budget:
            return self._mirrored_cells(h, xr, l_r)
        if math.floor(lmax / h) - math.ceil(lmin / h) <= budget:
            levels = np.arange(math.ceil(lmin / h), math.floor(lmax / h) + 1, dtype=float) * h
        else:
            xs = np.linspace(xl, xr, 5001)      # only guides the adaptive widths
            levels = _lattice_levels(self.loss(xs),
                                     _interval_prob(self.pm, self.pw, self.sigma, xs), h,
                                     budget)
        xin = self._inverse_table(levels, xl, xr)
        xin = xin[np.isfinite(xin) & (xin > xl) & (xin < xr)]
        edges = np.concatenate([[xl], xin, [xr]])
        if not np.all(edges[1:] > edges[:-1]):       # the inverse is monotone: rarely needed
            edges = np.unique(edges)
        full = np.concatenate([[-np.inf], edges, [np.inf]])
        p, q = _interval_probs([(self.pm, self.pw), (self.qm, self.qw)], self.sigma, full)
        le = self.loss(edges)
        lim_left, lim_right = self._limits()
        left = np.concatenate([[lim_left], le])
        right = np.concatenate([le, [lim_right]])
        lo = np.minimum(left, right)
        hi = np.maximum(left, right)
        return Cells(p=p, q=q, lo=lo, hi=hi)

    def _mirrored_cells(self, h: float, xr: float, l_r: float) -> Cells:
        """Cells of a symmetric pair: the edges ``x_k = loss^{-1}(k h)`` for ``k >= 1`` up to
        ``xr``, mirrored, with 0 between them; P-masses from the mixture, Q-masses the P-masses
        of the mirrored cells (Q is P reflected), losses at the negative edges the negated ones.
        The same cells as the general construction, with half the evaluations."""
        levels = np.arange(1, math.floor(l_r / h) + 1, dtype=float) * h
        xin = self._inverse_table(levels, -xr, xr) if levels.size else levels
        xin = xin[np.isfinite(xin) & (xin > 0.0) & (xin < xr)]
        pos = np.concatenate([xin, [xr]])
        if not np.all(pos[1:] > pos[:-1]):          # the inverse is monotone: rarely needed
            pos = np.unique(pos)
        edges = np.concatenate([-pos[::-1], [0.0], pos])
        full = np.concatenate([[-np.inf], edges, [np.inf]])
        p = _interval_probs([(self.pm, self.pw)], self.sigma, full)[0]
        lp = self.loss(pos)
        le = np.concatenate([-lp[::-1], [0.0], lp])
        lim_left, lim_right = self._limits()
        lo = np.concatenate([[lim_left], le])
        hi = np.concatenate([le, [lim_right]])
        return Cells(p=p, q=p[::-1].copy(), lo=lo, hi=hi)


_MAX_CELLS = 30_000   # cells per step before widths adapt to the mass
#: the cell budget in force (smaller during the engine's trial pass; only affects tightness)
_CELL_BUDGET: contextvars.ContextVar[int] = contextvars.ContextVar("_CELL_BUDGET",
                                                                  default=_MAX_CELLS)


def _lattice_levels(ls: np.ndarray, ms: np.ndarray, h: float,
                    max_cells: int = _MAX_CELLS) -> np.ndarray:
    """Lattice points (multiples of h) used as cell edges in loss space.

    ``ls`` is the (monotone) loss on a fine grid of outputs and ``ms`` the P-mass between
    consecutive grid points.  All lattice points are used if there are at most ``max_cells``;
    otherwise cell widths adapt to the mass: a cell of width ``w`` (lattice units) holding mass
    ``p`` adds at most ``p w^2 / 4`` to the variance, and ``w(k) = max(1, (beta / g(k))^{1/3})``
    with ``g`` the mass per lattice unit equalises that cost; ``beta`` is set so that about
    ``max_cells`` cells are used.  Any edges are valid; this choice only keeps the bounds tight.
    """
    if ls[0] > ls[-1]:
        ls, ms = ls[::-1], ms[::-1]
    ls = np.maximum.accumulate(ls)
    k_lo, k_hi = math.ceil(ls[0] / h), math.floor(ls[-1] / h)
    if k_hi - k_lo <= max_cells:
        return np.arange(k_lo, k_hi + 1, dtype=float) * h
    kk = ls / h
    seg = np.diff(kk)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(seg > 0, ms / np.where(seg > 0, seg, 1.0), np.inf)

    # widths w = max(1, b / u) with u = g^{1/3}: the number of cells sum seg min(1, u / b) is
    # decreasing in b and piecewise of the form S + A / b between sorted values of u, so the b
    # giving exactly ``max_cells`` cells is found in closed form
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = np.cbrt(np.where(np.isnan(g), np.inf, g))
    order = np.argsort(u, kind="stable")
    us, ss = u[order], seg[order]
    fin = np.isfinite(us)
    uf, sf = us[fin], ss[fin]
    s_tot = float(ss.sum())
    c_below = np.concatenate([[0.0], np.cumsum(sf)[:-1]])            # sum of seg with u < u_k
    a_below = np.concatenate([[0.0], np.cumsum(sf * uf)[:-1]])       # sum of seg u with u < u_k
    with np.errstate(divide="ignore", invalid="ignore"):
        cnt_k = s_tot - c_below + np.where(uf > 0, a_below / np.where(uf > 0, uf, 1.0), 0.0)
    ok = np.flatnonzero(cnt_k <= max_cells)
    if uf.size == 0:
        b = math.inf
    elif ok.size == 0:                  # beyond the largest finite u
        rest = max_cells - (s_tot - float(sf.sum()))
        b = float(np.sum(sf * uf)) / rest if rest > 0 else math.inf
    elif ok[0] == 0:
        b = float(uf[0])
    else:
        k = int(ok[0])
        rest = max_cells - s_tot + float(c_below[k])
        b = float(a_below[k]) / rest if rest > 0 else float(uf[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_w = np.minimum(1.0, u / b) if b > 0 else np.ones_like(u)
    cum = np.concatenate([[0.0], np.cumsum(seg * np.nan_to_num(inv_w, nan=1.0))])
    js = np.arange(1.0, math.floor(cum[-1]) + 1.0)
    k_edges = np.interp(js, cum, kk)
    k = np.unique(np.concatenate([[k_lo, k_hi], np.rint(k_edges)]))
    k = k[(k >= k_lo) & (k <= k_hi)]
    return k * h


def subsampled_gaussian_pairs(q: float, z: float, relation: str) -> dict[str, DominatingPair]:
    """Dominating pairs of one step of the Poisson-subsampled Gaussian (clip norm 1, std z).

    ``relation="add_remove"`` returns ``{"remove": ..., "add": ...}``: remove is
    ``(q N(1, z^2) + (1-q) N(0, z^2), N(0, z^2))`` and add is ``(N(0, z^2), q N(1, z^2) + (1-q)
    N(0, z^2))``.  ``relation="replace_one"`` returns ``{"replace": ...}`` with
    ``(q N(1) + (1-q) N(0), q N(-1) + (1-q) N(0))`` (replacing one record moves the clipped sum
    by up to 2; the pair is symmetric).
    """
    z2 = z * z
    if relation == "add_remove":
        if q >= 1.0:
            rem = GaussianMixturePair([1.0], [1.0], [0.0], [1.0], z, increasing=True,
                                      inverse=lambda l: z2 * l + 0.5, name="Gaussian")
            return {"remove": rem, "add": rem}
        lq = math.log(q)

        def inv_remove(l):
            return z2 * (np.log(np.expm1(l) + q) - lq) + 0.5

        def inv_add(l):
            return z2 * (np.log(np.expm1(-l) + q) - lq) + 0.5

        rem = GaussianMixturePair([0.0, 1.0], [1 - q, q], [0.0], [1.0], z, increasing=True,
                                  inverse=inv_remove, name="subsampled Gaussian (remove)")
        # the add pair is (Q, P) of the remove pair: the same cells, masses swapped
        add = rem.mirror("subsampled Gaussian (add)", inverse=inv_add)
        return {"remove": rem, "add": add}
    if relation == "replace_one":
        if q >= 1.0:
            rep = GaussianMixturePair([1.0], [1.0], [-1.0], [1.0], z, increasing=True,
                                      inverse=lambda l: z2 * l / 2.0, name="Gaussian (replace)",
                                      symmetric=True)
        else:
            lqc = math.log(q) - 0.5 / z2                     # log(q c), c = exp(-1 / (2 z^2))

            def inv_replace(l):
                # u = exp(x / z^2) solves q c u^2 - (1 - q)(e^l - 1) u - e^l q c = 0
                l = np.asarray(l, float)
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    lb = math.log1p(-q) + np.log(np.abs(np.expm1(l)))
                    ls = 0.5 * np.logaddexp(2 * lb, math.log(4.0) + 2 * lqc + l)
                    lu = np.where(l >= 0, np.logaddexp(lb, ls) - math.log(2.0) - lqc,
                                  math.log(2.0) + l + lqc - np.logaddexp(lb, ls))
                return z2 * lu

            rep = GaussianMixturePair([0.0, 1.0], [1 - q, q], [0.0, -1.0], [1 - q, q], z,
                                      increasing=True, inverse=inv_replace,
                                      name="subsampled Gaussian (replace)", symmetric=True)
        return {"replace": rep}
    raise ValueError(f"relation must be 'add_remove' or 'replace_one', got {relation!r}")


def atom_loss_moments(p: np.ndarray, loss: np.ndarray, finite: np.ndarray) -> tuple[float, float]:
    """Mean and variance of the privacy loss of atoms with P-masses ``p`` (where ``finite``)."""
    w = np.where(finite, p, 0.0)
    tot = w.sum()
    if tot <= 0:
        return 0.0, 1e-300
    m = float(np.sum(w * loss) / tot)
    v = float(np.sum(w * (loss - m) ** 2) / tot)
    return m, max(v, 1e-300)


class DiscretePair(DominatingPair):
    """A pair of probability mass functions on a common finite support.

    Parameters
    ----------
    p, q
        Masses of the two distributions on the same atoms (non-negative, each summing to 1).
    """

    def __init__(self, p, q, name: str = "discrete pair"):
        p = np.asarray(p, float)
        q = np.asarray(q, float)
        if p.shape != q.shape or p.ndim != 1:
            raise ValueError("p and q must be 1-D arrays of the same length")
        if np.any(p < 0) or np.any(q < 0) or not np.all(np.isfinite(p + q)):
            raise ValueError("p and q must be finite and non-negative")
        self.p = p / p.sum()
        self.q = q / q.sum()
        self.name = name
        both = (self.p > 0) & (self.q > 0)
        with np.errstate(divide="ignore"):
            self._loss = np.where(both, np.log(np.where(both, self.p, 1.0))
                                  - np.log(np.where(both, self.q, 1.0)), 0.0)
        self._both = both

    def key(self) -> tuple:
        return ("discrete", self.p.tobytes(), self.q.tobytes())

    def loss_moments(self) -> tuple[float, float]:
        return atom_loss_moments(self.p, self._loss, self._both)

    def cells(self, h: float, tail: float) -> Cells:
        b = self._both
        lo = self._loss[b]
        return Cells(p=self.p[b], q=self.q[b], lo=lo, hi=lo.copy(),
                     p_inf=float(self.p[(self.p > 0) & (self.q == 0)].sum()),
                     q_only=float(self.q[(self.q > 0) & (self.p == 0)].sum()))


# ---------------------------------------------------------------------------------------------
# Discretisation on the lattice h*Z
# ---------------------------------------------------------------------------------------------
@dataclass
class StepPmfs:
    """One mechanism step on the lattice (sparse): pessimistic pmf and the two label pmfs.

    ``upper_idx``/``upper``: lattice indices and P-masses of the pessimistic
    (connect-the-dots) loss; ``p_inf``: P-mass sent to +inf; ``lab_idx``, ``lab_p``, ``lab_q``:
    label indices with their P- and Q-masses.
    """

    h: float
    upper_idx: np.ndarray
    upper: np.ndarray
    p_inf: float
    lab_idx: np.ndarray
    lab_p: np.ndarray
    lab_q: np.ndarray

    @functools.cached_property
    def k_min(self) -> int:
        return int(min(self.upper_idx.min(initial=0), self.lab_idx.min(initial=0)))

    @functools.cached_property
    def k_max(self) -> int:
        return int(max(self.upper_idx.max(initial=0), self.lab_idx.max(initial=0)))


def _merge(idx: np.ndarray, *vals: np.ndarray):
    """Sum values sharing an index (sparse pmf normal form: sorted unique indices)."""
    if idx.size == 0:
        return (idx.astype(np.int64),) + tuple(v.astype(float) for v in vals)
    lo, hi = int(idx.min()), int(idx.max())
    if hi - lo <= 4 * idx.size + 1024:          # dense enough: one bincount per value array
        off = idx - lo
        cnt = np.bincount(off, minlength=hi - lo + 1)
        keep = np.flatnonzero(cnt)
        return (keep.astype(np.int64) + lo,) + tuple(
            np.bincount(off, weights=v, minlength=hi - lo + 1)[keep] for v in vals)
    # sparse: a stable sort (linear on the few sorted runs the callers pass), then sums per run
    order = np.argsort(idx, kind="stable")
    si = idx[order]
    starts = np.flatnonzero(np.concatenate([[True], si[1:] != si[:-1]]))
    return (si[starts].astype(np.int64),) + tuple(
        np.add.reduceat(np.asarray(v, float)[order], starts) for v in vals)


def discretize(pair: DominatingPair, h: float, tail: float, labels: bool = True) -> StepPmfs:
    """Lattice representation of one step of ``pair`` (see the module docstring).

    A pair may build its lattice laws itself by defining ``step_pmfs(h, tail) -> StepPmfs``
    (used by composite pairs: revealed mixtures, truncated atom sets, envelopes); the upper and
    label laws it returns must each satisfy the guarantees stated in the module docstring.
    ``labels=False`` skips the label laws of a Gaussian-mixture pair (they are then copies of
    the upper law, fit for planning an upper-only composition and for nothing else).
    """
    own = getattr(pair, "step_pmfs", None)
    if own is not None:
        return own(h, tail)
    c = pair.cells(h, tail)
    # every cell keeps its label (dropping Q-mass would make the lower bound optimistic);
    # only cells with P-mass matter for the upper bound
    pos_p = c.p > 0
    every_p = bool(pos_p.all())
    if every_p:                      # (the common case: no masking needed)
        lab_cells = p, q, lo, hi = c.p, c.q, c.lo, c.hi
    else:
        keep = pos_p | (c.q > 0)
        lab_cells = (c.p[keep], c.q[keep], c.lo[keep], c.hi[keep])
        p, q, lo, hi = c.p[pos_p], c.q[pos_p], c.lo[pos_p], c.hi[pos_p]
    p_inf = float(c.p_inf)

    # ---- upper: mean-preserving spread of y = exp(-loss) onto grid points a <= lo, b >= hi
    top = hi == np.inf
    if top.any():
        p_inf += float(p[top].sum())
        fin = ~top
        pf, qf, lof, hif = p[fin], q[fin], lo[fin], hi[fin]
    else:
        pf, qf, lof, hif = p, q, lo, hi
    b_idx = np.ceil(hif / h - 1e-9)
    a_idx = np.floor(lof / h + 1e-9)
    low = lof == -np.inf
    any_low = bool(low.any())
    if any_low:
        a_idx[low] = b_idx[low]
    np.minimum(a_idx, b_idx, out=a_idx)
    a_i = a_idx.astype(np.int64)
    b_i = b_idx.astype(np.int64)
    spread = b_i > a_i
    if any_low:
        spread &= ~low
    wb = pf.copy()
    if spread.any():
        ps, qs = pf[spread], qf[spread]
        ah = a_i[spread] * h
        # t = (q/p - e^{-b}) / (e^{-a} - e^{-b}) computed relative to e^{-a}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rho = np.exp(np.log(qs) - np.log(ps) + ah)       # (q/p) e^{a}  in [e^{-(b-a)}, 1]
            g = np.exp(ah - b_i[spread] * h)
            t = (rho - g) / (1.0 - g)
        t = np.where(t > 0, np.minimum(t, 1.0), 0.0)        # NaN -> 0, clipped to [0, 1]
        wa_s = ps * t
        wb[spread] = ps - wa_s
        up_idx, up_val = _merge(np.concatenate([b_i, a_i[spread]]), np.concatenate([wb, wa_s]))
    else:
        up_idx, up_val = _merge(b_i, wb)
    nzu = up_val > 0
    if not nzu.all():
        up_idx, up_val = up_idx[nzu], up_val[nzu]

    if not labels:
        return StepPmfs(h=h, upper_idx=up_idx, upper=up_val, p_inf=p_inf,
                        lab_idx=up_idx, lab_p=up_val, lab_q=up_val)

    # ---- labels: the loss rounded down to the lattice; any choice is a valid test (the label
    #      laws get their own FFT window, so the -h/2 bias per step costs nothing)
    p, q, lo, hi = lab_cells
    fin_lo, fin_hi = np.isfinite(lo), np.isfinite(hi)
    if fin_lo.all() and fin_hi.all():
        mid = 0.5 * (lo + hi)
    else:
        with np.errstate(invalid="ignore"):
            mid = np.where(fin_lo & fin_hi, 0.5 * (lo + hi), np.where(fin_lo, lo, hi))
    lab = np.floor(mid / h + 1e-9)
    finite = np.isfinite(lab)
    if up_idx.size:
        kmin, kmax = float(up_idx[0]), float(up_idx[-1])       # (sorted by _merge)
        if finite.any():
            fl = lab[finite] if not finite.all() else lab
            kmin, kmax = min(kmin, float(fl.min())), max(kmax, float(fl.max()))
    elif finite.any():
        fl = lab[finite]
        kmin, kmax = float(fl.min()), float(fl.max())
    else:
        kmin = kmax = 0.0
    if finite.all():
        lab_i = lab.astype(np.int64)           # within [kmin, kmax] by construction
    else:
        lab_i = np.where(lab >= kmax, kmax, np.where(lab > kmin, lab, kmin))   # NaN -> kmin
        lab_i = lab_i.astype(np.int64)
    if c.p_inf > 0 or c.q_only > 0:
        extra_i, extra_p, extra_q = [], [], []
        if c.p_inf > 0:
            extra_i.append(int(kmax)); extra_p.append(c.p_inf); extra_q.append(0.0)
        if c.q_only > 0:
            extra_i.append(int(kmin)); extra_p.append(0.0); extra_q.append(c.q_only)
        lab_i = np.concatenate([lab_i, np.asarray(extra_i, np.int64)])
        p = np.concatenate([p, np.asarray(extra_p, float)])
        q = np.concatenate([q, np.asarray(extra_q, float)])
    li, lp, lq = _merge(lab_i, p, q)
    return StepPmfs(h=h, upper_idx=up_idx, upper=up_val, p_inf=p_inf,
                    lab_idx=li, lab_p=lp, lab_q=lq)


# ---------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------
def _log_mgf(idx: np.ndarray, val: np.ndarray, lam: np.ndarray, w: int = 1) -> np.ndarray:
    """Upper bound on log sum_j val_j exp(lam idx_j) for each lam (sparse pmf, no overflow).

    Every term is taken relative to the largest exponent (``idx.max()`` for ``lam >= 0``,
    ``idx.min()`` for ``lam < 0``), so each ``exp`` is at most one; all ``lam`` of one sign
    share a single matrix product.  Terms that underflow are worth less than ``1e-300``
    each after the shift; ``(n + 1) 1e-300`` is added for them, so the result never falls below
    the true value (up to rounding, relative ~1e-13, far below what any window or tilt needs).

    ``val`` may be two-dimensional, ``(n, k)``: ``k`` laws on the common support ``idx`` share
    the exponentials, and the result has shape ``(k, len(lam))``.  A law with no positive mass
    gets ``-inf``.

    ``w > 1`` groups the indices into blocks ``[k w, (k + 1) w)`` and moves each block's mass to
    its largest index for ``lam >= 0`` (its smallest for ``lam < 0``): still an upper bound, at
    most ``exp(|lam| (w - 1))`` above the exact value, and far fewer exponentials for wide
    sparse laws.
    """
    v2 = np.asarray(val, float)
    single = v2.ndim == 1
    if single:
        v2 = v2[:, None]
    out = _log_mgf_cols(np.asarray(idx), v2, np.asarray(lam, float), w)
    return out[0] if single else out


def _log_mgf_cols(idx: np.ndarray, v2: np.ndarray, lam: np.ndarray, w: int) -> np.ndarray:
    """:func:`_log_mgf` for an ``(n, k)`` array of laws; returns ``(k, len(lam))``."""
    k = v2.shape[1]
    has = v2.max(axis=0, initial=0.0) > 0
    if not has.any():
        return np.full((k, lam.size), -np.inf)
    if w > 1 and idx.size > 64:
        nz = v2.max(axis=1) > 0
        if not nz.all():
            idx, v2 = idx[nz], v2[nz]
        j = idx.astype(np.int64)
        if not np.all(j[1:] >= j[:-1]):
            order = np.argsort(j, kind="stable")
            j, v2 = j[order], v2[order]
        blk = (j - j[0]) // w
        starts = np.flatnonzero(np.concatenate([[True], blk[1:] != blk[:-1]]))
        if starts.size < 0.7 * j.size:
            mass = np.add.reduceat(v2, starts, axis=0)
            j_lo = j[starts]
            j_hi = j[np.concatenate([starts[1:] - 1, [j.size - 1]])]
            out = np.empty((k, lam.size))
            pos = lam >= 0
            if np.any(pos):
                out[:, pos] = _log_mgf_cols(j_hi, mass, lam[pos], 1)
            if np.any(~pos):
                out[:, ~pos] = _log_mgf_cols(j_lo, mass, lam[~pos], 1)
            return out
    # rows without mass contribute nothing (the allowance and the reference index only grow)
    j = idx.astype(float)
    out = np.empty((k, lam.size))
    allow = (j.size + 1) * 1e-300
    for sel, ref in ((lam >= 0, float(j.max())), (lam < 0, float(j.min()))):
        if not np.any(sel):
            continue
        ls = lam[sel]
        res = np.empty((ls.size, k))
        step = max(1, 4_000_000 // j.size)          # at most ~32 MB of temporaries
        for s in range(0, ls.size, step):
            # exponents below -700 are raised to -700: each such term grows to ~1e-304, well
            # inside the allowance, and the exponential never underflows (which is slow)
            e = np.multiply.outer(ls[s:s + step], j - ref)
            np.maximum(e, -700.0, out=e)
            np.exp(e, out=e)
            res[s:s + step] = e @ v2
        out[:, sel] = (ls * ref)[None, :] + np.log(res + allow).T
    if not has.all():
        out[~has] = -np.inf
    return out


def _window(logm: Sequence[np.ndarray], counts: np.ndarray, lam: np.ndarray,
            log_tau: float, best: set | None = None) -> tuple[int, int]:
    """Chernoff window [J_lo, J_hi] outside which the composed mass is <= tau on each side.

    ``counts`` has shape (n_pairs, n_points); the window covers every curve point.  ``best``,
    if given, receives the indices of the ``lam`` that attain each bound.
    """
    pos = lam > 0
    neg = lam < 0
    lm = np.stack(logm, axis=0)                                        # (m, nlam)
    with np.errstate(invalid="ignore"):
        tot = counts.T @ np.where(np.isfinite(lm), lm, 0.0)            # (npts, nlam)
    with np.errstate(invalid="ignore", divide="ignore"):
        j_hi = (tot[:, pos] - log_tau) / lam[pos]
        j_lo = (tot[:, neg] - log_tau) / lam[neg]
    j_hi = np.where(np.isfinite(j_hi), j_hi, np.inf)
    j_lo = np.where(np.isfinite(j_lo), j_lo, -np.inf)
    if best is not None:
        best.update(np.flatnonzero(pos)[np.argmin(j_hi, axis=1)].tolist())
        best.update(np.flatnonzero(neg)[np.argmax(j_lo, axis=1)].tolist())
    j_hi = j_hi.min(axis=1)
    j_lo = j_lo.max(axis=1)
    return int(math.floor(float(np.min(j_lo)))), int(math.ceil(float(np.max(j_hi))))


@dataclass
class ComposedLattice:
    """Composed laws on the lattice window ``J_lo .. J_lo + len - 1`` (loss = J h).

    Each law is stored exponentially tilted: the true mass at index ``J`` is the stored value
    times ``exp(log_norm - lam * J h)`` (``lam = 0`` and ``log_norm = log(total mass)`` is the
    untilted law).  Tilting towards the tail that decides a small δ keeps the floating-point
    error of the FFT (an absolute error on the *stored* values, bounded by the ``slack_*``
    fields) far below δ: an error ``e`` of the stored law costs at most
    ``e * exp(log_norm - lam * L)`` on any event above the loss ``L``.
    """

    h: float
    j_lo: int               # window start of the upper law
    j_lo_lab: int           # window start of the two label laws
    upper: np.ndarray
    upper_extra: float      # +inf mass (untilted, absolute)
    lab_p: np.ndarray
    slack_p: float          # out-of-window + FFT allowance for P-label sums (tilted units)
    lab_qt: np.ndarray      # tilted Q-label law; true Q(J) = lab_qt(J) exp(log_z - (1+lam_p) J h)
    log_z: float
    slack_qt: float
    slack_u: float = 0.0    # out-of-window + FFT allowance of the upper law (tilted units)
    lam_u: float = 0.0
    log_zu: float = 0.0
    lam_p: float = 0.0
    log_zp: float = 0.0


@dataclass
class TwoSided:
    """A certified interval for one quantity."""

    upper: float
    lower: float
    h: float = float("nan")
    notes: list[str] = field(default_factory=list)


def _sparse_mean(idx: np.ndarray, val: np.ndarray) -> float:
    tot = val.sum()
    return float(np.dot(val, idx) / tot) if tot > 0 else 0.0


def _sparse_var(idx: np.ndarray, val: np.ndarray) -> float:
    tot = val.sum()
    if tot <= 0:
        return 1.0
    j = idx.astype(float)
    m = float((val * j).sum() / tot)
    d = j - m
    return float((val * (d * d)).sum() / tot) + 1.0


def _tilt_vals(idx: np.ndarray, val: np.ndarray, lam: float, h: float) -> tuple[np.ndarray, float]:
    """``val * exp(lam * idx * h)`` normalised to sum one; returns (values, log normaliser).

    ``lam = 0`` returns the values unchanged (normaliser 0).
    """
    if lam == 0.0:
        return val, 0.0
    nz = val > 0
    if nz.all():
        lw = np.log(val) + lam * idx * h
    elif not nz.any():
        return np.zeros_like(val), -np.inf
    else:
        lw = np.full(val.size, -np.inf)
        lw[nz] = np.log(val[nz]) + lam * idx[nz] * h
    mx = lw.max()
    w = np.exp(lw - mx)
    zsum = w.sum()
    return w / zsum, float(mx + math.log(zsum))


def _tilted_laws(steps: Sequence[StepPmfs], lam_u: float, lam_p: float):
    """Per step: the three stored laws ((idx, values, log normaliser) for upper, P- and Q-label)."""
    out = []
    for s in steps:
        out.append([(s.upper_idx, *_tilt_vals(s.upper_idx, s.upper, lam_u, s.h)),
                    (s.lab_idx, *_tilt_vals(s.lab_idx, s.lab_p, lam_p, s.h)),
                    (s.lab_idx, *_tilt_vals(s.lab_idx, s.lab_q, 1.0 + lam_p, s.h))])
    return out


_WIN_LAM = np.concatenate([-np.geomspace(1e-4, 64.0, 12), np.geomspace(1e-4, 64.0, 12)])


def _coarse_block(steps: Sequence[StepPmfs], blocks: int) -> int:
    """A block width giving about ``blocks`` blocks over the widest step support."""
    span = max(s.k_max - s.k_min for s in steps)
    return max(1, span // blocks)


def _common_support(t) -> tuple[np.ndarray, np.ndarray]:
    """The three stored laws of one step (upper, P-label, Q-label) on one support:
    ``(indices, values of shape (n, 3))``, zeros where a law has no entry (a dense range when
    the supports are dense, as they are for every built-in pair; their union otherwise).  The
    values are column-major: NumPy reduces a C-ordered ``(n, 3)`` array along its long axis
    tens of times slower."""
    (iu, vu, _), (il, vp, _), (_, vq, _) = t
    if iu.size == il.size and np.array_equal(iu, il):
        return iu, np.array([vu, vp, vq]).T
    lo = min(int(iu[0]) if iu.size else 0, int(il[0]) if il.size else 0, 0)   # (sorted)
    hi = max(int(iu[-1]) if iu.size else 0, int(il[-1]) if il.size else 0, 0)
    if hi - lo + 1 <= 2 * (iu.size + il.size) + 64:
        u = np.arange(lo, hi + 1)
        pu, pl = iu - lo, il - lo
    else:
        u = np.union1d(iu, il)
        pu, pl = np.searchsorted(u, iu), np.searchsorted(u, il)
    v = np.zeros((3, u.size))
    v[0, pu] = vu
    v[1, pl] = vp
    v[2, pl] = vq
    return u, v.T


def _windows(lms: Sequence[np.ndarray], counts: np.ndarray, lam: np.ndarray,
             log_tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Chernoff windows of several laws at once: ``lms[i]`` is step ``i``'s ``(k, len(lam))``
    array of log-MGF upper bounds (as :func:`_window`, for each of the ``k`` laws); returns the
    per-law window ends ``(J_lo, J_hi)``, each of length ``k``, covering every curve point."""
    pos = lam > 0
    neg = lam < 0
    L = np.stack(lms, axis=0)                                          # (m, k, nlam)
    L = np.where(np.isfinite(L), L, 0.0)
    tot = np.einsum("mp,mkl->pkl", counts, L)                          # (npts, k, nlam)
    with np.errstate(invalid="ignore", divide="ignore"):
        j_hi = (tot[..., pos] - log_tau) / lam[pos]
        j_lo = (tot[..., neg] - log_tau) / lam[neg]
    j_hi = np.where(np.isfinite(j_hi), j_hi, np.inf).min(axis=2).max(axis=0)
    j_lo = np.where(np.isfinite(j_lo), j_lo, -np.inf).max(axis=2).min(axis=0)
    return np.floor(j_lo), np.ceil(j_hi)


def _tail_cuts(u: np.ndarray, v: np.ndarray, budget: float) -> tuple[int, int]:
    """Indices ``(J0, J1)`` of the sorted support ``u`` such that, for every column of ``v``,
    the mass strictly below ``J0`` and the mass strictly above ``J1`` are each at most
    ``budget`` (tail sums accumulated from the tail inwards, with a rounding allowance)."""
    n = u.size
    slack = 1.0 + 4.0 * _EPS_MACH * (n + 2)
    above = np.cumsum(v[::-1], axis=0)[::-1] - v            # mass strictly above row i
    below = np.cumsum(v, axis=0) - v                        # mass strictly below row i
    ok_hi = (above * slack <= budget).all(axis=1)
    ok_lo = (below * slack <= budget).all(axis=1)
    i1 = int(np.argmax(ok_hi)) if ok_hi.any() else n - 1
    i0 = n - 1 - int(np.argmax(ok_lo[::-1])) if ok_lo.any() else 0
    return int(u[min(i0, i1)]), int(u[max(i0, i1)])


def _single_step_windows(lo_u: np.ndarray, hi_u: np.ndarray, v: np.ndarray, c: float,
                         lam: np.ndarray, log_tau: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_windows` of one step composed ``c`` times, for each column of ``v``: the same
    Chernoff bounds from :func:`_log_mgf`'s upper bounds (exponents raised to -700 at least;
    a law without mass counts as ``log M = 0``, as in :func:`_windows`), on the laws clipped
    from above (``hi_u``, for ``lam > 0``) and from below (``lo_u``, for ``lam < 0``).  The
    supports are sorted."""
    empty = v.max(axis=0) <= 0
    ends = []
    for idx, ls in ((hi_u, lam[lam > 0]), (lo_u, lam[lam < 0])):
        j = idx.astype(float)
        ref = float(j[-1]) if ls[0] > 0 else float(j[0])
        e = np.multiply.outer(ls, j - ref)
        np.maximum(e, -700.0, out=e)
        np.exp(e, out=e)
        lm = np.log(e @ v + (j.size + 1) * 1e-300) + (ls * ref)[:, None]   # (n_lam, k)
        if empty.any():
            lm[:, empty] = 0.0
        ends.append((c * lm - log_tau) / ls[:, None])
    j_hi, j_lo = ends[0].min(axis=0), ends[1].max(axis=0)
    if not (np.isfinite(j_hi).all() and np.isfinite(j_lo).all()):
        j_hi = np.where(np.isfinite(ends[0]), ends[0], np.inf).min(axis=0)
        j_lo = np.where(np.isfinite(ends[1]), ends[1], -np.inf).max(axis=0)
    return np.floor(j_lo), np.ceil(j_hi)


def _plan(steps: Sequence[StepPmfs], counts: np.ndarray, tau: float,
          lam_u: float = 0.0, lam_p: float = 0.0):
    """Window of the composition (lattice indices) of the stored (tilted) laws.

    The mass outside the window is at most ``tau`` on each side, split in two halves.

    * *Tails, by a union bound.*  Each step's laws are cut at ``J0 <= J1`` with at most
      ``tau / (2 m c)`` of their mass beyond each cut (``m`` steps, ``c`` the step's count).  The
      composed sum can exceed ``J`` only if some step exceeds its ``J1`` (probability at most
      ``tau / 2`` in all) or the sum of the steps clipped to ``min(L, J1)`` exceeds ``J``.
    * *Bulk, by Chernoff bounds* on the clipped laws, from upper bounds on their moment
      generating functions, at level ``tau / 2`` (the same on the left with ``max(L, J0)``).

    Clipping keeps the Chernoff bounds tight where a law has a thin, far tail (tiny sampling
    rates with small noise), whose moment generating function would otherwise push the window
    out to the tail's end.  Wide sparse laws (tiny sampling rates, few steps) are first bounded
    in blocks (:func:`_log_mgf` with ``w > 1``): each step's mass moves up (or down) by less
    than ``w`` points, so the window can only widen, by at most ``T w`` points per side.  The
    block width is then shrunk until ``T w`` is at most 0.5 % of the window, and every window
    found (each a valid one) is intersected.
    """
    tilted = _tilted_laws(steps, lam_u, lam_p)
    laws = [_common_support(t) for t in tilted]       # the three stored laws on one support
    c_max = counts.max(axis=1)
    m = int(np.count_nonzero(c_max > 0)) or 1
    # (a support of a few thousand points has no far tail worth cutting: left whole)
    cuts = [_tail_cuts(u, v, 0.5 * tau / (m * c)) if c > 0 and u[-1] - u[0] > 4096
            else (int(u[0]), int(u[-1])) for (u, v), c in zip(laws, c_max)]
    clipped = [(u, u, v) if j0 <= u[0] and j1 >= u[-1] else
               (np.maximum(u, j0), np.minimum(u, j1), v) for (u, v), (j0, j1) in zip(laws, cuts)]
    var = 0.0
    for (lo_u, hi_u, v), c in zip(clipped, c_max):
        j = np.minimum(lo_u, hi_u[-1]) if lo_u is not hi_u else lo_u   # P-label law, clipped
        var += float(c) * _sparse_var(j, v[:, 1])
    sd = math.sqrt(max(var, 1.0))
    lam = _WIN_LAM / sd
    log_tau = math.log(0.5 * tau)
    tot = max(float(counts.sum(axis=0).max()), 1.0)
    if len(steps) == 1:
        c0 = counts[0]
        cmin, cmax = (float(c0[0]),) * 2 if c0.size == 1 else (float(c0.min()), float(c0.max()))
        c_lo = int(min(cmin * steps[0].k_min, cmax * steps[0].k_min))
        c_hi = int(max(cmin * steps[0].k_max, cmax * steps[0].k_max))
    else:
        kmins = np.array([s.k_min for s in steps], float)
        kmaxs = np.array([s.k_max for s in steps], float)
        c_lo = int(np.min(counts.T @ kmins))
        c_hi = int(np.max(counts.T @ kmaxs))

    def bounds(cols, lam_sel, w):
        """Log-MGF upper bounds of the clipped laws ``cols`` (each ``(k, len(lam_sel))``)."""
        out = []
        ps, ns = lam_sel >= 0, lam_sel < 0
        for lo_u, hi_u, v in clipped:
            r = np.empty((len(cols), lam_sel.size))
            if ps.any():
                r[:, ps] = _log_mgf(hi_u, v[:, cols], lam_sel[ps], w)
            if ns.any():
                r[:, ns] = _log_mgf(lo_u, v[:, cols], lam_sel[ns], w)
            out.append(r)
        return out

    # blocks only pay off for laws with many entries (one exact pass is cheaper otherwise)
    n_max = max(max(s.upper_idx.size, s.lab_idx.size) for s in steps)
    one = len(clipped) == 1 and counts.shape[1] == 1
    # (one step: two exponential matrices, cheaper than the block passes up to ~2M entries)
    w0 = _coarse_block(steps, 256) if n_max * lam.size > (2_000_000 if one else 100_000) else 1
    if w0 == 1 and one:
        a, b = _single_step_windows(*clipped[0], float(counts[0, 0]), lam, log_tau)
    elif w0 == 1:                  # one exact pass: every law's bound from two matrix products
        a, b = _windows(bounds([0, 1, 2], lam, 1), counts, lam, log_tau)
    if w0 == 1:
        wins = []
        for ks in ((0,), (1, 2)):
            lo = max(c_lo, int(min(a[k] for k in ks)))
            hi = min(c_hi, int(max(b[k] for k in ks)))
            wins.append((lo, max(hi, lo)))
        return wins, (tilted, lam_u, lam_p)
    wins = []
    for ks in ((0,), (1, 2)):          # the upper law; the two label laws (one shared window)
        lo, hi = c_lo, c_hi
        w = w0
        sel = np.arange(lam.size)
        for _ in range(6):
            a, b = math.inf, -math.inf
            best: set = set()
            lms = bounds(list(ks), lam[sel], w)
            for i in range(len(ks)):
                wa, wb = _window([lm[i] for lm in lms], counts, lam[sel], log_tau, best)
                a, b = min(a, wa), max(b, wb)
            lo, hi = max(lo, a), min(hi, b)
            if w == 1:
                break
            w_next = max(1, int(0.005 * max(hi - lo, 0) / tot))
            if w_next >= w:
                break
            w = w_next
            # later passes only need the multipliers that were best, and their neighbours
            near = {j + d for i in best for j in (int(sel[i]),) for d in (-1, 0, 1)}
            sel = np.array(sorted(j for j in near if 0 <= j < lam.size))
        wins.append((lo, max(hi, lo)))
    return wins, (tilted, lam_u, lam_p)


def _int_power(x: np.ndarray, k: int) -> np.ndarray:
    """``x ** k`` for a non-negative integer ``k`` by repeated squaring (complex arrays)."""
    out = None
    base = x
    while True:
        if k & 1:
            if out is None:
                out = base.copy()
            else:
                np.multiply(out, base, out=out)
        k >>= 1
        if not k:
            break
        base = base * base if base is x else np.multiply(base, base, out=base)
    return np.ones_like(x) if out is None else out


def _spectrum_power(sp: Sequence[np.ndarray], c: np.ndarray) -> np.ndarray:
    """prod_i sp_i ** c_i (elementwise, arrays of one shape): repeated squaring for integer
    counts, else exp(sum c log sp)."""
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        if all(float(ci).is_integer() for ci in c):
            phi = None
            for spi, ci in zip(sp, c):
                if ci > 0:
                    term = _int_power(spi, int(ci))
                    phi = term if phi is None else phi * term
            if phi is None:
                phi = np.ones_like(sp[0])
        else:
            acc = np.zeros_like(sp[0])
            for spi, ci in zip(sp, c):
                if ci > 0:
                    acc += ci * np.log(spi)
            phi = np.exp(acc)
        phi[~np.isfinite(phi)] = 0.0
    return phi


_BATCH_FFT = 1 << 17    # laws up to this length are transformed together (one call for all)


def _folded(tilted, k: int, n: int) -> np.ndarray:
    """The stored laws ``k`` (a list of law numbers) of every step, each folded modulo ``n``:
    shape ``(len(tilted), len(k), n)``."""
    out = np.zeros((len(tilted), len(k), n))
    for i, t in enumerate(tilted):
        for r, kk in enumerate(k):
            idx, val, _ = t[kk]
            out[i, r] = np.bincount(np.mod(idx, n), weights=val, minlength=n)
    return out


def _compose_many(steps: Sequence[StepPmfs], counts: np.ndarray, tau: float,
                  wins, tilted, upper_only: bool = False) -> list[ComposedLattice]:
    """Compose lattice steps by FFT; ``counts`` has shape (n_pairs, n_points).

    The three laws (upper, P-label, Q-label) share one FFT length, long enough for both
    windows, and are transformed and raised to their powers together.  ``upper_only`` composes
    the upper law alone (the label laws are left empty: such a lattice gives an upper bound and
    no lower bound)."""
    tilted, lam_u, lam_p = tilted
    h = steps[0].h
    laws = [0] if upper_only else [0, 1, 2]
    los = [wins[0 if k == 0 else 1][0] for k in laws]
    n = sfft.next_fast_len(max(hi - lo + 1 for lo, hi in (wins[:1] if upper_only else wins)),
                           real=True)
    groups = [laws] if n <= _BATCH_FFT else [[k] for k in laws]
    spec = {}                                   # law group -> per-step spectra (len(g), n/2+1)
    for g in groups:
        sp = sfft.rfft(_folded(tilted, g, n), axis=-1)
        spec[tuple(g)] = list(sp)
    lognorm = [[t[k][2] for t in tilted] for k in range(3)]
    # (einsum rather than BLAS: a multithreaded BLAS call costs milliseconds on a busy machine)
    pnorm = math.sqrt(max(float(np.einsum("i,i->", t[k][1], t[k][1]))
                          for t in tilted for k in range(3)))
    logn = math.log2(max(n, 2))
    out = []
    for col in range(counts.shape[1]):
        c = counts[:, col]
        ttot = float(c.sum())
        res = {}
        for g, sp in spec.items():
            phi = _spectrum_power(sp, c)                           # (len(g), n/2+1)
            arr = sfft.irfft(phi, n, axis=-1)
            # floating-point allowance for the sum of entries over any set S: by Parseval,
            # |sum_S err| <= ||coefficient errors||_2, and the relative error of phi^T is at
            # most T times the per-step FFT error (eps * ||p||_2 * log n), plus the inverse FFT.
            pv = phi.view(float)
            sq = np.einsum("ij,ij->i", pv, pv)
            for r, k in enumerate(g):
                lo = los[laws.index(k)]
                shift = (-lo) % n
                a = arr[r]
                if shift:                                   # np.roll(a, shift)
                    a = np.concatenate((a[n - shift:], a[:n - shift]))
                fp = 4.0 * _EPS_MACH * (ttot * pnorm + logn) * math.sqrt(
                    2.0 * float(sq[r])) + 4.0 * _EPS_MACH * logn
                lz = float(sum(ci * lz for ci, lz in zip(c, lognorm[k]) if ci > 0))
                res[k] = (a, fp, lz)
        if upper_only:
            res[1] = res[2] = (np.zeros(0), math.inf, 0.0)
        (up, fp_u, lz_u), (lp, fp_p, lz_p), (lq, fp_q, lz_q) = res[0], res[1], res[2]
        pinf_tot = -math.expm1(sum(ci * math.log1p(-min(s.p_inf, 1.0 - 1e-300))
                                   for s, ci in zip(steps, c)))
        out.append(ComposedLattice(
            h=h, j_lo=wins[0][0], j_lo_lab=wins[1][0], upper=up, upper_extra=pinf_tot,
            lab_p=lp, slack_p=2 * tau + fp_p, lab_qt=lq, log_z=lz_q, slack_qt=tau + fp_q,
            slack_u=tau + fp_u, lam_u=lam_u, log_zu=lz_u, lam_p=lam_p, log_zp=lz_p))
    return out


# ---------------------------------------------------------------------------------------------
# From composed lattices to epsilon / delta
# ---------------------------------------------------------------------------------------------
def _suffix(x: np.ndarray) -> np.ndarray:
    """s[k] = sum_{j > k} x[j]."""
    c = np.cumsum(x[::-1])[::-1]
    return np.concatenate([c[1:], [0.0]])


def _suffix_decay(x: np.ndarray, h: float) -> np.ndarray:
    """e[k] = sum_{j > k} x[j] exp(-(j - k) h), computed by a stable first-order filter."""
    if h == 0:
        return _suffix(x)
    r = math.exp(-h)
    # y[i] = x_rev[i] + r y[i-1]  on the reversed sequence gives sum_{j >= k} x_j r^{j-k}
    y = lfilter([1.0], [1.0, -r], x[::-1])[::-1]
    return np.concatenate([y[1:], [0.0]]) * r


def _log_pos(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)


#: tests and thresholds are evaluated where the suffix mass is at most this multiple of δ
_SUFFIX_FROM = 1e4
_BLOCK = 64


def _tail_start(x: np.ndarray, level: float, log_a: float = 0.0, slope: float = 0.0) -> int:
    """An index at or before the first ``k`` where ``exp(log_a - slope k)`` times the mass of
    ``x`` above ``k`` is at most ``level`` (0 where there is none, or the array is short): where
    a δ-sized tail begins.  From sums over blocks of ``_BLOCK`` entries, one pass over ``x``;
    only a starting point (the callers fall back to the whole array where it is too late)."""
    nb = x.size // _BLOCK
    if nb < 4:
        return 0
    s = x[:nb * _BLOCK].reshape(nb, _BLOCK).sum(axis=1)
    mass = np.cumsum(s[::-1])[::-1] + float(x[nb * _BLOCK:].sum())   # mass from each block on
    if log_a != 0.0 or slope != 0.0:
        with np.errstate(over="ignore"):
            mass = mass * np.exp(np.minimum(log_a - slope * (np.arange(nb) * _BLOCK), 700.0))
    below = np.flatnonzero(mass <= level)
    return max((int(below[0]) - 1) * _BLOCK - 1, 0) if below.size else 0


def _eps_upper(c: ComposedLattice, delta: float) -> float:
    p = c.upper
    extra = c.upper_extra
    if extra >= delta:
        return math.inf
    h, lam = c.h, c.lam_u
    untilted = lam == 0.0 and c.log_zu == 0.0      # the stored law is the law itself
    # the answer lies where little mass is left above: the suffix sums of that tail only (each
    # involves the entries above its index alone, so they are the same numbers), unless the
    # answer turns out to lie below it
    k0 = _tail_start(p, _SUFFIX_FROM * delta, c.log_zu - lam * c.j_lo * h, lam * h)
    while True:
        q = p[k0:] if k0 else p
        A = _suffix_decay(q, lam * h)           # stored mass above L_k, weighted e^{-lam (L_j - L_k)}
        E = _suffix_decay(q, (lam + 1.0) * h)
        if untilted:
            D = (A - E + c.slack_u) + extra
        else:
            L = (c.j_lo + k0 + np.arange(q.size)) * h
            logs = c.log_zu - lam * L           # log of the tilt factor at L_k
            with np.errstate(over="ignore", invalid="ignore"):
                D = np.exp(np.minimum(logs + _log_pos(A - E + c.slack_u), 700.0)) + extra
        if k0 == 0 or D[0] > delta:
            break
        k0 = 0
    ok = np.flatnonzero(D <= delta)
    if ok.size == 0:
        return math.inf
    k = k0 + int(ok[0])
    L0 = c.j_lo * h
    if k == 0:
        if lam != 0.0:
            return max(0.0, float(L0))         # the law below the window is not stored
        tot = p.sum()
        B = float(np.sum(p * np.exp(-np.arange(p.size) * h))) if tot > 0 else 0.0
        num = tot + c.slack_u + extra - delta
        if num <= 0 or B <= 0:
            return max(0.0, float(L0))
        return max(0.0, float(L0 + math.log(num / B)))
    # on [L_{k-1}, L_k]: delta_up(e) = s (A - e^{e - L_{k-1}} E + slack) + extra, s = e^{logs}
    L_prev, L_k = (c.j_lo + k - 1) * h, (c.j_lo + k) * h
    s_log = c.log_zu - lam * L_prev
    num = A[k - 1 - k0] + c.slack_u + (extra - delta) * math.exp(min(-s_log, 700.0))
    den = E[k - 1 - k0]
    if num <= 0 or den <= 0:
        return max(0.0, float(L_prev))
    eps = float(L_prev + math.log(num / den))
    return max(0.0, min(eps, float(L_k)))


def _label_tests(c: ComposedLattice, k0: int = 0):
    """log P(S_t) lower bound and log Q(S_t) upper bound (up to e^{L_t}) for S_t = {sum L > t},
    for the tests ``t >= j_lo_lab + k0``."""
    h, lam = c.h, c.lam_p
    lp, lq = (c.lab_p[k0:], c.lab_qt[k0:]) if k0 else (c.lab_p, c.lab_qt)
    L = (c.j_lo_lab + k0 + np.arange(lp.size)) * h
    sp = _suffix_decay(lp, lam * h) - c.slack_p
    log_p = c.log_zp - lam * L + _log_pos(sp)                        # log of a lower bound on P(S_t)
    R = _suffix_decay(lq, (1.0 + lam) * h) + c.slack_qt
    log_q = c.log_z - (1.0 + lam) * L + np.log(R)                     # log of an upper bound on Q(S_t)
    return L, log_p, log_q


def _eps_lower(c: ComposedLattice, delta: float) -> float:
    """The best label test's ε.  The best test leaves a δ-sized tail: the tests from where at
    most ``_SUFFIX_FROM`` δ of P-mass is left are tried first (any test is a valid lower bound),
    and all of them where the best one lies at that edge."""
    h = c.h
    untilted = c.lam_p == 0.0 and c.log_zp == 0.0
    k0 = _tail_start(c.lab_p, _SUFFIX_FROM * delta, c.log_zp - c.lam_p * c.j_lo_lab * h,
                     c.lam_p * h)
    while True:
        if untilted:
            # only the tests with P(S_t) > delta are evaluated
            lp = c.lab_p[k0:] if k0 else c.lab_p
            P = _suffix(lp) - c.slack_p                                 # lower bound on P(S_t)
            good = np.flatnonzero(P > delta)
            if good.size:
                R = _suffix_decay(c.lab_qt[k0:] if k0 else c.lab_qt, h)[good] + c.slack_qt
                L = (c.j_lo_lab + k0 + good) * h
                with np.errstate(divide="ignore"):
                    # log(P - delta) - log Q(S_t), with log Q(S_t) <= log_z - L + log R
                    val = np.log(P[good] - delta) - np.log(R) + (L - c.log_z)
                i = int(np.argmax(val))
                first = good[i] == 0
        else:
            _, log_p, log_q = _label_tests(c, k0)
            with np.errstate(over="ignore", invalid="ignore"):
                # P(S) - delta > 0 in log space: log(P - delta) = log P + log1p(-delta / P)
                r = np.exp(np.minimum(math.log(delta) - log_p, 0.0))
                ok = np.isfinite(log_p) & (log_p > math.log(delta)) & (r < 1.0)
                good = np.flatnonzero(ok)
                if good.size:
                    val = log_p[good] + np.log1p(-r[good]) - log_q[good]
                    i = int(np.argmax(val))
                    first = good[i] == 0
        if k0 == 0 or (good.size and not first):
            break
        k0 = 0
    if good.size == 0:
        return 0.0
    return max(0.0, float(val[i]))


def _delta_upper(c: ComposedLattice, eps: float) -> float:
    L = (c.j_lo + np.arange(c.upper.size)) * c.h
    m = L > eps
    if not np.any(m):
        return min(1.0, max(0.0, c.upper_extra + math.exp(min(c.log_zu - c.lam_u * eps
                                                               + math.log(c.slack_u), 700.0))))
    with np.errstate(over="ignore", divide="ignore"):
        lw = c.log_zu - c.lam_u * L[m]
        val = float(np.sum(c.upper[m] * np.exp(np.minimum(lw, 700.0)) * -np.expm1(eps - L[m])))
        val += math.exp(min(float(lw[0]) + math.log(c.slack_u), 700.0))
    return min(1.0, max(0.0, val + c.upper_extra))


def _delta_lower(c: ComposedLattice, eps: float) -> float:
    _, log_p, log_q = _label_tests(c)
    with np.errstate(over="ignore"):
        val = np.exp(np.minimum(log_p, 700.0)) - np.exp(np.minimum(eps + log_q, 700.0))
    return min(1.0, max(0.0, float(np.max(val))))


# ---------------------------------------------------------------------------------------------
# Public engine entry points
# ---------------------------------------------------------------------------------------------
def _initial_h(components: Sequence[tuple[DominatingPair, float]], eta: float) -> float:
    """``h = 2 sqrt(eta v)`` with ``v`` the mean per-step loss variance.

    The relative gap is then about ``0.55 eta`` over random grids of the subsampled Gaussian,
    up to about ``eta`` where the composed loss is far from zero in units of its standard
    deviation (large ε); there ``eta`` is taken 0.6 times smaller so that one pass suffices.
    """
    tot_c = sum(c for _, c in components)
    mom = [(c, p.loss_moments()) for p, c in components]
    tot_m = sum(c * m for c, (m, _) in mom)
    tot_v = sum(c * v for c, (_, v) in mom)
    if tot_m > 2.0 * math.sqrt(max(tot_v, 0.0)):
        eta *= 0.6
    return max(2.0 * math.sqrt(eta * tot_v / max(tot_c, 1.0)), 1e-9)


_TILT_BELOW = 1e-7      # tilt the composed laws when the tail that decides the answer is this small
_LAM_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 400.0, 60)])


def _composed_log_mgf(steps, counts, which: str, sel: np.ndarray | None = None) -> np.ndarray:
    """log E[exp(lam L)] of the composed law (``which``: "upper" or "lab_p") on ``_LAM_GRID``
    (or on ``_LAM_GRID[sel]``)."""
    grid = _LAM_GRID if sel is None else _LAM_GRID[sel]
    tot = np.zeros(grid.size)
    for s, c in zip(steps, counts[:, 0]):
        idx, val = (s.upper_idx, s.upper) if which == "upper" else (s.lab_idx, s.lab_p)
        tot += c * _log_mgf(idx, val, grid * s.h)
    return tot


def _full_grid_log_mgf(steps, counts) -> dict[str, np.ndarray] | None:
    """Both composed log-MGFs ("upper", "lab_p") on the whole ``_LAM_GRID`` from one
    exponential matrix per step, where the supports are small enough for that to be cheaper
    than the located search of :func:`_refined_argmin` (``None`` otherwise)."""
    if max(s.upper_idx.size + s.lab_idx.size for s in steps) * _LAM_GRID.size > 400_000:
        return None
    tot = np.zeros((2, _LAM_GRID.size))
    for s, c in zip(steps, counts[:, 0]):
        u, v = _common_support([(s.upper_idx, s.upper, 0.0), (s.lab_idx, s.lab_p, 0.0),
                                (s.lab_idx, s.lab_p, 0.0)])
        tot += c * _log_mgf(u, v[:, :2], _LAM_GRID * s.h)
    return {"upper": tot[0], "lab_p": tot[1]}


def _refined_argmin(steps, counts, which: str, objective, full=None):
    """Grid index minimising ``objective(lam, log_mgf)`` over ``_LAM_GRID``: located on every
    fourth multiplier, then decided among its neighbours (or directly, from ``full``, the
    log-MGFs on the whole grid).  Returns (index, value there)."""
    if full is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            val = objective(_LAM_GRID, full[which])
        j = int(np.nanargmin(val))
        return j, float(val[j])
    sel0 = np.unique(np.concatenate([np.arange(0, _LAM_GRID.size, 4), [_LAM_GRID.size - 1]]))
    lm = _composed_log_mgf(steps, counts, which, sel=sel0)
    with np.errstate(invalid="ignore", divide="ignore"):
        i0 = int(sel0[int(np.nanargmin(objective(_LAM_GRID[sel0], lm)))])
    sel = np.arange(max(0, i0 - 3), min(_LAM_GRID.size, i0 + 4))
    lm_f = _composed_log_mgf(steps, counts, which, sel=sel)
    with np.errstate(invalid="ignore", divide="ignore"):
        val = objective(_LAM_GRID[sel], lm_f)
    j = int(np.nanargmin(val))
    return int(sel[j]), float(val[j])


def _choose_tilt(steps, counts, delta, epsilon, upper_only: bool = False
                 ) -> tuple[float, float]:
    """Tilts (lam_u, lam_p) that centre the composed laws on the loss deciding the answer.

    Only a choice of representation: every bound stays certified whatever the tilt (the FFT
    error is charged through the tilt factor).  Untilted (0, 0) unless the relevant tail is
    below ``_TILT_BELOW``, and always for curves (one tilt cannot suit every point).  The tilt is
    the smallest multiplier on ``_LAM_GRID`` that brings the charged FFT allowance below
    ``1e-5`` of the answer's scale (at most the Chernoff-optimal multiplier): tilting further
    gains no precision and spreads heavy-tailed laws (tiny q with small noise) over windows
    several times longer.
    """
    if counts.shape[1] != 1 or (delta is not None and delta >= _TILT_BELOW):
        return 0.0, 0.0
    full = _full_grid_log_mgf(steps, counts)
    if delta is not None:
        log_d = math.log(delta)

        def obj_e(lam, lm):
            return np.where(lam > 0, (lm - log_d) / np.where(lam > 0, lam, 1.0), np.inf)

        # the multiplier attaining e_g also minimises lm - lam e_g (both are stationary where
        # lm'(lam) = e_g), so it is the tilt
        i_u, e_g = _refined_argmin(steps, counts, "upper", obj_e, full)
        if not math.isfinite(e_g):
            return 0.0, 0.0
    else:
        e_g = float(epsilon)
        i_u, v_u = _refined_argmin(steps, counts, "upper", lambda lam, lm: lm - lam * e_g,
                                   full)
        if v_u >= math.log(_TILT_BELOW):
            return 0.0, 0.0
    log_target = math.log(delta) if delta is not None else v_u
    # the smallest tilt that keeps the FFT allowance below 1e-5 of the answer's scale: the
    # allowance of the stored law is at most fp (every n <= 2^22, total mass <= 1), and the tilt
    # charges it times e^{T log M(lam) - lam e} at the answer; a larger tilt than needed only
    # spreads a heavy-tailed law (tiny q, small z) over a far longer window
    t_tot = float(counts[:, 0].sum())
    fp = 4.0 * _EPS_MACH * (t_tot + 64.0) * math.sqrt(2.0 * (1 << 22))
    level = log_target + math.log(_TILT_LEVEL) - math.log(fp)
    lam_u = float(_LAM_GRID[_smallest_tilt(steps, counts, "upper", e_g, level, i_u, full)])
    if upper_only:
        return lam_u, lam_u
    # labels are the loss rounded down: their sum sits below the loss by about T h / 2, so the
    # label test that decides the answer is centred that much lower
    bias = sum(float(c) * s.h * (_sparse_mean(s.upper_idx, s.upper)
                                 - _sparse_mean(s.lab_idx, s.lab_p))
               for s, c in zip(steps, counts[:, 0]))
    e_p = e_g - bias
    i_p, _ = _refined_argmin(steps, counts, "lab_p", lambda lam, lm: lm - lam * e_p, full)
    lam_p = float(_LAM_GRID[_smallest_tilt(steps, counts, "lab_p", e_p, level, i_p, full)])
    return lam_u, lam_p


def _smallest_tilt(steps, counts, which: str, e: float, level: float, i_best: int,
                   full) -> int:
    """The smallest grid index ``j <= i_best`` with ``log M(lam_j) - lam_j e <= level`` (the
    composed Chernoff exponent at ``e``; it decreases up to ``i_best``, its minimiser), or
    ``i_best`` where none is smaller."""
    if i_best == 0:
        return 0
    if full is not None:
        val = full[which][:i_best + 1] - _LAM_GRID[:i_best + 1] * e
        ok = np.flatnonzero(val <= level)
        return int(ok[0]) if ok.size else i_best
    coarse = np.unique(np.concatenate([np.arange(0, i_best, 4), [i_best]]))
    val = _composed_log_mgf(steps, counts, which, sel=coarse) - _LAM_GRID[coarse] * e
    ok = np.flatnonzero(val <= level)
    if ok.size == 0:
        return i_best
    j = int(ok[0])
    if j == 0:
        return int(coarse[0])
    fine = np.arange(int(coarse[j - 1]) + 1, int(coarse[j]))
    if fine.size:
        vf = _composed_log_mgf(steps, counts, which, sel=fine) - _LAM_GRID[fine] * e
        okf = np.flatnonzero(vf <= level)
        if okf.size:
            return int(fine[okf[0]])
    return int(coarse[j])


def _untilted_allowance(steps, counts, wins, tilted) -> float:
    """An upper bound on the floating-point allowance :func:`_compose_many` will charge an
    untilted composition planned as ``wins`` (one curve point).

    The allowance of a law is ``4 eps (T ||p||_2 + log2 n) sqrt(2 S) + 4 eps log2 n``, ``S``
    the squared norm of the composed spectrum over the ``n/2 + 1`` bins of a real FFT.  By
    Parseval ``2 S <= n ||a||_2^2 + 2`` for a composed law ``a`` of total mass at most one, and
    ``||a||_2`` is at most the norm of any one step's law folded modulo ``n`` (a convolution
    with a law of mass at most one does not increase the norm), which is that law's own norm
    when its support is shorter than ``n`` (else at most one).  Used only to decide whether a
    tilt is needed: the allowance charged is always the one computed from the spectrum.
    """
    tilted, _, _ = tilted
    n = sfft.next_fast_len(max(hi - lo + 1 for lo, hi in wins), real=True)
    c = counts[:, 0]
    norms = [[float(np.einsum("i,i->", t[k][1], t[k][1])) for k in range(3)] for t in tilted]
    pn2 = max(max(v) for v in norms)
    r2 = max(min(norms[i][k] if s.k_max - s.k_min < n else 1.0
                 for i, s in enumerate(steps) if c[i] > 0) for k in range(3))
    logn = math.log2(max(n, 2))
    return (4.0 * _EPS_MACH * (float(c.sum()) * math.sqrt(pn2) + logn)
            * math.sqrt(n * r2 + 2.0) + 4.0 * _EPS_MACH * logn)


_TILT_LEVEL = 1e-5      # a tilt keeps the FFT allowance below this fraction of δ
#: untilted laws are tried at small δ where their allowance is below this fraction of δ (a pass
#: whose gap then exceeds rtol is redone tilted, at the same lattice step)
_UNTILTED_LEVEL = 1e-3


def _prepare_dirs(directions, tau: float, h: float, delta=None, epsilon=None,
                  upper_only: bool = False, tilt: bool = False):
    """Discretise, tilt and plan each direction; ``upper_only`` prepares the upper law alone
    (for :func:`_compose_many` with ``upper_only=True``).  Below ``_TILT_BELOW`` the laws stay
    untilted where their floating-point allowance is small at δ, unless ``tilt``; returns
    ``(prepared, nmax, untilted)``, ``untilted`` telling whether that shortcut was taken."""
    prepared, nmax, untilted = {}, 0, False
    for name, comps in directions.items():
        counts = (np.asarray(comps[0][1], float).reshape(1, -1) if len(comps) == 1 else
                  np.stack([np.atleast_1d(np.asarray(c, float)) for _, c in comps], axis=0))
        tot = float(counts.sum(axis=0).max())
        steps = [discretize(p, h, tau / (10.0 * max(tot, 1.0)), labels=not upper_only)
                 for p, _ in comps]
        plan = None
        if not tilt and delta is not None and delta < _TILT_BELOW and counts.shape[1] == 1:
            # untilted laws where their floating-point allowance is already small at δ (the
            # common case unless δ is tiny and the steps many): no tilt to search for, and
            # the add/remove mirror shortcut stays available
            plan = _plan(steps, counts, tau)
            lam_u = lam_p = 0.0
            if _untilted_allowance(steps, counts, *plan) > _UNTILTED_LEVEL * delta:
                lam_u, lam_p = _choose_tilt(steps, counts, delta, epsilon, upper_only)
                if lam_u != 0.0 or lam_p != 0.0:
                    plan = None
            untilted = untilted or plan is not None
        else:
            lam_u, lam_p = _choose_tilt(steps, counts, delta, epsilon, upper_only)
        wins, tilted = plan if plan is not None else _plan(steps, counts, tau, lam_u, lam_p)
        prepared[name] = (steps, counts, wins, tilted)
        nmax = max(nmax, *(hi - lo + 1 for lo, hi in wins))
    return prepared, nmax, untilted


_SOFT_FFT = 1 << 21     # first attempt: at most 2M lattice points per composed law


def compose_pairs(directions: dict[str, list[tuple[DominatingPair, float]]], *,
                  delta: float | None = None, epsilon: float | None = None,
                  rtol: float = 0.002, eta: float | None = None, max_refine: int = 10,
                  counts_curve: np.ndarray | None = None) -> list[TwoSided]:
    """Certified two-sided ε (given δ) or δ (given ε) of a composition.

    Parameters
    ----------
    directions
        ``{direction name: [(pair, count), ...]}``.  The answer is the worst direction (for
        add/remove, the neighbouring pair is fixed for the whole run).
    delta, epsilon
        Exactly one of them.
    rtol
        Target relative gap ``(upper - lower) / upper``; the lattice is refined until reached
        (at most ``max_refine`` halvings, within memory and time caps).
    eta
        Initial lattice step ``h = 2 sqrt(eta * mean per-step loss variance)``; by default
        ``1.5 min(rtol, 0.002)`` (the relative gap is then about ``0.55 eta``: one pass usually
        suffices).
    counts_curve
        Optional array of multipliers: the composition of each component's ``count * m`` for
        every ``m`` (an ε-vs-steps curve sharing one discretisation).

    Returns
    -------
    list of TwoSided
        One per curve point (a single one without ``counts_curve``).
    """
    if (delta is None) == (epsilon is None):
        raise ValueError("give exactly one of delta and epsilon")
    mult = np.atleast_1d(np.asarray(1.0 if counts_curve is None else counts_curve, float))
    target = delta if delta is not None else 1e-10
    tau = max(min(1e-4 * target, 1e-12), 1e-300) if delta is not None else 1e-15
    if eta is None:
        # a coarser rtol keeps the default lattice (results then agree with the default's when
        # its first pass suffices, which the Opacus and per-client wrappers rely on)
        eta = max(1.5 * min(rtol, 0.002), 3e-5)
    comps_all = [pc for comps in directions.values() for pc in comps]
    h = _initial_h([(p, c * float(mult.max())) for p, c in comps_all], eta)
    curve_dirs = {name: [(p, c * mult) for p, c in comps] for name, comps in directions.items()}
    best: list[TwoSided] | None = None
    notes: list[str] = []
    cap = _SOFT_FFT
    refinements = 0
    prev_gap = None
    h_fine = h
    trial = _wide(comps_all, h, tau)
    if trial:
        # wide, sparse per-step laws (tiny sampling rates with few steps, small noise): the
        # cost is in the adaptive cells, and the gap is often far below rtol at the default
        # step; a pass at 4 h with a quarter of the cells usually suffices, and otherwise
        # predicts the step
        h = 4.0 * h
    mirror = _mirror_names(directions) if mult.size == 1 else None
    tilt = False            # set once untilted laws at small δ missed rtol: tilt them instead
    for _ in range(60):
        known: dict[str, float] = {}        # upper bounds already evaluated in this pass
        tok = _CELL_BUDGET.set(_MAX_CELLS // 4 if trial else _MAX_CELLS)
        try:
            # with a mirrored pair of directions, the mirrored one is composed only where the
            # first one's composition cannot certify it (_mirror_covered)
            first = curve_dirs if mirror is None else {mirror[0]: curve_dirs[mirror[0]]}
            prepared, nmax, untilted = _prepare_dirs(first, tau, h, delta, epsilon, tilt=tilt)
            lat = ({name: _compose_many(*v[:2], tau, *v[2:]) for name, v in prepared.items()}
                   if nmax <= cap else {})
            if mirror is not None and lat:
                c0 = lat[mirror[0]][0]
                up0 = _eps_upper(c0, delta) if delta is not None else _delta_upper(c0, epsilon)
                known[mirror[0]] = up0
                if not _mirror_covered(c0, up0, delta, epsilon):
                    # the mirrored direction's upper law first: its lower bound is not needed
                    # unless it is the worse direction (the first one's lower bound is a lower
                    # bound of the worse one)
                    m1 = {mirror[1]: curve_dirs[mirror[1]]}
                    more, n2, u2 = _prepare_dirs(m1, tau, h, delta, epsilon, upper_only=True,
                                                 tilt=tilt)
                    untilted = untilted or u2
                    nmax = max(nmax, n2)
                    if nmax <= cap:
                        v = more[mirror[1]]
                        c1 = _compose_many(*v[:2], tau, *v[2:], upper_only=True)
                        up1 = (_eps_upper(c1[0], delta) if delta is not None
                               else _delta_upper(c1[0], epsilon))
                        if up1 > up0:      # the worse direction: composed with its labels
                            more, n2, u2 = _prepare_dirs(m1, tau, h, delta, epsilon,
                                                         tilt=tilt)
                            untilted = untilted or u2
                            nmax = max(nmax, n2)
                            v = more[mirror[1]]
                            c1 = (_compose_many(*v[:2], tau, *v[2:]) if nmax <= cap
                                  else c1)
                        known[mirror[1]] = up1
                        lat[mirror[1]] = c1
        finally:
            _CELL_BUDGET.reset(tok)
        if nmax > cap:
            if best is not None:
                notes.append(f"lattice refinement stopped at the memory cap ({cap} points)")
                break
            h *= max(2.0, 1.05 * nmax / cap)
            trial = False
            continue
        res = []
        for i in range(mult.size):
            ups, los = [], []
            for name in lat:
                c = lat[name][i]
                with_lower = c.lab_p.size > 0       # an upper-only lattice (mirrored direction)
                if delta is not None:
                    ups.append(known[name] if name in known else _eps_upper(c, delta))
                    los.append(_eps_lower(c, delta) if with_lower else 0.0)
                else:
                    ups.append(known[name] if name in known else _delta_upper(c, epsilon))
                    los.append(_delta_lower(c, epsilon) if with_lower else 0.0)
            up, lo = max(ups), max(los)
            res.append(TwoSided(upper=up, lower=min(lo, up), h=h))
        best = res
        if max(_gap(r) for r in res) <= rtol:
            break
        worst = max(_gap(r) for r in res)
        if untilted:
            # the untilted laws' floating-point allowance may be what widens the gap: the
            # same lattice step again, tilted (as before this shortcut existed)
            tilt = True
            continue
        if trial:
            # the gap shrinks about quadratically with h (checked on random grids): predict
            # the step for 70 % of rtol, never coarser than half the trial step
            trial = False
            f = math.sqrt(0.7 * rtol / worst) if math.isfinite(worst) and worst > 0 else 0.0
            h = min(0.5 * h, max(f * h, 0.5 * h_fine))
            continue
        if refinements >= max_refine:
            notes.append(f"lattice refinement stopped after {max_refine} refinements")
            break
        # the gap shrinks about quadratically with h: aim just below rtol (at least a halving)
        if prev_gap is not None and not worst < 0.7 * prev_gap:
            notes.append("lattice refinement stopped: a finer lattice no longer narrows the gap")
            break
        prev_gap = worst
        want = min(max(2.0, math.sqrt(1.5 * worst / rtol)), 8.0) if math.isfinite(worst) else 2.0
        h /= 2.0 ** math.ceil(math.log2(want) - 1e-9)     # a power of two: reproducible lattices
        cap = _MAX_FFT
        refinements += 1
    if best is None:
        raise RuntimeError("PLD discretisation failed to fit in memory")  # pragma: no cover
    for r in best:
        r.notes = list(notes)
    return best


def _mirror_names(directions) -> tuple[str, str] | None:
    """``(first, second)`` where the second direction is the mirror ``(Q, P)`` of the first
    direction's single pair ``(P, Q)`` with the same count (add/remove of the subsampled
    Gaussian), else ``None``."""
    if len(directions) != 2:
        return None
    (n1, c1), (n2, c2) = directions.items()
    if len(c1) != 1 or len(c2) != 1:
        return None
    (p1, k1), (p2, k2) = c1[0], c2[0]
    if getattr(p2, "_mirror", None) is not p1 or not np.array_equal(np.asarray(k1),
                                                                     np.asarray(k2)):
        return None
    return n1, n2


def _mirror_covered(c: ComposedLattice, up0: float, delta, epsilon) -> bool:
    """Whether the mirrored direction is certified not to exceed the first one.

    For any two probability laws, :math:`H_\\gamma(Q\\|P) = 1 - \\gamma + \\gamma
    H_{1/\\gamma}(P\\|Q)` (split :math:`\\int (q - \\gamma p)_+` on the sign of
    :math:`q - \\gamma p`), and so for their ``T``-fold products.  Hence the mirrored
    direction's :math:`\\delta(\\varepsilon)` is at most :math:`1 - e^{\\varepsilon} +
    e^{\\varepsilon}\\,\\bar\\delta(-\\varepsilon)`, with :math:`\\bar\\delta` the first
    direction's certified upper bound (the connect-the-dots bound holds at every
    :math:`\\varepsilon`, negative included).  Given δ, the mirrored ε is then at most ``up0``
    where this is at most δ at ``up0``; given ε, its δ is at most ``up0`` where this is.  The
    sum over the window is charged a rounding allowance of ``2 eps n``.  Only untilted laws
    (the left tail matters here) and moderate ε are tried; ``False`` means "compose it".
    """
    if c.lam_u != 0.0 or c.log_zu != 0.0:
        return False
    e = up0 if delta is not None else float(epsilon)
    if not math.isfinite(e) or e > 30.0:
        return False
    if delta is not None and up0 <= 0.0:
        e = 0.0
    x = _delta_upper(c, -e)
    allow = 2.0 * _EPS_MACH * (c.upper.size + 8)
    bound = math.exp(e) * (x + allow + math.expm1(-e)) * (1.0 + 1e-12)
    target = delta if delta is not None else up0
    return bool(bound <= target)


def _wide(comps, h: float, tau: float) -> bool:
    """Whether some step's loss range needs more than the adaptive cells' budget at ``h``."""
    for p, _ in comps:
        span = p.loss_span(tau)
        if span is not None and span / h > _MAX_CELLS:
            return True
    return False


def _gap(r: TwoSided) -> float:
    if math.isinf(r.upper):
        return math.inf
    if r.upper <= 0:
        return 0.0
    return (r.upper - r.lower) / r.upper


def epsilon_curve_pairs(directions, multipliers, delta, rtol=0.002):
    """ε upper/lower for the composition scaled by each multiplier (shared discretisation)."""
    return compose_pairs(directions, delta=delta, rtol=rtol, counts_curve=np.asarray(multipliers))
