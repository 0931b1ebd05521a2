r"""Vectorised Rényi-DP (RDP) engine for subsampled Gaussian mechanisms.

This private module computes the RDP curves that :mod:`fltheory.accounting`
composes and converts to :math:`(\varepsilon, \delta)`. It reproduces the RDP
accountant of Google's ``dp-accounting`` (``dp_accounting.rdp``) value for
value, but evaluates whole grids of configurations and orders with NumPy array
operations instead of one Python call per configuration and per order.

Contents
--------
:data:`DEFAULT_ORDERS`
    The orders dp-accounting uses by default.
:func:`rdp_poisson_gaussian`
    Poisson-subsampled Gaussian, add/remove-one neighbours (Mironov, Talwar,
    Zhang 2019).
:func:`rdp_to_epsilon`, :func:`rdp_to_delta`
    Improved RDP to :math:`(\varepsilon, \delta)` conversion (Balle et al. 2020;
    Canonne, Kamath, Steinke 2020).
:func:`rdp_replace_one_poisson_gaussian`
    Exact RDP of the replace-one dominating pair of the Poisson-subsampled
    Gaussian, by numerical integration.
:func:`rdp_sampled_without_replacement_gaussian`
    Wang–Balle–Kasiviswanathan bound for fixed-size sampling without
    replacement, replace-one neighbours.

Conventions
-----------
``q`` is the sampling rate, ``z`` the noise multiplier (noise standard
deviation divided by the clipping norm :math:`C`), ``orders`` the RDP orders
:math:`\alpha > 1`. Every RDP function returns an array of shape
``np.broadcast(q, z).shape + (len(orders),)``.

*Neighbouring relations.* Under add/remove-one (AR) a record changes the
clipped sum by at most :math:`C`, so the Gaussian has sensitivity :math:`C`
and the RDP of the unsampled mechanism is :math:`\alpha/(2z^2)`. fltheory's
replace-one (RO) convention is that replacing one record moves the sum by up
to :math:`2C` (the old record's contribution :math:`c` is removed and a new
one :math:`c'` added, :math:`\|c - c'\| \le 2C`): the unsampled Gaussian then
has RDP :math:`2\alpha/z^2`, i.e. the AR value at noise multiplier
:math:`z/2`.

*Bit compatibility with dp-accounting.* For small ``q`` the quantity
:math:`\log A_\alpha` is a difference of terms of size :math:`\alpha q` whose
result is of size :math:`\alpha^2 q^2 (e^{1/z^2} - 1)`; dp-accounting sums the
series in log space one term at a time, so its own rounding error is amplified
there (it is :math:`\approx 10^{-5}` relative at ``q=1e-6, z=100``). To match it
to the last digits anyway, this module evaluates the same expressions in the
same order: the series are summed with ``np.logaddexp`` (which uses the C
library's ``exp``/``log1p``, as :func:`math.log1p` does), and the handful of
per-configuration scalars (``log q``, ``log1p(-q)``, ``log(1/q - 1)``) and
per-order constants are computed with :mod:`math` (NumPy's SIMD ``log1p``
differs from the C library's in the last bit for about 10 % of inputs). All the
work that grows with the number of series terms is vectorised.

References
----------
.. [MTZ19] I. Mironov, K. Talwar, L. Zhang. "Rényi Differential Privacy of the
   Sampled Gaussian Mechanism." arXiv:1908.10530, 2019. Sec. 3.3 (integer and
   fractional orders).
.. [Mir17] I. Mironov. "Rényi Differential Privacy." CSF 2017, Prop. 3.
.. [BBGHS20] B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato. "Hypothesis
   Testing Interpretations and Rényi Differential Privacy." AISTATS 2020,
   Thm. 21 (arXiv:1905.09982).
.. [CKS20] C. Canonne, G. Kamath, T. Steinke. "The Discrete Gaussian for
   Differential Privacy." NeurIPS 2020, Prop. 12 of arXiv:2004.00010v4.
.. [WBK19] Y.-X. Wang, B. Balle, S. Kasiviswanathan. "Subsampled Rényi
   Differential Privacy and Analytical Moments Accountant." AISTATS 2019,
   Thm. 27 (arXiv:1808.00087).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Tuple

import numpy as np
from scipy import special

from fltheory._checks import check_array, check_real

__all__ = [
    "DEFAULT_ORDERS",
    "rdp_poisson_gaussian",
    "rdp_to_epsilon",
    "rdp_to_delta",
    "rdp_replace_one_poisson_gaussian",
    "rdp_poisson_gaussian_integrated",
    "rdp_sampled_without_replacement_gaussian",
]

#: dp-accounting's ``DEFAULT_RDP_ORDERS``: 1.1, 1.2, ..., 10.9, 11, ..., 63,
#: 128, 256, 512, 1024 (the same floating-point values, built the same way).
DEFAULT_ORDERS: np.ndarray = np.array(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024],
    dtype=float,
)
DEFAULT_ORDERS.setflags(write=False)

_LOG_HALF = math.log(0.5)
_LOG_2 = math.log(2)
_SQRT2 = math.sqrt(2)
_SQRT2_POW = 2**0.5
#: dp-accounting gives up on the fractional-order series after this many terms
#: and reports an infinite RDP for that order.
_MAX_FRAC_TERMS = 1000
#: number of series terms evaluated at once for the fractional orders; rows that
#: have not met the stopping rule continue with the next block.
_FRAC_BLOCKS = (8, 16, 32, 64, 128, 256, 496)
#: cap on the number of float64 elements of one temporary array.
_MAX_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------- helpers


def _libm(fn: Callable[[float], float], x: np.ndarray) -> np.ndarray:
    """Apply a :mod:`math` function elementwise (C loop over the C library).

    Used only for per-configuration and per-order scalars, where bit-exact
    agreement with dp-accounting's scalar code matters (see the module notes).
    """
    x = np.asarray(x, dtype=float)
    flat = np.fromiter(map(fn, x.ravel().tolist()), dtype=float, count=x.size)
    return flat.reshape(x.shape)


def _check_orders(orders: Any, *, name: str = "orders", strict: bool = True) -> np.ndarray:
    arr = check_array(name, orders, low=1.0, low_open=strict)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def _broadcast_qz(q: Any, z: Any) -> Tuple[np.ndarray, np.ndarray, Tuple[int, ...]]:
    q = check_array("q", q, low=0.0, high=1.0)
    z = check_array("z", z, low=0.0)
    try:
        qb, zb = np.broadcast_arrays(q, z)
    except ValueError:
        raise ValueError(
            f"q and z must broadcast together, got shapes {q.shape} and {z.shape}"
        ) from None
    return qb.ravel(), zb.ravel(), qb.shape


def _chunks(n_rows: int, row_size: int):
    """Yield slices of at most ``_MAX_ELEMENTS / row_size`` rows."""
    step = max(1, _MAX_ELEMENTS // max(1, row_size))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


# --------------------------------------------------------------------------- add/remove


def _log_a_int(log_q: np.ndarray, log_1mq: np.ndarray, two_s2: np.ndarray,
               alphas: np.ndarray) -> np.ndarray:
    r""":math:`\log A_\alpha` for integer orders; configs (n,) x orders (m,) -> (n, m).

    .. math:: A_\alpha = \sum_{i=0}^{\alpha} \binom{\alpha}{i} (1-q)^{\alpha-i} q^i
              e^{(i^2 - i)/(2\sigma^2)},

    summed in log space term after term (``np.logaddexp.reduce``), exactly as
    dp-accounting's ``_compute_log_a_int`` does. Orders are grouped so that the
    padding of short series stays below a factor 2.
    """
    n, m = log_q.size, alphas.size
    out = np.empty((n, m))
    # group the orders by floor(log2(alpha + 1)): at most ~11 groups for alpha <= 1024
    group = np.floor(np.log2(alphas + 1)).astype(int)
    for g in np.unique(group):
        cols = np.flatnonzero(group == g)
        a = alphas[cols][:, None]                      # (g, 1)
        length = int(a.max()) + 1
        i = np.arange(length, dtype=float)[None, :]    # (1, L)
        valid = i <= a
        # dp: _log_comb(alpha, i) = gammaln(n+1) - gammaln(k+1) - gammaln(n-k+1)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_comb = special.gammaln(a + 1) - special.gammaln(i + 1) - special.gammaln(a - i + 1)
        a_minus_i = a - i
        quad = (i * i - i)
        for sl in _chunks(n, a.size * length):
            lq = log_q[sl, None, None]
            l1 = log_1mq[sl, None, None]
            s2 = two_s2[sl, None, None]
            with np.errstate(invalid="ignore"):
                terms = log_comb + i * lq + a_minus_i * l1
                terms = terms + quad / s2
            terms = np.where(valid, terms, -np.inf)
            out[sl, cols] = np.logaddexp.reduce(terms, axis=-1)
    return out


def _log_a_frac(log_q: np.ndarray, log_1mq: np.ndarray, sigma: np.ndarray,
                two_s2: np.ndarray, z0: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    r""":math:`\log A_\alpha` for fractional orders; configs (n,) x orders (m,) -> (n, m).

    Sec. 3.3 of [MTZ19]: with :math:`z_0 = \sigma^2 \log(1/q - 1) + 1/2`,

    .. math::
        A_\alpha = \sum_{i \ge 0} \left|\binom{\alpha}{i}\right| \Big[
            q^i (1-q)^{\alpha-i} e^{(i^2-i)/(2\sigma^2)}
            \tfrac12 \operatorname{erfc}\!\big(\tfrac{i - z_0}{\sqrt2\sigma}\big)
          + q^{\alpha-i} (1-q)^{i} e^{(j^2-j)/(2\sigma^2)}
            \tfrac12 \operatorname{erfc}\!\big(\tfrac{z_0 - j}{\sqrt2\sigma}\big)
        \Big],\quad j = \alpha - i,

    with the absolute values of the generalised binomial coefficients (as
    dp-accounting's ``_log_comb`` via ``gammaln``). Both series are summed in log
    space term by term, and stopped at the first term :math:`i` at which both
    terms decrease and are below :math:`e^{-30}` times the running total; a row
    that has not stopped after 1000 terms is infinite. This is dp-accounting's
    rule, evaluated for all rows at once on blocks of terms.
    """
    n, m = log_q.size, alphas.size
    rows = n * m
    # per-row (config, order) quantities, flattened
    a = np.broadcast_to(alphas[None, :], (n, m)).ravel()
    ridx = np.repeat(np.arange(n), m)
    result = np.full(rows, np.inf)
    active = np.arange(rows)
    a0 = np.full(rows, -np.inf)
    a1 = np.full(rows, -np.inf)
    last0 = np.full(rows, -np.inf)
    last1 = np.full(rows, -np.inf)
    finished = np.zeros(rows, dtype=bool)
    gl_a1 = special.gammaln(a + 1)
    sq2s = _SQRT2 * sigma   # dp: math.sqrt(2) * sigma
    start = 0
    for block in _FRAC_BLOCKS:
        if active.size == 0 or start >= _MAX_FRAC_TERMS:
            break
        block = min(block, _MAX_FRAC_TERMS - start)
        i = np.arange(start, start + block, dtype=float)[None, :]
        gl_i1 = special.gammaln(i + 1)
        for sl in _chunks(active.size, 4 * block):
            act = active[sl]
            c = ridx[act][:, None]
            al = a[act][:, None]
            j = al - i
            log_coef = gl_a1[act][:, None] - gl_i1 - special.gammaln(al - i + 1)
            lq, l1 = log_q[c], log_1mq[c]
            log_t0 = log_coef + i * lq + j * l1
            log_t1 = log_coef + j * lq + i * l1
            zz, ss, s2 = z0[c], sq2s[c], two_s2[c]
            x0 = (i - zz) / ss
            x1 = (zz - j) / ss
            log_e0 = _LOG_HALF + (_LOG_2 + special.log_ndtr(-x0 * _SQRT2_POW))
            log_e1 = _LOG_HALF + (_LOG_2 + special.log_ndtr(-x1 * _SQRT2_POW))
            s0 = log_t0 + (i * i - i) / s2 + log_e0
            s1 = log_t1 + (j * j - j) / s2 + log_e1
            # running log-sums, continuing from the previous block (sequential, as dp)
            cum0 = np.logaddexp.accumulate(np.concatenate([a0[act][:, None], s0], axis=1), axis=1)[:, 1:]
            cum1 = np.logaddexp.accumulate(np.concatenate([a1[act][:, None], s1], axis=1), axis=1)[:, 1:]
            total = np.logaddexp(cum0, cum1)
            prev0 = np.concatenate([last0[act][:, None], s0[:, :-1]], axis=1)
            prev1 = np.concatenate([last1[act][:, None], s1[:, :-1]], axis=1)
            stop = (s0 < prev0) & (s1 < prev1) & (np.maximum(s0, s1) < total - 30)
            done = stop.any(axis=1)
            first = np.argmax(stop, axis=1)
            result[act[done]] = total[done, first[done]]
            a0[act] = cum0[:, -1]
            a1[act] = cum1[:, -1]
            last0[act] = s0[:, -1]
            last1[act] = s1[:, -1]
            finished[act[done]] = True
        active = active[~finished[active]]
        start += block
    return result.reshape(n, m)


def rdp_poisson_gaussian(q: Any, z: Any, orders: Any = DEFAULT_ORDERS) -> np.ndarray:
    r"""RDP of the Poisson-subsampled Gaussian mechanism (add/remove-one).

    Each record is included independently with probability ``q``; the sum of the
    included (clipped) records receives Gaussian noise of standard deviation
    ``z`` times the sensitivity. For :math:`0 < q < 1` and
    :math:`\mu_0 = \mathcal N(0, z^2)`, :math:`\mu_1 = \mathcal N(1, z^2)`,

    .. math::
        \varepsilon(\alpha) = \frac{1}{\alpha - 1} \log A_\alpha, \qquad
        A_\alpha = \mathbb{E}_{x \sim \mu_0}\!\left[
            \left(1 - q + q\,\frac{\mu_1(x)}{\mu_0(x)}\right)^{\alpha}\right].

    For integer :math:`\alpha` this is the binomial sum

    .. math::
        A_\alpha = \sum_{k=0}^{\alpha} \binom{\alpha}{k} (1-q)^{\alpha-k} q^k
        \exp\!\left(\frac{k^2 - k}{2 z^2}\right);

    fractional orders use the two series of [MTZ19]_ Sec. 3.3 (see the
    module's notes). Special cases: :math:`q = 0 \Rightarrow 0`;
    :math:`q = 1 \Rightarrow \alpha/(2z^2)`; :math:`z = 0` (and :math:`q > 0`)
    :math:`\Rightarrow \infty`. The values equal dp-accounting's
    ``_compute_rdp_poisson_subsampled_gaussian`` (including its ``inf`` where
    its fractional series does not converge in 1000 terms).

    Parameters
    ----------
    q : array_like
        Sampling rate(s) in :math:`[0, 1]`.
    z : array_like
        Noise multiplier(s) :math:`\ge 0`; broadcast against ``q``.
    orders : array_like, optional
        1-D array of RDP orders :math:`\alpha > 1` (default
        :data:`DEFAULT_ORDERS`).

    Returns
    -------
    numpy.ndarray
        RDP values, shape ``np.broadcast(q, z).shape + (len(orders),)``; may
        contain ``inf``.

    References
    ----------
    .. [MTZ19] I. Mironov, K. Talwar, L. Zhang. "Rényi Differential Privacy of
       the Sampled Gaussian Mechanism." arXiv:1908.10530 (2019), Sec. 3.3.
    .. [Mir17] I. Mironov. "Rényi Differential Privacy." CSF 2017, Prop. 7
       (Gaussian mechanism, :math:`\alpha/(2z^2)`).

    Examples
    --------
    >>> import numpy as np
    >>> from fltheory.accounting._rdp import rdp_poisson_gaussian
    >>> rdp_poisson_gaussian(0.01, 1.1, orders=[2, 8, 32])
    array([1.28510...e-04, 5.84070...e-04, 8.46941...e+00])
    >>> rdp_poisson_gaussian([0.01, 1.0], [[1.0], [2.0]], orders=[2, 4.5]).shape
    (2, 2, 2)
    """
    qf, zf, shape = _broadcast_qz(q, z)
    orders = _check_orders(orders)
    out = np.empty((qf.size, orders.size))
    zero = qf == 0
    nonoise = (zf == 0) & ~zero
    full = (qf == 1) & ~zero & ~nonoise
    gen = ~(zero | nonoise | full)
    out[zero] = 0.0
    out[nonoise] = np.inf
    if full.any():
        out[full] = orders[None, :] / (2 * zf[full, None] ** 2)
    if gen.any():
        qg, sg = qf[gen], zf[gen]
        log_q = _libm(math.log, qg)
        log_1mq = _libm(math.log1p, -qg)
        two_s2 = 2 * (sg**2)
        is_int = orders == np.floor(orders)
        res = np.empty((qg.size, orders.size))
        if is_int.any():
            a_int = orders[is_int]
            res[:, is_int] = _log_a_int(log_q, log_1mq, two_s2, a_int) / (a_int - 1)
        if (~is_int).any():
            a_frac = orders[~is_int]
            z0 = sg**2 * _libm(math.log, 1 / qg - 1) + 0.5
            log_a = _log_a_frac(log_q, log_1mq, sg, two_s2, z0, a_frac)
            res[:, ~is_int] = log_a / (a_frac - 1)
        out[gen] = res
    return out.reshape(shape + (orders.size,))


# --------------------------------------------------------------------------- conversions


def _check_rdp(orders: Any, rdp: Any) -> Tuple[np.ndarray, np.ndarray]:
    orders = _check_orders(orders, strict=False)
    try:
        rdp = np.asarray(rdp, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("rdp must be a numeric array") from None
    if rdp.ndim == 0 or rdp.shape[-1] != orders.size:
        raise ValueError(
            f"the last axis of rdp must have len(orders) = {orders.size} entries, "
            f"got shape {rdp.shape}"
        )
    if np.isnan(rdp).any():
        raise ValueError("rdp must not contain nan")
    return orders, rdp


def rdp_to_epsilon(orders: Any, rdp: Any, delta: float) -> Tuple[np.ndarray, np.ndarray]:
    r"""Smallest :math:`\varepsilon` at a given :math:`\delta` from RDP curves.

    For each order with RDP :math:`r = \varepsilon(\alpha)` the mechanism is
    :math:`(\varepsilon_\alpha, \delta)`-DP with ([BBGHS20]_ Thm. 21,
    [CKS20]_ Prop. 12)

    .. math::
        \varepsilon_\alpha = r + \log\!\left(1 - \frac1\alpha\right)
            - \frac{\log(\delta\alpha)}{\alpha - 1}
        \quad (\alpha > 1.01),

    and with :math:`\varepsilon = 0` whenever the KL bound
    :math:`\delta \ge \sqrt{1 - e^{-r}}` already holds (i.e.
    :math:`\delta^2 + \operatorname{expm1}(-r) > 0`) or :math:`r < 0` (numerical
    noise). Orders :math:`\le 1.01` give :math:`\infty` otherwise. The result is
    the minimum over orders, clipped at 0. With :math:`\delta = 0` the result is
    0 if all :math:`r = 0` and :math:`\infty` otherwise (order reported as 0).
    Values, tie-breaking (first minimal order) and special cases are those of
    ``dp_accounting.rdp.compute_epsilon``, vectorised over leading axes.

    Parameters
    ----------
    orders : array_like
        1-D array of orders :math:`\alpha \ge 1`.
    rdp : array_like
        RDP values; the last axis runs over ``orders`` (may contain ``inf``).
    delta : float
        Target :math:`\delta \ge 0`.

    Returns
    -------
    epsilon : numpy.ndarray
        Shape ``rdp.shape[:-1]``.
    best_order : numpy.ndarray
        The order attaining the minimum, same shape.

    References
    ----------
    .. [BBGHS20] B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato. "Hypothesis
       Testing Interpretations and Rényi Differential Privacy." AISTATS 2020,
       Thm. 21.
    .. [CKS20] C. Canonne, G. Kamath, T. Steinke. "The Discrete Gaussian for
       Differential Privacy." NeurIPS 2020; arXiv:2004.00010v4, Prop. 12.
    .. [Mir17] I. Mironov. "Rényi Differential Privacy." CSF 2017, Prop. 3
       (the basic conversion this one improves).

    Examples
    --------
    >>> from fltheory.accounting._rdp import rdp_poisson_gaussian, rdp_to_epsilon, DEFAULT_ORDERS
    >>> rdp = 1000 * rdp_poisson_gaussian([0.01, 0.02], 1.0)
    >>> eps, order = rdp_to_epsilon(DEFAULT_ORDERS, rdp, delta=1e-5)
    >>> eps.round(4), order
    (array([2.1014, 4.3242]), array([7.8, 5.1]))
    """
    orders, rdp = _check_rdp(orders, rdp)
    delta = check_real("delta", delta)
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    lead = rdp.shape[:-1]
    if delta == 0:
        allzero = np.all(rdp == 0, axis=-1)
        return np.where(allzero, 0.0, np.inf), np.zeros(lead)
    # per-order constants with the C library, as dp-accounting's scalar code;
    # orders <= 1.01 get no bound (and alpha = 1 would divide by zero)
    use = orders > 1.01
    safe = np.where(use, orders, 2.0)
    log1m_inv = _libm(math.log1p, -1 / safe)
    log_da = _libm(math.log, delta * safe)
    with np.errstate(invalid="ignore", over="ignore"):
        eps = rdp + log1m_inv - log_da / (safe - 1)
    eps = np.where(use, eps, np.inf)
    # KL shortcut: delta**2 + expm1(-r) > 0  ->  epsilon = 0
    d2 = delta**2
    margin = d2 + np.expm1(-rdp)
    kl = margin > 0
    near = np.abs(margin) <= 16 * np.finfo(float).eps * max(d2, np.finfo(float).tiny)
    if near.any():  # settle boundary cases with the C library's expm1
        kl[near] = d2 + _libm(math.expm1, -rdp[near]) > 0
    eps = np.where((rdp < 0) | kl, 0.0, eps)
    idx = np.argmin(eps, axis=-1)
    best = np.take_along_axis(eps, idx[..., None], axis=-1)[..., 0]
    return np.maximum(best, 0.0), orders[idx]


def _kl_logdelta_scalar(r: float) -> float:
    return 0.5 * math.log1p(-math.exp(-r))


def rdp_to_delta(orders: Any, rdp: Any, epsilon: float) -> Tuple[np.ndarray, np.ndarray]:
    r"""Smallest :math:`\delta` at a given :math:`\varepsilon` from RDP curves.

    For each order ([CKS20]_ Prop. 12, [BBGHS20]_ Thm. 21)

    .. math::
        \log\delta_\alpha = \min\!\Big\{\tfrac12\log\!\big(1 - e^{-r}\big),\;
            (\alpha - 1)\big(r - \varepsilon + \log(1 - 1/\alpha)\big) - \log\alpha\Big\},

    the second term only for :math:`\alpha > 1.01` (the first is the KL bound
    :math:`\delta \le \sqrt{1 - e^{-\mathrm{KL}}}`); :math:`r \le 0` gives
    :math:`\delta_\alpha = 0`. The result is the minimum over orders, clipped at
    1. Values and tie-breaking are those of ``dp_accounting.rdp.compute_delta``,
    vectorised over leading axes.

    Parameters
    ----------
    orders : array_like
        1-D array of orders :math:`\alpha \ge 1`.
    rdp : array_like
        RDP values; the last axis runs over ``orders``.
    epsilon : float
        Target :math:`\varepsilon \ge 0`.

    Returns
    -------
    delta : numpy.ndarray
        Shape ``rdp.shape[:-1]``.
    best_order : numpy.ndarray
        The order attaining the minimum, same shape.

    References
    ----------
    .. [CKS20] C. Canonne, G. Kamath, T. Steinke. "The Discrete Gaussian for
       Differential Privacy." NeurIPS 2020; arXiv:2004.00010v4, Prop. 12.
    .. [BBGHS20] B. Balle et al. "Hypothesis Testing Interpretations and Rényi
       Differential Privacy." AISTATS 2020, Thm. 21.

    Examples
    --------
    >>> from fltheory.accounting._rdp import rdp_poisson_gaussian, rdp_to_delta, DEFAULT_ORDERS
    >>> rdp = 1000 * rdp_poisson_gaussian(0.01, [1.0, 2.0])
    >>> delta, order = rdp_to_delta(DEFAULT_ORDERS, rdp, epsilon=1.0)
    >>> delta, order
    (array([8.3468...e-03, 2.3703...e-09]), array([ 6., 32.]))
    """
    orders, rdp = _check_rdp(orders, rdp)
    epsilon = check_real("epsilon", epsilon)
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        kl = 0.5 * np.log1p(-np.exp(-rdp))
        kl = np.where(rdp <= 0, -np.inf, kl)
        use_bound = orders > 1.01
        safe = np.where(use_bound, orders, 2.0)
        log1m_inv = _libm(math.log1p, -1 / safe)
        log_a = _libm(math.log, safe)
        bound = (safe - 1) * (rdp - epsilon + log1m_inv) - log_a
    logd = np.where(use_bound, np.minimum(kl, bound), kl)
    idx = np.argmin(logd, axis=-1)
    take = lambda arr: np.take_along_axis(np.broadcast_to(arr, rdp.shape), idx[..., None], axis=-1)[..., 0]
    r_sel, b_sel, u_sel = take(rdp), take(bound), take(use_bound)
    # recompute the selected entries with the C library (NumPy's SIMD exp/log1p
    # may differ from it in the last bit)
    kl_sel = np.full(r_sel.shape, -np.inf)
    pos = r_sel > 0
    if pos.any():
        kl_sel[pos] = _libm(_kl_logdelta_scalar, r_sel[pos])
    logd_sel = np.where(u_sel, np.minimum(kl_sel, b_sel), kl_sel)
    delta = np.minimum(_libm(math.exp, logd_sel), 1.0)
    return delta, orders[idx]


# --------------------------------------------------------------------------- replace-one

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
#: panels whose log-integrand is this far below the row's maximum are dropped
#: (log-space integral; the contributions dropped are < e^-45 of the largest)
_RO_THRESHOLD = 45.0
#: the same for the direct integral of I - 1, which can be ~1e-20 of the peak
_RO_THRESHOLD_EXCESS = 80.0
#: half-width of the coarse scan beyond the modes, in units of z
_RO_SCAN = 20.0
#: half-width of the region always integrated for I - 1, in units of z
_RO_CORE = 12.0
#: below this value of log I, I - 1 is integrated directly
_RO_SMALL = 1e-3
_RO_RTOL = 1e-13
_RO_MAX_LEVELS = 40
# series coefficients: log1p(w) - w = sum_{k>=2} (-1)^{k+1} w^k / k,
# expm1(u) - u = sum_{k>=2} u^k / k!
# (|x| < 0.05: 10 terms reach double precision; beyond, the direct formulas
# lose at most a factor 2 / 0.05 = 40 of relative precision)
_LOG1PMX_COEF = np.array([(-1.0) ** (k + 1) / k for k in range(2, 12)])
_EXPM1MX_COEF = np.array([1.0 / math.factorial(k) for k in range(2, 12)])
_SERIES_RADIUS = 0.05


def _series(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``sum_k coef[k] * x**(k + 2)`` by Horner's rule."""
    acc = np.full_like(x, coef[-1])
    for c in coef[-2::-1]:
        acc = acc * x + c
    return acc * x * x


class _RoRows:
    """Per-row parameters of the replace-one integrand (row = configuration x order)."""

    def __init__(self, q: np.ndarray, z: np.ndarray, alpha: np.ndarray) -> None:
        self.q, self.z, self.alpha = q, z, alpha
        self.log_q = np.log(q)
        self.log_1mq = np.log1p(-q)
        self.two_z2 = 2 * z * z
        self.log_norm = np.log(z) + _LOG_SQRT_2PI

    def parts(self, x: np.ndarray, r: np.ndarray):
        """log phi, b_P, b_Q, l_P, l_Q, u at points ``x`` of rows ``r``."""
        t = self.two_z2[r]
        log_phi = -(x * x) / t - self.log_norm[r]
        b_p = (2 * x - 1) / t
        b_q = (-2 * x - 1) / t
        l_p = np.logaddexp(self.log_1mq[r], self.log_q[r] + b_p)
        l_q = np.logaddexp(self.log_1mq[r], self.log_q[r] + b_q)
        a = self.alpha[r]
        u = a * l_p + (1 - a) * l_q
        return log_phi, b_p, b_q, l_p, l_q, u

    def log_integrand(self, x: np.ndarray, r: np.ndarray) -> np.ndarray:
        log_phi, _, _, _, _, u = self.parts(x, r)
        return log_phi + u

    def excess_integrand(self, x: np.ndarray, r: np.ndarray) -> np.ndarray:
        r"""Integrand of :math:`I - 1` without cancellation (see the function's notes)."""
        log_phi, b_p, b_q, l_p, l_q, u = self.parts(x, r)
        phi = np.exp(log_phi)
        q, a = self.q[r], self.alpha[r]

        def phi_log1pmx(b, l):
            # phi * (log1p(w) - w) with w = q * expm1(b) = exp(l) - 1
            with np.errstate(over="ignore", invalid="ignore"):
                w = q * np.expm1(b)
                small = np.abs(w) < _SERIES_RADIUS
                big = phi * l - q * (np.exp(log_phi + b) - phi)
                return np.where(small, phi * _series(np.where(small, w, 0.0), _LOG1PMX_COEF), big)

        small_u = np.abs(u) < _SERIES_RADIUS
        with np.errstate(over="ignore", invalid="ignore"):
            big_u = np.exp(log_phi + u) - phi - phi * u
        phi_expm1mx = np.where(
            small_u, phi * _series(np.where(small_u, u, 0.0), _EXPM1MX_COEF), big_u)
        return phi_expm1mx + a * phi_log1pmx(b_p, l_p) + (1 - a) * phi_log1pmx(b_q, l_q)


def _gauss_legendre(fn, r: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    half = 0.5 * (hi - lo)
    x = (0.5 * (hi + lo))[:, None] + half[:, None] * _GL_NODES[None, :]
    vals = fn(x, np.broadcast_to(r[:, None], x.shape))
    return half * (vals @ _GL_WEIGHTS)


def _adaptive_panels(fn, r: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_rows: int) -> np.ndarray:
    """Adaptive composite 16-point Gauss-Legendre over panels, all rows at once.

    A panel is accepted when its two halves agree with the whole to
    ``_RO_RTOL`` times the current estimate of its row's integral; otherwise it
    is split. Returns the per-row sums (``nan`` if a row did not converge).
    """
    whole = _gauss_legendre(fn, r, lo, hi)
    accepted = np.zeros(n_rows)
    failed = np.zeros(n_rows, dtype=bool)
    for _ in range(_RO_MAX_LEVELS):
        if r.size == 0:
            break
        mid = 0.5 * (lo + hi)
        left = _gauss_legendre(fn, r, lo, mid)
        right = _gauss_legendre(fn, r, mid, hi)
        both = left + right
        estimate = accepted + np.bincount(r, weights=both, minlength=n_rows)
        ok = np.abs(both - whole) <= _RO_RTOL * np.abs(estimate[r])
        ok |= ~np.isfinite(both)  # non-finite: propagate, the row is reported as such
        accepted += np.bincount(r[ok], weights=both[ok], minlength=n_rows)
        keep = ~ok
        r = np.repeat(r[keep], 2)
        lo, mid_k, hi = lo[keep], mid[keep], hi[keep]
        lo, hi = np.column_stack([lo, mid_k]).ravel(), np.column_stack([mid_k, hi]).ravel()
        whole = np.column_stack([left[keep], right[keep]]).ravel()
    else:
        failed[np.unique(r)] = True
        warnings.warn(
            f"replace-one RDP: quadrature did not converge for {int(failed.sum())} "
            "(configuration, order) pair(s); reporting inf for them",
            RuntimeWarning, stacklevel=4)
    return np.where(failed, np.nan, accepted)


class _ArRows(_RoRows):
    """Rows of the add/remove (remove-direction) integrand: Q = N(0, z^2), so l_Q = 0."""

    def parts(self, x: np.ndarray, r: np.ndarray):
        t = self.two_z2[r]
        log_phi = -(x * x) / t - self.log_norm[r]
        b_p = (2 * x - 1) / t
        l_p = np.logaddexp(self.log_1mq[r], self.log_q[r] + b_p)
        zero = np.zeros_like(x)
        return log_phi, b_p, zero, l_p, zero, self.alpha[r] * l_p


def _ro_log_integral(q: np.ndarray, z: np.ndarray, alpha: np.ndarray,
                     rows_cls: type = _RoRows) -> np.ndarray:
    r"""Row-wise :math:`\log\int p^\alpha q^{1-\alpha}` for 0 < q < 1, z > 0 (1-D row arrays)."""
    rows = rows_cls(q, z, alpha)
    n = q.size
    # 1. coarse scan of the log-integrand on [-(20z+2), 2*alpha - 1 + 20z + 4]
    step = 0.5 * np.minimum(z, z * z)
    lo = -(_RO_SCAN * z + 2)
    hi = 2 * alpha - 1 + _RO_SCAN * z + 4
    npan = np.ceil((hi - lo) / step).astype(np.int64)
    step = (hi - lo) / npan
    out = np.empty(n)
    # process rows in groups whose coarse grids fit in memory
    bounds = np.concatenate([[0], np.cumsum(npan + 1)])
    start = 0
    while start < n:
        stop = int(np.searchsorted(bounds, bounds[start] + _MAX_ELEMENTS, side="right")) - 1
        stop = min(n, max(stop, start + 1))
        sel = np.arange(start, stop)
        counts = npan[sel] + 1
        r = np.repeat(sel, counts)
        offs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        k = np.arange(r.size) - np.repeat(offs, counts)
        x = lo[r] + k * step[r]
        f = rows.log_integrand(x, r)
        f = np.where(np.isnan(f), -np.inf, f)
        fmax = np.maximum.reduceat(f, offs)
        # panels = consecutive coarse points of a row
        last = np.zeros(r.size, dtype=bool)
        last[np.cumsum(counts) - 1] = True
        first_pt = ~last
        pf = np.maximum(f[:-1], f[1:])[first_pt[:-1]]
        pr = r[:-1][first_pt[:-1]]
        plo = x[:-1][first_pt[:-1]]
        phi_ = plo + step[pr]
        row_max = np.repeat(fmax, counts - 1)
        core = (phi_ >= -(_RO_CORE * z[pr] + 2)) & (plo <= _RO_CORE * z[pr] + 4)
        take = pf > row_max - _RO_THRESHOLD
        take_excess = (pf > row_max - _RO_THRESHOLD_EXCESS) | core
        # 2. log-space integral, scaled by the coarse maximum of each row
        shift = fmax

        def scaled(xx, rr, _shift=shift, _start=start):
            with np.errstate(over="ignore", invalid="ignore"):
                return np.exp(rows.log_integrand(xx, rr + _start) - _shift[rr])

        total = _adaptive_panels(scaled, pr[take] - start, plo[take], phi_[take], sel.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_i = shift + np.log(total)
        # 3. rows with a small integral: integrate I - 1 directly (no cancellation)
        small = np.isfinite(log_i) & (log_i < _RO_SMALL)
        if small.any():
            pick = take_excess & small[pr - start]

            def excess(xx, rr, _start=start):
                return rows.excess_integrand(xx, rr + _start)

            ex = _adaptive_panels(excess, pr[pick] - start, plo[pick], phi_[pick], sel.size)
            log_i[small] = np.log1p(ex[small])
        out[sel] = log_i
        start = stop
    return out


def rdp_replace_one_poisson_gaussian(q: Any, z: Any, orders: Any = DEFAULT_ORDERS) -> np.ndarray:
    r"""Exact RDP of the Poisson-subsampled Gaussian under replace-one neighbours.

    fltheory's replace-one convention (clipping norm :math:`C`, noise standard
    deviation :math:`zC`): replacing one record moves the clipped sum by up to
    :math:`2C`. Scaling by :math:`C`, the dominating pair of one step is

    .. math::
        P = (1-q)\,\mathcal N(0, z^2) + q\,\mathcal N(+1, z^2), \qquad
        Q = (1-q)\,\mathcal N(0, z^2) + q\,\mathcal N(-1, z^2)

    (the common part of the sum is centred at 0; the replaced record
    contributes :math:`+1` in one dataset and :math:`-1` in the other, which
    are :math:`2` apart). The pair is symmetric under :math:`x \mapsto -x`, so
    :math:`D_\alpha(P\|Q) = D_\alpha(Q\|P)` and

    .. math::
        \varepsilon(\alpha) = \frac{1}{\alpha-1}\log I_\alpha, \qquad
        I_\alpha = \int_{\mathbb R} \varphi_z(x)\,
            e^{\alpha\,\ell_P(x) + (1-\alpha)\,\ell_Q(x)}\,dx,\quad
        \ell_{P,Q}(x) = \log\!\big(1 - q + q\,e^{(\pm 2x - 1)/(2z^2)}\big).

    :math:`I_\alpha` is computed by adaptive composite 16-point Gauss–Legendre
    quadrature in log space (scaled by the maximum of the log-integrand, located
    by a scan with step :math:`\min(z, z^2)/2` over
    :math:`[-20z - 2,\; 2\alpha - 1 + 20z + 4]`, which contains the integrand's
    modes at :math:`0`, :math:`\alpha` and :math:`2\alpha - 1` and its
    transitions, of width :math:`z^2`, at :math:`\pm(1/2 + z^2\log((1-q)/q))`;
    panels are halved until their two halves agree with the whole to
    :math:`10^{-13}` of the total). When :math:`\log I_\alpha < 10^{-3}` the
    excess :math:`I_\alpha - 1` is integrated directly, using
    :math:`\int \varphi_z\,(\alpha w_P + (1-\alpha) w_Q) = 0` with
    :math:`w = e^{\ell} - 1` to remove the first-order cancellation, so that
    small RDP values (down to :math:`10^{-16}` and below) keep their relative
    accuracy. Checked against 30- and 40-digit :mod:`mpmath` quadrature at 57
    points (:math:`q \in [10^{-6}, 1)`, :math:`z \in [0.3, 100]`,
    :math:`\alpha \le 1024`): largest relative error :math:`10^{-13}`. Special cases:
    :math:`q = 0 \Rightarrow 0`; :math:`q = 1 \Rightarrow 2\alpha/z^2` (Gaussian
    with sensitivity 2); :math:`z = 0 \Rightarrow \infty`. Returns ``inf``
    where the integral overflows.

    This is slower than :func:`rdp_poisson_gaussian`: about 20–130 ms per
    configuration for the 156 default orders (most for small ``z``); all orders
    and configurations are integrated together.

    Parameters
    ----------
    q : array_like
        Sampling rate(s) in :math:`[0, 1]`.
    z : array_like
        Noise multiplier(s) :math:`\ge 0` (relative to the clipping norm
        :math:`C`); broadcast against ``q``.
    orders : array_like, optional
        1-D array of RDP orders :math:`\alpha > 1`.

    Returns
    -------
    numpy.ndarray
        Shape ``np.broadcast(q, z).shape + (len(orders),)``.

    References
    ----------
    .. [Mir17] I. Mironov. "Rényi Differential Privacy." CSF 2017, Prop. 7
       (Gaussian mechanism: sensitivity :math:`\Delta` gives
       :math:`\alpha\Delta^2/(2z^2)`, here :math:`\Delta = 2`).
    .. [MTZ19] I. Mironov, K. Talwar, L. Zhang. "Rényi Differential Privacy of
       the Sampled Gaussian Mechanism." arXiv:1908.10530 (2019), Sec. 3
       (the add/remove analogue, one Gaussian component per side).
    .. [ZDW22] Y. Zhu, J. Dong, Y.-X. Wang. "Optimal Accounting of Differential
       Privacy via Characteristic Function." AISTATS 2022, Sec. 5 (dominating
       pairs of subsampled mechanisms under replace-one).

    Examples
    --------
    >>> from fltheory.accounting._rdp import rdp_replace_one_poisson_gaussian, rdp_poisson_gaussian
    >>> rdp_replace_one_poisson_gaussian(1.0, 2.0, orders=[2, 8])   # 2 alpha / z^2
    array([1., 4.])
    >>> ro = rdp_replace_one_poisson_gaussian(0.01, 1.1, orders=[2, 8])
    >>> ar = rdp_poisson_gaussian(0.01, 1.1, orders=[2, 8])
    >>> bool((ro >= ar).all())
    True
    """
    qf, zf, shape = _broadcast_qz(q, z)
    orders = _check_orders(orders)
    out = np.empty((qf.size, orders.size))
    zero = qf == 0
    nonoise = (zf == 0) & ~zero
    full = (qf == 1) & ~zero & ~nonoise
    gen = ~(zero | nonoise | full)
    out[zero] = 0.0
    out[nonoise] = np.inf
    if full.any():
        out[full] = 2 * orders[None, :] / zf[full, None] ** 2
    if gen.any():
        qg, zg = qf[gen], zf[gen]
        m = orders.size
        rq = np.repeat(qg, m)
        rz = np.repeat(zg, m)
        ra = np.tile(orders, qg.size)
        log_i = _ro_log_integral(rq, rz, ra)
        with np.errstate(invalid="ignore", over="ignore"):
            val = log_i / (ra - 1)
        val = np.where(np.isfinite(val), np.maximum(val, 0.0), np.inf)
        out[gen] = val.reshape(qg.size, m)
    return out.reshape(shape + (orders.size,))


def rdp_poisson_gaussian_integrated(q: Any, z: Any, orders: Any = DEFAULT_ORDERS) -> np.ndarray:
    r"""RDP of the Poisson-subsampled Gaussian (add/remove) with fractional orders integrated.

    The same quantity as :func:`rdp_poisson_gaussian`,

    .. math::
        A_\alpha = \int_{\mathbb R} \varphi_z(x)\,
            \big(1 - q + q\,e^{(2x - 1)/(2z^2)}\big)^{\alpha}\,dx,

    but fractional orders are evaluated by the adaptive Gauss–Legendre quadrature of
    :func:`rdp_replace_one_poisson_gaussian` (log space, with the excess :math:`A_\alpha - 1`
    integrated directly when small) instead of the two series of [MTZ19]_ Sec. 3.3, which
    dp-accounting stops after 1000 terms and then reports as ``inf`` (the order is dropped).
    Integer orders use the exact binomial sum.  The series sums absolute values of generalised
    binomial coefficients, so it is an upper bound; the integral is never larger (up to
    quadrature error, ``1e-13`` relative) and is finite where the series fails.

    Parameters
    ----------
    q, z, orders
        As in :func:`rdp_poisson_gaussian`.

    Returns
    -------
    numpy.ndarray
        Shape ``np.broadcast(q, z).shape + (len(orders),)``.

    References
    ----------
    .. [MTZ19] I. Mironov, K. Talwar, L. Zhang. "Rényi Differential Privacy of the Sampled
       Gaussian Mechanism." arXiv:1908.10530 (2019), Sec. 3 (the integral :math:`A_\alpha`).

    Examples
    --------
    >>> from fltheory.accounting._rdp import rdp_poisson_gaussian, rdp_poisson_gaussian_integrated
    >>> a = rdp_poisson_gaussian_integrated(0.01, 1.1, orders=[1.1, 2, 8.5])
    >>> b = rdp_poisson_gaussian(0.01, 1.1, orders=[1.1, 2, 8.5])
    >>> (b / a).round(4)        # the series is 5.8 % above the integral at order 1.1
    array([1.0581, 1.    , 1.    ])
    """
    qf, zf, shape = _broadcast_qz(q, z)
    orders = _check_orders(orders)
    out = np.asarray(rdp_poisson_gaussian(qf, zf, orders), float).reshape(qf.size, orders.size)
    frac = orders != np.floor(orders)
    gen = (qf > 0) & (qf < 1) & (zf > 0)
    if frac.any() and gen.any():
        qg, zg = qf[gen], zf[gen]
        a_f = orders[frac]
        m = a_f.size
        log_i = _ro_log_integral(np.repeat(qg, m), np.repeat(zg, m), np.tile(a_f, qg.size),
                                 rows_cls=_ArRows)
        with np.errstate(invalid="ignore", over="ignore"):
            val = log_i / (np.tile(a_f, qg.size) - 1)
        val = np.where(np.isfinite(val), np.maximum(val, 0.0), np.inf).reshape(qg.size, m)
        sub = out[gen]
        sub[:, frac] = val
        out[gen] = sub
    return out.reshape(shape + (orders.size,))


def rdp_sampled_without_replacement_gaussian(q: Any, z: Any, orders: Any = DEFAULT_ORDERS) -> np.ndarray:
    r"""RDP bound for fixed-size sampling without replacement (replace-one).

    A batch of :math:`m = qn` records is drawn uniformly without replacement
    from :math:`n` (the size :math:`n` is public); the clipped sum receives
    Gaussian noise :math:`zC`. Under fltheory's replace-one convention the
    sum's sensitivity is :math:`2C`, so the base mechanism is a Gaussian with
    RDP :math:`\alpha/(2 z_{\mathrm{eff}}^2)`, :math:`z_{\mathrm{eff}} = z/2`,
    and Theorem 27 of [WBK19]_ bounds the subsampled mechanism, for integer
    :math:`\alpha \ge 2`, by

    .. math::
        \varepsilon(\alpha) \le \frac{1}{\alpha-1}\log\Big(1
          + q^2\binom{\alpha}{2}\min\big\{4(e^{\varepsilon(2)}-1),
              2e^{\varepsilon(2)}\big\}
          + \sum_{j=3}^{\alpha} q^j \binom{\alpha}{j}\,
              \min\big\{4\,\Xi_j,\; 2e^{(j-1)\varepsilon(j)}\big\}\Big),

    with :math:`\varepsilon(\cdot)` the Gaussian's RDP at :math:`z_{\mathrm{eff}}`
    and :math:`\Xi_j` the geometric mean of the forward differences of
    :math:`e^{(\cdot)\varepsilon(\cdot)}` of even orders around :math:`j`;
    fractional orders interpolate the cumulant generating function linearly
    ([WBK19]_ Cor. 10). The bound is evaluated by dp-accounting's
    ``_compute_rdp_sample_wor_gaussian`` at noise multiplier :math:`z/2` (one call
    per configuration). It is an upper bound, not tight. Special cases:
    :math:`q = 0 \Rightarrow 0`, :math:`q = 1 \Rightarrow 2\alpha/z^2`,
    :math:`z = 0 \Rightarrow \infty`.

    Reference values: REFERENCES §1 lists dp-accounting's values at
    :math:`\gamma = q = 0.01` and noise multiplier 1.1,
    :math:`\varepsilon(2) = 4.5693\cdot10^{-4}`,
    :math:`\varepsilon(8) = 2.042153\cdot10^{-3}`; with fltheory's convention these
    are this function's values at :math:`z = 2.2` (:math:`z_{\mathrm{eff}} = 1.1`).

    Parameters
    ----------
    q : array_like
        Sampling fraction :math:`m/n` in :math:`[0, 1]`.
    z : array_like
        Noise multiplier(s) :math:`\ge 0` relative to the clipping norm; broadcast
        against ``q``.
    orders : array_like, optional
        1-D array of RDP orders :math:`\alpha > 1`.

    Returns
    -------
    numpy.ndarray
        Shape ``np.broadcast(q, z).shape + (len(orders),)``.

    References
    ----------
    .. [WBK19] Y.-X. Wang, B. Balle, S. Kasiviswanathan. "Subsampled Rényi
       Differential Privacy and Analytical Moments Accountant." AISTATS 2019,
       Thm. 27 and Cor. 10 (arXiv:1808.00087).

    Examples
    --------
    >>> from fltheory.accounting._rdp import rdp_sampled_without_replacement_gaussian
    >>> rdp_sampled_without_replacement_gaussian(0.01, 2.2, orders=[2, 8])
    array([0.00045693..., 0.00204215...])
    """
    from dp_accounting.rdp import rdp_privacy_accountant as _dp_rdp

    qf, zf, shape = _broadcast_qz(q, z)
    orders = _check_orders(orders)
    out = np.empty((qf.size, orders.size))
    for k in range(qf.size):  # dp-accounting's bound is scalar in (q, z)
        qk, zk = float(qf[k]), float(zf[k])
        if qk == 0:
            out[k] = 0.0
        elif zk == 0:
            out[k] = np.inf
        else:
            out[k] = _dp_rdp._compute_rdp_sample_wor_gaussian(qk, zk / 2, orders)
    return out.reshape(shape + (orders.size,))
