"""Worst-case search of (f, κ)-robustness in one dimension, by enumerating placements.

CWTM and CWMed act coordinate by coordinate, and the ratio
:math:`\\|F(x) - \\bar x_S\\|^2 / (\\frac1{|S|}\\sum_{i\\in S}\\|x_i - \\bar x_S\\|^2)` of a
coordinate-wise rule is at most the largest one-dimensional ratio (numerator and denominator
are sums over coordinates), so the one-dimensional worst case is the worst case.  This module
enumerates every multiset of honest values on a grid and every placement of the ``f`` Byzantine
values on a grid that includes values below, between and above the honest ones, and returns the
largest ratio: a lower estimate of κ that reaches the proved value when the extremal instance
lies on the grid (it does for the two-point instances of the proofs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["KappaSearch", "exact_kappa_1d"]


@dataclass
class KappaSearch:
    """Result of :func:`exact_kappa_1d`."""

    aggregator: str
    n: int
    f: int
    max_ratio: float
    instances: int
    worst_honest: tuple
    worst_byzantine: tuple


def _rule(name: str):
    from fltheory.bounds import _reference_aggregators as ref

    return {"cwtm": ref.cwtm, "cwmed": ref.cwmed}[name]


def exact_kappa_1d(aggregator: str, n: int, f: int, *, honest_grid=(0.0, 1.0, 2.0),
                   byzantine_grid=(-100.0, 0.0, 0.5, 1.0, 1.5, 2.0, 100.0)) -> KappaSearch:
    """Largest one-dimensional ratio of CWTM/CWMed over all placements on the grids.

    Examples
    --------
    >>> r = exact_kappa_1d("cwtm", 7, 2)
    >>> round(r.max_ratio, 6)          # f/(n-2f) = 2/3, attained
    0.666667
    """
    if aggregator not in ("cwtm", "cwmed"):
        raise ValueError(f"aggregator must be 'cwtm' or 'cwmed', got {aggregator!r}")
    if not 0 <= 2 * f < n:
        raise ValueError(f"f must satisfy 0 <= f < n/2, got f={f} with n={n}")
    F = _rule(aggregator)
    H = np.array(list(itertools.combinations_with_replacement(honest_grid, n - f)), float)
    mu = H.mean(axis=1)
    var = ((H - mu[:, None]) ** 2).mean(axis=1)
    keep = var > 0
    H, mu, var = H[keep], mu[keep], var[keep]
    Bs = np.array(list(itertools.combinations_with_replacement(byzantine_grid, f)), float) \
        if f else np.zeros((1, 0))
    best, count, worst = 0.0, 0, ((), ())
    for b in Bs:
        X = np.concatenate([H, np.broadcast_to(b, (H.shape[0], f))], axis=1)[:, :, None]
        out = F(X, f)[:, 0]
        r = (out - mu) ** 2 / var
        count += r.size
        i = int(np.argmax(r))
        if r[i] > best:
            best, worst = float(r[i]), (tuple(H[i]), tuple(b))
    return KappaSearch(aggregator, n, f, best, count, worst[0], worst[1])
