"""Reference NumPy implementations of robust aggregation rules (batched).

These are small, readable implementations used to *probe* the robustness bounds empirically (and,
until the torch engine exists, as the ground truth of what each rule computes).  Every function
takes a batch ``X`` of shape ``(..., n, d)`` -- ``...`` independent instances of ``n`` vectors in
``R^d`` -- and returns ``(..., d)``.

Conventions (they matter for the constants of the bounds):

* ``cwtm``: per coordinate, drop the ``f`` smallest and ``f`` largest values, average the rest.
* ``cwmed``: per coordinate median; the mean of the two middle values when ``n`` is even.
* ``gm``: geometric median by smoothed Weiszfeld iterations.
* ``krum``: score of ``x_i`` = sum of squared distances to its ``n - f`` nearest neighbours
  *itself included* (i.e. ``n - f - 1`` others), output the lowest-score vector.
* ``multikrum``: average of the ``m`` (default ``n - f``) lowest-score vectors.
* ``nnm``: replace each ``x_i`` by the mean of its ``n - f`` nearest neighbours (itself included).
* ``mda``: mean of the ``n - f`` subset of smallest diameter.
* ``smea``: mean of the ``n - f`` subset whose empirical covariance has the smallest top eigenvalue.
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

__all__ = ["mean", "cwtm", "cwmed", "gm", "krum", "multikrum", "nnm", "mda", "smea", "get",
           "REFERENCE_AGGREGATORS"]


def mean(X: np.ndarray, f: int = 0) -> np.ndarray:
    """Plain average."""
    return np.asarray(X, dtype=float).mean(axis=-2)


def cwtm(X: np.ndarray, f: int) -> np.ndarray:
    """Coordinate-wise trimmed mean."""
    X = np.sort(np.asarray(X, dtype=float), axis=-2)
    n = X.shape[-2]
    return X[..., f:n - f, :].mean(axis=-2)


def cwmed(X: np.ndarray, f: int = 0) -> np.ndarray:
    """Coordinate-wise median (mean of the two middle values for even n)."""
    return np.median(np.asarray(X, dtype=float), axis=-2)


def _sqdist(X: np.ndarray) -> np.ndarray:
    sq = np.einsum("...id,...id->...i", X, X)
    G = X @ np.swapaxes(X, -1, -2)
    D = sq[..., :, None] + sq[..., None, :] - 2 * G
    return np.maximum(D, 0.0)


def krum_scores(X: np.ndarray, f: int) -> np.ndarray:
    """Krum scores: sum of squared distances to the n-f nearest neighbours (self included)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    D = np.sort(_sqdist(X), axis=-1)
    return D[..., : n - f].sum(axis=-1)


def krum(X: np.ndarray, f: int) -> np.ndarray:
    """Krum: the input vector with the lowest score."""
    X = np.asarray(X, dtype=float)
    i = np.argmin(krum_scores(X, f), axis=-1)
    return np.take_along_axis(X, i[..., None, None], axis=-2)[..., 0, :]


def multikrum(X: np.ndarray, f: int, m: int | None = None) -> np.ndarray:
    """MultiKrum: average of the m lowest-score vectors (m = n - f by default)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    m = n - f if m is None else m
    idx = np.argsort(krum_scores(X, f), axis=-1, kind="stable")[..., :m]
    return np.take_along_axis(X, idx[..., None], axis=-2).mean(axis=-2)


def gm(X: np.ndarray, f: int = 0, *, iters: int = 100, eps: float = 1e-12) -> np.ndarray:
    """Geometric median by smoothed Weiszfeld iterations (started at the coordinate-wise median)."""
    X = np.asarray(X, dtype=float)
    scale = np.sqrt(np.maximum(_sqdist(X).max(axis=(-1, -2)), 1e-300))[..., None]
    z = np.median(X, axis=-2)
    for _ in range(iters):
        r = np.sqrt(np.sum((X - z[..., None, :]) ** 2, axis=-1))
        w = 1.0 / np.maximum(r, eps * scale)
        z = np.einsum("...i,...id->...d", w, X) / w.sum(axis=-1)[..., None]
    return z


def nnm(X: np.ndarray, f: int) -> np.ndarray:
    """Nearest-neighbour mixing: each vector replaced by the mean of its n-f nearest neighbours."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    idx = np.argsort(_sqdist(X), axis=-1, kind="stable")[..., : n - f]     # (..., n, n-f)
    return np.mean(np.take_along_axis(X[..., None, :, :],
                                      idx[..., None], axis=-2), axis=-2)


def mda(X: np.ndarray, f: int) -> np.ndarray:
    """Minimum-diameter averaging (exhaustive over the C(n, f) subsets)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    D = _sqdist(X)
    subsets = np.array(list(itertools.combinations(range(n), n - f)))
    diam = np.stack([D[..., s[:, None], s[None, :]].max(axis=(-1, -2)) for s in subsets], axis=-1)
    best = subsets[np.argmin(diam, axis=-1)]
    return np.take_along_axis(X, best[..., None], axis=-2).mean(axis=-2)


def smea(X: np.ndarray, f: int) -> np.ndarray:
    """Smallest maximum eigenvalue averaging (exhaustive; Gram-matrix eigenvalues)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    subsets = np.array(list(itertools.combinations(range(n), n - f)))
    lam = []
    for s in subsets:
        Y = X[..., s, :]
        Yc = Y - Y.mean(axis=-2, keepdims=True)
        gram = Yc @ np.swapaxes(Yc, -1, -2) / len(s)       # same non-zero spectrum as covariance
        lam.append(np.linalg.eigvalsh(gram)[..., -1])
    best = subsets[np.argmin(np.stack(lam, axis=-1), axis=-1)]
    return np.take_along_axis(X, best[..., None], axis=-2).mean(axis=-2)


REFERENCE_AGGREGATORS: dict[str, Callable[..., np.ndarray]] = {
    "mean": mean, "cwtm": cwtm, "cwmed": cwmed, "gm": gm, "krum": krum,
    "multikrum": multikrum, "mda": mda, "smea": smea,
}


def get(name: str, nnm_first: bool = False) -> Callable[[np.ndarray, int], np.ndarray]:
    """The reference aggregator ``name`` as ``F(X, f)``, optionally composed with NNM."""
    from .robustness import canonical_aggregator

    key = canonical_aggregator(name, tuple(REFERENCE_AGGREGATORS))
    base = REFERENCE_AGGREGATORS[key]
    if not nnm_first:
        return base
    return lambda X, f: base(nnm(X, f), f)
