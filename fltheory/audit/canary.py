r"""Canary audits: empirical lower bounds on ε for DP-SGD and DP-FedAvg, next to the accountant.

A canary audit plants a record (or a client) whose influence on the released noisy sums is as
large as clipping allows and sits on *coordinates the data never touch*, runs the mechanism, and
tests whether the canary was there.  Any test's error rates bound ε from below
(:mod:`fltheory.audit.stats`); a lower bound above the accountant's certified upper bound proves
that the implementation (or the analysis) is wrong.

**White-box gradient canaries (record-level DP-SGD).**  The model is a generalized linear model
(:func:`fltheory.fl.models.logistic_regression` or ``linear_regression``) on the data's features
plus one extra feature per canary; data records are zero there, canary :math:`j` is the record
:math:`x = c\,e_{p+j}` with a large :math:`c`.  Its per-example gradient
:math:`r\otimes[x, 1]` lies on column :math:`p + j` of the weight matrix up to a
:math:`1/\sqrt{1+c^2}` share on the bias, and it is clipped to norm :math:`C` by the engine's
:func:`fltheory.fl.models.clipped_grad_sum`, which also adds the noise.  The adversary sees every
released noisy sum (white box) and reads the canary's column along the canary's own gradient
direction; the canary columns of the parameters are kept at zero (a projection of the update --
post-processing), so the canary is always clipped and its direction is known.

**Canary clients (client-level DP-FedAvg).**  Real clients run local gradient steps on the
configuration's data; canary clients send an update of norm :math:`10C` on their own extra
coordinate; updates are clipped to :math:`C`, summed and noised by
:func:`~fltheory.fl.models.clipped_grad_sum` applied to a linear "update model" whose per-example
gradient at zero is its input (so the engine's clipping and noise code runs on the updates).

**Three audits.**

* ``"one_run"`` (Steinke, Nasr & Jagielski 2023): ``canaries`` canaries, each included with
  probability 1/2, in *one* run of the full mechanism (data, training, sampling); guesses on the
  most extreme scores, ε from :func:`~fltheory.audit.stats.one_run_lower_bound`.  Several guess
  counts are tried with a Bonferroni correction.
* ``"hypothesis_test"`` (Jagielski et al. 2020; Nasr et al. 2021): ``canaries`` independent runs,
  each with the canary included with probability 1/2; threshold chosen on half of the runs,
  Clopper–Pearson on the other half (:func:`~fltheory.audit.stats.audit_scores`).
* ``"gdp"`` (Nasr et al. 2023): the same runs, μ lower bound from the error rates, ε from the
  exact GDP curve.  Only for full-batch mechanisms (every record, every client, every step),
  whose trade-off curve is Gaussian with :math:`\mu = \sqrt{T}/z`.  The test is fixed in
  advance from the claimed mechanism (likelihood ratio at least 1, the midpoint between the two
  Gaussians), so every run is counted.

Multi-run audits run the mechanism *restricted to the canary's coordinates*: the data contribute
exactly zero there, so the released canary coordinates have the same law as in the full run; this
lets thousands of runs be one batched call of :func:`~fltheory.fl.models.clipped_grad_sums` per
step.

The noise is drawn by the DP building blocks of :mod:`fltheory.fl.models`
(:func:`~fltheory.fl.models.clipped_grad_sum` and :func:`~fltheory.fl.models.clipped_grad_sums`,
noise :math:`\mathcal N(0, (zC)^2 I)`), with the noise multiplier times ``noise_scale``.

Every audit returns an :class:`AuditResult` with the ε lower bound, its confidence, the
theoretical ε of the same mechanism from :mod:`fltheory.accounting`, μ̂ (the measured Gaussian
separation of the canary scores) and, for full-batch mechanisms, :math:`\sqrt{T}/z`.

``noise_scale`` multiplies the noise standard deviation actually added while the accountant keeps
the claimed noise multiplier: ``noise_scale=0.5`` is the classic bug (half the noise) and the
audit must flag it.

Examples
--------
>>> from fltheory.audit.canary import gradient_canary_audit
>>> res = gradient_canary_audit(1.0, 2.0, 4, canaries=400, method="gdp", seed=0)
>>> res.consistent, res.mu_theory
(True, 1.0)
>>> bad = gradient_canary_audit(1.0, 2.0, 4, canaries=400, method="gdp", noise_scale=0.5, seed=0)
>>> bad.consistent
False
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fltheory._checks import (check_choice, check_int, check_open_unit, check_positive,
                              check_probability)
from fltheory.audit import stats as _stats
from fltheory.fl import models as _models
from fltheory.fl.release import Release

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike, ExperimentConfig

__all__ = ["AuditResult", "canary_audit", "gradient_canary_audit", "client_canary_audit",
           "METHODS", "MU_TOLERANCE_SE"]

METHODS = ("auto", "one_run", "hypothesis_test", "gdp")
MU_TOLERANCE_SE = 4.0
"""μ̂ is consistent with √T/z when within this many standard errors of μ̂."""

_MAX_MASKED_RUNS = 1_000_000  # runs of a multi-run audit with masks (canaries / gamma, capped)
_CANARY_FEATURE = 1e3  # c: the canary's input value on its own feature
_CLIENT_CANARY_NORM = 10.0  # canary client's update norm, in units of C (clipping is exercised)
_REF_CANARY = ("M. Nasr, J. Hayes, T. Steinke, B. Balle, F. Tramer, M. Jagielski, N. Carlini and "
               "A. Terzis (2023). Tight auditing of differentially private machine learning. "
               "USENIX Security (white-box gradient canaries); G. Andrew, P. Kairouz, S. Oh, "
               "A. Oprea, H. B. McMahan and V. Suriyakumar (2024). One-shot empirical privacy "
               "estimation for federated learning. ICLR (canary clients)")


# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditResult:
    r"""What a canary audit measured, next to what the accountant claims.

    Attributes
    ----------
    epsilon_lower : float
        Empirical lower bound on ε at :attr:`delta`, valid with probability :attr:`confidence`
        (for ``method="gdp"``: under the Gaussian trade-off of full-batch mechanisms).
    confidence : float
        :math:`1 - \beta`.
    delta : float
        δ of both numbers.
    epsilon_theory : float
        Certified upper bound on ε of the *claimed* mechanism (:mod:`fltheory.accounting`).
    epsilon_theory_lower : float or None
        The accountant's certified lower bound on the same ε (PLD).
    consistent : bool
        ``epsilon_lower <= epsilon_theory``.  ``False`` proves (at the stated confidence) that the
        mechanism that ran is less private than the accountant says.
    method : str
        ``"one_run"``, ``"hypothesis_test"`` or ``"gdp"``.
    level : str
        ``"record"`` (DP-SGD gradient canaries) or ``"client"`` (DP-FedAvg canary clients).
    audited : str
        One line: what ran.
    mechanism : dict
        ``sampling_rate``, ``client_rate``, ``local_steps``, ``rounds``, ``steps``,
        ``noise_multiplier`` (claimed), ``noise_scale`` (multiplier of the noise actually added),
        ``clip``.
    mu_hat, mu_hat_se : float or None
        Measured Gaussian separation of the canary scores (in vs out) and its standard error
        (:func:`fltheory.audit.stats.mu_estimate`).  Compare with :attr:`mu_theory`.
    mu_lower : float or None
        Certified lower bound on μ (``method="gdp"``).
    mu_theory : float or None
        :math:`\sqrt{T}/z` for full-batch mechanisms; ``None`` when subsampled.  (The gradient
        canary's clipped magnitude on its own coordinate is :math:`C\,c/\sqrt{1+c^2}`, so its
        exact separation is smaller by a factor :math:`1 - 5\cdot 10^{-7}`.)
    canaries : int
        Canary inclusion coin flips (canaries of the run, or runs).
    seed : int
        Seed of the audit.
    reference : str
        Papers behind the numbers.
    details : dict
        Everything else (counts, thresholds, guesses, unclipped canary steps).

    Examples
    --------
    >>> r = gradient_canary_audit(1.0, 4.0, 4, canaries=200, method="hypothesis_test", seed=1)
    >>> r.epsilon_lower <= r.epsilon_theory, r.level
    (True, 'record')
    """

    epsilon_lower: float
    confidence: float
    delta: float
    epsilon_theory: float
    epsilon_theory_lower: float | None
    consistent: bool
    method: str
    level: str
    audited: str
    mechanism: dict
    mu_hat: float | None = None
    mu_hat_se: float | None = None
    mu_lower: float | None = None
    mu_theory: float | None = None
    canaries: int = 0
    seed: int = 0
    reference: str = ""
    details: dict = field(default_factory=dict)

    @property
    def margin(self) -> float:
        """``epsilon_lower - epsilon_theory`` (> 0: the claim is refuted)."""
        return self.epsilon_lower - self.epsilon_theory

    @property
    def mu_tolerance(self) -> float | None:
        """Stated tolerance of the μ̂ check: ``MU_TOLERANCE_SE`` standard errors of μ̂."""
        if self.mu_hat_se is None:
            return None
        return MU_TOLERANCE_SE * self.mu_hat_se

    @property
    def mu_consistent(self) -> bool | None:
        """``|μ̂ - √T/z| <= mu_tolerance`` for full-batch mechanisms; ``None`` otherwise."""
        if self.mu_theory is None or self.mu_hat is None:
            return None
        return abs(self.mu_hat - self.mu_theory) <= self.mu_tolerance

    def to_dict(self) -> dict:
        """JSON-ready dictionary (adds ``margin``, ``mu_tolerance``, ``mu_consistent``)."""
        d = asdict(self)
        d.update(margin=self.margin, mu_tolerance=self.mu_tolerance,
                 mu_consistent=self.mu_consistent)
        return _jsonable(d)

    def __str__(self) -> str:
        verdict = "consistent" if self.consistent else "INCONSISTENT (claimed epsilon refuted)"
        s = (f"{self.audited}: epsilon >= {self.epsilon_lower:.4g} (confidence "
             f"{self.confidence:g}) vs epsilon <= {self.epsilon_theory:.4g} claimed at "
             f"delta = {self.delta:g} -> {verdict}")
        if self.mu_hat is not None:
            s += f"; mu_hat = {self.mu_hat:.4g} +- {self.mu_hat_se:.2g}"
            if self.mu_theory is not None:
                s += f" (sqrt(T)/z = {self.mu_theory:.4g})"
        return s


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


# --------------------------------------------------------------------------------------------------
# Mechanism description
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Mechanism:
    level: str            # "record" | "client"
    sampling_rate: float  # record: Poisson batch rate per local step; client: = client_rate
    client_rate: float    # Poisson participation per round (record level); client level: 1
    local_steps: int
    rounds: int
    noise_multiplier: float
    clip: float
    delta: float
    noise_scale: float
    bug: str | None = None
    mask: str = "none"          # masks inside the mechanism: "none" | "secret" | "shared"
    mask_rate: float = 1.0      # probability that the canary's coordinate is kept

    @property
    def steps(self) -> int:
        return self.local_steps * self.rounds

    @property
    def full_batch(self) -> bool:
        return (self.sampling_rate == 1.0 and self.client_rate == 1.0
                and (self.mask == "none" or self.mask_rate == 1.0))

    def release(self) -> Release:
        """The release mechanism (:mod:`fltheory.fl.release`) on the canary's coordinates."""
        if self.mask == "none":
            return Release(self.clip, self.noise_multiplier, bug=self.bug,
                           noise_scale=self.noise_scale)
        return Release(self.clip, self.noise_multiplier, mask=self.mask,
                       mask_rate=self.mask_rate, bug=self.bug, noise_scale=self.noise_scale)

    def describe(self) -> dict:
        out = {"level": self.level, "sampling_rate": self.sampling_rate,
               "client_rate": self.client_rate, "local_steps": self.local_steps,
               "rounds": self.rounds, "steps": self.steps,
               "noise_multiplier": self.noise_multiplier, "noise_scale": self.noise_scale,
               "clip": self.clip, "delta": self.delta}
        if self.bug is not None:
            out["bug"] = self.bug
        if self.mask != "none":
            out.update(mask=self.mask, mask_rate=self.mask_rate)
        return out


def _theory(mech: _Mechanism):
    from fltheory.accounting import dp_fedavg, dp_sgd, epsilon, local_dp_sgd

    if mech.level == "client":
        ev = dp_fedavg(mech.sampling_rate, mech.noise_multiplier, mech.rounds)
    elif mech.client_rate == 1.0:
        ev = dp_sgd(mech.sampling_rate, mech.noise_multiplier, mech.steps)
    else:
        ev = local_dp_sgd(mech.client_rate, mech.sampling_rate, mech.noise_multiplier,
                          mech.local_steps, mech.rounds)
    return epsilon(ev, mech.delta)


def _step_loglik(obs: np.ndarray, a: float, sigma: float, q: float) -> np.ndarray:
    """Log-likelihood ratio of one step's canary coordinate, canary present vs absent.

    ``log(1 - q + q exp((a x - a^2/2)/sigma^2))`` -- the optimal per-step statistic of the
    Poisson-subsampled Gaussian with the *claimed* noise ``sigma``.
    """
    lin = (a * obs - 0.5 * a * a) / (sigma * sigma)
    if q >= 1.0:
        return lin
    return np.logaddexp(math.log1p(-q), math.log(q) + lin)


# --------------------------------------------------------------------------------------------------
# Multi-run: the mechanism restricted to the canary's coordinates, batched over runs
# --------------------------------------------------------------------------------------------------
def _reduced_runs(mech: _Mechanism, included: np.ndarray, gen: torch.Generator
                  ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Independent runs of the mechanism on the canary's coordinates (one run per entry).

    A one-feature linear regression carries the canary: at parameters 0 the record
    ``(x=c, y=-1)`` has gradient ``[c, 1]`` (norm above ``C``, clipped to ``C`` by the engine) and
    the null record ``(0, 0)`` has gradient exactly 0, so one batched
    :func:`~fltheory.fl.models.clipped_grad_sums` call per step releases, for every run, the
    clipped canary (when sampled) plus the engine's noise.
    """
    n = included.size
    model = _models.linear_regression(1)
    params = torch.zeros(model.num_params)
    c = _CANARY_FEATURE * max(1.0, mech.clip)
    a = mech.clip * c / math.sqrt(1.0 + c * c)
    sigma = mech.noise_multiplier * mech.clip
    inc = torch.as_tensor(included, dtype=torch.bool)
    score = np.zeros(n)
    total = np.zeros(n)
    observed = np.zeros(n)
    rel = mech.release()
    masked = mech.mask != "none"
    if masked:
        from fltheory.fl.training import soft_targets
    for _ in range(mech.rounds):
        if mech.client_rate < 1.0:
            part = torch.rand(n, generator=gen) < mech.client_rate
        else:
            part = torch.ones(n, dtype=torch.bool)
        part_np = part.numpy()
        for _ in range(mech.local_steps):
            if mech.sampling_rate < 1.0:
                sampled = inc & part & (torch.rand(n, generator=gen) < mech.sampling_rate)
            else:
                sampled = inc & part
            xs = torch.where(sampled, c, 0.0).reshape(n, 1, 1)
            ys = torch.where(sampled, -1.0, 0.0).reshape(n, 1)
            if not masked:
                out = _release_sums(rel, model, params, xs, ys, gen)
                llr = _step_loglik(out[:, 0].double().numpy(), a, sigma, mech.sampling_rate)
            else:
                # the canary's slot (its record or client) gets its mask: secret (never sent,
                # unless the planted bug sends it) or public (one per run: shared)
                shared = (torch.rand((n, model.num_params), generator=gen) < mech.mask_rate
                          ).to(params.dtype) if mech.mask == "shared" else None
                res = rel.record_sums(model, params.expand(n, -1), xs,
                                      soft_targets(model, ys, params.dtype),
                                      torch.ones((n, 1)), generator=gen, mask_generator=gen,
                                      shared_mask=shared)
                out = res.value
                obs_ = out[:, 0].double().numpy()
                kept = (shared[:, 0] if shared is not None else
                        None if res.positions is None else res.positions[:, 0, 0])
                if kept is None:   # secret masks: the canary's coordinate kept w.p. q * gamma
                    llr = _step_loglik(obs_, a, sigma, mech.sampling_rate * mech.mask_rate)
                else:              # the adversary sees the positions: informative only if kept
                    llr = np.where(kept.numpy(),
                                   _step_loglik(obs_, a, sigma, mech.sampling_rate), 0.0)
            obs = out[:, 0].double().numpy()
            score += np.where(part_np, llr, 0.0)
            total += np.where(part_np, obs, 0.0)
            observed += part_np
    return score, total, {"canary_magnitude": a, "mean_observed_steps": float(observed.mean())}


def _release_sums(rel: Release, model: Any, params: torch.Tensor, xs: torch.Tensor,
                  ys: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``(n, d)`` releases of one-record batches ``xs`` ``(n, 1, ...)`` (one run each)."""
    from fltheory.fl.release import clipped_grad_sums

    return clipped_grad_sums(model, params, xs, ys, rel.clip, rel.noise_multiplier, gen,
                             bug=rel.bug, noise_scale=rel.noise_scale)


# --------------------------------------------------------------------------------------------------
# One run, record level: DP-SGD on real data with gradient canaries on extra features
# --------------------------------------------------------------------------------------------------
def _glm_like(model: Any, num_features: int):
    if isinstance(model, _models.GeneralizedLinearModel):
        if model.loss_name == "mse":
            return _models.linear_regression(num_features)
        return _models.logistic_regression(
            num_features, 2 if model.loss_name == "bce" else model.out_features)
    return None


def _record_one_run(mech: _Mechanism, x: torch.Tensor, y: torch.Tensor, base_model: Any,
                    included: np.ndarray, gen: torch.Generator, lr: float
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    m = included.size
    x = x.reshape(x.shape[0], -1).float()
    n, p = x.shape
    model = _glm_like(base_model, p + m)
    k = model.out_features
    c = _CANARY_FEATURE * max(1.0, mech.clip)
    xd = torch.cat([x, torch.zeros(n, m)], dim=1)
    xc = torch.zeros(m, p + m)
    xc[torch.arange(m), p + torch.arange(m)] = c
    if model.loss_name == "mse":
        yc = torch.full((m,), -c)  # residual b + c > 0 while |b| < c
        yd = y.float()
    else:
        yc = torch.zeros(m, dtype=torch.long)
        yd = y.long()
    params = torch.zeros(model.num_params)
    priv = torch.zeros(model.num_params, dtype=torch.bool)
    priv[: k * (p + m)].view(k, p + m)[:, p:] = True
    inc = torch.as_tensor(included, dtype=torch.bool)
    inc_idx = torch.nonzero(inc).ravel()
    a = mech.clip * c / math.sqrt(1.0 + c * c)
    sigma = mech.noise_multiplier * mech.clip
    rel = mech.release()
    score = np.zeros(m)
    total = np.zeros(m)
    unclipped = 0
    steps_run = 0
    norm_batch = max(1.0, mech.sampling_rate * n)
    for _ in range(mech.rounds):
        if mech.client_rate < 1.0 and float(torch.rand(1, generator=gen)) >= mech.client_rate:
            continue  # the client sits this round out: nothing is released
        for _ in range(mech.local_steps):
            if mech.sampling_rate < 1.0:
                dmask = torch.rand(n, generator=gen) < mech.sampling_rate
                cmask = torch.rand(inc_idx.numel(), generator=gen) < mech.sampling_rate
            else:
                dmask = torch.ones(n, dtype=torch.bool)
                cmask = torch.ones(inc_idx.numel(), dtype=torch.bool)
            cidx = inc_idx[cmask]
            xb = torch.cat([xd[dmask], xc[cidx]])
            yb = torch.cat([yd[dmask], yc[cidx]])
            out = rel.release_batch(model, params, xb, yb, gen)
            release = out.value
            if out.norms is not None:
                unclipped += int((out.norms[int(dmask.sum()):] < mech.clip).sum())
            # the canary's gradient direction on its column (same for every canary: its columns
            # of the parameters are kept at zero, so its logit is the bias alone)
            r, _ = model.residuals(params, xc[:1], yc[:1])
            u = (r[0] / r[0].norm()).double()
            cols = release[: k * (p + m)].view(k, p + m)[:, p:].double()
            obs = (u @ cols).numpy()
            score += _step_loglik(obs, a, sigma, mech.sampling_rate)
            total += obs
            steps_run += 1
            params = params - lr * release / norm_batch
            params[priv] = 0.0  # projection: canary columns stay at zero (post-processing)
    return score, total, {"canary_magnitude": a, "steps_run": steps_run,
                          "unclipped_canary_steps": unclipped, "model": model.name,
                          "records": n, "features": p}


# --------------------------------------------------------------------------------------------------
# One run, client level: DP-FedAvg with canary clients
# --------------------------------------------------------------------------------------------------
def _client_one_run(mech: _Mechanism, dataset: Any, base_model: Any, included: np.ndarray,
                    gen: torch.Generator, lr: float, local_steps: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    m = included.size
    nc = dataset.num_clients
    d = base_model.num_params
    rel = mech.release()
    theta = base_model.init(seed=seed)
    canary_rows = torch.zeros(m, d + m)
    canary_rows[torch.arange(m), d + torch.arange(m)] = _CLIENT_CANARY_NORM * mech.clip
    inc = torch.as_tensor(included, dtype=torch.bool)
    a = mech.clip
    sigma = mech.noise_multiplier * mech.clip
    q = mech.sampling_rate
    score = np.zeros(m)
    total = np.zeros(m)
    xs = [xi.float() if xi.is_floating_point() else xi for xi in dataset.x]
    for _ in range(mech.rounds):
        if q < 1.0:
            real = torch.nonzero(torch.rand(nc, generator=gen) < q).ravel().tolist()
            can = inc & (torch.rand(m, generator=gen) < q)
        else:
            real, can = list(range(nc)), inc
        rows = []
        for i in real:
            th = theta.clone()
            for _ in range(local_steps):
                th = th - lr * base_model.grad(th, xs[i], dataset.y[i])
            rows.append(torch.cat([th - theta, torch.zeros(m)]))
        rows.append(canary_rows[can])
        u = torch.cat([torch.stack(rows[:-1]) if len(rows) > 1 else torch.zeros(0, d + m),
                       rows[-1]])
        release = rel.aggregate(u, generator=gen).value     # the server's DP-FedAvg release
        theta = theta + release[:d] / max(1.0, q * nc)
        obs = release[d:].double().numpy()
        score += _step_loglik(obs, a, sigma, q)
        total += obs
    return score, total, {"canary_magnitude": a, "real_clients": nc, "model": base_model.name,
                          "canary_update_norm": _CLIENT_CANARY_NORM * mech.clip}


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------
def _default_guesses(m: int) -> list[int]:
    return sorted({max(1, m // 20), max(1, m // 10), max(1, m // 5), max(1, m // 2)})


def _run(mech: _Mechanism, *, method: str, canaries: int, confidence: float, seed: int,
         guesses: Any, one_run: Any, theory: Any = None) -> AuditResult:
    method = check_choice("method", method, METHODS)
    canaries = check_int("canaries", canaries, minimum=20)
    conf = check_open_unit("confidence", confidence)
    seed = check_int("seed", seed, minimum=0)
    if method == "auto":
        method = "gdp" if mech.full_batch else "hypothesis_test"
    if method == "one_run" and mech.mask != "none":
        raise ValueError("method='one_run' does not model coordinate masks inside the "
                         "mechanism; use method='hypothesis_test' (or 'auto')")
    if method == "gdp" and not mech.full_batch:
        raise ValueError(
            "method='gdp' needs a full-batch mechanism (sampling rate 1 and every client every "
            f"round), got sampling_rate={mech.sampling_rate}, client_rate={mech.client_rate}: a "
            "subsampled Gaussian is not Gaussian-DP shaped, so converting its mu to epsilon would "
            "overstate the lower bound; use method='hypothesis_test' or 'one_run'")
    mech.release()   # refuses an unknown bug / inconsistent masks before any run
    g = _theory(mech) if theory is None else theory
    rng = np.random.default_rng(seed)
    runs = canaries
    if method != "one_run" and mech.mask != "none" and mech.mask_rate < 1.0:
        # the canary's coordinate is kept in a fraction gamma of its steps: gamma^-1 times the
        # runs give the same expected number of informative ones
        runs = int(min(_MAX_MASKED_RUNS, math.ceil(canaries / mech.mask_rate)))
    included = rng.random(runs) < 0.5
    if included.all() or not included.any():
        included[0] = not included[0]
    gen = torch.Generator().manual_seed(seed)
    if method == "one_run":
        score, total, info = one_run(mech, included, gen)
    else:
        score, total, info = _reduced_runs(mech, included, gen)
    mu_hat, mu_se = _stats.mu_estimate(total[included], total[~included])
    mu_theory = math.sqrt(mech.steps) / mech.noise_multiplier if mech.full_batch else None
    details = dict(info)
    mu_lower = None
    if method == "one_run":
        ks = _default_guesses(canaries) if guesses is None else sorted(
            {check_int("guesses", k, minimum=1, maximum=canaries) for k in np.atleast_1d(guesses)})
        beta = 1.0 - conf
        best = None
        for k in ks:
            r, v = _stats.one_run_guesses(score, included, k)
            b = _stats.one_run_lower_bound(canaries, r, v, delta=mech.delta,
                                           confidence=1.0 - beta / len(ks))
            if best is None or b.epsilon > best[0].epsilon:
                best = (b, k, r, v)
        bound = best[0]
        details.update({"guesses_tried": ks, "bonferroni": len(ks), "guesses": best[2],
                        "correct": best[3]})
        ref = bound.reference
    else:
        # GDP (full batch): the claimed mechanism's optimal test is "likelihood ratio >= 1",
        # i.e. threshold 0 on the score; fixed in advance, so every run is evaluated
        thr = 0.0 if method == "gdp" else None
        bound = _stats.audit_scores(score[included], score[~included], delta=mech.delta,
                                    confidence=conf, method=method, threshold=thr, seed=seed)
        mu_lower = bound.mu
        details.update(bound.details)
        ref = bound.reference
    details.update({"runs": int(included.size), "runs_with_canary": int(included.sum()),
                    "runs_without_canary": int((~included).sum())})
    eps_lb = float(bound.epsilon)
    kind = ("white-box gradient canaries, DP-SGD (record level)" if mech.level == "record"
            else "canary clients, DP-FedAvg (client level)")
    how = (f"one run, {canaries} canaries" if method == "one_run"
           else f"{included.size} runs, {method}")
    audited = (f"{kind}: q={mech.sampling_rate:g}"
               + (f", client rate {mech.client_rate:g}" if mech.level == "record"
                  and mech.client_rate < 1 else "")
               + f", z={mech.noise_multiplier:g}, T={mech.steps}, C={mech.clip:g}, noise x"
               f"{mech.noise_scale:g}"
               + (f", {mech.mask} masks (keep {mech.mask_rate:g})" if mech.mask != "none" else "")
               + (f", planted bug {mech.bug!r}" if mech.bug else "") + f" ({how})")
    return AuditResult(
        epsilon_lower=eps_lb, confidence=conf, delta=mech.delta,
        epsilon_theory=float(g.epsilon),
        epsilon_theory_lower=None if g.epsilon_lower is None else float(g.epsilon_lower),
        consistent=bool(eps_lb <= g.epsilon), method=method, level=mech.level, audited=audited,
        mechanism=mech.describe(), mu_hat=mu_hat, mu_hat_se=mu_se, mu_lower=mu_lower,
        mu_theory=mu_theory, canaries=canaries, seed=seed,
        reference=f"{ref}; {_REF_CANARY}; accountant: {g.reference}", details=details)


def _default_record_data(seed: int):
    from fltheory.fl import data

    ds = data.synthetic_logistic(num_clients=1, samples_per_client=200, dim=10, seed=seed)
    return ds.x[0], ds.y[0]


def gradient_canary_audit(sampling_rate: float, noise_multiplier: float, steps: int,
                          clip: float = 1.0, *, canaries: int = 1000, method: str = "auto",
                          delta: float = 1e-5, noise_scale: float = 1.0,
                          confidence: float = 0.95, seed: int = 0, data: Any = None,
                          model: Any = None, lr: float = 0.1,
                          guesses: Any = None, bug: str | None = None) -> AuditResult:
    r"""Audit DP-SGD (Poisson rate ``q``, multiplier ``z``, ``T`` steps, clip ``C``) with
    white-box gradient canaries.

    The canary's clipped gradient (norm :math:`C`) lies on a coordinate the data never touch; each
    step releases :math:`\sum_{i\in B_t}\mathrm{clip}_C(g_i) + \mathcal N(0, (s\,zC)^2 I)` through
    :func:`fltheory.fl.models.clipped_grad_sum`, with :math:`s` = ``noise_scale`` (1 for the
    correct mechanism).  The adversary sees every release and scores each canary by the
    log-likelihood ratio of its coordinate under the *claimed* noise
    (:math:`\sum_t \log(1 - q + q\,e^{(a x_t - a^2/2)/(zC)^2})`, :math:`a` the canary's clipped
    magnitude), which for :math:`q = 1` is the sum of the releases: then the score is
    :math:`\mathcal N(\mu, 1)` vs :math:`\mathcal N(0, 1)` after scaling, :math:`\mu = \sqrt T/z`
    (for :math:`s = 1`).

    Parameters
    ----------
    sampling_rate : float
        :math:`q \in (0, 1]`.
    noise_multiplier : float
        Claimed :math:`z > 0` (what the accountant uses).
    steps : int
        :math:`T`.
    clip : float
        :math:`C`.
    canaries : int
        Canary inclusion coin flips: canaries in the one run, or runs of the multi-run audits.
    method : {"auto", "one_run", "hypothesis_test", "gdp"}
        ``"auto"``: ``"gdp"`` for :math:`q = 1`, ``"hypothesis_test"`` otherwise.
    delta : float
        δ of the comparison.
    noise_scale : float
        Multiplier of the noise actually added (a planted bug when not 1).
    confidence : float
        :math:`1 - \beta` of the lower bound.
    seed : int
        Everything random (inclusion coins, sampling, noise, threshold split).
    data : (x, y) tensors, optional
        Records of the one-run audit (default: 200 synthetic logistic-regression records, 10
        features).
    model : GeneralizedLinearModel, optional
        Model family of the one-run audit (default: logistic regression sized for ``data``).
    lr : float
        Learning rate of the one-run training (the update is part of the white-box view).
    guesses : int or sequence of int, optional
        One-run guess counts (several: Bonferroni-corrected); default ``canaries // 20, // 10,
        // 5, // 2``.
    bug : str, optional
        A planted bug of the release (:data:`fltheory.fl.release.BUGS`).

    Returns
    -------
    AuditResult

    References
    ----------
    M. Nasr et al. (2023). Tight auditing of differentially private machine learning. USENIX
    Security; T. Steinke, M. Nasr and M. Jagielski (2023). Privacy auditing with one (1) training
    run. NeurIPS, Theorem 3; M. Jagielski, J. Ullman and A. Oprea (2020). NeurIPS.

    Examples
    --------
    >>> r = gradient_canary_audit(1.0, 2.0, 4, canaries=400, method="gdp", seed=0)
    >>> r.consistent and abs(r.mu_hat - 1.0) < r.mu_tolerance
    True
    """
    mech = _Mechanism("record", check_probability("sampling_rate", sampling_rate), 1.0, 1,
                      check_int("steps", steps, minimum=1),
                      check_positive("noise_multiplier", noise_multiplier),
                      check_positive("clip", clip), check_open_unit("delta", delta),
                      check_positive("noise_scale", noise_scale), bug)
    lr = check_positive("lr", lr)

    def one_run(mech_, included, gen):
        if data is None:
            x, y = _default_record_data(seed)
        else:
            x, y = data
        mdl = model if model is not None else (
            _models.logistic_regression(int(np.prod(x.shape[1:])),
                                        max(2, int(y.max()) + 1)))
        if _glm_like(mdl, 1) is None:
            raise ValueError("model must be a GeneralizedLinearModel (logistic or linear "
                             f"regression) for gradient canaries, got {mdl!r}")
        return _record_one_run(mech_, x, y, mdl, included, gen, lr)

    return _run(mech, method=method, canaries=canaries, confidence=confidence, seed=seed,
                guesses=guesses, one_run=one_run)


def client_canary_audit(client_rate: float, noise_multiplier: float, rounds: int,
                        clip: float = 1.0, *, canaries: int = 1000, method: str = "auto",
                        delta: float = 1e-5, noise_scale: float = 1.0, confidence: float = 0.95,
                        seed: int = 0, dataset: Any = None, model: Any = None,
                        local_steps: int = 1, lr: float = 0.1,
                        guesses: Any = None, bug: str | None = None) -> AuditResult:
    r"""Audit client-level DP-FedAvg (Poisson client rate :math:`q_c`, multiplier :math:`z`,
    :math:`T` rounds, update clip :math:`C`) with canary clients.

    Each round every client (real or canary) takes part with probability :math:`q_c`; real
    clients run ``local_steps`` gradient steps from the global model; a canary client's update is
    :math:`10C\,e_j` on its own coordinate (clipped to :math:`C` like every update); the server
    releases :math:`\sum_i \mathrm{clip}_C(\Delta_i) + \mathcal N(0, (s\,zC)^2 I)` through
    :func:`fltheory.fl.models.clipped_grad_sum`.  The theoretical ε is that of
    :func:`fltheory.accounting.dp_fedavg`.

    Parameters
    ----------
    client_rate : float
        :math:`q_c \in (0, 1]`.
    noise_multiplier, rounds, clip :
        Claimed :math:`z`, :math:`T`, :math:`C`.
    dataset : FederatedDataset, optional
        Real clients of the one-run audit (default: 10 synthetic logistic-regression clients).
    model : FunctionalModel, optional
        Their model (default: logistic regression sized for ``dataset``).
    local_steps, lr :
        Local full-batch gradient steps of real clients.
    canaries, method, delta, noise_scale, confidence, seed, guesses, bug :
        As in :func:`gradient_canary_audit`.

    Returns
    -------
    AuditResult

    References
    ----------
    H. B. McMahan, D. Ramage, K. Talwar and L. Zhang (2018). Learning differentially private
    recurrent language models. ICLR (DP-FedAvg); G. Andrew et al. (2024). One-shot empirical
    privacy estimation for federated learning. ICLR (canary clients); T. Steinke, M. Nasr and
    M. Jagielski (2023). NeurIPS, Theorem 3.

    Examples
    --------
    >>> r = client_canary_audit(1.0, 2.0, 4, canaries=200, method="one_run", seed=0)
    >>> r.level, r.consistent
    ('client', True)
    """
    qc = check_probability("client_rate", client_rate)
    mech = _Mechanism("client", qc, 1.0, 1, check_int("rounds", rounds, minimum=1),
                      check_positive("noise_multiplier", noise_multiplier),
                      check_positive("clip", clip), check_open_unit("delta", delta),
                      check_positive("noise_scale", noise_scale), bug)
    local_steps = check_int("local_steps", local_steps, minimum=1)
    lr = check_positive("lr", lr)

    def one_run(mech_, included, gen):
        from fltheory.fl import data as _data

        ds = dataset if dataset is not None else _data.synthetic_logistic(
            num_clients=10, samples_per_client=50, dim=10, seed=seed)
        mdl = model if model is not None else _models.for_dataset(ds, "logistic_regression")
        return _client_one_run(mech_, ds, mdl, included, gen, lr, local_steps, seed)

    return _run(mech, method=method, canaries=canaries, confidence=confidence, seed=seed,
                guesses=guesses, one_run=one_run)


# --------------------------------------------------------------------------------------------------
# From a configuration
# --------------------------------------------------------------------------------------------------
def canary_audit(config: ConfigLike, canaries: int = 1000, *, method: str = "auto",
                 noise_scale: float = 1.0, confidence: float = 0.95, seed: int | None = None,
                 guesses: Any = None, bug: str | None = None) -> AuditResult:
    r"""Audit the privacy claim of an :class:`~fltheory.config.ExperimentConfig`.

    * ``privacy.level = "record"``: white-box gradient canaries in client 0's data.  Each round
      the client takes part with probability ``training.client_rate`` (1 with
      ``client_sampling="all"``) and runs ``training.local_steps`` DP-SGD steps with Poisson
      batches at ``privacy.batch_rate``, clip ``privacy.clip`` and noise
      ``privacy.noise_multiplier``; the adversary sees the client's released noisy sums (the
      threat model of :func:`fltheory.accounting.local_dp_sgd`).  The one-run audit trains a
      logistic/linear regression on client 0's data (a model with hidden layers is audited
      through the GLM of the same data: clipping and noise do not depend on the architecture).
    * ``privacy.level = "client"``: canary clients in DP-FedAvg over the configuration's clients
      and model, rate ``training.client_rate``, ``training.rounds`` rounds.

    The theoretical ε is ``config.epsilon()``: the accountant's certified upper bound for the
    very event the engine reports.

    Parameters
    ----------
    config : ExperimentConfig, dict or path
        The recipe (anything :func:`fltheory.config.load_config` accepts).
    canaries : int
        Canary inclusion coin flips (canaries of the one run, or runs).
    method : {"auto", "one_run", "hypothesis_test", "gdp"}
        ``"auto"``: ``"gdp"`` for full-batch mechanisms, ``"hypothesis_test"`` otherwise.
    noise_scale : float
        Multiplier of the noise actually added (``0.5`` plants the half-noise bug).
    confidence : float
        :math:`1 - \beta`.
    seed : int, optional
        Defaults to ``config.seed``.
    guesses : int or sequence of int, optional
        One-run guess counts.
    bug : str, optional
        A planted bug of the release mechanism (:data:`fltheory.fl.release.BUGS`), the same
        knob :func:`fltheory.fl.simulate` takes.

    Returns
    -------
    AuditResult

    Coordinate masks inside the mechanism (``compression.stage = "mechanism"``) are audited
    through the multi-run audit: the canary's slot gets its own mask (secret, or public with
    ``mask = "shared"``); the adversary's score uses the kept positions whenever the release
    transmits them (shared masks, or the planted bug ``positions_sent``).

    Raises
    ------
    ValueError
        For ``privacy.level = "none"`` (ε = ∞: nothing to audit), ``method="gdp"`` on a
        subsampled (or masked) mechanism, or ``method="one_run"`` with masks.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({
    ...     "data": {"name": "synthetic_logistic", "num_clients": 2, "samples_per_client": 50,
    ...              "dim": 5},
    ...     "training": {"rounds": 2, "local_steps": 2, "batch_sampling": "poisson"},
    ...     "privacy": {"level": "record", "noise_multiplier": 2.0, "batch_rate": 1.0}})
    >>> res = canary_audit(cfg, canaries=400)
    >>> res.method, res.mu_theory, res.consistent
    ('gdp', 1.0, True)
    >>> canary_audit(cfg, canaries=400, noise_scale=0.5).consistent
    False
    """
    from fltheory.fl.registries import validate_config

    cfg = validate_config(config)
    p, t = cfg.privacy, cfg.training
    if p.level == "none":
        raise ValueError("privacy.level must be 'record' or 'client' for a canary audit, got "
                         "'none' (a non-private recipe has epsilon = inf: nothing to audit)")
    if p.neighboring != "add_remove":
        raise ValueError("privacy.neighboring must be 'add_remove' for canary audits (a canary "
                         f"is added or removed), got {p.neighboring!r}")
    from fltheory.fl.simulate import build_dataset, build_model, release_of

    seed = cfg.seed if seed is None else check_int("seed", seed, minimum=0)
    scale = check_positive("noise_scale", noise_scale)
    qc = t.effective_client_rate
    g = cfg.epsilon()
    masks: dict = {}
    if cfg.compression.stage == "mechanism":
        c = cfg.compression
        d = None
        if c.name == "randk" and c.k is not None:
            d = build_model(cfg, build_dataset(cfg)).num_params
        rel = release_of(cfg, d or 1)
        # the probability that the canary's coordinate is kept (rand-k: k / d)
        rate = rel.mask_rate if rel.mask_rate is not None else (
            min(1.0, c.k / d) if c.k is not None else c.ratio)
        masks = {"mask": rel.mask, "mask_rate": float(rate)}
    if p.level == "record":
        mech = _Mechanism("record", float(p.batch_rate), qc, t.local_steps, t.rounds,
                          p.noise_multiplier, p.clip, p.delta, scale, bug, **masks)

        def one_run(mech_, included, gen):
            ds = build_dataset(cfg)
            x, y = ds.client(0)
            mdl = _models.for_dataset(ds, "logistic_regression")
            return _record_one_run(mech_, x, y, mdl, included, gen, t.lr)
    else:
        mech = _Mechanism("client", qc, 1.0, 1, t.rounds, p.noise_multiplier, p.clip, p.delta,
                          scale, bug, **masks)

        def one_run(mech_, included, gen):
            ds = build_dataset(cfg)
            mdl = build_model(cfg, ds)
            return _client_one_run(mech_, ds, mdl, included, gen, t.lr, t.local_steps, seed)

    res = _run(mech, method=method, canaries=canaries, confidence=confidence, seed=seed,
               guesses=guesses, one_run=one_run, theory=g)
    details = dict(res.details)
    details["config"] = cfg.name
    return AuditResult(**{**{f: getattr(res, f) for f in res.__dataclass_fields__},
                          "details": details})
