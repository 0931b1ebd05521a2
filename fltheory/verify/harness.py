"""Check the library's certified ε against exact profiles of tiny instances.

For each :class:`~fltheory.verify.mechanisms.Instance` and δ, the exact ε of every dataset pair
of the grid is bracketed (:class:`~fltheory.verify._exact.Profile`), and

* the library's upper bound must be at least the largest certified *lower* end of those
  brackets (the mechanism's ε is at least every pair's ε);
* the library's lower bound (if any) must be at most the largest certified *upper* end (the
  grids contain the instances the lower bounds are drawn from, and the mechanism's worst case
  where it is known).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

from . import mechanisms as M
from ._exact import Profile

__all__ = ["Check", "check", "default_suite", "slow_suite", "run_suite", "SuiteResult"]


@dataclass
class Check:
    """The outcome of one (instance, δ)."""

    instance: str
    mechanism: str
    delta: float
    exact_lower: float        # certified lower end of the worst pair's exact ε
    exact_upper: float        # certified upper end of the worst pair's exact ε
    worst_pair: str
    epsilon: float | None     # library upper bound (None: the library refuses)
    epsilon_lower: float | None
    ok_upper: bool
    ok_lower: bool
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.ok_upper and self.ok_lower

    @property
    def exact_over_upper(self) -> float | None:
        if self.epsilon is None or self.epsilon == 0 or math.isinf(self.epsilon):
            return None
        return self.exact_lower / self.epsilon

    @property
    def lower_over_exact(self) -> float | None:
        if self.epsilon_lower is None or self.exact_upper == 0:
            return None
        return self.epsilon_lower / self.exact_upper


def _library(inst: M.Instance, delta: float):
    from fltheory.accounting import epsilon

    ev = inst.event()
    if ev is None:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = epsilon(ev, delta, neighboring=inst.relation)
    return g.epsilon, g.epsilon_lower


def check(inst: M.Instance, delta: float = 1e-5, *, h: float = 2e-4) -> Check:
    """Exact ε of every dataset pair of ``inst`` at ``delta`` vs the library's bounds."""
    t0 = time.perf_counter()
    best_lo, best_up, worst = 0.0, 0.0, ""
    for pair in inst.pairs:
        laws = pair.laws()
        lo = up = 0.0
        for direction in laws.values():
            a, b = Profile(direction, h=h).epsilon(delta)
            lo, up = max(lo, a), max(up, b)
        if lo > best_lo or not worst:
            worst = pair.label
        best_lo, best_up = max(best_lo, lo), max(best_up, up)
    eps, eps_lo = _library(inst, delta)
    tol = 1e-9
    ok_upper = eps is None or eps >= best_lo - tol
    ok_lower = eps_lo is None or eps_lo <= best_up + tol
    note = "library refuses (no bound offered)" if eps is None else ""
    return Check(inst.name, inst.mechanism, delta, best_lo, best_up, worst, eps, eps_lo,
                 ok_upper, ok_lower, time.perf_counter() - t0, note)


def default_suite() -> list[M.Instance]:
    """A representative set (every builder and scenario; about a minute on one core)."""
    return [
        M.dp_sgd(0.1, 1.0, 1), M.dp_sgd(0.05, 0.8, 3), M.dp_sgd(0.1, 1.0, 2, "replace_one"),
        M.dp_fedavg(0.2, 1.2, 2),
        M.local_dp_sgd(0.3, 0.5, 1.0, 1, b=2),
        M.secret_masks_record(0.3, 1.0, 1, d=3), M.secret_masks_record(0.7, 0.5, 1, d=2),
        M.secret_masks_client_at_record_level(0.01, 3.7306, 1, 1024),
        M.mixup_record(0.2, 1.0, 2, (0.25, 0.5, 0.75, 1.0)),
        M.mixup_pair(0.2, 1.0, 1, (0.5, 1.0)),
        M.randomized_response(3, 1.0, 2), M.stochastic_quantizer(1.0, 3.0, 3),
        M.sign_gaussian(1.0, 1.0, 2),
        M.finite_matrix([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]], 1),
        M.shuffled_rr(2.0, 1000, 1), M.shuffled_rr(1.0, 12, 2),
        M.binomial(40, 0.5, 1, 2), M.discrete_gaussian(2.0, 1, 2), M.skellam(20.0, 1, 1),
        M.ddg(1.5, 3, 1, 1),
        M.random_checkins_single(1.0, 0.1),
    ]


def slow_suite() -> list[M.Instance]:
    """At least 300 instances: parameter sweeps of every mechanism (``pytest -m slow``)."""
    out: list[M.Instance] = []
    for q in (0.02, 0.1, 0.3):
        for z in (0.7, 1.0, 2.0):
            for T in (1, 2, 3):
                out.append(M.dp_sgd(q, z, T))
                out.append(M.dp_fedavg(q, z, T))
        for z in (0.8, 1.5, 3.0):
            for T in (1, 2):
                out.append(M.dp_sgd(q, z, T, "replace_one"))
    for qc in (0.2, 0.5):
        for ql in (0.3, 0.7):
            for z in (0.8, 1.5):
                out.append(M.local_dp_sgd(qc, ql, z, 1, b=2))
    for g in (0.05, 0.1, 0.3, 0.5, 0.7):
        for z in (0.5, 1.0, 2.0):
            for T in (1, 2):
                out.append(M.secret_masks_record(g, z, T, d=3 if T == 1 else 2))
    for g in (0.01, 0.05):
        for b in (4, 64, 1024):
            out.append(M.secret_masks_client_at_record_level(g, 3.7306, 1, b))
    for q in (0.05, 0.2):
        for z in (0.7, 1.0, 2.0):
            for T in (1, 2, 3):
                out.append(M.mixup_record(q, z, T, (0.25, 0.5, 0.75, 1.0)))
            out.append(M.mixup_pair(q, z, 1, (0.5, 1.0)))
    for k in (2, 3, 4, 5):
        for e in (0.5, 1.0, 2.0, 4.0):
            for T in (1, 2, 3):
                out.append(M.randomized_response(k, e, T))
    for B in (1.5, 3.0, 10.0):
        for T in (1, 2, 3):
            out.append(M.stochastic_quantizer(1.0, B, T))
    for s in (0.5, 1.0, 3.0):
        for T in (1, 2, 3):
            out.append(M.sign_gaussian(1.0, s, T))
    for e in (0.5, 1.0, 2.0, 4.0):
        for n in (2, 3, 5, 12, 30, 100, 1000):
            out.append(M.shuffled_rr(e, n, 1))
        out.append(M.shuffled_rr(e, 8, 2))
    for N in (10, 40, 200):
        for p in (0.3, 0.5):
            for T in (1, 2):
                out.append(M.binomial(N, p, 1, T))
    for s in (0.7, 1.5, 3.0, 6.0):
        for d in (1, 2, 3):
            for T in (1, 2, 3):
                out.append(M.discrete_gaussian(s, d, T))
    for mu in (5.0, 20.0, 50.0):
        for T in (1, 2):
            out.append(M.skellam(mu, 1, T))
    for s in (1.0, 2.0):
        for n in (2, 3):
            for T in (1, 2):
                out.append(M.ddg(s, n, 1, T))
    for e in (0.5, 1.0, 2.0):
        for p0 in (0.05, 0.1, 0.5):
            out.append(M.random_checkins_single(e, p0))
    return out


@dataclass
class SuiteResult:
    """Counts and extreme ratios of a suite run."""

    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> dict:
        eo = [c.exact_over_upper for c in self.checks if c.exact_over_upper is not None]
        le = [c.lower_over_exact for c in self.checks if c.lower_over_exact is not None]
        return {
            "instances": len(self.checks),
            "mechanisms": len({c.mechanism for c in self.checks}),
            "failures": len(self.failures),
            "max_exact_over_upper": max(eo) if eo else None,
            "max_lower_over_exact": max(le) if le else None,
            "with_lower_bound": len(le),
            "seconds": sum(c.seconds for c in self.checks),
        }


def run_suite(instances, deltas=(1e-5,)) -> SuiteResult:
    """Check every instance at every δ."""
    res = SuiteResult()
    for inst in instances:
        for d in deltas:
            res.checks.append(check(inst, d))
    return res
