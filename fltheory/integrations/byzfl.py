r"""ByzFL-compatible callables backed by fltheory's aggregators, pre-aggregators and attacks.

Code written against ByzFL 0.0.11 runs with fltheory's rules by changing the import::

    # from byzfl import Krum, NNM, SignFlipping
    from fltheory.integrations.byzfl import Krum, NNM, SignFlipping

Every class takes ByzFL's constructor arguments and is called like ByzFL's: with a NumPy array, a
torch tensor, or a list of NumPy arrays or of tensors (the ``n`` vectors), and returns the
aggregate (or, for a pre-aggregator, the transformed vectors; for an attack, the one Byzantine
vector) *alone*, as a NumPy array for NumPy input and a tensor for tensor input.  Differences
from ByzFL, all deliberate:

* the dtype is kept: ByzFL casts tensors to float32, fltheory keeps float64 (and float16);
* a row with a NaN or ±Inf entry is rejected before aggregation (ByzFL's geometric median drops
  rows with an Inf only; its other rules propagate NaN);
* the input is never modified (ByzFL's ``Clipping`` and ``ARC`` clip the caller's rows in place);
* randomised classes (``Bucketing``, ``Gaussian``) take a ``seed`` (ByzFL draws from the global
  NumPy/torch generator);
* ``CAF`` computes the top eigenpair exactly (ByzFL: one power iteration);
* ties in Krum scores go to the lowest index.

The full table of names is in the documentation (``docs/integrations.rst``).  The underlying
fltheory objects are available as ``.rule`` (with :class:`~fltheory.fl.aggregators.AggregationInfo`
diagnostics when called directly).

Examples
--------
>>> import numpy as np
>>> from fltheory.integrations.byzfl import Krum, GeometricMedian, SignFlipping
>>> x = np.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]])
>>> Krum(1)(x)
array([1., 2., 3.])
>>> GeometricMedian()(x)                                     # ByzFL's documented output
array([3.78788764, 4.78788764, 5.78788764])
>>> SignFlipping()(x)
array([-4., -5., -6.])
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from fltheory.fl import aggregators as _agg
from fltheory.fl import attacks as _atk
from fltheory.fl._util import as_matrix, like_input

__all__ = [
    "Average", "Median", "TrMean", "GeometricMedian", "Krum", "MultiKrum", "CenteredClipping",
    "MDA", "CAF", "SMEA", "NNM", "Bucketing", "Clipping", "ARC", "SignFlipping",
    "InnerProductManipulation", "ALittleIsEnough", "Optimal_InnerProductManipulation",
    "Optimal_ALittleIsEnough", "Mimic", "Inf", "Gaussian",
]


def _nonneg_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


class _Rule:
    """A ByzFL-style aggregator: ``agg(vectors)`` returns the aggregate alone."""

    rule: _agg.Aggregator

    def __call__(self, vectors: Any) -> Any:
        return self.rule.aggregate(vectors)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.rule!r})"


class _Pre:
    """A ByzFL-style pre-aggregator: ``pre(vectors)`` returns the transformed vectors."""

    rule: _agg.PreAggregator

    def __call__(self, vectors: Any) -> Any:
        return self.rule.transform(vectors, generator=getattr(self, "_gen", None))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.rule!r})"


def _check_2f(f: int, n: int) -> None:
    if 2 * f >= n:
        raise ValueError(f"Cannot tolerate 2f >= n: f must be < n/2, got f={f}, n={n}")


# --------------------------------------------------------------------------------------------------
# Aggregators
# --------------------------------------------------------------------------------------------------
class Average(_Rule):
    """ByzFL ``Average()``: the mean (:class:`fltheory.fl.aggregators.Mean`)."""

    def __init__(self) -> None:
        self.rule = _agg.Mean()


class Median(_Rule):
    """ByzFL ``Median()``: coordinate-wise median, mean of the two middle values for even ``n``
    (:class:`fltheory.fl.aggregators.CoordinateWiseMedian`)."""

    def __init__(self) -> None:
        self.rule = _agg.CoordinateWiseMedian()


class TrMean(_Rule):
    """ByzFL ``TrMean(f)``: coordinate-wise trimmed mean (:class:`~fltheory.fl.aggregators.
    TrimmedMean`); ``2f < n`` required, as in ByzFL."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.TrimmedMean(_nonneg_int("f", f))

    def __call__(self, vectors: Any) -> Any:
        _check_2f(self.rule.f, len(vectors))
        return super().__call__(vectors)


class GeometricMedian(_Rule):
    """ByzFL ``GeometricMedian(nu=0.1, T=3)``: ``T`` smoothed Weiszfeld steps from 0
    (:class:`~fltheory.fl.aggregators.GeometricMedian` with ``init="zero", tol=0``)."""

    def __init__(self, nu: float = 0.1, T: int = 3) -> None:
        self.rule = _agg.GeometricMedian(smoothing=float(nu), max_iter=_nonneg_int("T", T),
                                         tol=0.0, init="zero")


class Krum(_Rule):
    """ByzFL ``Krum(f)``: scores with the ``n - f - 1`` nearest other vectors
    (:class:`~fltheory.fl.aggregators.Krum`); ``2f < n`` required."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.Krum(_nonneg_int("f", f))

    def __call__(self, vectors: Any) -> Any:
        _check_2f(self.rule.f, len(vectors))
        return super().__call__(vectors)


class MultiKrum(Krum):
    """ByzFL ``MultiKrum(f)``: mean of the ``n - f`` best Krum scores
    (:class:`~fltheory.fl.aggregators.MultiKrum`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.MultiKrum(_nonneg_int("f", f))


class CenteredClipping(_Rule):
    """ByzFL ``CenteredClipping(m=None, L=1, tau=100.0)``: ``L`` centred-clipping steps from ``m``
    (zero by default); like ByzFL, the next call starts from this call's output."""

    def __init__(self, m: Any = None, L: int = 1, tau: float = 100.0) -> None:
        self.m = m
        self.rule = _agg.CenteredClipping(tau=float(tau), iterations=max(_nonneg_int("L", L), 1))
        self._zero = L == 0

    def __call__(self, vectors: Any) -> Any:
        x = as_matrix("vectors", vectors)
        if self._zero:  # L = 0: the starting point itself
            out = (torch.zeros(x.shape[1], dtype=x.dtype) if self.m is None
                   else as_matrix("m", [self.m])[0].to(x.dtype))
        else:
            center = None if self.m is None else as_matrix("m", [self.m])[0]
            out = self.rule(x, center=center)[0]
        out = like_input(out, vectors)
        self.m = out
        return out


class MDA(_Rule):
    """ByzFL ``MDA(f)``: minimum-diameter averaging (:class:`~fltheory.fl.aggregators.MDA`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.MDA(_nonneg_int("f", f))


class CAF(_Rule):
    """ByzFL ``CAF(f)``: covariance-bound agnostic filter, exact eigenpairs
    (:class:`~fltheory.fl.aggregators.CAF`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.CAF(_nonneg_int("f", f))


class SMEA(_Rule):
    """ByzFL ``SMEA(f)``: smallest maximum eigenvalue averaging
    (:class:`~fltheory.fl.aggregators.SMEA`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.SMEA(_nonneg_int("f", f))


# --------------------------------------------------------------------------------------------------
# Pre-aggregators
# --------------------------------------------------------------------------------------------------
class NNM(_Pre):
    """ByzFL ``NNM(f)``: nearest-neighbour mixing (:class:`~fltheory.fl.aggregators.NNM`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.NNM(_nonneg_int("f", f))


class Bucketing(_Pre):
    """ByzFL ``Bucketing(s=1)``: shuffle, average buckets of ``s``
    (:class:`~fltheory.fl.aggregators.Bucketing`); ``seed`` fixes the shuffles."""

    def __init__(self, s: int = 1, *, seed: int = 0) -> None:
        self.rule = _agg.Bucketing(s=s, seed=seed)


class Clipping(_Pre):
    """ByzFL ``Clipping(c=2.0)``: clip each vector to norm ``c``
    (:class:`~fltheory.fl.aggregators.StaticClipping`); the input is not modified."""

    def __init__(self, c: float = 2.0) -> None:
        self.rule = _agg.StaticClipping(threshold=float(c))


class ARC(_Pre):
    """ByzFL ``ARC(f)``: adaptive robust clipping (:class:`~fltheory.fl.aggregators.ARC`)."""

    def __init__(self, f: int = 0) -> None:
        self.rule = _agg.ARC(_nonneg_int("f", f))


# --------------------------------------------------------------------------------------------------
# Attacks: each returns the one vector every Byzantine client sends
# --------------------------------------------------------------------------------------------------
class _Attack:
    attack: _atk.Attack

    def __call__(self, honest_vectors: Any) -> Any:
        out = self.attack(as_matrix("honest_vectors", honest_vectors), 1)[0]
        return like_input(out, honest_vectors)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.attack!r})"


class SignFlipping(_Attack):
    """ByzFL ``SignFlipping()``: :math:`-\\bar g` (:class:`~fltheory.fl.attacks.SignFlip`)."""

    def __init__(self) -> None:
        self.attack = _atk.SignFlip()


class InnerProductManipulation(_Attack):
    """ByzFL ``InnerProductManipulation(tau=2.0)``: :math:`-\\tau\\bar g`
    (:class:`~fltheory.fl.attacks.IPM`)."""

    def __init__(self, tau: float = 2.0) -> None:
        self.tau = float(tau)
        self.attack = _atk.IPM(tau=self.tau) if self.tau > 0 else None

    def __call__(self, honest_vectors: Any) -> Any:
        if self.attack is None:  # tau <= 0 (ByzFL allows it; fltheory's IPM needs tau > 0)
            x = as_matrix("honest_vectors", honest_vectors)
            return like_input(-self.tau * x.mean(dim=0), honest_vectors)
        return super().__call__(honest_vectors)


class ALittleIsEnough(_Attack):
    """ByzFL ``ALittleIsEnough(tau=1.5)``: :math:`\\bar g + \\tau\\sigma` (``ddof=1``), i.e.
    :class:`fltheory.fl.attacks.ALIE` with ``z = -tau``."""

    def __init__(self, tau: float = 1.5) -> None:
        self.tau = float(tau)
        self.attack = _atk.ALIE(z=-self.tau)


class Mimic(_Attack):
    """ByzFL ``Mimic(epsilon=0)``: a copy of honest vector ``epsilon``
    (:class:`~fltheory.fl.attacks.Mimic`)."""

    def __init__(self, epsilon: int = 0) -> None:
        self.attack = _atk.Mimic(target=_nonneg_int("epsilon", epsilon))


class Inf(_Attack):
    """ByzFL ``Inf()``: a vector of ``+inf`` (rejected by every fltheory rule)."""

    def __init__(self) -> None:
        self.attack = None

    def __call__(self, honest_vectors: Any) -> Any:
        x = as_matrix("honest_vectors", honest_vectors)
        return like_input(torch.full((x.shape[1],), math.inf, dtype=x.dtype), honest_vectors)


class Gaussian(_Attack):
    """ByzFL ``Gaussian(mu=0.0, sigma=1.0)``: an :math:`\\mathcal N(\\mu, \\sigma^2 I)` vector
    (:class:`~fltheory.fl.attacks.Gaussian`); ``seed`` makes the draws reproducible."""

    def __init__(self, mu: float = 0.0, sigma: float = 1.0, *, seed: int | None = None) -> None:
        self.attack = _atk.Gaussian(mu=float(mu), sigma=float(sigma))
        self._gen = None if seed is None else torch.Generator().manual_seed(int(seed))

    def __call__(self, honest_vectors: Any) -> Any:
        x = as_matrix("honest_vectors", honest_vectors)
        return like_input(self.attack(x, 1, generator=self._gen)[0], honest_vectors)


class _OptimalAttack:
    """ByzFL's optimised attacks: choose the factor ``tau`` maximising
    ``||agg(pre(honest + f copies of v(tau))) - mean(honest)||`` by ByzFL's expansion/contraction
    search (``evals`` evaluations from ``start`` with step ``delta``, shrunk by ``ratio``)."""

    def __init__(self, agg: Any = None, pre_agg_list: Sequence[Any] | None = None, f: int = 1,
                 evals: int = 20, start: float = 0.0, delta: float = 10.0,
                 ratio: float = 0.8) -> None:
        self.agg = Average() if agg is None else agg
        self.pre_agg_list = [Clipping()] if pre_agg_list is None else list(pre_agg_list)
        self.f = _nonneg_int("f", f)
        if isinstance(evals, bool) or not isinstance(evals, int) or evals <= 0:
            raise ValueError(f"evals must be a positive integer, got {evals!r}")
        self.evals = evals
        self.start = float(start)
        self.delta = float(delta)
        if self.delta == 0:
            raise ValueError("delta must be a non-zero float, got 0")
        self.ratio = float(ratio)
        if not 0.5 < self.ratio < 1:
            raise ValueError(f"ratio must be in (0.5, 1), got {ratio!r}")
        self.last_tau: float | None = None

    def _vector(self, tau: float, honest: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def _damage(self, tau: float, honest: torch.Tensor, mean: torch.Tensor) -> float:
        v = self._vector(tau, honest)
        x = torch.cat([honest, v.expand(self.f, -1)])
        for pre in self.pre_agg_list:
            x = torch.as_tensor(pre(x))
        return float(torch.linalg.vector_norm(torch.as_tensor(self.agg(x)) - mean))

    def __call__(self, honest_vectors: Any) -> Any:
        honest = as_matrix("honest_vectors", honest_vectors)
        mean = honest.mean(dim=0)
        best_x, best_y = self.start, self._damage(self.start, honest, mean)
        delta, left = self.delta, self.evals - 1
        while left > 0:  # expansion: double the step while the damage grows
            y = self._damage(best_x + delta, honest, mean)
            left -= 1
            if y > best_y:
                best_x, best_y, delta = best_x + delta, y, 2 * delta
            else:
                delta *= self.ratio
                break
        while left > 0:  # contraction: shrink the step
            y = self._damage(best_x + delta, honest, mean)
            left -= 1
            if y > best_y:
                best_x, best_y = best_x + delta, y
            delta *= self.ratio
        self.last_tau = best_x
        return like_input(self._vector(best_x, honest), honest_vectors)


class Optimal_InnerProductManipulation(_OptimalAttack):  # noqa: N801 - ByzFL's name
    """ByzFL ``Optimal_InnerProductManipulation(agg, pre_agg_list, f, ...)``: IPM with the factor
    found by ByzFL's search against the given (fltheory-compatible or ByzFL) rule."""

    def _vector(self, tau, honest):
        return -tau * honest.mean(dim=0)


class Optimal_ALittleIsEnough(_OptimalAttack):  # noqa: N801 - ByzFL's name
    """ByzFL ``Optimal_ALittleIsEnough(agg, pre_agg_list, f, ...)``: ALIE
    (:math:`\\bar g + \\tau\\sigma`) with the factor found by ByzFL's search."""

    def _vector(self, tau, honest):
        std = honest.std(dim=0, correction=1) if honest.shape[0] > 1 else torch.zeros_like(
            honest[0])
        return honest.mean(dim=0) + tau * std

