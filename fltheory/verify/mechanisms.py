"""Tiny instances of every accounted mechanism, as the engine implements it, with exact laws.

Each instance is a :class:`Instance`: the library's event (what a user would account), the
neighbouring relation, and for each *dataset pair* of a grid (including the adversarial pairs of
issue 11) the exact loss laws of both directions.  The mechanisms' structure:

* **Sums with Gaussian noise** (DP-SGD, DP-FedAvg, local DP-SGD, secret masks, mixup): the other
  records' contributions are independent of the target's randomness and identical under both
  neighbours, so, where they enter only as an additive independent term, conditioning on them is
  a post-processing; the adversarial grid then fixes them (zero, aligned with the target, or in
  an orthogonal coordinate that reveals a shared random choice).
* **Independent per-coordinate randomness** (Poisson masks drawn per coordinate, noise on every
  coordinate): coordinates are independent under both neighbours, so the loss of a
  ``d``-coordinate release is the sum of independent per-coordinate losses -- a composition of
  one-dimensional pairs.
* **Finite and integer mechanisms** (randomized response, quantizers, sign, shuffled binary
  randomized response, binomial, discrete Gaussian, Skellam, DDG): exact pmfs by enumeration.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special, stats

from ._exact import Law, finite_law, gaussian_mixture_law, gaussian_mixture_law_2d

__all__ = ["Instance", "DatasetPair"]


@dataclass
class DatasetPair:
    """One pair of neighbouring datasets: a label and the exact law of each direction per step."""

    label: str
    laws: Callable[[], dict[str, list[Law]]]     # direction -> per-step laws (T entries)


@dataclass
class Instance:
    """A mechanism instance: the library's event, the relation, the dataset grid."""

    mechanism: str
    params: dict
    event: Callable[[], object]                  # -> dp_accounting event (library's account)
    relation: str
    pairs: list[DatasetPair] = field(default_factory=list)
    worst_in_grid: bool = True                   # grid contains the mechanism's worst case

    @property
    def name(self) -> str:
        ps = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in self.params.items())
        return f"{self.mechanism}({ps})"


def _both(p_means, p_w, q_means, q_w, sigma, T, **kw) -> dict[str, list[Law]]:
    a = gaussian_mixture_law(p_means, p_w, q_means, q_w, sigma, **kw)
    b = gaussian_mixture_law(q_means, q_w, p_means, p_w, sigma, **kw)
    return {"P||Q": [a] * T, "Q||P": [b] * T}


def _finite_both(p, q, T, p_out=0.0) -> dict[str, list[Law]]:
    return {"P||Q": [finite_law(p, q, p_out=p_out)] * T,
            "Q||P": [finite_law(q, p, p_out=p_out)] * T}


# ---------------------------------------------------------------------------------------------
# Gaussian sums
# ---------------------------------------------------------------------------------------------
def dp_sgd(q: float, z: float, T: int, relation: str = "add_remove") -> Instance:
    """Poisson(q) record sampling, clipped gradients (C = 1), N(0, z^2) on the sum."""
    from fltheory.accounting import dp_sgd as ev

    inst = Instance("dp_sgd", dict(q=q, z=z, T=T), lambda: ev(q, z, T), relation)
    if relation == "add_remove":
        for a in (1.0, 0.5):
            inst.pairs.append(DatasetPair(
                f"target g={a:g} e1, others fixed",
                lambda a=a: _both([0.0, a], [1 - q, q], [0.0], [1.0], z, T)))
    else:
        for a, b in ((1.0, -1.0), (1.0, 0.0)):
            inst.pairs.append(DatasetPair(
                f"target {a:g} e1 vs {b:g} e1",
                lambda a=a, b=b: _both([0.0, a], [1 - q, q], [0.0, b], [1 - q, q], z, T)))
    return inst


def dp_fedavg(qc: float, z: float, T: int) -> Instance:
    """Client-level: Poisson(q_c) clients, update clipped to C = 1, N(0, z^2) on the sum."""
    from fltheory.accounting import dp_fedavg as ev

    inst = Instance("dp_fedavg", dict(qc=qc, z=z, T=T), lambda: ev(qc, z, T), "add_remove")
    inst.pairs.append(DatasetPair("target client update e1",
                                  lambda: _both([0.0, 1.0], [1 - qc, qc], [0.0], [1.0], z, T)))
    return inst


def local_dp_sgd(qc: float, ql: float, z: float, T: int, b: int = 2) -> Instance:
    """Two-level sampling: client with rate q_c, each of its b records with rate q_l (K = 1).

    Grid: the client's other ``b - 1`` records have gradient 0, ``e1`` (aligned with the target)
    or ``e2`` (orthogonal: their count reveals whether the client took part).
    """
    from fltheory.accounting import local_dp_sgd as ev

    inst = Instance("local_dp_sgd", dict(qc=qc, ql=ql, z=z, T=T, b=b),
                    lambda: ev(qc, ql, z, 1, T), "add_remove", worst_in_grid=False)
    ks = np.arange(b)
    pk = stats.binom.pmf(ks, b - 1, ql)
    for other, two_d in (("0", False), ("e1", False), ("e2", True)):
        u = 0.0 if other == "0" else 1.0
        if not two_d:
            pm = [0.0] + [k * u for k in ks] + [k * u + 1.0 for k in ks]
            pw = [1 - qc] + list(qc * pk * (1 - ql)) + list(qc * pk * ql)
            qm = [0.0] + [k * u for k in ks]
            qwt = [1 - qc] + list(qc * pk)

            def laws(pm=pm, pw=pw, qm=qm, qwt=qwt):
                return _both(pm, pw, qm, qwt, z, T)
        else:
            pm = [(0.0, 0.0)] + [(0.0, float(k)) for k in ks] + [(1.0, float(k)) for k in ks]
            pw = [1 - qc] + list(qc * pk * (1 - ql)) + list(qc * pk * ql)
            qm = [(0.0, 0.0)] + [(0.0, float(k)) for k in ks]
            qwt = [1 - qc] + list(qc * pk)

            def laws(pm=pm, pw=pw, qm=qm, qwt=qwt):
                a = gaussian_mixture_law_2d(pm, pw, qm, qwt, z)
                c = gaussian_mixture_law_2d(qm, qwt, pm, pw, z)
                return {"P||Q": [a] * T, "Q||P": [c] * T}
        inst.pairs.append(DatasetPair(f"other records {other}", laws))
    return inst


def mask_components(g, gamma: float) -> list[tuple[tuple[float, ...], float]]:
    """Enumerated components of one unit's masked contribution ``m * g`` (Poisson(γ) mask).

    Returns ``[(mean vector, probability), ...]`` over all ``2^d`` masks: the mixture the
    verifier integrates (per coordinate: ``(1-γ) N(0) + γ N(g_j)``, independent coordinates).
    """
    import itertools

    g = np.asarray(g, float)
    out = []
    for m in itertools.product((0, 1), repeat=g.size):
        m = np.array(m)
        out.append((tuple((m * g).tolist()), float(gamma ** m.sum() * (1 - gamma) **
                                                       (g.size - m.sum()))))
    return out


def secret_masks_record(gamma: float, z: float, T: int, d: int = 2) -> Instance:
    """Per-record secret Poisson(γ) masks applied before the sum, noise N(0, z^2) everywhere.

    The target's masked gradient is independent per coordinate, so a ``d``-coordinate release
    is a composition of 1-D pairs ``(1-γ)N(0) + γN(g_j)`` vs ``N(0)``; grid over how the
    norm C = 1 is spread (1-sparse, even over 2 or 3 coordinates, uneven).
    """
    from fltheory.accounting import coordinate_sampled_gaussian as ev

    inst = Instance("secret_masks_per_record", dict(gamma=gamma, z=z, T=T, d=d),
                    lambda: ev(gamma, z, T, mask_unit="record"), "add_remove")
    spreads = [[1.0], [0.8, 0.6], [1 / math.sqrt(2)] * 2]
    if d >= 3:
        spreads.append([1 / math.sqrt(3)] * 3)
    for g in spreads:
        def laws(g=g):
            out: dict[str, list[Law]] = {"P||Q": [], "Q||P": []}
            for gj in g:
                one = _both([0.0, gj], [1 - gamma, gamma], [0.0], [1.0], z, 1)
                out["P||Q"] += one["P||Q"]
                out["Q||P"] += one["Q||P"]
            return {k: v * T for k, v in out.items()}
        inst.pairs.append(DatasetPair(f"target spread {np.round(g, 3).tolist()}", laws))
    return inst


def secret_masks_client_at_record_level(gamma: float, z: float, T: int, b: int) -> Instance:
    """One secret mask per client over the mean of its ``b`` records (record-level DP).

    Release per coordinate: ``m_j * (sum_i g_ij) / b + N(0, s^2)`` with ``s = z / b`` (``z`` is
    relative to a record's contribution ``C/b``, ``C = 1``).  Replace-one: the target's
    gradient ``e1`` vs ``-e1``, the others ``e1`` (they reveal the mask).  The library's sound
    account is the unamplified Gaussian (replace-one sensitivity ``2C/b``).
    """
    from fltheory.accounting import coordinate_sampled_gaussian as ev

    def event():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ev(gamma, z, T, mask_unit="client", privacy_unit="record")

    s = z / b
    inst = Instance("secret_masks_per_client_record_level", dict(gamma=gamma, z=z, T=T, b=b),
                    event, "replace_one", worst_in_grid=False)
    for others in (1.0, 0.0):
        gp, gm = ((b - 1) * others + 1.0) / b, ((b - 1) * others - 1.0) / b
        inst.pairs.append(DatasetPair(
            f"others {others:g} e1, target e1 vs -e1",
            lambda gp=gp, gm=gm: _both([0.0, gp], [1 - gamma, gamma], [0.0, gm],
                                       [1 - gamma, gamma], s, T, cells=100_000)))
    return inst


def mixup_record(q: float, z: float, T: int, weights) -> Instance:
    """Record-level mixup: each sampled record enters with its own hidden weight λ ~ D."""
    from fltheory.accounting import mixup as ev

    lam = np.asarray(weights, float)
    w = np.full(lam.size, 1.0 / lam.size)
    inst = Instance("mixup_record", dict(q=q, z=z, T=T, weights=tuple(lam.tolist())),
                    lambda: ev(q, z, T, list(lam)), "add_remove")
    inst.pairs.append(DatasetPair(
        "target e1 (hidden weight), others fixed",
        lambda: _both(np.concatenate([[0.0], lam]), np.concatenate([[1 - q], q * w]),
                      [0.0], [1.0], z, T)))
    return inst


def mixup_pair(q: float, z: float, T: int, weights) -> Instance:
    """Pair mixup; the grid has the partner with zero gradient (weight hidden)."""
    from fltheory.accounting import mixup as ev

    inst = mixup_record(q, z, T, weights)
    inst.mechanism = "mixup_pair"
    lam = list(np.asarray(weights, float))
    inst.event = lambda: ev(q, z, T, lam, reveal_weights=True)
    inst.worst_in_grid = False
    return inst


# ---------------------------------------------------------------------------------------------
# Finite mechanisms
# ---------------------------------------------------------------------------------------------
def randomized_response(k: int, eps0: float, T: int) -> Instance:
    from fltheory.accounting import randomized_response as ev

    import dp_accounting

    e = math.exp(eps0)
    row = lambda i: np.array([e if j == i else 1.0 for j in range(k)]) / (e + k - 1)  # noqa
    inst = Instance("randomized_response", dict(k=k, eps0=eps0, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(k, eps0), T), "replace_one")
    inst.pairs.append(DatasetPair("x=0 vs x=1", lambda: _finite_both(row(0), row(1), T)))
    return inst


def stochastic_quantizer(c: float, B: float, T: int) -> Instance:
    from fltheory.accounting import stochastic_quantizer as ev

    import dp_accounting

    inst = Instance("stochastic_quantizer", dict(c=c, B=B, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(c, B), T), "replace_one")
    for x, y in ((c, -c), (c, 0.0)):
        p = np.array([(B + x) / (2 * B), (B - x) / (2 * B)])
        qq = np.array([(B + y) / (2 * B), (B - y) / (2 * B)])
        inst.pairs.append(DatasetPair(f"x={x:g} vs {y:g}",
                                      lambda p=p, qq=qq: _finite_both(p, qq, T)))
    return inst


def sign_gaussian(c: float, sigma: float, T: int) -> Instance:
    from fltheory.accounting import sign_gaussian as ev

    import dp_accounting

    inst = Instance("sign_gaussian", dict(c=c, sigma=sigma, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(c, sigma), T), "replace_one")
    for x, y in ((c, -c), (c, 0.0)):
        p = np.array([special.ndtr(x / sigma), special.ndtr(-x / sigma)])
        qq = np.array([special.ndtr(y / sigma), special.ndtr(-y / sigma)])
        inst.pairs.append(DatasetPair(f"x={x:g} vs {y:g}",
                                      lambda p=p, qq=qq: _finite_both(p, qq, T)))
    return inst


def finite_matrix(matrix, T: int) -> Instance:
    from fltheory.accounting import finite_mechanism as ev

    import dp_accounting

    m = np.asarray(matrix, float)
    inst = Instance("finite_mechanism", dict(shape=m.shape, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(m), T), "replace_one",
                    worst_in_grid=(T == 1))
    for i in range(m.shape[0]):
        for j in range(m.shape[0]):
            if i != j:
                inst.pairs.append(DatasetPair(f"rows {i} vs {j}",
                                              lambda i=i, j=j: _finite_both(m[i], m[j], T)))
    return inst


def shuffled_rr(eps0: float, n: int, T: int) -> Instance:
    """Shuffled binary randomized response: the count of ones, enumerated exactly.

    Grid: the number of other clients holding 1 (all of 0..n-1 for small n, a spread for
    large n).  The library's guarantee covers every eps0-LDP randomizer, binary RR included.
    """
    from fltheory.accounting import shuffled as ev

    p = math.exp(eps0) / (1 + math.exp(eps0))
    inst = Instance("shuffled", dict(eps0=eps0, n=n, T=T), lambda: ev(eps0, n, T),
                    "replace_one", worst_in_grid=False)
    ks = range(n) if n <= 30 else sorted({0, 1, n // 4, n // 2, n - 1})
    for k in ks:
        def laws(k=k):
            a = stats.binom.pmf(np.arange(k + 1), k, p)
            b = stats.binom.pmf(np.arange(n - k), n - 1 - k, 1 - p)
            others = np.convolve(a, b)
            P = np.concatenate([others * p, [0.0]]) + np.concatenate([[0.0], others * (1 - p)])
            Q = np.concatenate([others * (1 - p), [0.0]]) + np.concatenate([[0.0], others * p])
            return _finite_both(P, Q, T)
        inst.pairs.append(DatasetPair(f"{k} others hold 1", laws))
    return inst


def random_checkins_single(eps0: float, p0: float, T: int = 1) -> Instance:
    """Random check-ins with one client (n = 1): exact finite pair (the slot is data-free)."""
    p = math.exp(eps0) / (1 + math.exp(eps0))
    P = np.array([1 - p0, p0 * p, p0 * (1 - p)])
    Q = np.array([1 - p0, p0 * (1 - p), p0 * p])
    inst = Instance("random_checkins", dict(eps0=eps0, p0=p0, n=1, T=T), lambda: None,
                    "replace_one")
    inst.pairs.append(DatasetPair("x=0 vs x=1", lambda: _finite_both(P, Q, T)))
    return inst


# ---------------------------------------------------------------------------------------------
# Integer noise
# ---------------------------------------------------------------------------------------------
def _shift_pair(logpmf: Callable[[np.ndarray], np.ndarray], lo: int, hi: int, s: int,
                out: float, T: int) -> dict[str, list[Law]]:
    ks = np.arange(lo, hi + s + 1)
    a = np.exp(logpmf(ks - s))          # X + s
    b = np.exp(logpmf(ks))              # X
    return _finite_both(a, b, T, p_out=out)


def binomial(N: int, p: float, delta_: int, T: int) -> Instance:
    from fltheory.accounting import binomial as ev

    import dp_accounting

    inst = Instance("binomial", dict(N=N, p=p, sensitivity=delta_, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(N, p, delta_), T), "add_remove")
    for s in range(1, delta_ + 1):
        inst.pairs.append(DatasetPair(
            f"shift {s}", lambda s=s: _shift_pair(lambda k: stats.binom.logpmf(k, N, p),
                                                  0, N, s, 0.0, T)))
    return inst


def _dg_logpmf(sigma: float, lo: int, hi: int):
    ks = np.arange(lo, hi + 1)
    lw = -ks.astype(float) ** 2 / (2 * sigma * sigma)
    norm = special.logsumexp(lw)
    return lambda k: np.where((k >= lo) & (k <= hi),
                              -np.asarray(k, float) ** 2 / (2 * sigma * sigma) - norm, -np.inf)


def discrete_gaussian(sigma: float, delta_: int, T: int) -> Instance:
    from fltheory.accounting import discrete_gaussian as ev

    import dp_accounting

    R = int(math.ceil(40 * sigma)) + 5 * delta_ + 5
    inst = Instance("discrete_gaussian", dict(sigma=sigma, sensitivity=delta_, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(sigma, delta_), T),
                    "add_remove")
    # mass beyond +-R is below exp(-800): the normaliser is exact to double precision
    inst.pairs.append(DatasetPair(f"shift {delta_}", lambda: _shift_pair(
        _dg_logpmf(sigma, -R, R), -R, R, delta_, 1e-300, T)))
    return inst


def skellam(mu: float, delta_: int, T: int) -> Instance:
    from fltheory.accounting import skellam as ev

    import dp_accounting

    R = int(mu + 60 * math.sqrt(2 * mu) + 50)
    out = float(2 * stats.skellam.sf(R, mu, mu))
    inst = Instance("skellam", dict(mu=mu, sensitivity=delta_, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(ev(mu, delta_, delta_), T),
                    "add_remove")
    inst.pairs.append(DatasetPair(f"shift {delta_}", lambda: _shift_pair(
        lambda k: stats.skellam.logpmf(k, mu, mu), -R, R, delta_, out * 2 + 1e-300, T)))
    return inst


def ddg(local_sigma: float, n: int, delta_: int, T: int) -> Instance:
    """Distributed discrete Gaussian, d = 1: the sum of n discrete Gaussians, exact pmf."""
    from fltheory.accounting import distributed_discrete_gaussian as ev

    import dp_accounting

    r = int(math.ceil(40 * local_sigma)) + 5
    one = np.exp(_dg_logpmf(local_sigma, -r, r)(np.arange(-r, r + 1)))
    tot = np.array([1.0])
    for _ in range(n):
        tot = np.convolve(tot, one)
    R = n * r
    with np.errstate(divide="ignore"):
        ltot = np.log(np.maximum(tot, 0.0))

    def logpmf(k):
        k = np.asarray(k)
        idx = k + R
        ok = (idx >= 0) & (idx < tot.size)
        return np.where(ok, ltot[np.clip(idx, 0, tot.size - 1)], -np.inf)

    inst = Instance("ddg", dict(local_sigma=local_sigma, n=n, sensitivity=delta_, T=T),
                    lambda: dp_accounting.SelfComposedDpEvent(
                        ev(local_sigma, n, float(delta_), 1, rounding=False), T), "add_remove")
    inst.pairs.append(DatasetPair(f"shift {delta_}", lambda: _shift_pair(
        logpmf, -R, R, delta_, 1e-300, T)))
    return inst
