r"""Theory against the run: one validation report per experiment configuration.

:func:`validate` takes an :class:`~fltheory.config.ExperimentConfig`, runs it on the FL engine
(:func:`fltheory.fl.simulate`) and audits it (:mod:`fltheory.audit`), and sets every measurement
beside the bound that claims to predict it.  Five checks, each with a one-line verdict
(``PASS``, ``FAIL`` or ``N/A`` with the reason) and the numbers behind it:

(a) **Audit ε ≤ theoretical ε.**  A canary audit of the configuration
    (:func:`fltheory.audit.canary_audit`: white-box gradient canaries for record-level DP, canary
    clients for client-level DP; the Gaussian-DP audit for full-batch mechanisms, the
    hypothesis-test audit otherwise) gives an ε lower bound valid with the stated confidence; it
    must not exceed the accountant's certified upper bound for the same event.  2,000 canary
    coin flips at 95 % (``quick``: 1,000 at 99 %).
(b) **White-box noise calibration.**  (i) For a full-batch mechanism (every record, every client,
    every step) the canary separation :math:`\hat\mu` must be within the audit's stated tolerance
    (:data:`fltheory.audit.canary.MU_TOLERANCE_SE` standard errors) of :math:`\sqrt T/z`; a
    subsampled configuration is probed by a full-batch audit of its own Gaussian release (same
    :math:`z`, :math:`C`, level, :math:`T' = \min(T, \lceil z^2\rceil)` steps, so
    :math:`\mu \approx 1`).  (ii) The engine's run must release at least the noise the accountant
    assumes: the honest clients' spread (record level) or the aggregation error (client level) of
    every round contains the Gaussian noise :math:`\mathcal N(0, (zC)^2 I)` scaled as the engine
    documents, plus a non-negative data term, so the measured total over the rounds divided by
    the noise's expected total must be at least :math:`1 - \tau`, with :math:`1 - \tau` the
    :math:`10^{-4}` quantile of :math:`\chi^2_k/k` (:math:`k` the noise's degrees of freedom
    over the run) or 0.9, whichever is smaller.  Half the noise gives about 1/4 when the noise
    dominates; the data term can hide it (the test is one-sided), the audit of (i) cannot.
(c) **Aggregation error ≤ κ × honest variance** in every round of every attack run, with
    :math:`\kappa` from :func:`fltheory.bounds.kappa` for the aggregator's ``kappa_name`` (and
    NNM), at the round's number of clients.  Rounds where fewer than ``f`` Byzantine clients took
    part are shown but not judged (the definition's honest set has exactly :math:`n - f`
    members).  ``quick``: the configuration's attack; otherwise also ALIE, IPM and sign flipping.
(d) **Compressor variance ≤ ω‖x‖²** (unbiased compressors; :math:`1-\delta` for biased
    contractions), measured on random vectors of the model's dimension (Gaussian, sparse,
    equal-magnitude -- the worst case of ℓ2 quantisation) and on the run's final model, against
    :func:`fltheory.bounds.compressor_variance` (the engine's own :meth:`omega` is reported
    beside it).  A vector fails if its mean ratio exceeds the bound by more than four standard
    errors.
(e) **Utility with and without attack.**  Final test accuracy and loss of the configuration with
    its attack, without Byzantine clients, and with the plain mean under the same attack.  Where
    the robust D-GD theorem applies (FedSGD, full batches, every client, no DP, no compression,
    a rule with a κ bound, a generalised linear model with step :math:`\gamma \le 1/L`) the
    average squared honest gradient norm over the run is compared with
    :math:`2\Delta_0/(\gamma T) + \kappa G^2` (:func:`fltheory.bounds.robust_dgd_bound` with
    :math:`B = 0`, :math:`G^2` the largest honest dissimilarity measured on the trajectory,
    :math:`\Delta_0 \le \mathcal L_H(\theta_0)`); otherwise the verdict is ``N/A`` with the
    reason, and the accuracies are still reported.

``noise_scale`` plants the classic bug: the noise actually added is multiplied by it while the
accountant keeps the claimed multiplier.  It is passed to the audits, and to the engine when
:func:`fltheory.fl.simulate` accepts a ``noise_scale`` argument.

The report is written as ``validation.json`` (atomically) when ``out_dir`` is given, and
``validation.pdf`` / ``.png`` (one panel per check) by
:func:`fltheory.plots.validation.plot_validation` when it is passed as ``figure``.

Examples
--------
>>> from fltheory.validation import validate
>>> cfg = {"data": {"name": "synthetic_logistic", "num_clients": 4, "samples_per_client": 30,
...                 "dim": 5},
...        "training": {"rounds": 3, "batch_sampling": "poisson"},
...        "privacy": {"level": "record", "noise_multiplier": 2.0, "batch_rate": 1.0}}
>>> rep = validate(cfg, quick=True)
>>> rep.passed, rep.status("a"), rep.status("c")
(True, 'PASS', 'N/A')
>>> validate(cfg, quick=True, noise_scale=0.5).passed
False
"""

from __future__ import annotations

import contextvars
import inspect
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fltheory._checks import check_choice, check_drawer, check_int, check_positive
from fltheory.config import ConfigLike, ExperimentConfig

__all__ = ["validate", "ValidationReport", "Check", "CHECKS", "STATUSES", "EXTRA_ATTACKS",
           "QUICK_MAX_ROUNDS"]

#: Check keys and their titles.
CHECKS = {
    "a": "audit epsilon <= theoretical epsilon",
    "b": "white-box noise calibration (mu_hat vs sqrt(T)/z, engine noise)",
    "c": "aggregation error <= kappa x honest variance",
    "d": "compressor variance <= omega ||x||^2",
    "e": "accuracy and loss with and without attack, error floor",
}
STATUSES = ("PASS", "FAIL", "N/A")
#: Update attacks run in addition to the configuration's own by a full (not quick) validation.
EXTRA_ATTACKS = ("alie", "ipm", "sign_flip")
#: Rounds of every run of a quick validation are capped at this number.
QUICK_MAX_ROUNDS = 50
_NOISE_TOLERANCE = 0.10
_NOISE_ALPHA = 1e-4
_KAPPA_RTOL = 1e-3        # approximate solvers (Weiszfeld) and float32 arithmetic
_OMEGA_SE = 4.0


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------
@dataclass
class Check:
    """One check: status, one-line summary with the numbers, and the data behind it.

    Attributes
    ----------
    key : str
        ``"a"`` to ``"e"`` (see :data:`CHECKS`).
    title : str
    status : {"PASS", "FAIL", "N/A"}
    summary : str
        The numbers, or the reason for ``N/A``.
    data : dict
        JSON-ready measurements (also drawn by
        :func:`fltheory.plots.validation.plot_validation`).
    """

    key: str
    title: str
    status: str
    summary: str
    data: dict = field(default_factory=dict)

    @property
    def line(self) -> str:
        """``(a) PASS  audit epsilon <= ...: numbers``."""
        return f"({self.key}) {self.status:<4}  {self.title}: {self.summary}"

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "status": self.status,
                "summary": self.summary, "data": self.data}


@dataclass
class ValidationReport:
    """Theory and run side by side: one :class:`Check` per item, JSON and a figure.

    Attributes
    ----------
    name : str
        The configuration's name.
    checks : list of Check
    config : dict
        The configuration validated (its seed replaced by :attr:`seed`).
    seed : int
    quick : bool
    noise_scale : float
        Multiplier of the noise actually added (1: the correct mechanism).
    seconds : float
        Wall time of the validation.
    notes : list of str
        What the validation could not do as asked (e.g. an engine without ``noise_scale``).
    files : list of str
        Files written by :meth:`save`.

    Examples
    --------
    >>> rep = ValidationReport("x", [Check("a", CHECKS["a"], "PASS", "1 <= 2")], {}, 0)
    >>> rep.passed, rep.verdicts()[0]
    (True, '(a) PASS  audit epsilon <= theoretical epsilon: 1 <= 2')
    """

    name: str
    checks: list
    config: dict
    seed: int
    quick: bool = False
    noise_scale: float = 1.0
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No check failed (``N/A`` checks do not fail)."""
        return not any(c.status == "FAIL" for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Keys of the failed checks."""
        return [c.key for c in self.checks if c.status == "FAIL"]

    def check(self, key: str) -> Check:
        """The check with this key (``ValueError`` if absent)."""
        for c in self.checks:
            if c.key == key:
                return c
        raise ValueError(f"key must be one of {', '.join(c.key for c in self.checks)}, "
                         f"got {key!r}")

    def status(self, key: str) -> str:
        """``"PASS"``, ``"FAIL"`` or ``"N/A"`` of one check."""
        return self.check(key).status

    def verdicts(self) -> list[str]:
        """One line per check."""
        return [c.line for c in self.checks]

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"name": self.name, "passed": self.passed, "failed": self.failed,
                "seed": self.seed, "quick": self.quick, "noise_scale": self.noise_scale,
                "seconds": self.seconds, "notes": list(self.notes),
                "checks": [c.to_dict() for c in self.checks], "config": self.config,
                "files": list(self.files)}

    @classmethod
    def from_dict(cls, data: dict) -> "ValidationReport":
        """Rebuild from :meth:`to_dict` (e.g. a ``validation.json``)."""
        checks = [Check(c["key"], c["title"], c["status"], c["summary"], c.get("data", {}))
                  for c in data["checks"]]
        return cls(data.get("name", "experiment"), checks, data.get("config", {}),
                   int(data.get("seed", 0)), bool(data.get("quick", False)),
                   float(data.get("noise_scale", 1.0)), float(data.get("seconds", 0.0)),
                   list(data.get("notes", [])), list(data.get("files", [])))

    def save(self, out_dir: Any, *, figure: Callable | None = None) -> list[str]:
        """Write ``validation.json`` (atomically) and, with ``figure`` -- a drawing function
        ``figure(report, stem) -> paths`` such as
        :func:`fltheory.plots.validation.plot_validation` -- ``validation.pdf/png``."""
        from fltheory._io import write_json_atomic

        figure = check_drawer("figure", figure, _PLOT)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = []
        if figure is not None:
            files += list(figure(self, out / "validation"))
        files.insert(0, str(out / "validation.json"))
        self.files = files
        write_json_atomic(out / "validation.json", self.to_dict())
        return files

    def __str__(self) -> str:
        head = (f"validation of {self.name!r} (seed {self.seed}"
                + (", quick" if self.quick else "")
                + (f", noise x{self.noise_scale:g}" if self.noise_scale != 1.0 else "")
                + f", {self.seconds:.1f} s): {'PASSED' if self.passed else 'FAILED'}")
        lines = [head, *("  " + v for v in self.verdicts())]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def _g(x: Any, spec: str = ".3g") -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if math.isinf(x):
        return "inf"
    return format(x, spec)


# The planted bug of the validation in progress (validate() sets and resets it; a context
# variable, so concurrent validations in threads do not see each other's).
_BUG: contextvars.ContextVar = contextvars.ContextVar("fltheory_planted_bug", default=None)


def _na(key: str, reason: str, **data) -> Check:
    return Check(key, CHECKS[key], "N/A", reason, data)


def _simulate(cfg: ExperimentConfig, noise_scale: float, notes: list, **kw):
    """``simulate`` with the planted bugs (``noise_scale``, ``bug``) of the validation."""
    from fltheory.fl import simulate

    bug = _BUG.get()
    if bug is not None:
        kw["bug"] = bug
    if noise_scale != 1.0:
        if "noise_scale" in inspect.signature(simulate).parameters:
            kw["noise_scale"] = noise_scale
        else:
            msg = ("fltheory.fl.simulate has no noise_scale argument: the engine's runs used "
                   "the claimed noise; the planted bug reaches the audits only")
            if msg not in notes:
                notes.append(msg)
    return simulate(cfg, progress=False, **kw)


def _series(run: Any, key: str) -> list:
    return [None if m.get(key) is None else float(m[key]) for m in run.metrics]


def _full_batch(cfg: ExperimentConfig) -> bool:
    return cfg.full_batch()


def _kappa_name(run: Any) -> tuple[str | None, bool]:
    return run.info.get("kappa_name"), bool(run.info.get("nnm", False))


# --------------------------------------------------------------------------------------------------
# (a) and (b): audits
# --------------------------------------------------------------------------------------------------
def _check_audit(cfg: ExperimentConfig, *, canaries: int, confidence: float, noise_scale: float, seed: int
                 ) -> tuple[Check, Any]:
    from fltheory.audit import canary_audit

    p = cfg.privacy
    if p.level == "none":
        return _na("a", "no DP (privacy.level = 'none'): epsilon = inf, nothing to audit"), None
    if cfg.mixup.enabled:
        return _na("a", "the canary audit does not model mixup (it would audit an un-mixed "
                        "mechanism against the mixup accountant)"), None
    try:
        res = canary_audit(cfg, canaries=canaries, confidence=confidence,
                           noise_scale=noise_scale, seed=seed, bug=_BUG.get())
    except ValueError as exc:
        return _na("a", " ".join(str(exc).split())), None
    lo = res.epsilon_theory_lower
    summary = (f"epsilon_lb = {_g(res.epsilon_lower, '.3f')} ({res.method}, {res.canaries} "
               f"canaries, {res.confidence:.0%}) {'<=' if res.consistent else '>'} epsilon = "
               f"{_g(res.epsilon_theory, '.4f')} (certified; lower {_g(lo, '.4f')}) at delta = "
               f"{res.delta:g}")
    if not res.consistent:
        summary += " -> the mechanism that ran is less private than claimed"
    data = {"epsilon_lower": res.epsilon_lower, "epsilon_theory": res.epsilon_theory,
            "epsilon_theory_lower": lo, "confidence": res.confidence, "method": res.method,
            "level": res.level, "canaries": res.canaries, "delta": res.delta,
            "audited": res.audited, "mu_hat": res.mu_hat, "mu_hat_se": res.mu_hat_se,
            "mu_theory": res.mu_theory, "margin": res.margin}
    return Check("a", CHECKS["a"], "PASS" if res.consistent else "FAIL", summary, data), res


def _probe_audit(cfg: ExperimentConfig, *, canaries: int, confidence: float, noise_scale: float, seed: int):
    """Full-batch audit of the configuration's Gaussian release (same z, C, level)."""
    from fltheory.audit.canary import client_canary_audit, gradient_canary_audit

    p = cfg.privacy
    z = p.noise_multiplier
    steps = cfg.dp_steps()
    probe_steps = int(min(steps, max(1, math.ceil(z * z))))
    bug = _BUG.get()
    kw = dict(canaries=canaries, method="gdp", delta=p.delta, noise_scale=noise_scale,
              confidence=confidence, seed=seed,
              bug=None if bug == "positions_sent" else bug)   # the probe has no masks
    if p.level == "record":
        return gradient_canary_audit(1.0, z, probe_steps, p.clip, **kw), probe_steps
    return client_canary_audit(1.0, z, probe_steps, p.clip, **kw), probe_steps


def _engine_noise(cfg: ExperimentConfig, run: Any, dataset: Any) -> dict:
    """Measured / claimed noise energy of the engine's run (one-sided test), or a reason."""
    p, t, c = cfg.privacy, cfg.training, cfg.compression
    d = int(run.info["num_params"])
    z, clip = p.noise_multiplier, p.clip
    if cfg.mixup.enabled:
        return {"reason": "mixup rescales the noisy step (not modelled here)"}
    if p.level == "record":
        if c.stage == "mechanism":
            return {"reason": "masks inside the mechanism (noise on kept coordinates only)"}
        factor = 1.0
        if c.name != "none":
            from fltheory.fl import compressors as _comp

            comp = _compressor(cfg, d)
            if isinstance(comp, _comp.ErrorFeedback) or not getattr(comp, "unbiased", False):
                return {"reason": f"compressor {c.name!r} is biased or uses error feedback (the "
                                  "spread of compressed noise is not bounded below)"}
            if isinstance(comp, (_comp.RandK, _comp.BernoulliMask)):
                # rescaled masks: E||Q(x) - x||^2 = omega ||x||^2 exactly, so the compressed
                # noise has (1 + omega) times the energy (other unbiased ones: at least 1 times)
                factor = 1.0 + float(comp.omega(d))
        sizes = np.array([int(x.shape[0]) for x in dataset.x], dtype=float)
        honest = np.ones(sizes.size, dtype=bool)
        honest[list(run.byzantine_ids)] = False
        if not honest.any():
            return {"reason": "no honest client"}
        q = float(p.batch_rate)
        lr = t.lr
        if t.algorithm == "fedsgd":
            per_client = d * (z * clip) ** 2 / (q * sizes[honest]) ** 2
        else:
            per_client = t.local_steps * d * (lr * z * clip) ** 2 / (q * sizes[honest]) ** 2
        v = float(per_client.mean()) * factor
        measured, expected, dof = [], [], 0.0
        for m in run.metrics:
            h = int(m["clients"]) - int(m["byzantine"])
            if m.get("honest_variance") is None or h < 2:
                measured.append(None)
                expected.append(None)
                continue
            measured.append(float(m["honest_variance"]))
            expected.append(v * (1.0 - 1.0 / h))
            dof += d * (h - 1)
        what = "honest clients' spread"
    else:
        if c.stage == "mechanism" and c.mask == "shared":
            dim = cfg.kept_coordinates(d)
        else:
            dim = float(d)
        denom = t.effective_client_rate * cfg.data.num_clients
        v = dim * (z * clip) ** 2 / denom ** 2
        measured = [None if m.get("agg_error") is None else float(m["agg_error"])
                    for m in run.metrics]
        expected = [None if x is None else v for x in measured]
        dof = dim * sum(x is not None for x in measured)
        what = "aggregation error"
    pairs = [(a, b) for a, b in zip(measured, expected) if a is not None]
    if not pairs or dof <= 0:
        return {"reason": "no round with a measurable spread"}
    tot_m = sum(a for a, _ in pairs)
    tot_e = sum(b for _, b in pairs)
    if not math.isfinite(tot_m):
        return {"reason": "non-finite spread (diverged run)"}
    ratio = tot_m / tot_e
    # noise alone: tot_m / tot_e ~ chi2(dof) / dof; fail below its 1e-4 quantile (and below 0.9)
    from scipy.stats import chi2

    tol = max(_NOISE_TOLERANCE, 1.0 - float(chi2.ppf(_NOISE_ALPHA, dof)) / dof)
    per_round = [None if a is None else a / b for a, b in zip(measured, expected)]
    return {"ratio": ratio, "tolerance": tol, "ok": ratio >= 1.0 - tol, "what": what,
            "per_round": per_round, "rounds": len(pairs)}


def _check_noise(cfg: ExperimentConfig, res_a: Any, run: Any, dataset: Any, *, canaries: int,
                 confidence: float, noise_scale: float, seed: int) -> Check:
    p = cfg.privacy
    if p.level == "none":
        return _na("b", "no DP (privacy.level = 'none'): no noise to calibrate")
    data: dict = {}
    parts, ok = [], True
    if res_a is not None and res_a.method == "gdp" and res_a.mu_theory is not None:
        res, how = res_a, "the audit of (a)"
        probe_steps = None
    else:
        res, probe_steps = _probe_audit(cfg, canaries=canaries, confidence=confidence,
                                        noise_scale=noise_scale, seed=seed)
        how = (f"full-batch probe of the release (z = {p.noise_multiplier:g}, C = {p.clip:g}, "
               f"T' = {probe_steps})")
    mu_ok = bool(res.mu_consistent)
    eps_ok = bool(res.consistent)
    ok &= mu_ok and eps_ok
    parts.append(f"mu_hat = {res.mu_hat:.3f} +- {res.mu_tolerance:.3f} vs sqrt(T)/z = "
                 f"{res.mu_theory:.3f} [{how}]" + ("" if eps_ok else
                                                   f"; its epsilon_lb {res.epsilon_lower:.3f} > "
                                                   f"{res.epsilon_theory:.3f}"))
    data.update(mu_hat=res.mu_hat, mu_hat_se=res.mu_hat_se, mu_tolerance=res.mu_tolerance,
                mu_theory=res.mu_theory, mu_consistent=mu_ok, probe_steps=probe_steps,
                probe_epsilon_lower=res.epsilon_lower, probe_epsilon_theory=res.epsilon_theory,
                probe_consistent=eps_ok)
    eng = _engine_noise(cfg, run, dataset) if run is not None else {"reason": "no run"}
    data["engine"] = eng
    if "reason" in eng:
        parts.append(f"engine noise: n/a ({eng['reason']})")
    else:
        ok &= eng["ok"]
        parts.append(f"engine noise: {eng['what']} / claimed noise = {eng['ratio']:.3f} "
                     f"({'>=' if eng['ok'] else '<'} {1 - eng['tolerance']:.2f}, "
                     f"{eng['rounds']} rounds)")
    return Check("b", CHECKS["b"], "PASS" if ok else "FAIL", "; ".join(parts), data)


# --------------------------------------------------------------------------------------------------
# (c) aggregation error
# --------------------------------------------------------------------------------------------------
def _check_kappa(cfg: ExperimentConfig, runs: dict) -> Check:
    from fltheory.bounds import kappa

    f = cfg.byzantine.num_byzantine
    attack_runs = {k: r for k, r in runs.items() if k.startswith("attack:")}
    if f == 0 or not attack_runs:
        return _na("c", "no Byzantine clients (byzantine.num_byzantine = 0)")
    first = next(iter(attack_runs.values()))
    name, nnm = _kappa_name(first)
    series = {k.split(":", 1)[1]: _series(r, "kappa_empirical") for k, r in attack_runs.items()}
    worst = {a: max((x for x in s if x is not None), default=None) for a, s in series.items()}
    data: dict = {"aggregator": cfg.byzantine.aggregator, "kappa_name": name, "nnm": nnm,
                  "f": f, "series": series, "max_ratio": worst}
    meas = ", ".join(f"{a} {_g(v)}" for a, v in worst.items())
    if name is None:
        why = ("the mean has no finite kappa for f > 0 (one Byzantine client moves it "
               "arbitrarily)" if cfg.byzantine.aggregator.strip().lower() == "mean"
               else f"no kappa bound is tabulated for {cfg.byzantine.aggregator!r}")
        if cfg.privacy.level == "client":
            why = "DP-FedAvg releases the noisy mean of clipped updates (no robust rule)"
        return _na("c", f"{why}; measured max ratio: {meas}", **data)
    judged, skipped, viol = 0, 0, []
    judged_max = 0.0
    bounds: dict = {}
    for key, r in attack_runs.items():
        att = key.split(":", 1)[1]
        kb = []
        for m in r.metrics:
            n_t, byz = int(m["clients"]), int(m["byzantine"])
            ratio = m.get("kappa_empirical")
            if n_t <= 2 * f:
                kb.append(None)
                continue
            k = float(kappa(name, n=n_t, f=f, nnm=nnm))
            kb.append(k)
            if ratio is None:
                continue
            if byz != f:
                skipped += 1
                continue
            judged += 1
            judged_max = max(judged_max, float(ratio))
            if not (ratio <= k * (1 + _KAPPA_RTOL) + 1e-9):
                viol.append((att, int(m["round"]), float(ratio), k))
        bounds[att] = kb
    data.update(bounds=bounds, judged_rounds=judged, informative_rounds=skipped,
                judged_max_ratio=judged_max,
                violations=[list(v) for v in viol])
    n = cfg.data.num_clients
    kn = float(kappa(name, n=n, f=f, nnm=nnm)) if n > 2 * f else None
    label = f"{name}{'+NNM' if nnm else ''}, n={n}, f={f}"
    if judged == 0:
        return _na("c", f"no round with exactly f = {f} Byzantine clients among more than "
                        f"2f clients; measured max ratio: {meas}", **data)
    if viol:
        att, rnd, ratio, k = max(viol, key=lambda v: v[2] / v[3])
        return Check("c", CHECKS["c"], "FAIL",
                     f"{len(viol)} rounds exceed kappa: {att} round {rnd}: ratio {ratio:.4g} > "
                     f"kappa = {k:.4g} ({label})", data)
    return Check("c", CHECKS["c"], "PASS",
                 f"max ||F(x) - mean_H||^2 / var_H = {_g(judged_max)} <= kappa = {_g(kn)} "
                 f"({label}) over {judged} rounds of "
                 f"{len(attack_runs)} attack runs (max per run, all rounds: {meas})"
                 + (f"; {skipped} rounds with fewer Byzantine clients not judged"
                    if skipped else ""), data)


# --------------------------------------------------------------------------------------------------
# (d) compressor variance
# --------------------------------------------------------------------------------------------------
def _compressor(cfg: ExperimentConfig, d: int):
    """The configuration's compressor as the engine builds it (update stage), or its mask."""
    from fltheory.fl import compressors as _comp

    from fltheory.fl.simulate import _build_compressor

    c = cfg.compression
    if c.stage == "mechanism":
        k = c.k if c.k is not None else (max(1, int(round(c.ratio * d))) if c.ratio else None)
        if c.name == "randk":
            return _comp.RandK(min(k, d), mask=c.mask, scale=False)
        return _comp.BernoulliMask(c.ratio, mask=c.mask)
    return _build_compressor(c, d)


def _theory_variance(comp: Any, d: int) -> tuple[float | None, str]:
    """(bound on E||Q(x) - x||^2 / ||x||^2, what it is) from fltheory.bounds where tabulated."""
    from fltheory.bounds import compressor_variance

    name = getattr(comp, "name", "")
    if name == "randk":
        if comp.scale:
            return float(compressor_variance("randk", d, comp.k)), "omega = d/k - 1"
        return 1.0 - min(comp.k, d) / d, "1 - delta = 1 - k/d (plain mask)"
    if name == "topk":
        return float(compressor_variance("topk", d, comp.k)), "1 - delta = 1 - k/d"
    if name == "qsgd":
        return (float(compressor_variance("qsgd", d, levels=comp.s)),
                "omega = min(d/s^2, sqrt(d)/s)")
    if name == "scaled_sign":
        return float(compressor_variance("scaled_sign", d)), "1 - delta = 1 - 1/d"
    if name == "bernoulli_mask":
        p = comp.keep_prob
        if comp.rescale:
            return 1.0 / p - 1.0, "omega = 1/p - 1"
        return 1.0 - p, "1 - delta = 1 - p (plain mask)"
    if name == "identity":
        return 0.0, "omega = 0"
    return None, ""


def _check_compressor(cfg: ExperimentConfig, run: Any, *, seed: int, draws: int) -> Check:
    import torch

    from fltheory.fl import compressors as _comp

    c = cfg.compression
    if c.name == "none":
        return _na("d", "no compression (compression.name = 'none')")
    d = int(run.info["num_params"])
    comp = _compressor(cfg, d)
    note = ""
    if isinstance(comp, _comp.ErrorFeedback):
        comp = comp.compressor
        note = " (the compressor inside error feedback)"
    bound, what = _theory_variance(comp, d)
    engine_omega = comp.omega(d) if hasattr(comp, "omega") else None
    engine_delta = comp.delta(d) if hasattr(comp, "delta") else None
    gen = torch.Generator().manual_seed(seed)
    vecs = {"gaussian": torch.randn(d, generator=gen),
            "sparse 10%": torch.randn(d, generator=gen) * (torch.rand(d, generator=gen) < 0.1),
            "equal magnitude": torch.where(torch.rand(d, generator=gen) < 0.5, -1.0, 1.0)}
    fin = run.params.detach().float().reshape(-1)
    if fin.numel() == d and float(fin.norm()) > 0 and bool(torch.isfinite(fin).all()):
        vecs["final model"] = fin.clone()
    if _name_of(comp) == "one_bit":
        # the 1-bit quantizer clips to [-c, c]: its inputs are scaled into range
        for key in vecs:
            vecs[key] = vecs[key] / max(float(vecs[key].abs().max()), 1e-12) * comp.c
    rows = {}
    fail = []
    for key, x in vecs.items():
        if float(x.norm()) == 0:
            x = x.clone()
            x[0] = 1.0
        xs = x.unsqueeze(0).expand(draws, d).contiguous()
        if getattr(comp, "mask", None) == "shared":
            # one shared mask per call (all rows alike): a fresh call per draw
            out = torch.stack([comp(x, generator=gen).value for _ in range(draws)])
        else:
            out = comp(xs, generator=gen).value
        err = ((out - xs).double() ** 2).sum(1) / float((x.double() ** 2).sum())
        mean = float(err.mean())
        se = float(err.std(unbiased=True) / math.sqrt(draws)) if draws > 1 else 0.0
        ok = bound is None or mean <= bound + _OMEGA_SE * se + 1e-9 * max(1.0, bound)
        rows[key] = {"ratio": mean, "se": se, "ok": ok}
        if not ok:
            fail.append(key)
    data = {"compressor": repr(comp), "d": d, "bound": bound, "bound_is": what,
            "engine_omega": engine_omega, "engine_delta": engine_delta, "vectors": rows,
            "draws": draws, "se_multiple": _OMEGA_SE}
    meas = ", ".join(f"{k} {v['ratio']:.4g} \u00b1 {v['se']:.2g}" for k, v in rows.items())
    if bound is None:
        return _na("d", f"{_name_of(comp)} has no relative variance bound (biased, no "
                        f"contraction for all x){note}; measured E||Q(x)-x||^2/||x||^2: {meas}",
                   **data)
    eng = (f"; engine omega {engine_omega:.4g}" if engine_omega is not None else
           (f"; engine delta {engine_delta:.4g}" if engine_delta is not None else ""))
    if fail:
        return Check("d", CHECKS["d"], "FAIL",
                     f"{', '.join(fail)} exceed {what} = {bound:.4g}: {meas}{note}", data)
    return Check("d", CHECKS["d"], "PASS",
                 f"E||Q(x)-x||^2/||x||^2 ({draws} draws, d = {d}, mean \u00b1 s.e.): {meas} "
                 f"<= {what} = {bound:.4g} within {_OMEGA_SE:g} s.e.{eng}{note}", data)


def _name_of(comp: Any) -> str:
    """Registry name of a compressor (``"one_bit"`` for the stochastic 1-bit quantizer)."""
    from fltheory.fl import compressors as _comp

    if isinstance(comp, _comp.StochasticOneBit):
        return "one_bit"
    return getattr(comp, "name", type(comp).__name__)


# --------------------------------------------------------------------------------------------------
# (e) utility and error floor
# --------------------------------------------------------------------------------------------------
def _floor_applies(cfg: ExperimentConfig, kappa_name: str | None, model: Any) -> str | None:
    t, p, bz = cfg.training, cfg.privacy, cfg.byzantine
    if bz.num_byzantine == 0:
        return "no Byzantine clients"
    if t.algorithm != "fedsgd" or t.batch_sampling != "full" or t.client_sampling != "all":
        return ("the robust D-GD theorem needs FedSGD with full batches and every client "
                "(training.algorithm = 'fedsgd', batch_sampling = 'full', client_sampling = "
                "'all')")
    if p.level != "none":
        return "DP noise is not part of the D-GD theorem"
    if cfg.compression.name != "none" or cfg.mixup.enabled:
        return "compression and mixup are not part of the D-GD theorem"
    if t.momentum > 0:
        return "the theorem is for plain gradient steps (training.momentum = 0)"
    if kappa_name is None:
        return f"no kappa bound for {bz.aggregator!r}"
    if getattr(model, "loss_name", None) not in ("cross_entropy", "bce", "mse") or \
            not hasattr(model, "in_features"):
        return "the smoothness constant L is known here for generalised linear models only"
    return None


def _smoothness(model: Any, xs: list) -> float:
    import torch

    c = {"cross_entropy": 0.5, "bce": 0.25, "mse": 1.0}[model.loss_name]
    m = None
    for x in xs:
        x = x.reshape(x.shape[0], -1).double()
        x1 = torch.cat([x, torch.ones(x.shape[0], 1, dtype=torch.double)], 1)
        s = x1.T @ x1 / max(1, x1.shape[0])
        m = s if m is None else m + s
    m = m / len(xs)
    return c * float(torch.linalg.eigvalsh(m).max())


def _floor(cfg: ExperimentConfig, kappa_name: str, nnm: bool, noise_scale: float, notes: list,
           dataset: Any) -> dict:
    """Robust D-GD: average squared honest gradient norm on the trajectory vs the bound."""
    import torch

    from fltheory.bounds import kappa, robust_dgd_bound
    from fltheory.fl.simulate import CHECKPOINT, build_model

    model = build_model(cfg, dataset)
    why = _floor_applies(cfg, kappa_name, model)
    if why:
        return {"reason": why}
    t = cfg.training
    gamma = t.lr * t.server_lr
    honest = [i for i in range(dataset.num_clients)]
    params: list = []
    with tempfile.TemporaryDirectory() as tmp:
        run_cfg = cfg.replace(run__checkpoint_every=1)

        def grab(rnd, _m):
            path = Path(tmp) / CHECKPOINT
            if rnd < t.rounds and path.is_file():
                params.append(torch.load(path, map_location="cpu", weights_only=True)["params"])

        run = _simulate(run_cfg, noise_scale, notes, out_dir=tmp, callback=grab)
    byz = set(run.byzantine_ids)
    honest = [i for i in honest if i not in byz]
    xs = [dataset.x[i].float() for i in honest]
    ys = [dataset.y[i] for i in honest]
    L = _smoothness(model, xs)
    if gamma > 1.0 / L:
        return {"reason": f"step size lr x server_lr = {gamma:g} exceeds 1/L = {1 / L:.3g} (L "
                          "bounds the honest loss's smoothness); the descent lemma behind the "
                          "bound needs gamma <= 1/L", "L": L, "gamma": gamma}
    theta0 = model.init(seed=cfg.seed)
    traj = [theta0] + params
    if len(traj) != t.rounds:
        return {"reason": "the per-round parameters could not be recovered from the engine's "
                          "checkpoints"}

    def honest_grad(th):
        return torch.stack([model.grad(th, x, y) for x, y in zip(xs, ys)]).mean(0).double()

    def honest_loss(th):
        return float(np.mean([float(model.loss(th, x, y)) for x, y in zip(xs, ys)]))

    g2 = [float(honest_grad(th).pow(2).sum()) for th in traj]
    avg = float(np.mean(g2))
    het = [x for x in _series(run, "honest_variance") if x is not None]
    G2 = max(het) if het else 0.0
    n, f = cfg.data.num_clients, cfg.byzantine.num_byzantine
    k = float(kappa(kappa_name, n=n, f=f, nnm=nnm))
    delta0 = honest_loss(theta0)
    bound = float(robust_dgd_bound().evaluate(L=1.0 / gamma, Delta0=delta0, T=t.rounds,
                                              kappa=k, G=math.sqrt(G2), B=0.0))
    return {"avg_grad_norm2": avg, "bound": bound, "floor": k * G2, "kappa": k, "G2": G2,
            "L": L, "gamma": gamma, "delta0": delta0, "grad_norm2": g2, "ok": avg <= bound}


def _check_utility(cfg: ExperimentConfig, runs: dict, noise_scale: float, notes: list, dataset: Any) -> Check:
    def fin(r, key):
        v = r.last(key)
        return None if v is None else float(v)

    clean = runs.get("clean")
    att_key = next((k for k in runs if k.startswith("attack:")), None)
    attacked = runs.get(att_key) if att_key else None
    mean_att = runs.get("mean_under_attack")
    data: dict = {"curves": {}, "final": {}}
    for key, r in runs.items():
        if key == "clean" or key == att_key or key == "mean_under_attack":
            data["curves"][key] = {"accuracy": _series(r, "accuracy"), "loss": _series(r, "loss")}
            data["final"][key] = {"accuracy": fin(r, "accuracy"), "loss": fin(r, "loss"),
                                  "backdoor_success": fin(r, "backdoor_success")}
    parts = []
    if clean is not None:
        parts.append(f"clean acc {_g(fin(clean, 'accuracy'), '.3f')} / loss "
                     f"{_g(fin(clean, 'loss'), '.3f')}")
    if attacked is not None:
        att = att_key.split(":", 1)[1]
        parts.append(f"under {att} ({cfg.byzantine.num_byzantine}/{cfg.data.num_clients}, "
                     f"{cfg.byzantine.aggregator}) acc {_g(fin(attacked, 'accuracy'), '.3f')} / "
                     f"loss {_g(fin(attacked, 'loss'), '.3f')}")
        if fin(attacked, "backdoor_success") is not None:
            parts.append(f"backdoor success {fin(attacked, 'backdoor_success'):.3f}")
    if mean_att is not None:
        parts.append(f"mean under the same attack acc {_g(fin(mean_att, 'accuracy'), '.3f')}")
    text = "; ".join(parts)
    if attacked is None:
        return _na("e", f"{text}; error floor n/a: no attack in the configuration", **data)
    name, nnm = _kappa_name(attacked)
    fl = _floor(cfg, name, nnm, noise_scale, notes, dataset)
    data["floor"] = fl
    if "reason" in fl:
        return _na("e", f"{text}; error floor n/a: {fl['reason']}", **data)
    status = "PASS" if fl["ok"] else "FAIL"
    return Check("e", CHECKS["e"], status,
                 f"{text}; avg ||grad L_H||^2 = {fl['avg_grad_norm2']:.4g} "
                 f"{'<=' if fl['ok'] else '>'} 2 Delta0/(gamma T) + kappa G^2 = {fl['bound']:.4g} "
                 f"(floor kappa G^2 = {fl['floor']:.3g}, G^2 = {fl['G2']:.3g} measured, B = 0)",
                 data)


# --------------------------------------------------------------------------------------------------
# validate
# --------------------------------------------------------------------------------------------------
def validate(config: ConfigLike, *, seed: int = 0, quick: bool = False, noise_scale: float = 1.0,
             out_dir: Any = None, canaries: int | None = None,
             confidence: float | None = None, attacks: Any = None,
             figure: Callable | None = None, bug: str | None = None) -> ValidationReport:
    r"""Run, audit and check a configuration against its guarantees (checks (a)–(e) above).

    Parameters
    ----------
    config : ExperimentConfig, dict or path
        The recipe (anything :func:`fltheory.config.load_config` accepts).
    seed : int
        Seed of every run and audit (replaces ``config.seed``): same seed, same report.
    quick : bool
        1,000 canary coin flips at 99 % confidence instead of 2,000 at 95 %, only the
        configuration's own attack, runs capped at :data:`QUICK_MAX_ROUNDS` rounds, 64 compressor
        draws instead of 256.
    noise_scale : float
        Multiplier of the noise actually added (``0.5``: the half-noise bug, which (a) or (b)
        must flag).
    out_dir : str or path, optional
        Write ``validation.json`` there (and the figure, with ``figure``).
    canaries : int, optional
        Override the number of canary coin flips of the audits.
    confidence : float, optional
        Override the audits' confidence.
    attacks : sequence of str, optional
        Extra update attacks for (c) (default: none when ``quick``, else
        :data:`EXTRA_ATTACKS`).
    figure : callable, optional
        A drawing function ``figure(report, stem) -> paths``, e.g.
        :func:`fltheory.plots.validation.plot_validation` (what ``fltheory validate --out``
        uses), called with ``out_dir / "validation"``.  The runner does not import the plots.
    bug : str, optional
        A planted bug of the one release mechanism (:data:`fltheory.fl.release.BUGS`:
        ``"half_noise"``, ``"double_clip"``, ``"noise_before_clip"``, ``"positions_sent"``),
        planted in the engine's runs and in the audits of (a) and (b), which must flag it.

    Returns
    -------
    ValidationReport

    References
    ----------
    M. Nasr et al. (2023). Tight auditing of differentially private machine learning. USENIX
    Security (white-box canaries, μ̂); Y. Allouah et al. (2023). Fixing by mixing. AISTATS
    ((f, κ)-robustness); Y. Allouah et al. (2023). Robust distributed learning: tight error bounds
    and breakdown point under data heterogeneity. NeurIPS (error floor).

    Examples
    --------
    >>> rep = validate({"data": {"num_clients": 6}, "training": {"rounds": 4, "lr": 0.5},
    ...                 "byzantine": {"num_byzantine": 1, "attack": "sign_flip",
    ...                               "aggregator": "cwtm"}}, quick=True)
    >>> [rep.status(k) for k in "abcde"]
    ['N/A', 'N/A', 'PASS', 'N/A', 'N/A']
    """
    from fltheory.config import load_config
    from fltheory.fl.release import BUGS
    from fltheory.fl.simulate import build_dataset

    t0 = time.perf_counter()
    seed = check_int("seed", seed, minimum=0)
    figure = check_drawer("figure", figure, _PLOT)     # before any run
    if bug is not None:
        check_choice("bug", bug, BUGS)
    token = _BUG.set(bug)
    try:
        return _validate(config, seed=seed, quick=quick, noise_scale=noise_scale,
                         out_dir=out_dir, canaries=canaries, confidence=confidence,
                         attacks=attacks, figure=figure, t0=t0, build_dataset=build_dataset,
                         load_config=load_config)
    finally:
        _BUG.reset(token)


def _validate(config: ConfigLike, *, seed: int, quick: bool, noise_scale: float, out_dir: Any,
              canaries: int | None, confidence: float | None, attacks: Any,
              figure: Callable | None,
              t0: float, build_dataset: Any, load_config: Any) -> ValidationReport:
    noise_scale = check_positive("noise_scale", noise_scale)
    if not isinstance(quick, bool):
        raise ValueError(f"quick must be true or false, got {quick!r}")
    from fltheory.fl.registries import validate_config

    cfg = validate_config(config).replace(seed=seed, run__progress=False,
                                          run__checkpoint_every=0)
    if quick and cfg.training.rounds > QUICK_MAX_ROUNDS:
        cfg = cfg.replace(training__rounds=QUICK_MAX_ROUNDS)
    n_can = (1000 if quick else 2000) if canaries is None else check_int("canaries", canaries,
                                                                           minimum=20)
    conf = (0.99 if quick else 0.95) if confidence is None else float(confidence)
    if not 0 < conf < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    extra = (() if quick else EXTRA_ATTACKS) if attacks is None else tuple(attacks)
    notes: list[str] = []
    if quick and load_config(config).training.rounds > QUICK_MAX_ROUNDS:
        notes.append(f"quick: runs capped at {QUICK_MAX_ROUNDS} rounds (the audit covers the "
                     "configuration's full mechanism)")
    dataset = build_dataset(cfg)
    bz = cfg.byzantine
    runs: dict = {}
    from fltheory._progress import bar

    n_runs = 1
    if bz.num_byzantine > 0:
        n_runs += (len([a for a in extra if a != bz.attack]) + 1
                   + (bz.aggregator.strip().lower() != "mean" or bool(bz.pre_aggregators)))
    pbar = bar(n_runs + 5, f"validate {cfg.name}", unit="step")

    def _sim(*a):  # the runs, counted on the bar
        pbar.set_postfix_str(f"run {pbar.n + 1}/{n_runs}", refresh=True)
        out = _simulate(*a)
        pbar.update(1)
        return out

    if bz.num_byzantine > 0:
        runs[f"attack:{bz.attack}"] = _sim(cfg, noise_scale, notes)
        for att in extra:
            if att == bz.attack:
                continue
            runs[f"attack:{att}"] = _sim(
                cfg.replace(byzantine__attack=att, byzantine__attack_params={}), noise_scale,
                notes)
        if bz.aggregator.strip().lower() != "mean" or bz.pre_aggregators:
            runs["mean_under_attack"] = _sim(
                cfg.replace(byzantine__aggregator="mean", byzantine__pre_aggregators=[],
                            byzantine__aggregator_params={}), noise_scale, notes)
        runs["clean"] = _sim(cfg.replace(byzantine__num_byzantine=0, byzantine__attack="none",
                                              byzantine__attack_params={}), noise_scale, notes)
    else:
        runs["clean"] = _sim(cfg, noise_scale, notes)
    main = runs.get(f"attack:{bz.attack}", runs["clean"])
    pbar.set_postfix_str("(a) audit", refresh=True)
    check_a, res_a = _check_audit(cfg, canaries=n_can, confidence=conf, noise_scale=noise_scale,
                                  seed=seed)
    checks = [check_a]
    pbar.update(1)
    for label, check in (
            ("(b) noise", lambda: _check_noise(cfg, res_a, main, dataset, canaries=n_can,
                                               confidence=conf, noise_scale=noise_scale,
                                               seed=seed)),
            ("(c) kappa", lambda: _check_kappa(cfg, runs)),
            ("(d) compressor", lambda: _check_compressor(cfg, main, seed=seed,
                                                         draws=64 if quick else 256)),
            ("(e) utility", lambda: _check_utility(cfg, runs, noise_scale, notes, dataset))):
        pbar.set_postfix_str(label, refresh=True)
        checks.append(check())
        pbar.update(1)
    pbar.close()
    if _BUG.get():
        notes.append(f"planted bug {_BUG.get()!r} in the release mechanism (engine and audits)")
    rep = ValidationReport(cfg.name, checks, cfg.to_dict(), seed, quick, noise_scale,
                           time.perf_counter() - t0, notes)
    if out_dir is not None:
        rep.save(out_dir, figure=figure)
    return rep


_PLOT = "fltheory.plots.validation.plot_validation"


# ``plot_validation`` moved to fltheory.plots.validation (plots draw result objects; the runners
# never import them); the old name keeps working with a DeprecationWarning.
def __getattr__(name: str) -> Any:
    from fltheory._moved import moved

    return moved(__name__, name, {"plot_validation": "fltheory.plots.validation"})
