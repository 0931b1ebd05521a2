"""Privacy amplification by shuffling and by random check-ins.

:func:`shuffled` accounts ``rounds`` rounds in which ``num_clients`` clients each send one
report from an :math:`\\varepsilon_0`-LDP randomizer through a trusted shuffler.  It uses the
"clone" reduction of Feldman, McMillan & Talwar (FOCS 2021): the shuffled outputs on two
neighbouring datasets are post-processings of an explicit pair of distributions on
:math:`\\mathbb{Z}^2`, which is therefore a dominating pair and composes over rounds (PLD).
:func:`shuffling_closed_form` is the paper's closed-form bound (one round, looser) for
comparison.  :func:`random_checkins` refuses (its theorem's conditions could not be verified;
the error names the sound alternatives).
"""

from __future__ import annotations

import math

import attr
import dp_accounting
import numpy as np
from scipy import special, stats

from fltheory._checks import check_int, check_nonnegative, check_open_unit, check_probability
from fltheory.accounting import _steps
from fltheory.accounting._guarantee import PrivacyGuarantee
from fltheory.accounting._lattice import AtomsPair, SplitPair
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["shuffled", "shuffling_closed_form", "random_checkins", "ShuffledDpEvent",
           "clone_pair", "shuffled_rr_pair"]

_REF_FMT = ("Feldman, McMillan, Talwar, 'Hiding Among the Clones: A Simple and Nearly Optimal "
            "Analysis of Privacy Amplification by Shuffling', FOCS 2021, arXiv:2012.12803, "
            "Thm. 3.2 (clone reduction: the shuffled outputs are post-processings of the pair "
            "of Binomial laws)")
_REF_FMT_CF = ("Feldman, McMillan, Talwar, FOCS 2021, arXiv:2012.12803, Thm. 3.1 (closed-form "
               "bound, valid for eps0 <= log(n / (16 log(2/delta))))")
_REF_RCI = ("Balle, Kairouz, McMahan, Thakkar, Thakurta, 'Privacy Amplification via Random "
            "Check-Ins', NeurIPS 2020, arXiv:2007.06605 (random check-ins, fixed window)")


@attr.define(frozen=True)
class ShuffledDpEvent(dp_accounting.DpEvent):
    """One round of shuffling ``num_clients`` reports of an ε0-LDP randomizer.

    Threat model
        Every client applies the same ``local_epsilon``-DP randomizer to its own data and sends
        one report; a trusted shuffler permutes all ``num_clients`` reports before anyone else
        sees them.  The adversary sees the shuffled multiset, and may know every other
        client's data; it must not see the permutation, nor any metadata that links a report
        to its sender.  Neighbouring datasets replace one client's data (``num_clients`` is
        public and fixed, so only ``neighboring="replace_one"`` is meaningful).

    Attributes
    ----------
    local_epsilon : float
        ε0 of each local randomizer.
    num_clients : int
        Number ``n`` of shuffled reports.
    """

    local_epsilon: float
    num_clients: int


_S = (1.0 / 12, 1.0 / 360, 1.0 / 1260, 1.0 / 1680, 1.0 / 1188)
_LN_2PI = math.log(2.0 * math.pi)


def _stirlerr(n: np.ndarray) -> np.ndarray:
    """log(n!) - (n + 1/2) log n + n - log sqrt(2 pi), accurate to ~1e-16 (Loader 2000)."""
    n = np.asarray(n, float)
    out = np.empty(n.shape)
    small = n <= 15
    if np.any(small):
        ns = n[small]
        with np.errstate(divide="ignore", invalid="ignore"):
            v = special.gammaln(ns + 1) - (ns + 0.5) * np.log(ns) + ns - 0.5 * _LN_2PI
        out[small] = np.where(ns == 0, 0.0, v)
    s0, s1, s2, s3, s4 = _S
    for lo_, hi_, f in ((500, np.inf, lambda nb, nn: (s0 - s1 / nn) / nb),
                        (80, 500, lambda nb, nn: (s0 - (s1 - s2 / nn) / nn) / nb),
                        (35, 80, lambda nb, nn: (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / nb),
                        (15, 35, lambda nb, nn: (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn)
                                                 / nn) / nb)):
        sel = (n > lo_) & (n <= hi_)
        if np.all(sel):
            return f(n, n * n)
        if np.any(sel):
            nb = n[sel]
            out[sel] = f(nb, nb * nb)
    return out


def _bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x log(x / m) + m - x without cancellation (Loader 2000)."""
    x = np.asarray(x, float)
    m = np.asarray(m, float)
    close = np.abs(x - m) < 0.1 * (x + m)
    out = np.empty(np.broadcast(x, m).shape)
    far = ~close
    if np.any(far):
        xf, mf = x[far], m[far]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[far] = np.where(xf == 0, mf, xf * np.log(xf / mf) + mf - xf)
    if np.any(close):
        xc, mc = x[close], m[close]
        v = (xc - mc) / (xc + mc)             # |v| < 0.1
        s = (xc - mc) * v
        ej = 2.0 * xc * v
        v2 = v * v
        vmax = float(np.max(np.abs(v)))
        terms = 10 if vmax <= 0 else int(min(10, max(1, math.ceil(-17.0 / (2 * math.log10(
            max(vmax, 1e-300)))))))
        for j in range(1, terms + 1):          # remaining terms < |v|^(2 terms) <= 1e-17
            ej *= v2
            s += ej / (2 * j + 1)
        out[close] = s
    return out


def _log_dbinom(x, n, p: float) -> np.ndarray:
    """log Bin(x; n, p) with relative accuracy ~1e-14 for any n (Loader's saddle point
    expansion, as in R's dbinom); -inf outside 0..n."""
    x = np.asarray(x, float)
    n = np.broadcast_to(np.asarray(n, float), x.shape)
    q = 1.0 - p
    ok = (x >= 0) & (x <= n)
    xs = np.where(ok, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (0 < xs) & (xs < n)
        xi = np.where(inner, xs, 1.0)
        ni = np.where(inner, n, 2.0)
        nmax = float(np.max(ni)) if ni.size else 0.0
        if ni.size > 4096 and nmax < 1e7 and np.all(ni == np.floor(ni)):
            tab = _stirlerr(np.arange(int(nmax) + 1, dtype=float))    # integer arguments
            st = tab[ni.astype(np.int64)] - tab[xi.astype(np.int64)] \
                - tab[(ni - xi).astype(np.int64)]
        else:
            st = _stirlerr(ni) - _stirlerr(xi) - _stirlerr(ni - xi)
        lc = st - _bd0(xi, ni * p) - _bd0(ni - xi, ni * q)
        lf = _LN_2PI + np.log(xi) + np.log1p(-xi / ni)
        mid = lc - 0.5 * lf
        edge0 = n * math.log(q) if q > 0 else np.where(n == 0, 0.0, -np.inf)
        edgen = n * math.log(p) if p > 0 else np.where(n == 0, 0.0, -np.inf)
    out = np.where(inner, mid, np.where(xs == 0, edge0, edgen))
    return np.where(ok, out, -np.inf)


def clone_pair(local_epsilon: float, num_clients: int, tail: float = 1e-14) -> AtomsPair:
    """The Feldman–McMillan–Talwar dominating pair of one shuffled round.

    With :math:`C \\sim \\mathrm{Bin}(n-1, e^{-\\varepsilon_0})`,
    :math:`A \\sim \\mathrm{Bin}(C, 1/2)` and :math:`p = e^{\\varepsilon_0}/(e^{\\varepsilon_0}+1)`,

    .. math::

        P = p\\,(A+1,\\, C-A) + (1-p)\\,(A,\\, C-A+1), \\qquad
        Q = (1-p)\\,(A+1,\\, C-A) + p\\,(A,\\, C-A+1).

    On an output :math:`(a, b)` the privacy loss is
    :math:`\\log\\frac{e^{\\varepsilon_0} a + b}{a + e^{\\varepsilon_0} b} \\in
    [-\\varepsilon_0, \\varepsilon_0]`.  Atoms are listed where :math:`C` and :math:`A` are
    within their central ``1 - tail`` ranges; the mass of the rest is bounded by exact Binomial
    tail probabilities and charged conservatively (see :class:`AtomsPair`).

    Parameters
    ----------
    local_epsilon : float
        ε0 > 0.
    num_clients : int
        n ≥ 1.
    tail : float
        Truncated probability budget.

    Returns
    -------
    AtomsPair
    """
    e0 = float(local_epsilon)
    n = int(num_clients)
    r = math.exp(-e0)
    log_p = e0 - math.log1p(math.exp(e0)) if e0 < 700 else 0.0   # log(e^e0 / (e^e0 + 1))
    log_1mp = -math.log1p(math.exp(e0)) if e0 < 700 else -e0
    t4 = max(tail / 4.0, 1e-300)
    dist_c = stats.binom(n - 1, r)
    # central window of C: start from the normal approximation and widen until the exact
    # Binomial tail masses (log-scale, accurate far out) are below tail / 4 on each side
    zq = -special.ndtri(t4)
    mean, sd = (n - 1) * r, math.sqrt(max((n - 1) * r * (1 - r), 1e-12))
    c_lo = max(0, int(math.floor(mean - 1.1 * zq * sd - 3)))
    c_hi = min(n - 1, int(math.ceil(mean + 1.1 * zq * sd + 3)))
    lt4 = math.log(t4)
    while c_lo > 0 and dist_c.logcdf(c_lo - 1) > lt4:
        c_lo = max(0, c_lo - int(math.ceil(sd)) - 1)
    while c_hi < n - 1 and dist_c.logsf(c_hi) > lt4:
        c_hi = min(n - 1, c_hi + int(math.ceil(sd)) + 1)
    cs = np.arange(c_lo, c_hi + 1)
    # A | C=c ~ Bin(c, 1/2): a symmetric window of half-width w(c) around c/2
    w = int(math.ceil(1.1 * zq * math.sqrt(max(c_hi, 1)) / 2.0 + 5.0))
    centre = np.floor(cs / 2.0).astype(np.int64)
    offs = np.arange(-w, w + 2)
    A = centre[:, None] + offs[None, :]                    # candidate first coordinates a
    C = np.broadcast_to(cs[:, None], A.shape)
    valid = (A >= 0) & (A <= C + 1)
    a_lo = np.maximum(centre - w, 0)                       # A-range (underlying A) per c
    a_hi = np.minimum(centre + w, cs)
    logc = _log_dbinom(cs, n - 1, r)
    # list the outputs that kept (C, A) can produce (a in [a_lo, a_hi + 1]), each with its
    # exact total mass (Loader's accurate Binomial log-pmf)
    in_win = valid & (A >= a_lo[:, None]) & (A <= a_hi[:, None] + 1)
    rows, _ = np.nonzero(in_win)
    Af = A[in_win]
    Cf = cs[rows]
    lb_am1 = _log_dbinom(Af - 1, Cf, 0.5)                  # log binom(c, a-1) 2^-c
    lb_a = _log_dbinom(Af, Cf, 0.5)                        # log binom(c, a) 2^-c
    base = logc[rows]
    with np.errstate(invalid="ignore"):
        lP = base + np.logaddexp(log_p + lb_am1, log_1mp + lb_a)
        lQ = base + np.logaddexp(log_1mp + lb_am1, log_p + lb_a)
    # the exact atom masses above include contributions of A outside [a_lo, a_hi] at the two
    # boundary atoms; the remainder bound below covers all mass not of the form
    # (C in range, A in range), which contains everything not listed.
    out_c = float(dist_c.cdf(c_lo - 1) + dist_c.sf(c_hi)) if n > 1 else 0.0
    out_a = np.exp(logc) * (stats.binom.cdf(a_lo - 1, cs, 0.5) + stats.binom.sf(a_hi, cs, 0.5))
    # remainder, plus a floating-point allowance for the relative error of the log-masses
    # (Loader's expansion: ~1e-15; charged like truncated mass, with a wide margin)
    fp = 1e-13
    out = (out_c + float(np.sum(out_a))) * (1.0 + 1e-9) + fp + 1e-300
    return AtomsPair(lP, lQ, p_out=out, q_out=out,
                     name=f"shuffling clone pair (eps0={e0:g}, n={n})")


def shuffled_rr_pair(local_epsilon: float, num_clients: int, ones: int | None = None,
                     tail: float = 1e-15) -> AtomsPair:
    """Exact pair of shuffled *binary randomized response*: a real instance of the mechanism.

    Each of ``n`` clients reports its bit through binary randomized response
    (:math:`p = e^{\\varepsilon_0}/(e^{\\varepsilon_0}+1)` of telling the truth); the shuffled
    output is the number :math:`K` of reported ones.  The target holds 0 (:math:`P`) or 1
    (:math:`Q`), ``ones`` of the other :math:`n-1` clients hold 1:

    .. math::

        K = \\mathrm{Bin}(\\mathit{ones}, p) + \\mathrm{Bin}(n-1-\\mathit{ones}, 1-p)
        + \\mathrm{Bern}(1-p \\text{ or } p).

    Binary randomized response is an :math:`\\varepsilon_0`-LDP randomizer, so the ε of this
    pair is a certified *lower* bound on the ε any analysis valid for all
    :math:`\\varepsilon_0`-LDP randomizers (such as :func:`shuffled`) can claim.

    Parameters
    ----------
    local_epsilon : float
        ε0 > 0.
    num_clients : int
        n ≥ 1.
    ones : int, optional
        Number of other clients holding 1 (default 0: all others hold the target's bit 0, the
        worst case found by exact enumeration on small instances).
    tail : float
        Truncated probability budget (charged as untracked mass).

    Returns
    -------
    AtomsPair
    """
    e0 = float(local_epsilon)
    n = int(num_clients)
    k = 0 if ones is None else int(ones)
    p = math.exp(e0 - math.log1p(math.exp(e0))) if e0 < 700 else 1.0
    # law of the others' count: exact convolution of two binomials on a central window
    def window(m, r):
        if m == 0:
            return np.array([0]), np.array([0.0]), 0.0
        d = stats.binom(m, r)
        lo = int(d.ppf(tail / 8)) if tail > 0 else 0
        hi = int(d.isf(tail / 8)) if tail > 0 else m
        lo, hi = max(0, lo - 1), min(m, hi + 1)
        x = np.arange(lo, hi + 1)
        out = float(d.cdf(lo - 1) + d.sf(hi)) if m > 0 else 0.0
        return x, d.logpmf(x), out
    xa, la, oa = window(k, p)
    xb, lb, ob = window(n - 1 - k, 1.0 - p)
    pa, pb = np.exp(la - la.max()), np.exp(lb - lb.max())
    conv = np.convolve(pa, pb)
    with np.errstate(divide="ignore"):
        lconv = np.log(np.maximum(conv, 0.0)) + la.max() + lb.max()
    # K = others + target bit; target 0 reports 1 w.p. 1 - p (P), target 1 w.p. p (Q)
    lo_ = np.concatenate([lconv, [-np.inf]])          # others = j
    hi_ = np.concatenate([[-np.inf], lconv])          # others = j - 1
    lp1, lq1 = math.log1p(-p) if p < 1 else -np.inf, math.log(p)
    lP = np.logaddexp(math.log(p) + lo_, lp1 + hi_)
    lQ = np.logaddexp(lp1 + lo_, lq1 + hi_)
    out = (oa + ob) * (1.0 + 1e-9) + 1e-13
    return AtomsPair(lP, lQ, p_out=out, q_out=out,
                     name=f"shuffled binary randomized response (eps0={e0:g}, n={n}, ones={k})")


class ShuffleStep(_steps.Step):
    """One shuffled round (FMT clone pair)."""

    relations = ("replace_one",)
    reference = _REF_FMT

    def __init__(self, e0: float, n: int):
        self.e0, self.n = e0, n
        self._pair = None
        self._split = None

    def key(self) -> tuple:
        return ("shuffle", self.e0, self.n)

    def describe(self) -> str:
        return f"shuffling of {self.n} reports of a {self.e0:g}-LDP randomizer"

    def check_relation(self, relation: str) -> None:
        if relation != "replace_one":
            raise ValueError(
                "shuffling is analysed for a fixed, public number of clients: neighbouring "
                "datasets replace one client's data, so pass neighboring='replace_one' "
                f"(got {relation!r}; adding or removing a client changes the number of "
                "reports, which the adversary sees)")

    def pair(self) -> _ClonePairLazy:
        if self._pair is None:
            self._pair = _ClonePairLazy(self.e0, self.n)
        return self._pair

    def pairs(self, relation: str) -> dict:
        # upper law: the clone pair (dominates every eps0-LDP randomizer); label laws: shuffled
        # binary randomized response, an instance of the mechanism, so the certified lower
        # bound is one of the mechanism's epsilon (the clone pair's own is not)
        if self._split is None:
            self._split = SplitPair(self.pair(), shuffled_rr_pair(self.e0, self.n),
                                    name=f"shuffling (eps0={self.e0:g}, n={self.n})")
        return {"replace": self._split}

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        orders = np.asarray(orders, float)
        ap = self.pair()._get(1e-15)
        # D_alpha = log(sum_x P(x) e^{(alpha-1) l(x)}) / (alpha-1); atoms are grouped by loss
        # rounded *up* to a grid of width e0/4096 (an upper bound), the remainder R has
        # l <= eps0: its term is at most P(R) e^{(alpha-1) eps0}
        b = ap._both
        width = self.e0 / 4096.0
        k = np.ceil(ap._loss[b] / width).astype(np.int64)
        k0 = int(k.min())
        mass = np.bincount(k - k0, weights=ap.p[b])
        lvl = (np.arange(mass.size) + k0) * width
        nz = mass > 0
        t = np.log(mass[nz])[None, :] + (orders[:, None] - 1.0) * lvl[nz][None, :]
        mx = t.max(axis=1, keepdims=True)
        s = mx[:, 0] + np.log(np.exp(t - mx).sum(axis=1))
        s = np.logaddexp(s, math.log(ap.p_out) + (orders - 1.0) * self.e0)
        return np.maximum(s / (orders - 1.0), 0.0)


class _ClonePairLazy(AtomsPair):
    """Clone pair whose atoms are built for the truncation budget the engine asks for."""

    def __init__(self, e0: float, n: int):
        self.e0, self.n = e0, n
        self.name = f"shuffling clone pair (eps0={e0:g}, n={n})"
        self._built: dict = {}

    def _get(self, tail: float) -> AtomsPair:
        for k in sorted(self._built):          # any pair truncated at least as finely will do
            if k <= tail:
                return self._built[k]
        key = max(10.0 ** math.floor(math.log10(max(tail, 1e-300))), 1e-300)
        self._built[key] = clone_pair(self.e0, self.n, tail=key)
        return self._built[key]

    def key(self) -> tuple:
        return ("clone", self.e0, self.n)

    def loss_moments(self):
        return (self._built[min(self._built)] if self._built else self._get(1e-12)).loss_moments()

    def law(self, h: float, tail: float):
        return self._get(tail).law(h, tail)


def _handle_shuffled(ev: ShuffledDpEvent):
    e0 = check_nonnegative("local_epsilon", ev.local_epsilon)
    n = check_int("num_clients", ev.num_clients, minimum=1)
    if e0 == 0:
        return []
    return [(ShuffleStep(e0, n), 1)]


_steps.register_event(ShuffledDpEvent, _handle_shuffled)


def shuffled(local_epsilon: float, num_clients: int, rounds: int = 1):
    """Amplification by shuffling, composable over rounds (clone-pair PLD).

    Each round, ``num_clients`` clients send one report each from an
    :math:`\\varepsilon_0`-LDP randomizer (the randomizer may differ between rounds and depend
    on earlier outputs); a trusted shuffler permutes the reports.  By the clone reduction of
    Feldman, McMillan & Talwar (2021, Thm. 3.2), a round is dominated by the pair
    :math:`(P, Q)` of :func:`clone_pair`; rounds compose as dominating pairs.  Use
    ``neighboring="replace_one"`` (the number of clients is public).

    .. math::

        C \\sim \\mathrm{Bin}(n-1, e^{-\\varepsilon_0}),\\quad A \\sim \\mathrm{Bin}(C, 1/2),
        \\quad P = p\\,(A+1, C-A) + (1-p)\\,(A, C-A+1),\\quad
        p = \\frac{e^{\\varepsilon_0}}{e^{\\varepsilon_0}+1}.

    Threat model: see :class:`ShuffledDpEvent` -- nobody but the shuffler may see the
    permutation or link a report to its sender.

    Parameters
    ----------
    local_epsilon : float
        :math:`\\varepsilon_0 \\ge 0` of each local randomizer.
    num_clients : int
        Number of shuffled reports per round, :math:`n \\ge 1`.
    rounds : int, optional
        Number of rounds (default 1).

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(ShuffledDpEvent(eps0, n), rounds)``.

    See Also
    --------
    shuffling_closed_form : the closed form of the same paper (one round, looser).

    References
    ----------
    .. [1] V. Feldman, A. McMillan, K. Talwar. "Hiding Among the Clones: A Simple and Nearly
       Optimal Analysis of Privacy Amplification by Shuffling." FOCS 2021, arXiv:2012.12803,
       Thm. 3.2 (and Sec. 5, numerical bounds).
    .. [2] Y. Zhu, J. Dong, Y.-X. Wang. AISTATS 2022, Thm. 10 (composition of dominating
       pairs).

    Examples
    --------
    >>> from fltheory.accounting import shuffled, shuffling_closed_form, epsilon
    >>> g = epsilon(shuffled(4.0, 100_000), delta=1e-6, neighboring="replace_one")
    >>> g.epsilon < shuffling_closed_form(4.0, 100_000, delta=1e-6).epsilon
    True
    """
    e0 = check_nonnegative("local_epsilon", local_epsilon)
    n = check_int("num_clients", num_clients, minimum=1)
    t = check_int("rounds", rounds, minimum=1)
    return dp_accounting.SelfComposedDpEvent(ShuffledDpEvent(e0, n), t)


def shuffling_closed_form(local_epsilon: float, num_clients: int, delta: float) -> \
        PrivacyGuarantee:
    """Closed-form shuffling bound of Feldman, McMillan & Talwar (2021, Thm. 3.1), one round.

    .. math::

        \\varepsilon \\le \\log\\Big(1 + \\frac{e^{\\varepsilon_0} - 1}{e^{\\varepsilon_0} + 1}
        \\Big(\\frac{8\\sqrt{e^{\\varepsilon_0}\\log(4/\\delta)}}{\\sqrt n}
        + \\frac{8 e^{\\varepsilon_0}}{n}\\Big)\\Big),
        \\qquad \\varepsilon_0 \\le \\log\\frac{n}{16\\log(2/\\delta)} .

    A valid but loose upper bound (no lower bound); :func:`shuffled` is tighter and composes.

    Parameters
    ----------
    local_epsilon : float
        ε0 > 0.
    num_clients : int
        n.
    delta : float
        δ in (0, 1).

    Returns
    -------
    PrivacyGuarantee
        ``method="closed form"``, ``neighboring="replace_one"``.

    Raises
    ------
    ValueError
        Outside the theorem's range of validity (use :func:`shuffled` there).

    References
    ----------
    .. [1] V. Feldman, A. McMillan, K. Talwar. FOCS 2021, arXiv:2012.12803, Thm. 3.1.

    Examples
    --------
    >>> from fltheory.accounting import shuffling_closed_form
    >>> round(shuffling_closed_form(4.0, 100_000, delta=1e-6).epsilon, 4)
    0.5347
    """
    e0 = check_nonnegative("local_epsilon", local_epsilon)
    n = check_int("num_clients", num_clients, minimum=1)
    d = check_open_unit("delta", delta)
    limit = math.log(n / (16.0 * math.log(2.0 / d))) if n > 16.0 * math.log(2.0 / d) else -1.0
    if e0 > limit:
        raise ValueError(
            f"local_epsilon must be <= log(n / (16 log(2/delta))) = {limit:.4g} for the "
            f"closed-form shuffling bound (Feldman et al. 2021, Thm. 3.1), got {e0:g}; use "
            "shuffled(local_epsilon, num_clients) (clone-pair PLD), which is valid for every "
            "eps0 and n")
    ee = math.exp(e0)
    val = math.log1p((ee - 1.0) / (ee + 1.0) * (8.0 * math.sqrt(ee * math.log(4.0 / d) / n)
                                                 + 8.0 * ee / n))
    return PrivacyGuarantee(val, d, "closed form", "replace_one", _REF_FMT_CF, None,
                            notes=("closed-form upper bound: valid but loose; "
                                   "shuffled() gives a tighter, composable PLD bound",))


_RCI_MSG = (
    "random_checkins is not offered: the closed form of Balle et al. (NeurIPS 2020, "
    "arXiv:2007.06605) holds only under conditions on the number of clients n, the check-in "
    "rate p0, the window m and eps0 that fltheory cannot verify against the theorem's "
    "statement, and without them it is not a bound (n=1, p0=0.1, m=1000, eps0=1: the formula "
    "gives 0.047 while the true epsilon at delta=1e-6 is about 1.0). Sound alternatives: the "
    "local guarantee itself (each report is eps0-DP: no amplification, e.g. "
    "randomized_response(2, eps0)), or, if a trusted shuffler permutes the reports of a fixed, "
    "public set of n clients, shuffled(eps0, n) (clone-pair PLD)")


def random_checkins(local_epsilon: float = 0.0, checkin_rate: float = 1.0, num_slots: int = 1,
                    delta: float = 1e-6, *, num_clients: int | None = None):
    """Refusal: random check-ins are not accounted (no verified theorem).

    The closed form of Balle et al. (2020) for random check-ins into a fixed window holds only
    under its theorem's conditions, which involve the number of clients :math:`n`; this library
    could not verify that statement and its conditions, so it offers no bound.  Without the
    conditions the formula is not a bound: with :math:`n = 1`, :math:`p_0 = 0.1`,
    :math:`m = 1000`, :math:`\\varepsilon_0 = 1` it gives 0.047, while the exact ε of that
    mechanism at δ = 1e-6 is about 1.0 (:mod:`fltheory.verify`).

    Raises
    ------
    ValueError
        Always, naming the sound alternatives: the local guarantee
        :math:`\\varepsilon_0` itself (no amplification) or :func:`shuffled` when a trusted
        shuffler permutes the reports of a fixed set of ``n`` clients.

    References
    ----------
    .. [1] B. Balle, P. Kairouz, H. B. McMahan, O. Thakkar, A. Thakurta. "Privacy Amplification
       via Random Check-Ins." NeurIPS 2020, arXiv:2007.06605.

    Examples
    --------
    >>> from fltheory.accounting import random_checkins
    >>> random_checkins(1.0, 0.1, 1000, 1e-6, num_clients=1)
    Traceback (most recent call last):
    ...
    ValueError: random_checkins is not offered: ...
    """
    raise ValueError(_RCI_MSG)


register_scenario(Scenario(
    name="shuffled",
    build=shuffled,
    params=(
        Param("local_epsilon", float, "epsilon_0 of each local randomizer"),
        Param("num_clients", int, "number of shuffled reports n per round"),
        Param("rounds", int, "number of rounds", default=1, role="count"),
    ),
    summary="amplification by shuffling (Feldman-McMillan-Talwar clone pair, PLD)",
    example="fltheory epsilon --scenario shuffled --local-epsilon 4 --num-clients 100000 "
            "--rounds 10 --delta 1e-6 --neighboring replace_one",
    neighboring=("replace_one",),
))
