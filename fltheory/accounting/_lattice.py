"""Composite dominating pairs for the two-sided PLD engine (private).

The engine (:mod:`fltheory.accounting._pld`) represents one mechanism step on the lattice
``h Z`` by three laws (:class:`~fltheory.accounting._pld.StepPmfs`):

* ``upper`` (+ ``p_inf``): the P-law of a *pessimistic* privacy loss.  What the engine needs
  from it: for every function ``f`` of the loss that is non-decreasing with values in
  ``[0, 1]`` (the contribution of this step to :math:`\\delta(\\varepsilon)` given the other
  steps), ``E_upper[f] + p_inf >= E_true[f]`` after the connect-the-dots spread, i.e. the law is
  a mean-preserving spread of :math:`e^{-\\ell}` or moves mass towards larger losses;
* ``lab_p`` / ``lab_q``: the P- and Q-laws of an integer *label* of the output.  What the
  engine needs: for every ``u``, ``lab_p(L > u)`` is at most the true P-probability and
  ``lab_q`` is at least the true Q-law in the same upper-set sense (then every composed test
  :math:`\\{\\sum L > t\\}` is charged conservatively).

This module builds those laws for pairs that are not a single monotone Gaussian mixture:

* :class:`AtomsPair`: finitely many atoms with exact masses, plus *bounded* masses of an
  untracked remainder (truncated tails).  The remainder's P-mass goes to ``+inf`` in the upper
  law and is dropped from ``lab_p``; its Q-mass is charged to the lowest label.
* :func:`hull_atoms` / :class:`EnvelopePair`: one pair dominating several (the upper concave
  hull of their ROC curves); the labels come from one real pair (a witness), so the lower bound
  stays a lower bound of an actual neighbouring pair.
* :class:`RevealedMixturePair`: an output that reveals which component ran (participation of a
  client, the mixup weight): the per-component K-fold compositions are mixed with their
  probabilities.  K-fold compositions use FFT powers whose floating-point error is charged
  conservatively (to ``+inf`` for the upper law, shaved from ``lab_p``, added to ``lab_q``).

References
----------
.. [1] Y. Zhu, J. Dong, Y.-X. Wang. "Optimal Accounting of Differential Privacy via
   Characteristic Function." AISTATS 2022, Def. 7 and Thm. 10 (dominating pairs, composition).
.. [2] V. Doroshenko, B. Ghazi, P. Kamath, R. Kumar, P. Manurangsi. "Connect the Dots." PETS
   2022, Thm. 3.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.fft as sfft

from fltheory.accounting import _pld

__all__ = ["Law", "AtomsPair", "EnvelopePair", "RevealedMixturePair", "SplitPair",
           "hull_atoms", "zero_law", "law_of", "power", "mix", "to_step"]

_EPS = np.finfo(float).eps


# ---------------------------------------------------------------------------------------------
# Dense lattice laws
# ---------------------------------------------------------------------------------------------
@dataclass
class Law:
    """Dense version of ``StepPmfs``: all arrays indexed from lattice index ``k0``."""

    h: float
    k0: int
    upper: np.ndarray
    p_inf: float
    lab_p: np.ndarray
    lab_q: np.ndarray

    @property
    def n(self) -> int:
        return self.upper.size


def zero_law(h: float, mass: float = 1.0) -> Law:
    """An output with loss exactly 0 under both P and Q (e.g. 'the client did not take part')."""
    one = np.array([mass])
    return Law(h, 0, one.copy(), 0.0, one.copy(), one.copy())


def _law_from_step(s) -> Law:
    k0, k1 = s.k_min, s.k_max
    n = k1 - k0 + 1

    def dense(idx, val):
        return np.bincount(np.asarray(idx, np.int64) - k0, weights=val, minlength=n)

    return Law(s.h, k0, dense(s.upper_idx, s.upper), float(s.p_inf),
               dense(s.lab_idx, s.lab_p), dense(s.lab_idx, s.lab_q))


def law_of(pair, h: float, tail: float) -> Law:
    """The engine's lattice laws of one step of ``pair`` as a dense :class:`Law`."""
    return _law_from_step(_pld.discretize(pair, h, tail))


def to_step(law: Law):
    """Back to the engine's sparse ``StepPmfs``."""
    idx = np.arange(law.n, dtype=np.int64) + law.k0
    nu = law.upper > 0
    nl = (law.lab_p > 0) | (law.lab_q > 0)
    return _pld.StepPmfs(h=law.h, upper_idx=idx[nu], upper=law.upper[nu].astype(float),
                         p_inf=float(min(law.p_inf, 1.0)), lab_idx=idx[nl],
                         lab_p=law.lab_p[nl].astype(float), lab_q=law.lab_q[nl].astype(float))


def _align(laws: Sequence[Law]) -> tuple[int, int]:
    k0 = min(L.k0 for L in laws)
    k1 = max(L.k0 + L.n - 1 for L in laws)
    return k0, k1 - k0 + 1


def _place(arr: np.ndarray, k0_from: int, k0_to: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    off = k0_from - k0_to
    out[off:off + arr.size] = arr
    return out


def mix(laws: Sequence[Law], weights: Sequence[float]) -> Law:
    """Revealed mixture: the output says which component ran (probabilities ``weights``).

    Exact: the P- and Q-laws of (component, label) are the weighted laws, and a label test may
    ignore the component.  The pessimistic loss law is mixed the same way.
    """
    h = laws[0].h
    k0, n = _align(laws)
    up = np.zeros(n)
    lp = np.zeros(n)
    lq = np.zeros(n)
    pinf = 0.0
    for L, w in zip(laws, weights):
        up += w * _place(L.upper, L.k0, k0, n)
        lp += w * _place(L.lab_p, L.k0, k0, n)
        lq += w * _place(L.lab_q, L.k0, k0, n)
        pinf += w * L.p_inf
    return Law(h, k0, up, pinf, lp, lq)


def combine(upper: Law, labels: Law) -> Law:
    """Upper law of one pair with the label laws of another (each valid on its own)."""
    k0, n = _align([upper, labels])
    return Law(upper.h, k0, _place(upper.upper, upper.k0, k0, n), upper.p_inf,
               _place(labels.lab_p, labels.k0, k0, n), _place(labels.lab_q, labels.k0, k0, n))


def _fft_power(arr: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """k-fold self-convolution by FFT, with a bound on the error of any sum of its entries."""
    n_out = k * (arr.size - 1) + 1
    m = sfft.next_fast_len(n_out, real=True)
    spec = sfft.rfft(arr, m)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        phi = np.exp(k * np.log(spec.astype(complex)))
    phi[~np.isfinite(phi)] = 0.0
    out = sfft.irfft(phi, m)[:n_out]
    logm = math.log2(max(m, 2))
    # the engine's allowance for the sum of entries over any set (Parseval: the error of any
    # such sum is at most the l2 norm of the coefficient errors; phi^k has relative error at
    # most k times the per-transform error eps ||a||_2 log m)
    fp = 4.0 * _EPS * (k * float(np.sqrt(np.sum(arr ** 2))) + logm) * math.sqrt(
        2.0 * float(np.sum(np.abs(phi) ** 2))) + 4.0 * _EPS * logm
    return out, fp


def _shave_top(arr: np.ndarray, amount: float) -> np.ndarray:
    """Remove ``amount`` of mass starting from the top entries: every suffix sum drops by
    ``min(amount, suffix)``."""
    if amount <= 0:
        return arr
    c = np.cumsum(arr[::-1])
    c = np.maximum(c - amount, 0.0)
    out = np.diff(np.concatenate([[0.0], c]))[::-1]
    return np.maximum(out, 0.0)


def power(law: Law, k: int) -> Law:
    """The k-fold composition of one step with itself, charged for floating-point error.

    * upper: FFT power, negatives clipped, twice the error bound sent to ``+inf``;
    * lab_p: FFT power, negatives clipped, twice the error bound shaved from the top;
    * lab_q: composed in the tilted domain :math:`q(j) e^{jh}` (relative accuracy where the
      loss is large), twice the error bound added to every tilted entry.
    """
    if k == 1:
        return law
    if k == 0:
        return zero_law(law.h)
    h = law.h
    up, fp_u = _fft_power(law.upper, k)
    up = np.maximum(up, 0.0)
    pinf = -math.expm1(k * math.log1p(-min(law.p_inf, 1.0 - 1e-300))) + 2.0 * fp_u
    lp, fp_p = _fft_power(law.lab_p, k)
    lp = _shave_top(np.maximum(lp, 0.0), 2.0 * fp_p)
    # tilted Q-labels
    j = (np.arange(law.n) + law.k0) * h
    with np.errstate(divide="ignore"):
        lw = np.log(law.lab_q) + j
    if np.all(np.isneginf(lw)):
        lq = np.zeros(up.size)
    else:
        mx = float(np.max(lw))
        t = np.exp(lw - mx)
        z = float(t.sum())
        t /= z
        log_z = mx + math.log(z)
        tq, fp_q = _fft_power(t, k)
        tq = np.maximum(tq, 0.0) + 2.0 * fp_q
        jk = (np.arange(tq.size) + k * law.k0) * h
        with np.errstate(divide="ignore", over="ignore"):
            lq = np.exp(np.minimum(np.log(tq) + k * log_z - jk, 0.0))
    return Law(h, k * law.k0, up, min(pinf, 1.0), lp, lq)


def convolve(a: Law, b: Law) -> Law:
    """Composition of two different steps (small supports; direct, no FFT error)."""
    up = np.convolve(a.upper, b.upper)
    lp = np.convolve(a.lab_p, b.lab_p)
    lq = np.convolve(a.lab_q, b.lab_q)
    pinf = 1.0 - (1.0 - a.p_inf) * (1.0 - b.p_inf)
    return Law(a.h, a.k0 + b.k0, up, pinf, lp, lq)


# ---------------------------------------------------------------------------------------------
# Pairs that build their own lattice laws
# ---------------------------------------------------------------------------------------------
class LatticePair(_pld.DominatingPair):
    """A dominating pair that provides ``step_pmfs`` directly (no cells)."""

    def cells(self, h: float, tail: float):  # pragma: no cover - never called by the engine
        raise TypeError(f"{type(self).__name__} provides step_pmfs(), not cells()")

    def law(self, h: float, tail: float) -> Law:
        raise NotImplementedError

    def step_pmfs(self, h: float, tail: float):
        return to_step(self.law(h, tail))


class _CellsOnly(_pld.DominatingPair):
    """Wraps fixed Cells (used to reuse the engine's discretisation of exact atoms)."""

    def __init__(self, cells: _pld.Cells):
        self._c = cells

    def cells(self, h, tail):
        return self._c

    def loss_moments(self):  # pragma: no cover - not used
        return 0.0, 1.0


class AtomsPair(LatticePair):
    """Finitely many atoms with exact masses plus a bounded untracked remainder.

    Parameters
    ----------
    log_p, log_q : array_like
        Log-masses of the atoms under P and Q (``-inf`` allowed on one side).
    p_out, q_out : float
        Upper bounds on the P- and Q-mass of everything not listed (truncated tails).
    """

    def __init__(self, log_p, log_q, *, p_out: float = 0.0, q_out: float = 0.0,
                 name: str = "atoms pair"):
        lp = np.asarray(log_p, float)
        lq = np.asarray(log_q, float)
        if lp.shape != lq.shape or lp.ndim != 1:
            raise ValueError("log_p and log_q must be 1-D arrays of the same length")
        keep = np.isfinite(lp) | np.isfinite(lq)
        self.log_p, self.log_q = lp[keep], lq[keep]
        self.p_out = float(max(p_out, 0.0))
        self.q_out = float(max(q_out, 0.0))
        self.name = name
        both = np.isfinite(self.log_p) & np.isfinite(self.log_q)
        self._both = both
        self._loss = np.where(both, self.log_p - np.where(both, self.log_q, 0.0), 0.0)
        self._key = ("atoms", self.log_p.tobytes(), self.log_q.tobytes(), self.p_out, self.q_out)

    def key(self) -> tuple:
        return self._key

    @property
    def p(self) -> np.ndarray:
        return np.exp(self.log_p)

    @property
    def q(self) -> np.ndarray:
        return np.exp(self.log_q)

    def loss_moments(self) -> tuple[float, float]:
        return _pld.atom_loss_moments(self.p, self._loss, self._both)

    def law(self, h: float, tail: float) -> Law:
        b = self._both
        p, q = self.p, self.q
        pb, qb, lb = p[b], q[b], self._loss[b]
        if lb.size > 20_000:
            # pre-bin atoms by lattice interval [k h, (k+1) h]: the engine's spread is linear
            # in (p, q) between the same two grid points, so this is the same upper law, and
            # labelling by k is a legitimate test (see the module docstring)
            k = np.floor(lb / h).astype(np.int64)
            k0 = int(k.min())
            nb = int(k.max()) - k0 + 1
            ps = np.bincount(k - k0, weights=pb, minlength=nb)
            qs = np.bincount(k - k0, weights=qb, minlength=nb)
            nz = ps > 0
            kk = (np.arange(nb) + k0)[nz].astype(float)
            pb, qb = ps[nz], qs[nz]
            lo, hi = kk * h, (kk + 1.0) * h
        else:
            lo, hi = lb, lb.copy()
        cells = _pld.Cells(p=pb, q=qb, lo=lo, hi=hi,
                           p_inf=float(p[~np.isfinite(self.log_q)].sum()),
                           q_only=float(q[~np.isfinite(self.log_p)].sum()))
        law = law_of(_CellsOnly(cells), h, tail)
        if self.p_out > 0:
            law.p_inf = min(1.0, law.p_inf + self.p_out)
        if self.q_out > 0:
            law.lab_q = law.lab_q.copy()
            law.lab_q[0] += self.q_out
        return law

    def hockey_stick(self, eps: float) -> tuple[float, float]:
        """Exact (lower, upper) hockey-stick divergence of the listed atoms (T = 1)."""
        p, q = self.p, self.q
        d = float(np.sum(np.maximum(p - math.exp(eps) * q, 0.0)))
        return d, d + self.p_out

    def rdp(self, orders: np.ndarray) -> np.ndarray:
        """Rényi divergence D_alpha(P || Q) of the listed atoms (remainder: see callers)."""
        orders = np.asarray(orders, float)
        if np.any(~np.isfinite(self.log_q) & np.isfinite(self.log_p)) or self.p_out > 0:
            return np.full(orders.shape, np.inf)
        b = self._both
        lp, lq = self.log_p[b], self.log_q[b]
        a = orders[:, None]
        terms = a * lp[None, :] + (1 - a) * lq[None, :]
        mx = terms.max(axis=1, keepdims=True)
        s = mx[:, 0] + np.log(np.exp(terms - mx).sum(axis=1))
        return np.maximum(s / (orders - 1.0), 0.0)


class SplitPair(LatticePair):
    """Upper law from ``upper_pair``, label laws from ``label_pair``.

    Valid when ``upper_pair`` dominates the mechanism (its upper law is pessimistic for it)
    and ``label_pair`` is dominated by it (a post-processing of, or an instance of, the
    mechanism), so that its certified lower bound is one for the mechanism too.
    """

    def __init__(self, upper_pair, label_pair, name: str = "split pair"):
        self.upper_pair = upper_pair
        self.label_pair = label_pair
        self.name = name

    def key(self) -> tuple:
        return ("split", self.upper_pair.key(), self.label_pair.key())

    def loss_moments(self) -> tuple[float, float]:
        return self.upper_pair.loss_moments()

    def law(self, h: float, tail: float) -> Law:
        if self.label_pair is self.upper_pair:
            return law_of(self.upper_pair, h, tail)
        return combine(law_of(self.upper_pair, h, tail), law_of(self.label_pair, h, tail))


class RevealedMixturePair(LatticePair):
    """Revealed mixture of (compositions of) pairs.

    ``components`` is a list of ``(weight, pair, count)``: with probability ``weight`` the
    step runs ``count`` compositions of ``pair`` (``pair=None``: nothing is released about the
    record, loss 0).  The component is assumed visible in the output (a *revealed* mixture),
    which is what makes the construction valid whatever an adversary learns about it.

    ``label_components`` (same form, same weights) may give a mixture dominated by the
    mechanism to draw the certified lower bound from (e.g. rounded-down mixup weights).
    """

    def __init__(self, components, label_components=None, name: str = "revealed mixture"):
        self.components = [(float(w), p, int(c)) for w, p, c in components]
        self.label_components = None if label_components is None else [
            (float(w), p, int(c)) for w, p, c in label_components]
        self.name = name

    def key(self) -> tuple:
        def k(comps):
            return tuple((w, None if p is None else p.key(), c) for w, p, c in comps)
        return ("revealed", k(self.components),
                None if self.label_components is None else k(self.label_components))

    def loss_moments(self) -> tuple[float, float]:
        m1 = 0.0
        m2 = 0.0
        for w, p, c in self.components:
            if p is None or c == 0:
                continue
            m, v = p.loss_moments()
            m1 += w * c * m
            m2 += w * (c * v + (c * m) ** 2)
        return m1, max(m2 - m1 * m1, 1e-300)

    @staticmethod
    def _mixture(comps, h: float, tail: float) -> Law:
        laws, ws = [], []
        total = max(sum(c for _, p, c in comps if p is not None), 1)
        for w, p, c in comps:
            if w <= 0:
                continue
            if p is None or c == 0:
                laws.append(zero_law(h))
            else:
                laws.append(power(law_of(p, h, tail / total), c))
            ws.append(w)
        return mix(laws, ws)

    def law(self, h: float, tail: float) -> Law:
        up = self._mixture(self.components, h, tail)
        if self.label_components is None:
            return up
        return combine(up, self._mixture(self.label_components, h, tail))


# ---------------------------------------------------------------------------------------------
# Envelopes of several pairs (finite outputs)
# ---------------------------------------------------------------------------------------------
def _roc(log_p: np.ndarray, log_q: np.ndarray):
    """Atoms of one pair sorted by decreasing likelihood ratio (ties merged)."""
    with np.errstate(invalid="ignore"):
        loss = np.where(np.isfinite(log_q), log_p - log_q, np.inf)
    loss = np.where(np.isfinite(log_p), loss, -np.inf)
    order = np.argsort(-loss, kind="stable")
    return loss[order], np.exp(log_p[order]), np.exp(log_q[order])


def hull_atoms(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *, rtol: float = 1e-12):
    """One finite pair whose hockey-stick divergence dominates every pair in ``pairs``.

    ``pairs`` holds ``(log_p, log_q)`` arrays (same length within a pair).  Returns
    ``(log_p, log_q, witness, exact, slack)``: the dominating atoms; the index of the pair with
    the largest total variation (a real pair for lower bounds); ``exact`` when that pair
    dominates all others (then the atoms are its own, without any arithmetic); ``slack``, a
    bound on the floating-point error of the hull masses (to be charged to ``+inf``).

    The construction: every pair's hockey-stick divergence :math:`H_\\gamma = \\max_S P(S) -
    \\gamma Q(S)` is the upper envelope of the lines of its likelihood-ratio sets, i.e. of the
    points ``(Q(S), P(S))``; the maximum over pairs is the envelope of all those points, whose
    upper concave hull's segments are the atoms (q-mass = run, p-mass = rise) of a pair
    attaining it (Zhu, Dong, Wang 2022, Sec. 3).
    """
    rocs = [_roc(np.asarray(a, float), np.asarray(b, float)) for a, b in pairs]
    # total variation = H_1
    tvs = [float(np.sum(np.maximum(p - q, 0.0))) for _, p, q in rocs]
    witness = int(np.argmax(tvs))
    pts = []
    for _, p, q in rocs:
        pts.append(np.stack([np.concatenate([[0.0], np.cumsum(q)]),
                             np.concatenate([[0.0], np.cumsum(p)])], axis=1))
    # does the witness dominate? check every point against the witness's concave curve
    wb, wa = pts[witness][:, 0], pts[witness][:, 1]
    dominated = True
    slack = 0.0
    for i, P in enumerate(pts):
        if i == witness:
            continue
        # witness curve value at P's b-coordinates (vertical segments at b=0 handled by max)
        cur = np.interp(P[:, 0], wb, wa, left=wa[0], right=wa[-1])
        # the witness may have a vertical first segment (p-only atoms): at b=0 its value is the
        # largest a with b=0
        at0 = float(wa[wb <= 0].max()) if np.any(wb <= 0) else 0.0
        cur = np.where(P[:, 0] <= 0, at0, cur)
        excess = float(np.max(P[:, 1] - cur))
        if excess > rtol:
            dominated = False
            break
        slack = max(slack, excess)
    if dominated:
        lp, lq = pairs[witness]
        return (np.asarray(lp, float), np.asarray(lq, float), witness, True,
                slack + 4 * _EPS * len(lp))
    allp = np.concatenate(pts, axis=0)
    # upper concave hull from (0, a0) to (1, 1): monotone chain on points sorted by b, keeping
    # the highest a for each b
    order = np.lexsort((-allp[:, 1], allp[:, 0]))
    allp = allp[order]
    first = np.concatenate([[True], np.diff(allp[:, 0]) != 0])
    allp = allp[first]
    hull: list[tuple[float, float]] = []
    start = (0.0, float(allp[0, 1]) if allp[0, 0] <= 0 else 0.0)
    hull.append(start)
    for b, a in allp:
        if b <= 0:
            continue
        while len(hull) >= 2:
            (b1, a1), (b2, a2) = hull[-2], hull[-1]
            # remove hull[-1] if it lies on or below the segment hull[-2] -> (b, a)
            if (a2 - a1) * (b - b1) <= (a - a1) * (b2 - b1):
                hull.pop()
            else:
                break
        hull.append((float(b), float(a)))
    hb = np.array([x for x, _ in hull])
    ha = np.array([y for _, y in hull])
    # cut at the maximum of a (the curve is non-decreasing up to P(S)=1)
    imax = int(np.argmax(ha))
    hb, ha = hb[:imax + 1], ha[:imax + 1]
    dq = np.diff(hb)
    dp = np.diff(ha)
    keep = (dp > 0) | (dq > 0)
    dq, dp = dq[keep], dp[keep]
    p_inf = ha[0]
    q_only = max(0.0, 1.0 - hb[-1])
    with np.errstate(divide="ignore"):
        lp = np.log(np.concatenate([dp, [p_inf, 0.0]]))
        lq = np.log(np.concatenate([dq, [0.0, q_only]]))
    lp[-1] = -np.inf
    lq[-2] = -np.inf
    slack = 8 * _EPS * (allp.shape[0] + 1)
    return lp, lq, witness, False, slack


class EnvelopePair(LatticePair):
    """Dominating pair of several finite pairs (upper: hull; labels: the witness pair)."""

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], *,
                 p_out: float = 0.0, q_out: float = 0.0, name: str = "envelope"):
        lp, lq, w, exact, slack = hull_atoms(pairs)
        self.exact = exact
        self.upper_atoms = AtomsPair(lp, lq, p_out=p_out + slack, name=name)
        wl, wq = pairs[w]
        self.witness = AtomsPair(wl, wq, p_out=p_out, q_out=q_out, name=name + " (witness)")
        self.name = name

    def key(self) -> tuple:
        return ("envelope", self.upper_atoms.key(), self.witness.key())

    def loss_moments(self) -> tuple[float, float]:
        return self.upper_atoms.loss_moments()

    def law(self, h: float, tail: float) -> Law:
        up = self.upper_atoms.law(h, tail)
        if self.exact:
            lab = self.witness.law(h, tail)
            # same atoms: keep the upper of the hull (includes the fp slack) with the labels
            return combine(up, lab)
        return combine(up, self.witness.law(h, tail))
