"""Empirical worst-case probes of (f, κ)-robustness.

A claimed bound :math:`\\kappa_F` is falsifiable: any input whose ratio

.. math::

    r(x) = \\frac{\\|F(x) - \\bar x_S\\|^2}{\\frac{1}{|S|}\\sum_{i\\in S}\\|x_i-\\bar x_S\\|^2}

exceeds it refutes the claim.  :func:`empirical_kappa` searches for such inputs: a population of
structured and random starting points (including the two-set instance that proves the lower bound
:math:`f/(n-2f)`) improved by batched hill-climbing.  The result is a *lower* estimate of the true
robustness coefficient of the implementation -- a probe can refute a bound, never prove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._checks import check_int
from . import _reference_aggregators as ref

__all__ = ["ProbeResult", "empirical_kappa", "kappa_ratio", "lower_bound_instance_ratio"]


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of :func:`empirical_kappa`."""

    aggregator: str
    n: int
    f: int
    nnm: bool
    d: int
    max_ratio: float
    worst_input: np.ndarray = field(repr=False)
    evaluations: int = 0

    def to_dict(self) -> dict:
        return {"aggregator": self.aggregator, "n": self.n, "f": self.f, "nnm": self.nnm,
                "d": self.d, "max_ratio": self.max_ratio, "evaluations": self.evaluations}


def kappa_ratio(F: Callable[[np.ndarray, int], np.ndarray], X: np.ndarray, f: int) -> np.ndarray:
    """The ratio :math:`r(x)` of a batch ``X`` (shape ``(B, n, d)``), honest set = first n-f rows.

    Instances whose honest vectors coincide get ratio 0 if ``F`` returns their common value and
    ``inf`` otherwise.
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[-2]
    H = X[..., : n - f, :]
    mu = H.mean(axis=-2)
    var = np.mean(np.sum((H - mu[..., None, :]) ** 2, axis=-1), axis=-1)
    err = np.sum((F(X, f) - mu) ** 2, axis=-1)
    scale = np.maximum(np.max(np.abs(X), axis=(-1, -2)), 1e-300) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = err / var
    tiny = var <= 1e-24 * scale
    r = np.where(tiny, np.where(err <= 1e-18 * scale, 0.0, np.inf), r)
    return r


def lower_bound_instance_ratio(F: Callable[[np.ndarray, int], np.ndarray], n: int, f: int) -> float:
    """Worst ratio of ``F`` on the instance behind the lower bound :math:`f/(n-2f)`.

    Input: f vectors at :math:`e_1`, n−f at 0.  Two honest sets are possible (the n−f zeros, or
    f ones and n−2f zeros); the larger of the two ratios is returned.  Any rule gives at least
    :math:`f/(n-2f)` here (or infinity).
    """
    X = np.zeros((2, n, 2))
    # honest set = first n - f rows
    X[0, n - f:, 0] = 1.0            # honest: the n-f zeros, Byzantine: the f ones
    X[1, : f, 0] = 1.0               # honest: f ones and n-2f zeros, Byzantine: f zeros
    return float(np.max(kappa_ratio(F, X, f)))


def _initial_population(rng: np.random.Generator, n: int, f: int, d: int, size: int) -> np.ndarray:
    h = n - f
    pops = []
    # (1) two-point honest sets with Byzantine vectors on the line (lower-bound structure)
    for j in range(1, h):
        for t in (0.0, 1.0, -1.0, 2.0, 0.5, 5.0):
            X = np.zeros((n, d))
            X[:j, 0] = 1.0
            X[h:, 0] = t
            pops.append(X)
    m = max(size - len(pops), 1)
    kinds = rng.integers(0, 5, size=m)
    for kind in kinds:
        Hn = rng.standard_normal((h, d))
        if kind == 0:      # Byzantine vectors piled at one point along a random direction
            u = rng.standard_normal(d)
            u /= np.linalg.norm(u)
            Bz = np.tile(Hn.mean(0) + np.exp(rng.uniform(-2, 4)) * u, (f, 1))
        elif kind == 1:    # scattered Byzantine vectors
            Bz = rng.standard_normal((f, d)) * np.exp(rng.uniform(-1, 3))
        elif kind == 2:    # ALIE-like: mean - z * std per coordinate
            Bz = np.tile(Hn.mean(0) - rng.uniform(0, 3) * Hn.std(0), (f, 1))
        elif kind == 3:    # honest clusters, Byzantine at the edge of the larger one
            j = rng.integers(1, h)
            Hn = np.zeros((h, d))
            Hn[:j] = rng.standard_normal(d) * 3
            Hn += 0.05 * rng.standard_normal((h, d))
            Bz = np.tile(Hn[j:].mean(0) + 0.05 * rng.standard_normal(d), (f, 1))
        else:              # heavy-tailed honest vectors
            Hn = rng.standard_t(1.5, size=(h, d))
            Bz = rng.standard_t(1.5, size=(f, d)) * 3
        pops.append(np.vstack([Hn, Bz]))
    return np.stack(pops)


def empirical_kappa(aggregator: str | Callable[[np.ndarray, int], np.ndarray], n: int, f: int, *,
                    nnm: bool = False, d: int = 2, population: int = 192, steps: int = 250,
                    seed: int | np.random.Generator = 0) -> ProbeResult:
    """Largest ratio :math:`r(x)` found by random search + hill-climbing (a lower estimate of κ).

    Parameters
    ----------
    aggregator : str or callable
        Name of a reference implementation (``"cwtm", "cwmed", "gm", "krum", "multikrum",
        "mda", "smea"``) or a batched function ``F(X, f)`` mapping ``(B, n, d) -> (B, d)``.
    n, f : int
        Number of inputs and of Byzantine inputs (the honest set is the first ``n - f``).
    nnm : bool
        Apply nearest-neighbour mixing before the aggregator.
    d : int
        Dimension of the probe vectors (2 suffices to exhibit non-coordinate-wise effects).
    population, steps : int
        Number of instances improved in parallel and number of hill-climbing steps.
    seed : int or numpy.random.Generator
        Randomness (same seed, same result).

    Returns
    -------
    ProbeResult

    Examples
    --------
    >>> from fltheory.bounds import kappa
    >>> r = empirical_kappa("cwtm", n=7, f=2, population=32, steps=20, seed=1)
    >>> 2 / 3 - 1e-9 <= r.max_ratio <= kappa("cwtm", n=7, f=2) + 1e-9
    True
    """
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    d = check_int("d", d, minimum=1)
    population = check_int("population", population, minimum=1)
    steps = check_int("steps", steps, minimum=0)
    if not n > 2 * f:
        raise ValueError(f"n must be > 2f, got n={n}, f={f}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if callable(aggregator):
        name = getattr(aggregator, "__name__", "custom")
        F = (lambda X, ff: aggregator(ref.nnm(X, ff), ff)) if nnm else aggregator
    else:
        name = aggregator
        F = ref.get(aggregator, nnm_first=nnm)

    X = _initial_population(rng, n, f, d, population)
    r = kappa_ratio(F, X, f)
    r = np.where(np.isfinite(r), r, -np.inf)   # an inf means a bug in F; report it below
    evals = len(X)
    h = n - f
    step = np.full(len(X), 0.3)
    for _ in range(steps):
        # normalise: honest set centred, unit spread (the ratio is invariant to both)
        mu = X[:, :h].mean(axis=1, keepdims=True)
        sd = np.sqrt(np.mean(np.sum((X[:, :h] - mu) ** 2, axis=-1), axis=1))[:, None, None]
        X = (X - mu) / np.where(sd > 0, sd, 1.0)
        prop = X.copy()
        who = rng.integers(0, n, size=len(X))
        prop[np.arange(len(X)), who] += step[:, None] * rng.standard_normal((len(X), d))
        both = rng.random(len(X)) < 0.3          # sometimes move a second vector too
        who2 = rng.integers(0, n, size=len(X))
        prop[np.arange(len(X))[both], who2[both]] += (
            step[both, None] * rng.standard_normal((int(both.sum()), d)))
        rp = kappa_ratio(F, prop, f)
        evals += len(X)
        better = np.isfinite(rp) & (rp > r)
        X[better] = prop[better]
        r[better] = rp[better]
        step = np.where(better, np.minimum(step * 1.5, 10.0), np.maximum(step * 0.93, 1e-4))
    # sanity: an infinite ratio can only come from a rule that does not return the common value
    # of coinciding honest vectors
    ratios_all = kappa_ratio(F, X, f)
    if np.any(np.isinf(ratios_all)):
        best = float("inf")
        worst = X[int(np.argmax(ratios_all))]
    else:
        i = int(np.argmax(r))
        best, worst = float(r[i]), X[i]
    lb = lower_bound_instance_ratio(F, n, f)
    if lb > best:
        best, worst = lb, None
    if worst is None:
        worst = np.zeros((n, 2))
        worst[: f, 0] = 1.0
    return ProbeResult(aggregator=name, n=n, f=f, nnm=bool(nnm), d=d, max_ratio=best,
                       worst_input=np.array(worst), evaluations=evals)
