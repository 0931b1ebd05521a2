"""Discrete noise of quantized / secure-aggregation pipelines.

Secure aggregation works on integers, so the noise is discrete.  Builders:

* :func:`binomial` -- binomial noise (cpSGD); the exact PLD of the shifted binomial pair.
  :func:`cpsgd_epsilon` is the paper's closed form (labelled looser bound).
* :func:`skellam` -- Skellam noise (Agarwal, Kairouz, Liu 2021), RDP.
* :func:`distributed_discrete_gaussian` -- the sum of ``n`` clients' discrete Gaussians
  (Kairouz, Liu, Steinke 2021), RDP, with the sensitivity inflated by conditional rounding.
* :func:`discrete_gaussian` -- one discrete Gaussian (Canonne, Kamath, Steinke 2020): exact PLD
  and RDP.

Sensitivities follow the package convention: ``sensitivity`` bounds the change of the integer
sum when one participant is added or removed; under ``neighboring="replace_one"`` the change is
up to twice that.  Every builder returns a documented ``DpEvent``.
"""

from __future__ import annotations

import math

import attr
import dp_accounting
import numpy as np
from scipy import stats

from fltheory._checks import check_int, check_nonnegative, check_open_unit, check_positive
from fltheory.accounting import _steps
from fltheory.accounting._guarantee import PrivacyGuarantee
from fltheory.accounting._lattice import EnvelopePair
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["binomial", "cpsgd_epsilon", "skellam", "distributed_discrete_gaussian",
           "discrete_gaussian", "ddg_rounded_l2_sensitivity", "BinomialDpEvent",
           "SkellamDpEvent", "DistributedDiscreteGaussianDpEvent", "DiscreteGaussianDpEvent"]

_REF_BINOM = ("exact PLD of the shifted binomial pair (envelope over integer shifts); binomial "
              "mechanism: Agarwal, Suresh, Yu, Kumar, McMahan, 'cpSGD', NeurIPS 2018, "
              "arXiv:1805.10559")
_REF_CPSGD = ("Agarwal, Suresh, Yu, Kumar, McMahan, 'cpSGD: Communication-efficient and "
              "differentially-private distributed SGD', NeurIPS 2018, arXiv:1805.10559, Thm. 1")
_REF_SKELLAM = ("Agarwal, Kairouz, Liu, 'The Skellam Mechanism for Differentially Private "
                "Federated Learning', NeurIPS 2021, arXiv:2110.04995 (RDP of Sk(mu, mu), "
                "Thm. 3.5)")
_REF_DDG = ("Kairouz, Liu, Steinke, 'The Distributed Discrete Gaussian Mechanism for Federated "
            "Learning with Secure Aggregation', ICML 2021, arXiv:2102.06387 (RDP of the sum of "
            "n discrete Gaussians; conditional randomized rounding)")
_REF_DGAUSS = ("Canonne, Kamath, Steinke, 'The Discrete Gaussian for Differential Privacy', "
               "NeurIPS 2020, arXiv:2004.00010 (exact privacy loss; concentrated DP "
               "Delta^2/(2 sigma^2))")


def _rel_scale(relation: str) -> int:
    return 1 if relation == "add_remove" else 2


def _ceil_orders(orders) -> np.ndarray:
    """RDP bounds proved for integer orders: use the next integer (RDP is non-decreasing)."""
    return np.ceil(np.asarray(orders, float))


# ---------------------------------------------------------------------------------------------
# Shift families (binomial, discrete Gaussian): exact PLD from the envelope of integer shifts
# ---------------------------------------------------------------------------------------------
class _ShiftStep(_steps.Step):
    """Integer noise X added to an integer sum; one participant moves it by |s| <= S."""

    def __init__(self, support: np.ndarray, logpmf: np.ndarray, out_mass: float,
                 max_shift_ar: int, what: str, key: tuple, reference: str):
        self.support = support          # consecutive integers
        self.logpmf = logpmf
        self.out_mass = out_mass        # mass of X outside ``support`` (upper bound)
        self.max_shift = max_shift_ar
        self.what = what
        self._key = key
        self.reference = reference
        self._env: dict = {}

    def key(self) -> tuple:
        return self._key

    def describe(self) -> str:
        return self.what

    def _envelope(self, relation: str) -> EnvelopePair:
        if relation not in self._env:
            smax = self.max_shift * _rel_scale(relation)
            n = self.support.size
            pairs = []
            for s in range(-smax, smax + 1):
                if s == 0:
                    continue
                # common support: union of supp(X) and supp(X + s)
                lp = np.full(n + abs(s), -np.inf)
                lq = np.full(n + abs(s), -np.inf)
                if s > 0:
                    lp[s:] = self.logpmf
                    lq[:n] = self.logpmf
                else:
                    lp[:n] = self.logpmf
                    lq[-s:] = self.logpmf
                pairs.append((lp, lq))
            self._env[relation] = EnvelopePair(pairs, p_out=self.out_mass, q_out=self.out_mass,
                                               name=self.what)
        return self._env[relation]

    def pairs(self, relation: str) -> dict:
        env = self._envelope(relation)
        # the shift set is symmetric, so both add/remove directions have the same envelope
        if relation == "add_remove":
            return {"remove": env, "add": env}
        return {"replace": env}


@attr.define(frozen=True)
class BinomialDpEvent(dp_accounting.DpEvent):
    """Binomial noise :math:`\\mathrm{Bin}(N, p)` added to an integer sum (one coordinate).

    Threat model: the noise is generated inside secure aggregation (or by a trusted party)
    and never revealed; the adversary sees the noisy integer sum.  One participant changes the
    sum by at most ``sensitivity`` (add/remove) or ``2 * sensitivity`` (replace-one).
    """

    trials: int
    p: float
    sensitivity: int


class BinomialStep(_ShiftStep):
    def rdp(self, orders, relation):
        # shifted binomials have different supports: no finite Renyi divergence
        return np.full(np.asarray(orders).shape, np.inf)


def _handle_binomial(ev: BinomialDpEvent):
    n = check_int("trials", ev.trials, minimum=1)
    p = float(ev.p)
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {ev.p}")
    s = check_int("sensitivity", ev.sensitivity, minimum=1)
    k = np.arange(n + 1)
    lp = stats.binom.logpmf(k, n, p)
    return [(BinomialStep(k, lp, 0.0, s, f"binomial noise Bin({n}, {p:g}), sensitivity {s}",
                          ("binom", n, p, s), _REF_BINOM), 1)]


_steps.register_event(BinomialDpEvent, _handle_binomial)


def binomial(trials: int, p: float, sensitivity: int = 1):
    """The binomial mechanism with its exact PLD.

    The integer sum receives :math:`X \\sim \\mathrm{Bin}(N, p)`.  A participant moves the sum
    by an integer :math:`s` with :math:`|s| \\le \\Delta` (add/remove) or :math:`2\\Delta`
    (replace-one); the step is accounted with the envelope of the pairs
    :math:`(X + s, X)` over all such :math:`s` -- exact (it is the worst pair) whenever one
    shift dominates, which is the usual case.  The pmfs are exact, so the PLD bounds are
    tight; the paper's closed form (:func:`cpsgd_epsilon`) is several times larger.  The two
    supports differ, so there is no finite RDP and ``method="rdp"`` returns ``inf``.

    .. math::

        \\delta(\\varepsilon) = \\sum_k \\big(\\Pr[X + s = k] - e^{\\varepsilon}
        \\Pr[X = k]\\big)_+ \\quad\\text{(one release, worst } s\\text{)}.

    Parameters
    ----------
    trials : int
        :math:`N \\ge 1`.
    p : float
        :math:`p \\in (0, 1)`.
    sensitivity : int
        :math:`\\Delta \\ge 1`, largest change of the integer sum under add/remove.

    Returns
    -------
    BinomialDpEvent

    References
    ----------
    .. [1] N. Agarwal, A. T. Suresh, F. Yu, S. Kumar, H. B. McMahan. "cpSGD:
       Communication-efficient and differentially-private distributed SGD." NeurIPS 2018,
       arXiv:1805.10559, Sec. 4 (binomial mechanism).
    .. [2] A. Koskela, J. Jälkö, L. Prediger, A. Honkela. "Tight Differential Privacy for
       Discrete-Valued Mechanisms and for the Subsampled Gaussian Mechanism Using FFT."
       AISTATS 2021, arXiv:2006.07134 (exact PLD of discrete mechanisms).

    Examples
    --------
    >>> from fltheory.accounting import binomial, cpsgd_epsilon, epsilon
    >>> g = epsilon(binomial(trials=2000, p=0.5), delta=1e-6)
    >>> g.epsilon < cpsgd_epsilon(2000, 0.5, delta=1e-6).epsilon
    True
    """
    n = check_int("trials", trials, minimum=1)
    pf = float(p)
    if not 0 < pf < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    s = check_int("sensitivity", sensitivity, minimum=1)
    return BinomialDpEvent(n, pf, s)


def cpsgd_epsilon(trials: int, p: float, delta: float, *, scale: float = 1.0,
                  dimension: int = 1, l1_sensitivity: float = 1.0,
                  l2_sensitivity: float = 1.0, linf_sensitivity: float = 1.0) -> \
        PrivacyGuarantee:
    """The closed-form ε of the binomial mechanism (cpSGD, Agarwal et al. 2018, Thm. 1).

    With :math:`b_p = \\tfrac23(p^2 + (1-p)^2) + 1 - 2p`,
    :math:`c_p = \\sqrt2 (3p^3 + 3(1-p)^3 + 2p^2 + 2(1-p)^2)`,
    :math:`d_p = \\tfrac43 (p^2 + (1-p)^2)` and :math:`v = N p (1-p)`,

    .. math::

        \\varepsilon = \\frac{\\Delta_2\\sqrt{2\\log(1.25/\\delta)}}{s\\sqrt v}
        + \\frac{\\Delta_2 c_p \\sqrt{\\log(10/\\delta)} + \\Delta_1 b_p}{s v (1 - \\delta/10)}
        + \\frac{\\tfrac23 \\Delta_\\infty \\log(1.25/\\delta)
          + \\Delta_\\infty d_p \\log(20 d/\\delta)\\log(10/\\delta)}{s v},

    valid when :math:`v \\ge \\max(23\\log(10 d/\\delta), 2\\Delta_\\infty / s)`.  A valid but
    loose upper bound (labelled so); :func:`binomial` gives the exact 1-D answer.

    Parameters
    ----------
    trials, p : int, float
        Binomial parameters :math:`N, p`.
    delta : float
        δ in (0, 1).
    scale : float
        Quantization scale :math:`s` (sensitivities in the original units).
    dimension : int
        :math:`d`.
    l1_sensitivity, l2_sensitivity, linf_sensitivity : float
        :math:`\\Delta_1, \\Delta_2, \\Delta_\\infty`.

    Returns
    -------
    PrivacyGuarantee
        ``method="closed form (loose)"``.

    Raises
    ------
    ValueError
        Outside the theorem's condition on :math:`N p (1-p)`.

    References
    ----------
    .. [1] N. Agarwal, A. T. Suresh, F. Yu, S. Kumar, H. B. McMahan. NeurIPS 2018,
       arXiv:1805.10559, Thm. 1 (eqs. 7, 12, 16, 17).

    Examples
    --------
    >>> from fltheory.accounting import cpsgd_epsilon
    >>> round(cpsgd_epsilon(2000, 0.5, delta=1e-6).epsilon, 4)
    0.6375
    """
    n = check_int("trials", trials, minimum=1)
    pf = float(p)
    if not 0 < pf < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    d = check_open_unit("delta", delta)
    s = check_positive("scale", scale)
    dim = check_int("dimension", dimension, minimum=1)
    d1 = check_nonnegative("l1_sensitivity", l1_sensitivity)
    d2 = check_nonnegative("l2_sensitivity", l2_sensitivity)
    di = check_nonnegative("linf_sensitivity", linf_sensitivity)
    v = n * pf * (1 - pf)
    need = max(23.0 * math.log(10.0 * dim / d), 2.0 * di / s)
    if v < need:
        raise ValueError(f"trials * p * (1 - p) must be >= {need:.4g} for cpSGD Thm. 1 "
                         f"(max(23 log(10 d / delta), 2 linf / scale)), got {v:.4g}; use "
                         "binomial(trials, p, sensitivity) (exact PLD), valid for every N")
    q = 1 - pf
    b_p = 2.0 / 3.0 * (pf ** 2 + q ** 2) + 1.0 - 2.0 * pf
    c_p = math.sqrt(2.0) * (3 * pf ** 3 + 3 * q ** 3 + 2 * pf ** 2 + 2 * q ** 2)
    d_p = 4.0 / 3.0 * (pf ** 2 + q ** 2)
    eps = (d2 * math.sqrt(2 * math.log(1.25 / d)) / (s * math.sqrt(v))
           + (d2 * c_p * math.sqrt(math.log(10 / d)) + d1 * b_p) / (s * v * (1 - d / 10))
           + (2.0 / 3.0 * di * math.log(1.25 / d)
              + di * d_p * math.log(20 * dim / d) * math.log(10 / d)) / (s * v))
    return PrivacyGuarantee(eps, d, "closed form (loose)", "add_remove", _REF_CPSGD, None,
                            notes=("closed-form upper bound, several times looser than the "
                                   "exact PLD of binomial()",
                                   "sensitivities as given (the theorem's neighbouring "
                                   "notion)"))


# ---------------------------------------------------------------------------------------------
# Discrete Gaussian
# ---------------------------------------------------------------------------------------------
@attr.define(frozen=True)
class DiscreteGaussianDpEvent(dp_accounting.DpEvent):
    """Discrete Gaussian noise :math:`\\mathcal N_{\\mathbb Z}(0, \\sigma^2)` on an integer sum.

    Threat model: the noise is drawn by a trusted party (or inside secure aggregation) and
    never revealed.  One participant moves the sum by at most ``sensitivity`` (add/remove).
    """

    sigma: float
    sensitivity: int


def _dgauss_logpmf(sigma: float, k: np.ndarray) -> tuple[np.ndarray, float]:
    """log pmf of N_Z(0, sigma^2) on ``k`` and the log normaliser."""
    kk = np.arange(-int(40 * sigma + 40), int(40 * sigma + 40) + 1, dtype=float)
    lw = -kk * kk / (2 * sigma * sigma)
    mx = lw.max()
    logz = float(mx + math.log(np.exp(lw - mx).sum()))
    return -np.asarray(k, float) ** 2 / (2 * sigma * sigma) - logz, logz


class DGaussStep(_ShiftStep):
    def rdp(self, orders, relation):
        s = self.max_shift * _rel_scale(relation)
        orders = np.asarray(orders, float)
        return orders * s * s / (2.0 * self._sigma ** 2)


def _handle_dgauss(ev: DiscreteGaussianDpEvent):
    sigma = check_positive("sigma", ev.sigma)
    s = check_int("sensitivity", ev.sensitivity, minimum=1)
    kmax = int(math.ceil(sigma * math.sqrt(2.0 * math.log(1e40)) + 4 * s + 2))
    k = np.arange(-kmax, kmax + 1)
    lp, logz = _dgauss_logpmf(sigma, k)
    # mass outside |k| <= kmax: sum_{|k| > kmax} exp(-k^2 / 2 sigma^2) / Z
    ko = np.arange(kmax + 1, kmax + int(40 * sigma + 40), dtype=float)
    out = 2.0 * float(np.exp(-ko * ko / (2 * sigma * sigma) - logz).sum()) * (1 + 1e-9) + 1e-300
    st = DGaussStep(k, lp, out, s, f"discrete Gaussian (sigma={sigma:g}), sensitivity {s}",
                    ("dgauss", sigma, s), _REF_DGAUSS)
    st._sigma = sigma
    return [(st, 1)]


_steps.register_event(DiscreteGaussianDpEvent, _handle_dgauss)


def discrete_gaussian(sigma: float, sensitivity: int = 1):
    """The discrete Gaussian mechanism (Canonne, Kamath, Steinke 2020): exact PLD and RDP.

    :math:`X \\sim \\mathcal N_{\\mathbb Z}(0, \\sigma^2)`,
    :math:`\\Pr[X = k] \\propto e^{-k^2/(2\\sigma^2)}`, added to an integer sum with
    sensitivity :math:`\\Delta`.  The privacy loss on output :math:`k` is
    :math:`(2k\\Delta - \\Delta^2)/(2\\sigma^2)` and

    .. math::

        \\delta(\\varepsilon) = \\Pr\\Big[X > \\frac{\\varepsilon\\sigma^2}{\\Delta}
        - \\frac{\\Delta}{2}\\Big] - e^{\\varepsilon}\\Pr\\Big[X > \\frac{\\varepsilon
        \\sigma^2}{\\Delta} + \\frac{\\Delta}{2}\\Big];

    RDP: :math:`\\alpha\\Delta^2/(2\\sigma^2)` (concentrated DP).  The PLD uses the exact pmf
    (tails beyond :math:`\\approx 13.6\\sigma` charged conservatively).

    Parameters
    ----------
    sigma : float
        :math:`\\sigma > 0`.
    sensitivity : int
        :math:`\\Delta \\ge 1` (add/remove; doubled under replace-one).

    Returns
    -------
    DiscreteGaussianDpEvent

    References
    ----------
    .. [1] C. Canonne, G. Kamath, T. Steinke. "The Discrete Gaussian for Differential Privacy."
       NeurIPS 2020, arXiv:2004.00010, Thm. 7 (exact δ) and Prop. 5 (concentrated DP).

    Examples
    --------
    >>> from fltheory.accounting import discrete_gaussian, delta
    >>> g = delta(discrete_gaussian(sigma=3.0, sensitivity=1), epsilon=1.0)
    >>> f"{g.delta_lower:.4e} {g.delta:.4e}"
    '2.1778e-04 2.1778e-04'
    """
    sg = check_positive("sigma", sigma)
    s = check_int("sensitivity", sensitivity, minimum=1)
    return DiscreteGaussianDpEvent(sg, s)


# ---------------------------------------------------------------------------------------------
# Skellam
# ---------------------------------------------------------------------------------------------
@attr.define(frozen=True)
class SkellamDpEvent(dp_accounting.DpEvent):
    """Skellam noise :math:`\\mathrm{Sk}(\\mu, \\mu)` (variance :math:`2\\mu`) per coordinate.

    Threat model: the noise is the sum of the clients' Skellam shares inside secure
    aggregation (at least the shares of honest clients sum to :math:`\\mu`); nobody sees a
    share.  One participant changes the integer sum by ``l1_sensitivity`` / ``l2_sensitivity``
    in ℓ1 / ℓ2 norm (add/remove).
    """

    mu: float
    l1_sensitivity: float
    l2_sensitivity: float


class SkellamStep(_steps.Step):
    has_pld = False
    reference = _REF_SKELLAM

    def __init__(self, mu: float, d1: float, d2: float):
        self.mu, self.d1, self.d2 = mu, d1, d2

    def key(self) -> tuple:
        return ("skellam", self.mu, self.d1, self.d2)

    def describe(self) -> str:
        return f"Skellam noise (mu={self.mu:g}, l1={self.d1:g}, l2={self.d2:g})"

    def rdp(self, orders, relation):
        k = _rel_scale(relation)
        return skellam_rdp(self.mu, k * self.d1, k * self.d2, orders)


def skellam_rdp(mu: float, l1: float, l2: float, orders) -> np.ndarray:
    """RDP of Sk(μ, μ) noise: ``α Δ2²/(4μ) + min(((2α-1)Δ2² + 6Δ1)/(16μ²), 3Δ1/(4μ))``.

    Integer orders as stated; a fractional order uses the next integer.
    """
    a = _ceil_orders(orders)
    return (a * l2 * l2 / (4 * mu)
            + np.minimum(((2 * a - 1) * l2 * l2 + 6 * l1) / (16 * mu * mu), 3 * l1 / (4 * mu)))


def _handle_skellam(ev: SkellamDpEvent):
    mu = check_positive("mu", ev.mu)
    d1 = check_nonnegative("l1_sensitivity", ev.l1_sensitivity)
    d2 = check_nonnegative("l2_sensitivity", ev.l2_sensitivity)
    return [(SkellamStep(mu, d1, d2), 1)]


_steps.register_event(SkellamDpEvent, _handle_skellam)


def skellam(mu: float, l1_sensitivity: float, l2_sensitivity: float):
    """The Skellam mechanism (Agarwal, Kairouz, Liu 2021), Rényi DP.

    Noise :math:`\\mathrm{Sk}(\\mu, \\mu)` (difference of two Poisson(μ), variance
    :math:`2\\mu`) on every coordinate of the integer sum; for integer :math:`\\alpha > 1`

    .. math::

        \\varepsilon(\\alpha) \\le \\frac{\\alpha\\Delta_2^2}{4\\mu}
        + \\min\\Big(\\frac{(2\\alpha - 1)\\Delta_2^2 + 6\\Delta_1}{16\\mu^2},
        \\frac{3\\Delta_1}{4\\mu}\\Big).

    Values: :math:`\\Delta_1 = \\Delta_2 = 1, \\mu = 50`: 0.010225 (α = 2), 0.040525 (α = 8).
    RDP only (no PLD; ``method="pld"`` falls back to RDP with a note).

    Parameters
    ----------
    mu : float
        :math:`\\mu > 0`.
    l1_sensitivity, l2_sensitivity : float
        :math:`\\Delta_1, \\Delta_2` (add/remove; doubled under replace-one).

    Returns
    -------
    SkellamDpEvent

    References
    ----------
    .. [1] N. Agarwal, P. Kairouz, Z. Liu. "The Skellam Mechanism for Differentially Private
       Federated Learning." NeurIPS 2021, arXiv:2110.04995 (RDP of the multi-dimensional
       Skellam mechanism).

    Examples
    --------
    >>> from fltheory.accounting import skellam, epsilon
    >>> from fltheory.accounting.discrete import skellam_rdp
    >>> [round(float(x), 6) for x in skellam_rdp(50, 1, 1, [2, 8])]
    [0.010225, 0.040525]
    >>> epsilon(skellam(50, 1, 1), delta=1e-5).method
    'rdp'
    """
    mu_ = check_positive("mu", mu)
    d1 = check_nonnegative("l1_sensitivity", l1_sensitivity)
    d2 = check_nonnegative("l2_sensitivity", l2_sensitivity)
    return SkellamDpEvent(mu_, d1, d2)


# ---------------------------------------------------------------------------------------------
# Distributed discrete Gaussian
# ---------------------------------------------------------------------------------------------
def ddg_rounded_l2_sensitivity(l2_norm: float, dimension: int, beta: float = 0.0) -> float:
    """ℓ2 norm bound after (conditional) randomized rounding to the integer grid.

    .. math::

        \\min\\Big(c + \\sqrt d,\\ \\sqrt{c^2 + \\tfrac d4 + \\sqrt{2\\ln(1/\\beta)}
        \\big(c + \\tfrac{\\sqrt d}{2}\\big)}\\Big)

    (the second term only for ``beta > 0``: rounding is repeated until the norm is below it,
    which fails with probability ``beta``).

    Examples
    --------
    >>> from fltheory.accounting.discrete import ddg_rounded_l2_sensitivity
    >>> ddg_rounded_l2_sensitivity(10.0, 100)
    20.0
    """
    c = check_nonnegative("l2_norm", l2_norm)
    d = check_int("dimension", dimension, minimum=1)
    b1 = c + math.sqrt(d)
    if beta <= 0:
        return b1
    if not beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    b2 = math.sqrt(c * c + d / 4.0 + math.sqrt(2.0 * math.log(1.0 / beta)) * (c + math.sqrt(d) / 2))
    return min(b1, b2)


@attr.define(frozen=True)
class DistributedDiscreteGaussianDpEvent(dp_accounting.DpEvent):
    """Sum of ``num_clients`` independent discrete Gaussians :math:`\\mathcal N_{\\mathbb Z}
    (0, \\sigma^2)^d` added by the clients to their rounded, clipped vectors inside secure
    aggregation.

    Threat model: the server sees only the modular sum; each client's noise share is secret.
    The guarantee counts the noise of ``num_clients`` clients (use the smallest number that
    is guaranteed to participate honestly).  Units: the integer grid (scale the clip norm
    ``l2_sensitivity`` by ``1/granularity`` before calling).
    """

    local_sigma: float
    num_clients: int
    l2_sensitivity: float
    dimension: int
    beta: float = 0.0
    l1_sensitivity: float | None = None
    rounding: bool = True


class DDGStep(_steps.Step):
    has_pld = False
    reference = _REF_DDG

    def __init__(self, sigma, n, l1, l2, d):
        self.sigma, self.n, self.l1, self.l2, self.d = sigma, n, l1, l2, d
        ks = np.arange(1, n, dtype=float)
        self.tau = 10.0 * float(np.sum(np.exp(-2.0 * math.pi ** 2 * sigma ** 2 * ks / (ks + 1))))

    def key(self) -> tuple:
        return ("ddg", self.sigma, self.n, self.l1, self.l2, self.d)

    def describe(self) -> str:
        return (f"distributed discrete Gaussian (sigma={self.sigma:g}, n={self.n}, "
                f"l2={self.l2:g}, d={self.d})")

    def rdp(self, orders, relation):
        k = _rel_scale(relation)
        a = _ceil_orders(orders)
        sc = math.sqrt(self.n) * self.sigma
        a1, a2 = k * self.l1 / sc, k * self.l2 / sc
        tau, d = self.tau, self.d
        t1 = a * a2 * a2 / 2 + tau * d
        t2 = a / 2 * (a2 * a2 + 2 * a1 * tau + tau * tau * d)
        t3 = a / 2 * (a2 + math.sqrt(d) * tau) ** 2
        return np.minimum(np.minimum(t1, t2), t3)


def _handle_ddg(ev: DistributedDiscreteGaussianDpEvent):
    sigma = check_positive("local_sigma", ev.local_sigma)
    n = check_int("num_clients", ev.num_clients, minimum=1)
    c = check_nonnegative("l2_sensitivity", ev.l2_sensitivity)
    d = check_int("dimension", ev.dimension, minimum=1)
    beta = float(ev.beta)
    l2 = ddg_rounded_l2_sensitivity(c, d, beta) if ev.rounding else c
    if ev.l1_sensitivity is not None:
        l1 = check_nonnegative("l1_sensitivity", ev.l1_sensitivity)
    else:
        # integer vectors: ||x||_1 <= min(sqrt(d) ||x||_2, ||x||_2^2)
        l1 = min(math.sqrt(d) * l2, l2 * l2)
    return [(DDGStep(sigma, n, l1, l2, d), 1)]


_steps.register_event(DistributedDiscreteGaussianDpEvent, _handle_ddg)


def distributed_discrete_gaussian(local_sigma: float, num_clients: int, l2_sensitivity: float,
                                  dimension: int, *, beta: float = 0.0,
                                  l1_sensitivity: float | None = None, rounding: bool = True):
    """The distributed discrete Gaussian (Kairouz, Liu, Steinke 2021), Rényi DP.

    Each of :math:`n` clients adds :math:`\\mathcal N_{\\mathbb Z}(0, \\sigma^2)^d` to its
    rounded vector; the sum of :math:`n` discrete Gaussians is close to one of variance
    :math:`n\\sigma^2`.  With :math:`\\tau = 10\\sum_{k=1}^{n-1}e^{-2\\pi^2\\sigma^2
    \\frac{k}{k+1}}` and :math:`a_i = \\Delta_i/(\\sqrt n\\sigma)`, for integer
    :math:`\\alpha`

    .. math::

        \\varepsilon(\\alpha) = \\min\\Big\\{\\frac{\\alpha a_2^2}{2} + \\tau d,\\;
        \\frac{\\alpha}{2}(a_2^2 + 2a_1\\tau + \\tau^2 d),\\;
        \\frac{\\alpha}{2}(a_2 + \\sqrt d\\,\\tau)^2\\Big\\}.

    Rounding a clipped vector of norm :math:`c` to the grid inflates its norm to
    :func:`ddg_rounded_l2_sensitivity` (``rounding=True``, the default); the ℓ1 bound defaults
    to :math:`\\min(\\sqrt d\\,\\Delta_2, \\Delta_2^2)` (integer vectors).

    Parameters
    ----------
    local_sigma : float
        σ of each client's discrete Gaussian, in grid units.
    num_clients : int
        :math:`n`, clients whose noise is in the sum.
    l2_sensitivity : float
        Clip norm :math:`c` in grid units (before rounding).
    dimension : int
        :math:`d`.
    beta : float, optional
        Conditional-rounding failure probability (0: unconditional rounding).
    l1_sensitivity : float, optional
        ℓ1 bound (default from ℓ2, see above).
    rounding : bool, optional
        Apply the rounding inflation (default ``True``).

    Returns
    -------
    DistributedDiscreteGaussianDpEvent

    References
    ----------
    .. [1] P. Kairouz, Z. Liu, T. Steinke. "The Distributed Discrete Gaussian Mechanism for
       Federated Learning with Secure Aggregation." ICML 2021, arXiv:2102.06387 (Thm. on the
       sum of discrete Gaussians; conditional randomized rounding).

    Examples
    --------
    >>> from fltheory.accounting import distributed_discrete_gaussian, epsilon
    >>> ev = distributed_discrete_gaussian(local_sigma=30.0, num_clients=100,
    ...                                    l2_sensitivity=100.0, dimension=1000)
    >>> g = epsilon(ev, delta=1e-5)
    >>> g.method, round(g.epsilon, 2)
    ('rdp', 1.87)
    """
    sg = check_positive("local_sigma", local_sigma)
    n = check_int("num_clients", num_clients, minimum=1)
    c = check_nonnegative("l2_sensitivity", l2_sensitivity)
    d = check_int("dimension", dimension, minimum=1)
    b = float(beta)
    if not 0 <= b < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    l1 = None if l1_sensitivity is None else check_nonnegative("l1_sensitivity", l1_sensitivity)
    return DistributedDiscreteGaussianDpEvent(sg, n, c, d, b, l1, bool(rounding))


# ---------------------------------------------------------------------------------------------
# CLI scenarios
# ---------------------------------------------------------------------------------------------
def _composed(ev, count):
    count = int(count)
    return ev if count == 1 else dp_accounting.SelfComposedDpEvent(ev, count)


register_scenario(Scenario(
    name="binomial",
    build=lambda trials, p=0.5, sensitivity=1, count=1: _composed(
        binomial(trials, p, sensitivity), count),
    params=(
        Param("trials", int, "binomial N (more trials = more noise)"),
        Param("p", float, "binomial p in (0, 1)", default=0.5),
        Param("sensitivity", int, "largest change of the integer sum (add/remove)", default=1),
        Param("count", int, "number of releases (coordinates x rounds)", default=1,
              role="count"),
    ),
    summary="binomial mechanism (cpSGD), exact PLD",
    example="fltheory epsilon --scenario binomial --trials 2000 --delta 1e-6",
))

register_scenario(Scenario(
    name="skellam",
    build=lambda mu, l1_sensitivity, l2_sensitivity, count=1: _composed(
        skellam(mu, l1_sensitivity, l2_sensitivity), count),
    params=(
        Param("mu", float, "Skellam parameter mu (variance 2 mu)", role="noise"),
        Param("l1_sensitivity", float, "l1 sensitivity of the integer sum"),
        Param("l2_sensitivity", float, "l2 sensitivity of the integer sum"),
        Param("count", int, "number of rounds", default=1, role="count"),
    ),
    summary="Skellam mechanism (Agarwal, Kairouz, Liu 2021), RDP",
    example="fltheory epsilon --scenario skellam --mu 50 --l1-sensitivity 1 "
            "--l2-sensitivity 1 --count 100 --delta 1e-5",
))

register_scenario(Scenario(
    name="distributed_discrete_gaussian",
    build=lambda local_sigma, num_clients, l2_sensitivity, dimension, beta=0.0, count=1:
    _composed(distributed_discrete_gaussian(local_sigma, num_clients, l2_sensitivity,
                                            dimension, beta=beta), count),
    params=(
        Param("local_sigma", float, "each client's discrete Gaussian sigma (grid units)",
              role="noise"),
        Param("num_clients", int, "clients whose noise is in the sum"),
        Param("l2_sensitivity", float, "clip norm in grid units (before rounding)"),
        Param("dimension", int, "model dimension d"),
        Param("beta", float, "conditional rounding failure probability", default=0.0),
        Param("count", int, "number of rounds", default=1, role="count"),
    ),
    summary="distributed discrete Gaussian with secure aggregation (RDP)",
    example="fltheory epsilon --scenario distributed_discrete_gaussian --local-sigma 20 "
            "--num-clients 100 --l2-sensitivity 100 --dimension 1000 --count 10 --delta 1e-5",
))

register_scenario(Scenario(
    name="discrete_gaussian",
    build=lambda sigma, sensitivity=1, count=1: _composed(discrete_gaussian(sigma, sensitivity),
                                                           count),
    params=(
        Param("sigma", float, "discrete Gaussian sigma", role="noise"),
        Param("sensitivity", int, "integer sensitivity (add/remove)", default=1),
        Param("count", int, "number of releases", default=1, role="count"),
    ),
    summary="discrete Gaussian mechanism (Canonne, Kamath, Steinke 2020), exact PLD",
    example="fltheory epsilon --scenario discrete_gaussian --sigma 3 --count 100 --delta 1e-5",
))
