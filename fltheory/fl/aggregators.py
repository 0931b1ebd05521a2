r"""Robust aggregation rules and pre-aggregators for Byzantine-robust federated learning.

Every rule takes the round's client updates as one ``(n, d)`` tensor and returns
``(aggregate, info)``: the ``(d,)`` aggregate (same dtype and device) and an
:class:`AggregationInfo` (how many updates were rejected as non-finite, which were selected, the
combination weights, iterations).  Build rules with :func:`get`::

    agg = get("cwtm", f=2)                 # coordinate-wise trimmed mean
    agg = get("nnm+krum", f=2)             # nearest-neighbour mixing, then Krum
    value, info = agg(updates)

**Non-finite updates.**  A row containing NaN or ±Inf is rejected before aggregation and counted in
``info.rejected``; the round never crashes.  Distance-based rules also reject a row whose squared
norm overflows the dtype.  The rule then runs on the ``m`` remaining rows with the configured ``f``
(the rejected rows are not assumed Byzantine), lowered to the largest value the rule admits for
``m`` if necessary (``info.f``).  If every row is rejected the aggregate is the zero vector.

**One Gram matrix per round.**  Distance-based rules (Krum, MultiKrum, geometric median, centered
clipping, MDA, SMEA, CAF) and the pre-aggregators (NNM, bucketing, static clipping, ARC) work on the
:math:`n\times n` Gram matrix of the updates, computed once per call; pre-aggregators are linear
maps :math:`R = WX` of the rows, so their output's Gram matrix is :math:`WGW^\top` and never needs
the :math:`d`-dimensional vectors.  The final aggregate is one weighted sum :math:`w^\top X`.  When
the updates share a large common component (norms much larger than their spread), the Gram matrix
is computed on centred vectors to avoid cancellation.

**κ names.**  Each rule exposes ``kappa_name``, the name :func:`fltheory.bounds.kappa` uses for its
(f, κ)-robustness coefficient (``"cwtm"``, ``"cwmed"``, ``"gm"``, ``"krum"``, ``"multikrum"``), or
``None`` where no κ bound is tabulated; a pipeline whose only pre-aggregator is NNM reports the
base rule's name with ``nnm = True`` (use ``kappa(name, n, f, nnm=True)``).

Examples
--------
>>> import torch
>>> from fltheory.fl import aggregators
>>> x = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [float("nan"), 0.0]])
>>> value, info = aggregators.get("cwmed", f=1)(x)
>>> value, info.rejected
(tensor([2., 1.]), 1)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_nonnegative, check_positive
from ..registry import Registry, register_all
from ._util import (GeneratorLike, as_matrix, as_vector_or_matrix, like_input, randperm,
                    torch_generator)

__all__ = [
    "AggregationInfo",
    "Aggregator",
    "PreAggregator",
    "Pipeline",
    "Mean",
    "CoordinateWiseMedian",
    "TrimmedMean",
    "Krum",
    "MultiKrum",
    "GeometricMedian",
    "CenteredClipping",
    "MDA",
    "SMEA",
    "CAF",
    "NNM",
    "Bucketing",
    "StaticClipping",
    "ARC",
    "gram_matrix",
    "get",
    "available",
]

#: Above this ratio of the largest squared norm to the mean squared pairwise distance, the Gram
#: matrix is recomputed from centred vectors (float32 cancellation would otherwise dominate).
_CENTER_RATIO = {torch.float16: 1.0, torch.bfloat16: 1.0, torch.float32: 64.0,
                 torch.float64: 1e9}
_GRAM_CHUNK = 1 << 16
#: From this many columns on, squared row norms are BLAS dot products (NumPy) rather than torch's.
_BLAS_NORM_MIN_D = 1 << 12


@dataclass
class AggregationInfo:
    """What happened in one aggregation.

    Attributes
    ----------
    n : int
        Number of updates received.
    rejected : int
        Number rejected as non-finite (NaN/Inf entries, or an overflowing norm for
        distance-based rules).
    rejected_indices : list of int
        Their row indices.
    f : int
        The number of Byzantine clients the rule was run with.
    selected : list of int or None
        Rows (indices into the received updates) the rule selected (Krum, MultiKrum, MDA, SMEA).
    weights : torch.Tensor or None
        For rules whose output is a weighted sum of the received rows: the weights ``(n,)``
        (rejected rows get 0).  ``None`` for coordinate-wise rules.
    iterations : int or None
        Iterations of an iterative rule (geometric median, centered clipping, CAF).
    extra : dict
        Rule-specific diagnostics.
    """

    n: int
    rejected: int = 0
    rejected_indices: list[int] = field(default_factory=list)
    f: int = 0
    selected: list[int] | None = None
    weights: torch.Tensor | None = None
    iterations: int | None = None
    extra: dict = field(default_factory=dict)


def _split_finite(x: torch.Tensor) -> torch.Tensor | None:
    """Indices of rows with a NaN/Inf entry, or ``None`` if there are none (cheap test first)."""
    if x.shape[1] >= _BLAS_NORM_MIN_D and _numpy_sortable(x):
        a = x.numpy()
        with np.errstate(over="ignore", invalid="ignore"):
            s = torch.from_numpy(a @ np.ones(a.shape[1], dtype=a.dtype))  # one BLAS gemv
    else:
        s = x.sum(dim=1)
    suspicious = ~torch.isfinite(s)
    if not bool(suspicious.any()):
        return None
    cand = suspicious.nonzero().flatten()
    bad = cand[~torch.isfinite(x[cand]).all(dim=1)]
    return bad if bad.numel() else None


def gram_matrix(x: torch.Tensor, *, center: bool = False) -> torch.Tensor:
    r"""The float64 Gram matrix :math:`XX^\top` of the rows of ``x`` (``(n, n)``).

    With ``center=True`` it returns the ``(n + 1, n + 1)`` Gram matrix of the rows
    :math:`x_1 - \bar x, \dots, x_n - \bar x, \bar x` (computed in column chunks), which keeps
    pairwise distances accurate when the rows share a large common component.

    Examples
    --------
    >>> gram_matrix(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[ 5., 11.],
            [11., 25.]], dtype=torch.float64)
    """
    n, d = x.shape
    half = x.dtype in (torch.float16, torch.bfloat16)
    if not center:
        if x.dtype in (torch.float32, torch.float64) and x.device.type == "cpu" \
                and not x.requires_grad:
            # NumPy's BLAS (a symmetric rank-k update for ``a @ a.T``): 1.5-2x faster than
            # torch's for this shape at d = 1e5 (float32 and float64), as fast at d = 1e6.
            a = x.numpy()
            with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf rows are screened
                return torch.from_numpy(a @ a.T).to(torch.float64)
        if not half:
            return (x @ x.T).to(torch.float64)
        # float16 squared norms overflow above 256 (65504 = max): accumulate in float32 chunks.
        g = torch.zeros(n, n, dtype=torch.float64, device=x.device)
        for s in range(0, d, _GRAM_CHUNK):
            z = x[:, s:s + _GRAM_CHUNK].to(torch.float32)
            g += (z @ z.T).to(torch.float64)
        return g
    mean = x.mean(dim=0, dtype=torch.float32 if half else None)
    g = torch.zeros(n + 1, n + 1, dtype=torch.float64, device=x.device)
    for s in range(0, d, _GRAM_CHUNK):
        xs = x[:, s:s + _GRAM_CHUNK]
        if half:
            xs = xs.to(torch.float32)
        z = torch.cat([xs - mean[s:s + _GRAM_CHUNK], mean[None, s:s + _GRAM_CHUNK]])
        g += (z @ z.T).to(torch.float64)
    return g


def _screen(x: torch.Tensor, needs_gram: bool | None, gram: torch.Tensor | None,
            info: AggregationInfo) -> tuple[torch.Tensor, torch.Tensor | None,
                                            torch.Tensor | None]:
    r"""Reject non-finite rows; return ``(kept rows, kept indices or None, their raw Gram)``.

    Distance-based rules detect bad rows on the Gram diagonal, which is free: a NaN/Inf entry (or
    an overflowing squared norm) makes :math:`\lVert x_i\rVert^2` non-finite and only touches row
    and column ``i`` of :math:`XX^\top`.  Norm-based rules (``needs_gram=None``: centered clipping
    alone) screen on the squared norms they need anyway and get them back instead of a Gram
    matrix.  Coordinate-wise rules use a cheap row-sum screen.
    """
    n = x.shape[0]
    keep = None
    if needs_gram:
        if gram is not None:
            if tuple(gram.shape) != (n, n):
                raise ValueError(f"gram must have shape ({n}, {n}), got {tuple(gram.shape)}")
            g = gram.to(device=x.device, dtype=torch.float64)
        else:
            g = gram_matrix(x)
        ok = torch.isfinite(torch.diagonal(g))
        if not bool(ok.all()):
            keep = ok.nonzero().flatten()
            g = g[keep][:, keep]
    elif needs_gram is None:  # norm-based rule: the squared norms screen and are kept
        g = _row_sq_norms(x)
        ok = torch.isfinite(g)
        if not bool(ok.all()):
            keep = ok.nonzero().flatten()
            g = g[keep]
    else:
        g = None
        bad = _split_finite(x)
        if bad is not None:
            mask = torch.ones(n, dtype=torch.bool, device=x.device)
            mask[bad] = False
            keep = mask.nonzero().flatten()
    if keep is None:
        return x, None, g
    rejected = sorted(set(range(n)) - set(keep.tolist()))
    info.rejected, info.rejected_indices = len(rejected), rejected
    return x[keep], keep, g


class _Pool:
    """The current set of rows ``R = W X`` (``W`` float64 ``(m, n)``) with a lazily built Gram."""

    def __init__(self, x: torch.Tensor, raw_gram: torch.Tensor | None = None) -> None:
        self.x = x
        self.n = x.shape[0]
        self._sq: torch.Tensor | None = None
        if raw_gram is not None and raw_gram.dim() == 1:  # squared norms from the screen
            self._sq, raw_gram = raw_gram, None
        self.w: torch.Tensor | None = None  # None means the identity
        self._g: torch.Tensor | None = None
        self._centered = False
        self._h: torch.Tensor | None = None
        self._raw = raw_gram

    @property
    def m(self) -> int:
        return self.n if self.w is None else self.w.shape[0]

    @property
    def identity(self) -> bool:
        return self.w is None

    def weights(self) -> torch.Tensor:
        if self.w is None:
            return torch.eye(self.n, dtype=torch.float64, device=self.x.device)
        return self.w

    def _gram(self) -> None:
        if self._g is not None:
            return
        x = self.x
        g = self._raw if self._raw is not None else gram_matrix(x)
        diag = torch.diagonal(g)
        # Cancellation check: largest squared norm vs. the mean squared pairwise distance.
        if self.n >= 2 and bool(torch.isfinite(g).all()):
            mean_sq_dist = 2.0 * (diag.mean() - g.mean())  # (1/n²) Σ_ij ||x_i - x_j||²
            ratio = _CENTER_RATIO.get(x.dtype, 64.0)
            if float(diag.max()) > ratio * max(float(mean_sq_dist), 0.0):
                self._g = gram_matrix(x, center=True)
                self._centered = True
                return
        self._g = g

    def h(self) -> torch.Tensor:
        """Gram matrix of the current rows, ``(m, m)`` float64."""
        if self._h is None:
            self._gram()
            if self.w is None and not self._centered:
                self._h = self._g
                return self._h
            w = self.weights()
            if self._centered:
                a = torch.cat([w, w.sum(dim=1, keepdim=True)], dim=1)
            else:
                a = w
            self._h = a @ self._g @ a.T
        return self._h

    def sq_dists(self) -> torch.Tensor:
        h = self.h()
        dg = torch.diagonal(h)
        d = (dg[:, None] + dg[None, :] - 2.0 * h).clamp_min(0.0)
        d.fill_diagonal_(0.0)
        return d

    def sq_norms(self) -> torch.Tensor:
        if self._sq is not None and self.w is None:
            return self._sq.clone()
        if self._h is None and self.w is None and self._raw is None:
            return _row_sq_norms(self.x)  # no Gram needed: one pass over the rows
        return torch.diagonal(self.h()).clone()

    @property
    def has_gram(self) -> bool:
        return self._raw is not None or self._h is not None or self._g is not None

    def apply(self, mix: torch.Tensor) -> None:
        """Replace the rows by ``mix @ rows`` (``mix`` float64 ``(m', m)``)."""
        self.w = mix if self.w is None else mix @ self.w
        if self._h is not None:
            self._h = mix @ self._h @ mix.T

    def rows(self) -> torch.Tensor:
        if self.w is None:
            return self.x
        return self.w.to(self.x.dtype) @ self.x

    def x_weights(self, coeff: torch.Tensor) -> torch.Tensor:
        """Weights over the original rows of the combination ``coeff`` of current rows."""
        return coeff if self.w is None else coeff @ self.w

    def combine(self, coeff: torch.Tensor) -> torch.Tensor:
        if self.x.dtype in (torch.float16, torch.bfloat16):
            w = self.x_weights(coeff).to(torch.float32)
            return (w @ self.x.to(torch.float32)).to(self.x.dtype)
        return self.x_weights(coeff).to(self.x.dtype) @ self.x


def _row_sq_norms(x: torch.Tensor) -> torch.Tensor:
    """Squared row norms in float64 (float16 rows are summed in float32: no overflow)."""
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    if x.shape[1] >= _BLAS_NORM_MIN_D and _numpy_sortable(x):
        # one BLAS dot per row: 2x faster than torch's vector_norm for float64 at d = 1e5
        a = x.numpy()
        with np.errstate(over="ignore", invalid="ignore"):   # inf/NaN rows are screened
            return torch.from_numpy(np.array([r @ r for r in a], dtype=np.float64))
    return torch.linalg.vector_norm(x, dim=1).to(torch.float64) ** 2


def _row_sq_dists(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Exact :math:`\lVert x_i - v\rVert^2` for every row, in column chunks (no cancellation)."""
    out = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for s in range(0, x.shape[1], _GRAM_CHUNK):
        out += _row_sq_norms(x[:, s:s + _GRAM_CHUNK] - v[s:s + _GRAM_CHUNK])
    return out


def _numpy_sortable(r: torch.Tensor) -> bool:
    # NumPy's SIMD sort is several times faster than torch.sort on the CPU (and its BLAS dot
    # faster than torch's vector_norm for float64 rows).
    return r.device.type == "cpu" and r.dtype in (torch.float32, torch.float64) \
        and not r.requires_grad


#: Columns per block of the coordinate-wise sorts (block of 2048 x 50 float64: 800 kB).
_SORT_BLOCK = 2048


def _sorted_blocks(a: np.ndarray):
    """Yield ``(start, stop, block)``: ``block`` is ``a[:, start:stop].T`` sorted along its rows.

    Sorting each column's ``m`` values as a contiguous row uses NumPy's SIMD sort on short rows,
    and a block stays in cache; sorting ``a`` along axis 0 instead walks strided columns.
    """
    m, d = a.shape
    buf = np.empty((min(d, _SORT_BLOCK), m), dtype=a.dtype)
    for s in range(0, d, _SORT_BLOCK):
        e = min(d, s + _SORT_BLOCK)
        blk = buf[:e - s]
        blk[...] = a[:, s:e].T
        blk.sort(axis=1)
        yield s, e, blk


def _median_rows(r: torch.Tensor) -> torch.Tensor:
    """Exact coordinate-wise median (mean of the two middle values for even row counts)."""
    m = r.shape[0]
    if m == 1:
        return r[0].clone()
    if _numpy_sortable(r):
        a = r.numpy()
        out = np.empty(a.shape[1], dtype=a.dtype)
        for s, e, blk in _sorted_blocks(a):
            if m % 2:
                out[s:e] = blk[:, m // 2]
            else:
                np.add(0.5 * blk[:, m // 2 - 1], 0.5 * blk[:, m // 2], out=out[s:e])
        return torch.from_numpy(out)
    s = torch.sort(r, dim=0).values
    if m % 2:
        return s[m // 2].clone()
    return 0.5 * s[m // 2 - 1] + 0.5 * s[m // 2]


def _average_rows(r: torch.Tensor) -> torch.Tensor:
    # Weights first, then the sum (one gemv): no overflow for huge finite entries.
    w = torch.full((r.shape[0],), 1.0 / r.shape[0], dtype=r.dtype, device=r.device)
    return w @ r


def _trimmed_mean_rows(r: torch.Tensor, f: int) -> torch.Tensor:
    m = r.shape[0]
    if f == 0:
        return _average_rows(r)
    if _numpy_sortable(r):
        a = r.numpy()
        total = np.empty(a.shape[1], dtype=np.float64)   # float64 sums: no overflow
        for s, e, blk in _sorted_blocks(a):
            blk[:, f:m - f].sum(axis=1, dtype=np.float64, out=total[s:e])
        total /= m - 2 * f
        return torch.from_numpy(total.astype(a.dtype, copy=False))
    return _average_rows(torch.sort(r, dim=0).values[f:m - f])


# --------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------
class _Rule:
    name = "rule"
    uses_gram = False

    def _max_f(self, m: int) -> int:
        """Largest f the rule admits with m rows."""
        return max((m - 1) // 2, 0)

    def _check_f(self, f: int, n: int) -> None:
        if f > self._max_f(n):
            raise ValueError(f"f must be <= {self._max_f(n)} for {self.name} with n={n} "
                             f"updates, got {f}")


class PreAggregator(_Rule):
    """A map from ``n`` updates to ``n'`` updates applied before an aggregation rule.

    Calling one directly returns the transformed ``(n', d)`` updates and an
    :class:`AggregationInfo`; inside a :class:`Pipeline` it works on the Gram matrix only.
    """

    def __init__(self, f: int = 0) -> None:
        self.f = check_int("f", f, minimum=0)

    def _transform(self, pool: _Pool, f: int, gen: torch.Generator | None) -> None:
        raise NotImplementedError  # pragma: no cover

    def __call__(self, updates: Any, *, generator: GeneratorLike = None
                 ) -> tuple[torch.Tensor, AggregationInfo]:
        x = as_matrix("updates", updates)
        n = x.shape[0]
        self._check_f(self.f, n)
        info = AggregationInfo(n=n)
        xs, keep, g = _screen(x, self.uses_gram, None, info)
        if xs.shape[0] == 0:
            info.f = 0
            return xs, info
        f = min(self.f, self._max_f(xs.shape[0]))
        info.f = f
        pool = _Pool(xs, g)
        self._transform(pool, f, torch_generator(generator, "cpu"))
        return pool.rows(), info

    def transform(self, updates: Any, *, generator: GeneratorLike = None) -> Any:
        """The transformed updates alone, as the input's type (NumPy in, NumPy out).

        Examples
        --------
        >>> import numpy as np
        >>> NNM(f=1).transform(np.array([[0.0], [1.0], [10.0]]))
        array([[0.5],
               [0.5],
               [5.5]])
        """
        return like_input(self(updates, generator=generator)[0], updates)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(f={self.f})"


class Aggregator(_Rule):
    """Base class of aggregation rules: ``value, info = rule(updates)``.

    Parameters
    ----------
    f : int
        Number of Byzantine clients to tolerate (ignored by :class:`Mean`).

    Attributes
    ----------
    kappa_name : str or None
        Name of the rule in :func:`fltheory.bounds.kappa`, or ``None``.
    nnm : bool
        Whether nearest-neighbour mixing precedes the rule (pipelines).
    """

    kappa_name: str | None = None
    nnm = False

    def __init__(self, f: int = 0) -> None:
        self.f = check_int("f", f, minimum=0)

    def _aggregate(self, pool: _Pool, f: int, info: AggregationInfo
                   ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Return ``(coeff over current rows, None)`` or ``(None, vector)``."""
        raise NotImplementedError  # pragma: no cover

    def _pre(self) -> list[PreAggregator]:
        return []

    def __call__(self, updates: Any, *, generator: GeneratorLike = None,
                 gram: torch.Tensor | None = None) -> tuple[torch.Tensor, AggregationInfo]:
        """Aggregate ``updates`` ``(n, d)``; ``gram`` optionally supplies :math:`XX^\\top`.

        ``generator`` (a ``torch.Generator`` or int seed) drives randomised pre-aggregators
        (bucketing).
        """
        x = as_matrix("updates", updates)
        n, d = x.shape
        self._check_f(self.f, n)
        for p in self._pre():
            p._check_f(self.f, n)
        info = AggregationInfo(n=n)
        xs, keep, gram = _screen(x, self._needs_gram(), gram, info)
        m = xs.shape[0]
        if m == 0:
            info.f = 0
            info.weights = torch.zeros(n, dtype=torch.float64, device=x.device)
            return torch.zeros(d, dtype=x.dtype, device=x.device), info
        pool = _Pool(xs, gram)
        f = min(self.f, self._max_f_pipeline(m))
        gen = torch_generator(generator, "cpu")
        for p in self._pre():
            p._transform(pool, f, gen)
            f = min(f, self._max_f(pool.m))
        info.f = f
        coeff, vector = self._aggregate(pool, f, info)
        if coeff is not None:
            xw = pool.x_weights(coeff)
            nz = (xw != 0).nonzero().flatten()
            if nz.numel() == 1 and float(xw[nz[0]]) == 1.0:
                vector = xs[int(nz[0])].clone()  # a selected row, bit for bit
            elif x.dtype in (torch.float16, torch.bfloat16):
                vector = xw.to(torch.float32) @ xs.to(torch.float32)
            else:
                vector = xw.to(x.dtype) @ xs
            full = torch.zeros(n, dtype=torch.float64, device=x.device)
            if keep is None:
                full = xw
            else:
                full[keep] = xw
            info.weights = full
            if info.selected is not None and keep is not None:
                info.selected = [int(keep[i]) for i in info.selected]
        return vector.to(dtype=x.dtype, device=x.device), info

    def aggregate(self, updates: Any, **kwargs: Any) -> Any:
        """The aggregate alone, as the input's type: a NumPy array for a NumPy array or a list of
        arrays, a tensor for a tensor or a list of tensors (ByzFL's convention); dtype kept.

        Examples
        --------
        >>> import numpy as np
        >>> Krum(f=1).aggregate(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]))
        array([1., 2., 3.])
        """
        return like_input(self(updates, **kwargs)[0], updates)

    def _needs_gram(self) -> bool:
        return self.uses_gram or any(p.uses_gram for p in self._pre())

    def _max_f_pipeline(self, m: int) -> int:
        f = self._max_f(m)
        for p in self._pre():
            f = min(f, p._max_f(m))
        return f

    def __repr__(self) -> str:
        return f"{type(self).__name__}(f={self.f})"


# --------------------------------------------------------------------------------------------------
# Aggregation rules
# --------------------------------------------------------------------------------------------------
class Mean(Aggregator):
    r"""The plain average :math:`\frac1n\sum_i x_i` (not robust: one Byzantine client moves it
    arbitrarily).

    Examples
    --------
    >>> Mean()(torch.tensor([[0.0, 2.0], [2.0, 4.0]]))[0]
    tensor([1., 3.])
    """

    name = "mean"

    def _max_f(self, m: int) -> int:
        return 10 ** 9

    def _aggregate(self, pool, f, info):
        if pool.identity:
            return None, _average_rows(pool.x)
        return torch.full((pool.m,), 1.0 / pool.m, dtype=torch.float64,
                          device=pool.x.device), None


class CoordinateWiseMedian(Aggregator):
    r"""Coordinate-wise median; for an even number of rows the mean of the two middle values.

    .. math::

        [\mathrm{CWMed}(x_1,\dots,x_n)]_k = \mathrm{median}\bigl([x_1]_k, \dots, [x_n]_k\bigr)

    (``torch.median`` returns the lower middle value for even ``n``; this rule does not.)  It is
    (f, κ)-robust for :math:`2f < n`.

    References
    ----------
    D. Yin, Y. Chen, K. Ramchandran and P. Bartlett (2018). Byzantine-robust distributed learning:
    towards optimal statistical rates. ICML, Section 3 (coordinate-wise median).

    Examples
    --------
    >>> CoordinateWiseMedian(f=1)(torch.tensor([[1.0], [2.0], [10.0], [3.0]]))[0]
    tensor([2.5000])
    """

    name = "cwmed"
    kappa_name = "cwmed"

    def _aggregate(self, pool, f, info):
        return None, _median_rows(pool.rows())


class TrimmedMean(Aggregator):
    r"""Coordinate-wise trimmed mean: per coordinate, drop the ``f`` largest and ``f`` smallest
    values and average the remaining :math:`n - 2f`.

    References
    ----------
    D. Yin, Y. Chen, K. Ramchandran and P. Bartlett (2018). Byzantine-robust distributed learning:
    towards optimal statistical rates. ICML, Section 3 (coordinate-wise trimmed mean).

    Examples
    --------
    >>> TrimmedMean(f=1)(torch.tensor([[1.0], [2.0], [3.0], [100.0]]))[0]
    tensor([2.5000])
    """

    name = "cwtm"
    kappa_name = "cwtm"

    def _aggregate(self, pool, f, info):
        return None, _trimmed_mean_rows(pool.rows(), f)


def _krum_scores(dist: torch.Tensor, q: int) -> torch.Tensor:
    m = dist.shape[0]
    if q <= 0:
        return torch.zeros(m, dtype=dist.dtype, device=dist.device)
    off = dist.clone()
    off.fill_diagonal_(float("inf"))
    return torch.sort(off, dim=1).values[:, :q].sum(dim=1)


class Krum(Aggregator):
    r"""Krum: the update with the smallest sum of squared distances to its closest neighbours.

    .. math::

        \mathrm{Krum}(x_1,\dots,x_n) = x_{i^\star},\qquad
        i^\star = \arg\min_i \sum_{j \in N_i} \lVert x_i - x_j\rVert^2,

    :math:`N_i` the ``num_neighbors`` rows closest to :math:`x_i`, excluding itself; ties go to
    the lowest index.  The default :math:`n - f - 1` (the :math:`n - f` nearest neighbours counting
    :math:`x_i` itself) is the convention of Allouah et al. (2023), whose κ bound
    :func:`fltheory.bounds.kappa` tabulates for ``"krum"``, and of ByzFL; Blanchard et al.'s
    original rule uses :math:`n - f - 2` (pass ``num_neighbors=n - f - 2``).

    References
    ----------
    P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer (2017). Machine learning with
    adversaries: Byzantine tolerant gradient descent. NeurIPS, Section 4;
    Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot and J. Stephan (2023). Fixing by
    mixing. AISTATS, Section 2 (Krum with the :math:`n - f` nearest neighbours).

    Examples
    --------
    >>> x = torch.tensor([[0.0], [0.1], [0.2], [0.3], [9.0]])
    >>> value, info = Krum(f=1)(x)
    >>> value, info.selected
    (tensor([0.1000]), [1])
    """

    name = "krum"
    kappa_name = "krum"
    uses_gram = True

    def __init__(self, f: int = 0, *, num_neighbors: int | None = None) -> None:
        super().__init__(f)
        self.num_neighbors = None if num_neighbors is None else check_int(
            "num_neighbors", num_neighbors, minimum=1)

    def _q(self, m: int, f: int) -> int:
        q = m - f - 1 if self.num_neighbors is None else self.num_neighbors
        return max(0, min(q, m - 1))

    def _aggregate(self, pool, f, info):
        scores = _krum_scores(pool.sq_dists(), self._q(pool.m, f))
        i = int(torch.argmin(scores))
        info.selected = [i] if pool.identity else None
        info.extra["scores"] = scores
        coeff = torch.zeros(pool.m, dtype=torch.float64, device=pool.x.device)
        coeff[i] = 1.0
        return coeff, None


class MultiKrum(Krum):
    r"""MultiKrum: the average of the ``m`` updates with the lowest Krum scores (default
    :math:`m = n - f`; ties to the lowest index).

    References
    ----------
    P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer (2017). Machine learning with
    adversaries: Byzantine tolerant gradient descent. NeurIPS, Section 5.

    Examples
    --------
    >>> x = torch.tensor([[0.0], [0.1], [0.2], [0.3], [9.0]])
    >>> value, info = MultiKrum(f=1)(x)
    >>> info.selected
    [0, 1, 2, 3]
    """

    name = "multikrum"
    kappa_name = None   # no proved (f, kappa) constant (fltheory.bounds.kappa_bound)

    def __init__(self, f: int = 0, *, m: int | None = None,
                 num_neighbors: int | None = None) -> None:
        super().__init__(f, num_neighbors=num_neighbors)
        self.m = None if m is None else check_int("m", m, minimum=1)

    def _aggregate(self, pool, f, info):
        scores = _krum_scores(pool.sq_dists(), self._q(pool.m, f))
        k = pool.m - f if self.m is None else min(self.m, pool.m)
        order = np.lexsort((np.arange(pool.m), scores.cpu().numpy()))[:k]
        sel = sorted(int(i) for i in order)
        info.selected = sel if pool.identity else None
        info.extra["scores"] = scores
        coeff = torch.zeros(pool.m, dtype=torch.float64, device=pool.x.device)
        coeff[sel] = 1.0 / k
        return coeff, None


class GeometricMedian(Aggregator):
    r"""Geometric median by (smoothed) Weiszfeld iterations on the Gram matrix.

    .. math::

        \mathrm{GM}(x_1,\dots,x_n) \in \arg\min_z \sum_i \lVert z - x_i\rVert_2,\qquad
        z_{t+1} = \frac{\sum_i x_i/\max(\nu, \lVert z_t - x_i\rVert)}
                       {\sum_i 1/\max(\nu, \lVert z_t - x_i\rVert)}.

    The iterate is kept as weights over the rows, so each iteration costs :math:`O(n^2)`
    whatever :math:`d`.  Stops when :math:`\lVert z_{t+1} - z_t\rVert \le \mathrm{tol}\cdot\rho`
    (:math:`\rho` the root-mean-square distance of the rows to their mean) or after ``max_iter``
    iterations.  ``init="zero", smoothing=0.1, max_iter=3, tol=0`` reproduces ByzFL 0.0.11's
    defaults.

    Parameters
    ----------
    f : int
        Recorded for κ; the rule itself does not use it.
    smoothing : float
        :math:`\nu \ge 0` (Pillutla et al.'s smoothing); 0 keeps a tiny floor against division by 0.
    max_iter : int
        Iteration cap.
    tol : float
        Relative tolerance (0: run ``max_iter`` iterations).
    init : {"mean", "zero"}
        Starting point.

    References
    ----------
    E. Weiszfeld (1937). Sur le point pour lequel la somme des distances de n points donnés est
    minimum. Tohoku Math. J. 43; K. Pillutla, S. M. Kakade and Z. Harchaoui (2022). Robust
    aggregation for federated learning. IEEE Trans. Signal Processing 70, Algorithm 2 (smoothed
    Weiszfeld).

    Examples
    --------
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [50.0, 50.0]])
    >>> value, info = GeometricMedian(f=1, tol=1e-10, max_iter=1000)(x)
    >>> value  # on the diagonal by symmetry; the far point pulls no harder than the near ones
    tensor([0.5000, 0.5000])
    """

    name = "gm"
    kappa_name = "gm"
    uses_gram = True

    def __init__(self, f: int = 0, *, smoothing: float = 0.0, max_iter: int = 500,
                 tol: float = 1e-8, init: str = "mean") -> None:
        super().__init__(f)
        self.smoothing = check_nonnegative("smoothing", smoothing)
        self.max_iter = check_int("max_iter", max_iter, minimum=0)
        self.tol = check_nonnegative("tol", tol)
        self.init = check_choice("init", init, ("mean", "zero"))

    def _aggregate(self, pool, f, info):
        h = pool.h()
        m = pool.m
        dg = torch.diagonal(h)
        ones = torch.full((m,), 1.0 / m, dtype=torch.float64, device=h.device)
        spread = float((dg.sum() / m - ones @ h @ ones).clamp_min(0.0)) ** 0.5
        c = ones.clone() if self.init == "mean" else torch.zeros_like(ones)
        floor = max(self.smoothing, 1e-12 * spread, 1e-300)
        it = 0
        for it in range(1, self.max_iter + 1):
            hc = h @ c
            dist = (dg - 2.0 * hc + c @ hc).clamp_min(0.0).sqrt()
            beta = 1.0 / dist.clamp_min(floor)
            new = beta / beta.sum()
            diff = new - c
            step = float((diff @ h @ diff).clamp_min(0.0)) ** 0.5
            c = new
            if self.tol > 0 and step <= self.tol * spread:
                break
        info.iterations = it
        return c, None

    def __repr__(self) -> str:
        return (f"GeometricMedian(f={self.f}, smoothing={self.smoothing}, "
                f"max_iter={self.max_iter}, tol={self.tol}, init={self.init!r})")


class CenteredClipping(Aggregator):
    r"""Centered clipping: :math:`L` steps of
    :math:`v \leftarrow v + \frac1n\sum_i (x_i - v)\min\bigl(1, \tau/\lVert x_i - v\rVert\bigr)`.

    Starts from ``center`` (e.g. the previous round's aggregate or momentum), zero by default.

    Parameters
    ----------
    f : int
        Recorded; not used by the rule.
    tau : float
        Clipping radius :math:`\tau > 0`.
    iterations : int
        :math:`L \ge 1`.

    References
    ----------
    S. P. Karimireddy, L. He and M. Jaggi (2021). Learning from history for Byzantine robust
    optimization. ICML, Algorithm 2.

    Examples
    --------
    >>> x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [100.0, 0.0]])
    >>> CenteredClipping(tau=2.0, iterations=1)(x)[0]
    tensor([1.3333, 0.0000])
    """

    name = "cc"
    uses_gram = True

    def __init__(self, f: int = 0, *, tau: float = 10.0, iterations: int = 3) -> None:
        super().__init__(f)
        self.tau = check_positive("tau", tau)
        self.iterations = check_int("iterations", iterations, minimum=1)
        self.center: torch.Tensor | None = None

    def _max_f(self, m: int) -> int:
        return max(m - 1, 0)

    def __call__(self, updates: Any, *, generator: GeneratorLike = None,
                 gram: torch.Tensor | None = None,
                 center: torch.Tensor | None = None) -> tuple[torch.Tensor, AggregationInfo]:
        """As :meth:`Aggregator.__call__`; ``center`` is the starting point :math:`v_0`."""
        if center is None:
            return super().__call__(updates, generator=generator, gram=gram)
        x = as_matrix("updates", updates)
        center = as_vector_or_matrix("center", center).to(dtype=x.dtype,
                                                          device=x.device).reshape(-1)
        if center.shape[0] != x.shape[1]:
            raise ValueError(f"center must have shape ({x.shape[1]},), got {tuple(center.shape)}")
        if not bool(torch.isfinite(center).all()):
            bad = int((~torch.isfinite(center)).sum())
            raise ValueError(f"center must be finite, got {bad} NaN/Inf entries of "
                             f"{center.shape[0]}")
        value, info = super().__call__(x - center, generator=generator)
        info.weights = None
        return value + center, info

    def _needs_gram(self) -> bool | None:
        # Alone, the rule works on the rows directly: O(L n d) instead of the O(n^2 d) Gram
        # matrix; rows with a non-finite squared norm are rejected (None: screen by norms).
        # In a pipeline it uses the Gram matrix.
        return None

    def _aggregate(self, pool, f, info):
        m = pool.m
        info.iterations = self.iterations
        if pool.identity and not pool.has_gram:
            x = pool.x
            c = torch.zeros(m, dtype=torch.float64, device=x.device)
            sq = pool.sq_norms()
            for it in range(self.iterations):
                if it == 0:
                    dist = sq.sqrt()
                else:
                    dist = _row_sq_dists(x, pool.combine(c)).sqrt()
                s = torch.clamp(self.tau / dist, max=1.0)  # dist 0 -> inf -> 1
                c = c * (1.0 - s.mean()) + s / m
            return c, None
        h = pool.h()
        dg = torch.diagonal(h)
        c = torch.zeros(m, dtype=torch.float64, device=h.device)
        for _ in range(self.iterations):
            hc = h @ c
            dist = (dg - 2.0 * hc + c @ hc).clamp_min(0.0).sqrt()
            s = torch.clamp(self.tau / dist, max=1.0)  # dist 0 -> inf -> 1
            c = c * (1.0 - s.mean()) + s / m
        return c, None

    def __repr__(self) -> str:
        return f"CenteredClipping(f={self.f}, tau={self.tau}, iterations={self.iterations})"


def _subsets(m: int, f: int, max_subsets: int, name: str) -> int:
    count = math.comb(m, f)
    if count > max_subsets:
        raise ValueError(f"{name} enumerates C(n, f) = C({m}, {f}) = {count} subsets, more than "
                         f"max_subsets={max_subsets}; lower n or f, or raise max_subsets")
    return count


def _subset_batches(m: int, k: int, batch: int):
    it = itertools.combinations(range(m), k)
    while True:
        chunk = list(itertools.islice(it, batch))
        if not chunk:
            return
        yield torch.tensor(chunk, dtype=torch.long)


class MDA(Aggregator):
    r"""Minimum-diameter averaging: the mean of the :math:`n - f` updates of smallest diameter.

    .. math::

        S^\star = \arg\min_{|S| = n - f}\ \max_{i, j\in S}\lVert x_i - x_j\rVert, \qquad
        \mathrm{MDA} = \frac{1}{n - f}\sum_{i\in S^\star} x_i .

    Exact enumeration of the :math:`\binom{n}{f}` subsets (first in lexicographic order on ties);
    refused with :class:`ValueError` when there are more than ``max_subsets`` (default
    :math:`10^6`).

    References
    ----------
    E. M. El Mhamdi, R. Guerraoui and S. Rouault (2018). The hidden vulnerability of distributed
    learning in Byzantium. ICML (MDA); Rousseeuw (1985), minimum volume ellipsoid, for the idea.

    Examples
    --------
    >>> x = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    >>> value, info = MDA(f=1)(x)
    >>> value, info.selected
    (tensor([1.]), [0, 1, 2])
    """

    name = "mda"
    uses_gram = True

    def __init__(self, f: int = 0, *, max_subsets: int = 1_000_000) -> None:
        super().__init__(f)
        self.max_subsets = check_int("max_subsets", max_subsets, minimum=1)

    def _best_subset(self, pool, f):
        m = pool.m
        k = m - f
        _subsets(m, f, self.max_subsets, self.name)
        dist = pool.sq_dists()
        best, best_val = None, math.inf
        for idx in _subset_batches(m, k, max(1, 2_000_000 // max(k * k, 1))):
            sub = dist[idx[:, :, None], idx[:, None, :]]
            vals = sub.flatten(1).max(dim=1).values
            j = int(torch.argmin(vals))
            if float(vals[j]) < best_val:
                best_val, best = float(vals[j]), idx[j].tolist()
        return best, best_val

    def _aggregate(self, pool, f, info):
        sel, val = self._best_subset(pool, f)
        info.selected = sel if pool.identity else None
        info.extra["diameter"] = math.sqrt(val)
        coeff = torch.zeros(pool.m, dtype=torch.float64, device=pool.x.device)
        coeff[sel] = 1.0 / len(sel)
        return coeff, None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(f={self.f}, max_subsets={self.max_subsets})"


class SMEA(MDA):
    r"""Smallest maximum eigenvalue averaging: the mean of the :math:`n - f` updates whose
    empirical covariance has the smallest top eigenvalue.

    .. math::

        S^\star = \arg\min_{|S| = n - f}\ \lambda_{\max}\Bigl(\frac{1}{|S|}\sum_{i\in S}
        (x_i - \bar x_S)(x_i - \bar x_S)^\top\Bigr).

    :math:`\lambda_{\max}` is computed exactly from the :math:`|S|\times|S|` centred Gram matrix
    (same nonzero spectrum as the :math:`d\times d` covariance).  Exact enumeration; refused beyond
    ``max_subsets`` (default :math:`10^6`) subsets.

    References
    ----------
    Y. Allouah, R. Guerraoui, N. Gupta, R. Pinot and J. Stephan (2023). On the privacy-robustness-
    utility trilemma in distributed learning. ICML, Algorithm 1 (SMEA).

    Examples
    --------
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [9.0, 9.0]])
    >>> SMEA(f=1)(x)[1].selected
    [0, 1, 2]
    """

    name = "smea"

    def _best_subset(self, pool, f):
        m = pool.m
        k = m - f
        _subsets(m, f, self.max_subsets, self.name)
        h = pool.h()
        eye = torch.eye(k, dtype=torch.float64, device=h.device)
        cen = eye - 1.0 / k
        best, best_val = None, math.inf
        for idx in _subset_batches(m, k, max(1, 400_000 // max(k * k, 1))):
            sub = h[idx[:, :, None], idx[:, None, :]]
            cg = cen @ sub @ cen
            lam = torch.linalg.eigvalsh(cg)[:, -1] / k
            j = int(torch.argmin(lam))
            if float(lam[j]) < best_val:
                best_val, best = float(lam[j]), idx[j].tolist()
        return best, best_val

    def _aggregate(self, pool, f, info):
        sel, val = self._best_subset(pool, f)
        info.selected = sel if pool.identity else None
        info.extra["lambda_max"] = max(val, 0.0)
        coeff = torch.zeros(pool.m, dtype=torch.float64, device=pool.x.device)
        coeff[sel] = 1.0 / len(sel)
        return coeff, None


class CAF(Aggregator):
    r"""Covariance-bound agnostic filter: iteratively down-weight updates along the top
    eigenvector of the weighted covariance; return the weighted mean with the smallest top
    eigenvalue seen.

    With weights :math:`c_i` (initially 1), while :math:`\sum_i c_i > n - 2f`:
    :math:`\mu_c = \sum_i c_i x_i / \sum_i c_i`, :math:`(\lambda, v)` the top eigenpair of
    :math:`\Sigma_c = \sum_i c_i (x_i - \mu_c)(x_i - \mu_c)^\top / \sum_i c_i`,
    :math:`\tau_i = ((x_i - \mu_c)^\top v)^2` and
    :math:`c_i \leftarrow c_i(1 - \tau_i/\max_j\tau_j)`.
    The eigenpair is exact (from the :math:`n\times n` weighted centred Gram matrix), not a power
    iteration.  With ``f = 0`` it is the mean.

    References
    ----------
    Y. Allouah, R. Guerraoui and J. Stephan (2025). Towards trustworthy federated learning with
    untrusted participants. ICML (CAF).

    Examples
    --------
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [30.0, 30.0]])
    >>> CAF(f=1)(x)[0]
    tensor([0.5028, 0.5028])
    """

    name = "caf"
    uses_gram = True

    def _aggregate(self, pool, f, info):
        h = pool.h()
        m = pool.m
        c = torch.ones(m, dtype=torch.float64, device=h.device)
        best_c, best_lam = c / m, math.inf
        it = 0
        while float(c.sum()) > m - 2 * f and it < 10 * m:
            it += 1
            csum = c.sum()
            wmu = c / csum
            p = torch.eye(m, dtype=torch.float64, device=h.device) - wmu[None, :]
            k_mu = p @ h @ p.T  # (x_i - μ)·(x_j - μ)
            sq = c.sqrt()
            b = sq[:, None] * k_mu * sq[None, :]
            evals, evecs = torch.linalg.eigh(b)
            lam_bb = float(evals[-1])
            lam = lam_bb / float(csum)
            if lam < best_lam:
                best_lam, best_c = lam, wmu.clone()
            if lam_bb <= 0:
                break
            proj = k_mu @ (sq * evecs[:, -1])
            tau = proj ** 2 / lam_bb
            tmax = float(tau.max())
            if tmax <= 0:
                break
            c = (c * (1.0 - tau / tmax)).clamp_min(0.0)
        info.iterations = it
        info.extra["lambda_max"] = best_lam if math.isfinite(best_lam) else None
        return best_c, None


# --------------------------------------------------------------------------------------------------
# Pre-aggregators
# --------------------------------------------------------------------------------------------------
class NNM(PreAggregator):
    r"""Nearest-neighbour mixing: replace each update by the average of its :math:`n - f` nearest
    updates (itself included; ties to the lower index).

    References
    ----------
    Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot and J. Stephan (2023). Fixing by
    mixing: a recipe for optimal Byzantine ML under heterogeneity. AISTATS, Algorithm 1.

    Examples
    --------
    >>> NNM(f=1)(torch.tensor([[0.0], [1.0], [10.0]]))[0]
    tensor([[0.5000],
            [0.5000],
            [5.5000]])
    """

    name = "nnm"
    uses_gram = True

    def _max_f(self, m: int) -> int:
        return max(m - 1, 0)

    def _transform(self, pool, f, gen):
        m = pool.m
        k = m - f
        dist = pool.sq_dists()
        # A stable sort breaks distance ties by the lower index.
        order = torch.sort(dist, dim=1, stable=True).indices[:, :k]
        mix = torch.zeros(m, m, dtype=torch.float64, device=dist.device)
        mix.scatter_(1, order, 1.0 / k)
        pool.apply(mix)


class Bucketing(PreAggregator):
    r"""Bucketing: shuffle the updates, split them into :math:`\lceil n/s\rceil` buckets of size
    ``s`` (the last may be smaller) and average each bucket.

    Parameters
    ----------
    s : int
        Bucket size.
    seed : int
        Seed of the rule's own generator, used when no ``generator`` is passed to the call.

    References
    ----------
    S. P. Karimireddy, L. He and M. Jaggi (2022). Byzantine-robust learning on heterogeneous
    datasets via bucketing. ICLR, Algorithm 1.

    Examples
    --------
    >>> out, info = Bucketing(s=2)(torch.arange(6.0).reshape(6, 1), generator=0)
    >>> out.shape
    torch.Size([3, 1])
    """

    name = "bucketing"

    def __init__(self, f: int = 0, *, s: int = 2, seed: int = 0) -> None:
        super().__init__(f)
        self.s = check_int("s", s, minimum=1)
        self._gen = torch_generator(check_int("seed", seed, minimum=0))

    def _max_f(self, m: int) -> int:
        return max(m - 1, 0)

    def _transform(self, pool, f, gen):
        m = pool.m
        perm = randperm(m, gen if gen is not None else self._gen, device="cpu")
        nb = math.ceil(m / self.s)
        mix = torch.zeros(nb, m, dtype=torch.float64)
        for b in range(nb):
            members = perm[b * self.s:(b + 1) * self.s]
            mix[b, members] = 1.0 / members.numel()
        pool.apply(mix.to(pool.x.device))

    def __repr__(self) -> str:
        return f"Bucketing(f={self.f}, s={self.s})"


def _clip_mix(norms: torch.Tensor, threshold: float) -> torch.Tensor:
    scale = torch.where(norms > threshold, threshold / norms.clamp_min(1e-300),
                        torch.ones_like(norms))
    return torch.diag(scale)


class StaticClipping(PreAggregator):
    r"""Static clipping: :math:`x_i \leftarrow x_i\min(1, C/\lVert x_i\rVert)` with a fixed ``C``.

    Examples
    --------
    >>> StaticClipping(threshold=1.0)(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))[0]
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """

    name = "clip"

    def __init__(self, f: int = 0, *, threshold: float = 1.0) -> None:
        super().__init__(f)
        self.threshold = check_positive("threshold", threshold)

    def _max_f(self, m: int) -> int:
        return max(m - 1, 0)

    def _transform(self, pool, f, gen):
        norms = pool.sq_norms().sqrt()
        pool.apply(_clip_mix(norms, self.threshold))

    def __repr__(self) -> str:
        return f"StaticClipping(f={self.f}, threshold={self.threshold})"


class ARC(PreAggregator):
    r"""Adaptive robust clipping: clip the :math:`k = \lfloor 2(f/n)(n - f)\rfloor` largest-norm
    updates to the norm of the :math:`(k+1)`-th largest.

    References
    ----------
    Y. Allouah, R. Guerraoui, N. Gupta, A. Jellouli, G. Rizk and J. Stephan (2024). The vital role
    of gradient clipping in Byzantine-resilient distributed learning. arXiv:2405.14432, Algorithm 1
    (ARC).

    Examples
    --------
    >>> ARC(f=1)(torch.tensor([[1.0, 0.0], [0.0, 2.0], [30.0, 40.0]]))[0]
    tensor([[1.0000, 0.0000],
            [0.0000, 2.0000],
            [1.2000, 1.6000]])
    """

    name = "arc"

    def _max_f(self, m: int) -> int:
        return max((m - 1) // 2, 0)

    def _transform(self, pool, f, gen):
        m = pool.m
        k = int(2 * f * (m - f) / m) if m else 0
        if k <= 0:
            return
        k = min(k, m - 1)
        norms = pool.sq_norms().sqrt()
        threshold = float(torch.sort(norms).values[m - k - 1])
        pool.apply(_clip_mix(norms, threshold))


# --------------------------------------------------------------------------------------------------
# Pipelines and the registry
# --------------------------------------------------------------------------------------------------
class Pipeline(Aggregator):
    """Pre-aggregators followed by an aggregation rule, sharing one Gram matrix.

    ``kappa_name`` is the rule's when the only pre-aggregator is NNM (then ``nnm`` is ``True``);
    ``None`` when bucketing or clipping is involved (their κ is not tabulated in
    :mod:`fltheory.bounds`).

    Examples
    --------
    >>> pipe = Pipeline([NNM(f=1)], TrimmedMean(f=1))
    >>> pipe.kappa_name, pipe.nnm
    ('cwtm', True)
    """

    def __init__(self, pre: Sequence[PreAggregator], rule: Aggregator) -> None:
        if isinstance(rule, Pipeline) or not isinstance(rule, Aggregator):
            raise ValueError(f"rule must be an aggregation rule, got {type(rule).__name__}")
        for p in pre:
            if not isinstance(p, PreAggregator):
                raise ValueError(f"pre must hold pre-aggregators, got {type(p).__name__}")
        super().__init__(rule.f)
        self.pre = list(pre)
        self.rule = rule
        self.name = "+".join([p.name for p in self.pre] + [rule.name])
        names = {p.name for p in self.pre}
        self.nnm = "nnm" in names
        self.kappa_name = rule.kappa_name if names <= {"nnm"} else None
        self.uses_gram = rule.uses_gram

    def _pre(self) -> list[PreAggregator]:
        return self.pre

    def _max_f(self, m: int) -> int:
        return self.rule._max_f(m)

    def _aggregate(self, pool, f, info):
        return self.rule._aggregate(pool, f, info)

    def __repr__(self) -> str:
        return f"Pipeline({self.pre!r}, {self.rule!r})"


#: Aggregation rules and pre-aggregators, by name; each rule declares ``kappa_name`` (the
#: :func:`fltheory.bounds.kappa` entry it is checked against, ``None`` when there is none).
_RULES = Registry("aggregator")
register_all(_RULES, {
    "mean": Mean, "average": Mean,
    "cwmed": CoordinateWiseMedian, "median": CoordinateWiseMedian,
    "cwtm": TrimmedMean, "trimmed_mean": TrimmedMean,
    "krum": Krum, "multikrum": MultiKrum,
    "gm": GeometricMedian, "geometric_median": GeometricMedian,
    "cc": CenteredClipping, "centered_clipping": CenteredClipping,
    "mda": MDA, "smea": SMEA, "caf": CAF,
}, meta=lambda cls: {"kappa_name": getattr(cls, "kappa_name", None)})
_PRE = Registry("pre-aggregator")
register_all(_PRE, {
    "nnm": NNM, "bucketing": Bucketing,
    "clip": StaticClipping, "clipping": StaticClipping, "static_clipping": StaticClipping,
    "arc": ARC,
})
RULES, PRE_AGGREGATORS = _RULES, _PRE


def available() -> dict[str, list[str]]:
    """Registered names: ``{"rules": [...], "pre": [...]}``.

    Examples
    --------
    >>> "krum" in available()["rules"], "nnm" in available()["pre"]
    (True, True)
    """
    return {"rules": _RULES.available(aliases=True), "pre": _PRE.available(aliases=True)}


def get(name: str, f: int = 0, *, pre: Sequence[str | PreAggregator] = (),
        pre_kwargs: dict[str, dict] | None = None, **kwargs: Any) -> Aggregator:
    """Build an aggregation rule by name, optionally preceded by pre-aggregators.

    Parameters
    ----------
    name : str
        A rule (``mean``, ``cwmed``/``median``, ``cwtm``/``trimmed_mean``, ``krum``,
        ``multikrum``, ``gm``/``geometric_median``, ``cc``/``centered_clipping``, ``mda``,
        ``smea``, ``caf``), or pre-aggregators and a rule joined by ``+`` (``"nnm+cwtm"``,
        ``"arc+nnm+krum"``), applied left to right.
    f : int
        Number of Byzantine clients tolerated (shared by all stages).
    pre : sequence of str or PreAggregator
        More pre-aggregators, applied before those named in ``name``.
    pre_kwargs : dict, optional
        Keyword arguments per pre-aggregator name, e.g. ``{"bucketing": {"s": 3}}``.
    **kwargs
        Keyword arguments of the rule.

    Examples
    --------
    >>> get("nnm+cwtm", f=2).name
    'nnm+cwtm'
    >>> get("gm", f=1, tol=1e-6).kappa_name
    'gm'
    >>> get("bucketing+krum", f=1, pre_kwargs={"bucketing": {"s": 2}}).kappa_name is None
    True
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    f = check_int("f", f, minimum=0)
    parts = [p.strip() for p in name.split("+")]
    rule_key = _RULES.canonical(parts[-1], param="name")
    pre_kwargs = dict(pre_kwargs or {})
    stages: list[PreAggregator] = []
    for p in list(pre) + parts[:-1]:
        if isinstance(p, PreAggregator):
            stages.append(p)
            continue
        key = _PRE.canonical(p, param="pre")
        kw = pre_kwargs.get(key, pre_kwargs.get(p, {}))
        stages.append(_PRE[key](f, **kw))
    rule = _RULES[rule_key](f, **kwargs)
    return Pipeline(stages, rule) if stages else rule
