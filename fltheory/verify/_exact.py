"""Exact privacy profiles of tiny instances, with rigorous two-sided numerical error.

A *law* is the distribution of the privacy loss :math:`L = \\log(dP/dQ)` under :math:`P` of one
release, known up to a certified bracket: atoms with loss in ``[lo, hi]`` and exact mass, plus
``inf`` (mass with :math:`L = +\\infty`, i.e. :math:`q = 0`) and ``tail`` (mass not resolved,
charged as :math:`+\\infty` to the upper bound and as 0 to the lower bound).  Because

.. math::

    \\delta(\\varepsilon) = H_{e^\\varepsilon}(P\\|Q) =
    \\mathbb E_P\\big[(1 - e^{\\varepsilon - L})_+\\big]

is non-decreasing in every loss value, and the loss of a composition is the sum of independent
per-release losses under :math:`P^{\\otimes T}`, rounding every loss up (down) to a grid of width
``h`` and convolving gives a certified upper (lower) bound on the exact :math:`\\delta(\\varepsilon)`
of the composition.  Nothing here is an asymptotic approximation: the only errors are the
bracket widths (Lipschitz bound of the loss on each quadrature cell, grid rounding) and float
round-off.

Pure NumPy/SciPy (theory layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal, special

__all__ = ["Law", "finite_law", "gaussian_mixture_law", "gaussian_mixture_law_2d", "Profile",
           "compose", "directions"]


@dataclass
class Law:
    """Loss law under P with bracketed atoms: ``mass[i]`` has loss in ``[lo[i], hi[i]]``."""

    lo: np.ndarray
    hi: np.ndarray
    mass: np.ndarray
    inf: float = 0.0      # exact +inf loss (q = 0 where p > 0)
    tail: float = 0.0     # unresolved mass: +inf for the upper bound, dropped for the lower

    def delta(self, eps: float) -> tuple[float, float]:
        """Certified (lower, upper) bounds on δ(ε) of this single release."""
        up = float(np.sum(self.mass * -np.expm1(np.minimum(eps - self.hi, 0.0)))) \
            + self.inf + self.tail
        lo = float(np.sum(self.mass * -np.expm1(np.minimum(eps - self.lo, 0.0)))) + self.inf
        return max(lo, 0.0), min(up, 1.0)


def finite_law(p, q, *, p_out: float = 0.0) -> Law:
    """Exact law of a finite pair (``p``, ``q`` pmfs on the same outputs; ``p_out`` untracked)."""
    p = np.asarray(p, float)
    q = np.asarray(q, float)
    both = (p > 0) & (q > 0)
    with np.errstate(divide="ignore"):
        loss = np.log(p[both]) - np.log(q[both])
    inf = float(p[(p > 0) & (q <= 0)].sum())
    return Law(loss, loss.copy(), p[both], inf=inf, tail=float(p_out))


def _log_mix(x: np.ndarray, means, weights, sigma: float) -> np.ndarray:
    t = [math.log(w) - (x - m) ** 2 / (2.0 * sigma * sigma)
         for m, w in zip(means, weights) if w > 0]
    return np.logaddexp.reduce(np.stack(t), axis=0)


def gaussian_mixture_law(p_means, p_weights, q_means, q_weights, sigma: float, *,
                         cells: int = 20_000, width: float = 13.0) -> Law:
    """Law of a pair of 1-D Gaussian mixtures with common ``sigma`` (quadrature, certified).

    Every component mean gets a window ``[mean - width sigma, mean + width sigma]`` cut into
    ``cells`` equal cells (overlapping windows are merged); each cell's P-mass is exact (normal
    CDF differences), and its loss lies within :math:`K w/2` of the loss at the midpoint,
    :math:`K = (\\max\\mu - \\min\\mu)/\\sigma^2` being a Lipschitz constant of the loss of
    any two such mixtures (the score of each mixture is a posterior mean of
    :math:`(\\mu - x)/\\sigma^2`).  The P-mass outside the windows (below
    :math:`\\Phi(-13)` per component) is charged as ``tail``.
    """
    pm, pw = np.asarray(p_means, float), np.asarray(p_weights, float)
    qm, qw = np.asarray(q_means, float), np.asarray(q_weights, float)
    allm = np.concatenate([pm, qm])
    k = (float(allm.max()) - float(allm.min())) / (sigma * sigma)
    ivs = sorted((m - width * sigma, m + width * sigma) for m in np.unique(allm))
    merged = [list(ivs[0])]
    for lo_, hi_ in ivs[1:]:
        if lo_ <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi_)
        else:
            merged.append([lo_, hi_])
    los, his, masses = [], [], []
    inside = 0.0
    for a, b in merged:
        n = int(math.ceil(cells * (b - a) / (2 * width * sigma)))
        edges = np.linspace(a, b, n + 1)
        w = edges[1] - edges[0]
        mid = 0.5 * (edges[1:] + edges[:-1])
        mass = np.zeros(n)
        for m, wt in zip(pm, pw):
            if wt > 0:
                mass += wt * np.diff(special.ndtr((edges - m) / sigma))
        inside += float(mass.sum())
        loss = _log_mix(mid, pm, pw, sigma) - _log_mix(mid, qm, qw, sigma)
        slack = k * w / 2.0 + 1e-12 * (1.0 + np.abs(loss))
        los.append(loss - slack)
        his.append(loss + slack)
        masses.append(np.maximum(mass, 0.0))
    tail = 0.0
    bounds = [(-np.inf, merged[0][0])] + [(merged[i][1], merged[i + 1][0])
                                          for i in range(len(merged) - 1)] + \
        [(merged[-1][1], np.inf)]
    for lo_, hi_ in bounds:
        for m, wt in zip(pm, pw):
            if wt > 0:
                tail += wt * (special.ndtr((hi_ - m) / sigma) - special.ndtr((lo_ - m) / sigma))
    return Law(np.concatenate(los), np.concatenate(his), np.concatenate(masses),
               tail=float(tail) * (1 + 1e-9) + 1e-300)


def gaussian_mixture_law_2d(p_means, p_weights, q_means, q_weights, sigma: float, *,
                            cells: int = 1500, width: float = 9.0) -> Law:
    """Law of a pair of Gaussian mixtures in R^2 (isotropic ``sigma``), on a box grid.

    Per coordinate the Lipschitz constant is the range of the component means in that
    coordinate over :math:`\\sigma^2`; the loss on a cell is within the sum of both halves.
    Mass outside the box is charged as ``tail``.
    """
    pm, pw = np.asarray(p_means, float), np.asarray(p_weights, float)
    qm, qw = np.asarray(q_means, float), np.asarray(q_weights, float)
    allm = np.concatenate([pm, qm])
    lo = allm.min(axis=0) - width * sigma
    hi = allm.max(axis=0) + width * sigma
    ex = np.linspace(lo[0], hi[0], cells + 1)
    ey = np.linspace(lo[1], hi[1], cells + 1)
    wx, wy = ex[1] - ex[0], ey[1] - ey[0]
    mx, my = 0.5 * (ex[1:] + ex[:-1]), 0.5 * (ey[1:] + ey[:-1])
    mass = np.zeros((cells, cells))
    inside = 0.0
    for m, wt in zip(pm, pw):
        if wt <= 0:
            continue
        px = np.diff(special.ndtr((ex - m[0]) / sigma))
        py = np.diff(special.ndtr((ey - m[1]) / sigma))
        mass += wt * np.outer(px, py)
        inside += wt * px.sum() * py.sum()
    X, Y = np.meshgrid(mx, my, indexing="ij")

    def logmix(means, ws):
        t = [math.log(wt) - ((X - m[0]) ** 2 + (Y - m[1]) ** 2) / (2 * sigma * sigma)
             for m, wt in zip(means, ws) if wt > 0]
        return np.logaddexp.reduce(np.stack(t), axis=0)

    loss = (logmix(pm, pw) - logmix(qm, qw)).ravel()
    k = (allm.max(axis=0) - allm.min(axis=0)) / (sigma * sigma)
    slack = (k[0] * wx + k[1] * wy) / 2.0 + 1e-12 * (1.0 + np.abs(loss))
    tail = max(float(np.sum(pw)) - inside, 0.0) * (1 + 1e-9) + 1e-14
    return Law(loss - slack, loss + slack, np.maximum(mass.ravel(), 0.0), tail=tail)


class Profile:
    """Certified bounds on δ(ε) and ε(δ) of a composition of independent releases (one direction).

    Parameters
    ----------
    laws : list of Law
        The releases (each under P), composed.
    h : float
        Grid width of the loss for the composition (bracket widens by at most ``len(laws) h``).
    """

    def __init__(self, laws: list[Law], h: float = 2e-4, cap: float = 40.0):
        self.laws = laws
        self.h = h
        T = len(laws)
        lmax = max(float(np.max(l.hi)) if l.hi.size else 0.0 for l in laws)
        floor = -(T - 1) * max(min(lmax, cap), 0.0) - 5.0
        self.floor, self.cap = floor, cap
        ups, los = [], []
        inf_exact, inf_any = 1.0, 1.0
        for law in laws:
            hi = np.maximum(law.hi, floor)
            lo = law.lo
            over_up = hi > cap                       # upper: charged as +inf
            keep_lo = lo >= floor                    # lower: drop (contributes >= 0)
            u = np.ceil(hi[~over_up] / h).astype(np.int64)
            d = np.floor(np.minimum(lo[keep_lo], cap) / h).astype(np.int64)
            ups.append((u, law.mass[~over_up]))
            los.append((d, law.mass[keep_lo]))
            extra = float(law.mass[over_up].sum())
            inf_exact *= 1.0 - law.inf
            inf_any *= max(1.0 - law.inf - law.tail - extra, 0.0)
        self.inf_lo = 1.0 - inf_exact
        self.inf_up = 1.0 - inf_any
        self.up = self._conv(ups)
        self.lo = self._conv(los)

    def _conv(self, parts):
        off = 0
        acc = np.array([1.0])
        for idx, m in parts:
            if idx.size == 0:
                return (0, np.zeros(1))
            k0 = int(idx.min())
            v = np.bincount(idx - k0, weights=m)
            acc = signal.fftconvolve(acc, v) if acc.size * v.size > 4_000_000 else \
                np.convolve(acc, v)
            acc = np.maximum(acc, 0.0)
            off += k0
        return off, acc

    def delta(self, eps: float) -> tuple[float, float]:
        """Certified (lower, upper) bounds on the exact δ(ε)."""
        out = []
        for (off, acc), extra in ((self.lo, self.inf_lo), (self.up, self.inf_up)):
            loss = (off + np.arange(acc.size)) * self.h
            pos = loss > eps
            val = float(np.sum(acc[pos] * -np.expm1(eps - loss[pos]))) + extra
            out.append(val)
        # FFT round-off: at most ~1e-15 relative to the total mass
        return max(out[0] - 1e-13, 0.0), min(out[1] + 1e-13, 1.0)

    def epsilon(self, delta: float, hi: float = 60.0) -> tuple[float, float]:
        """Certified (lower, upper) bounds on the exact ε(δ) (``inf`` if δ is never reached)."""
        def solve(which: int) -> float:
            if self.delta(0.0)[which] <= delta:
                return 0.0
            if self.delta(hi)[which] > delta:
                return math.inf
            a, b = 0.0, hi
            for _ in range(60):
                m = 0.5 * (a + b)
                if self.delta(m)[which] > delta:
                    a = m
                else:
                    b = m
            return b if which == 1 else a
        return solve(0), solve(1)


def directions(pairs: dict[str, list[Law]], h: float = 2e-4) -> dict[str, Profile]:
    """One :class:`Profile` per direction (``"remove"``/``"add"`` or ``"replace"``...)."""
    return {k: Profile(v, h=h) for k, v in pairs.items()}


def compose(law: Law, times: int) -> list[Law]:
    """``times`` copies of one release (non-adaptive repetition of the same dataset pair)."""
    return [law] * int(times)
