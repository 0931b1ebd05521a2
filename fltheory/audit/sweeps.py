r"""Defense sweeps: the success of every leakage attack against every defense, with utility.

:func:`defense_sweep` trains a FedAvg run (:func:`~fltheory.audit.transcript.run_fedavg`) of the
attack's task for every setting of every defense, runs the attack on what the server (or an
eavesdropper) saw, and records the attack's success with its confidence interval next to the
final model's test accuracy and, for DP, the run's ε from :mod:`fltheory.accounting`.

Attacks (:data:`ATTACKS`; the trivial baseline in brackets):

* ``source`` -- source inference, :func:`~fltheory.audit.source_inference.source_inference`
  (accuracy; :math:`1/n`);
* ``attribute_gradient`` -- gradient-based attribute inference by matching the updates,
  :func:`~fltheory.audit.attribute_inference.gradient_attribute_inference` (accuracy; majority);
* ``attribute_model`` -- model-based attribute inference on the client's last local model
  :math:`\theta_{T-1} + \Delta_k^{T-1}` (accuracy; majority);
* ``eavesdropper`` -- local-model reconstruction from the message sequence
  (:func:`~fltheory.audit.eavesdropper.eavesdropper_attack`) followed by model-based attribute
  inference with the reconstruction (accuracy; majority); the point's ``extras`` hold the
  reconstruction distance, the trivial estimate's distance and the reconstructed models'
  accuracy on the clients' data;
* ``passive_mia`` -- passive membership inference from the target clients' updates over the
  rounds, :func:`~fltheory.audit.passive_mia.passive_mia` (AUC; 1/2);
* ``passive_mia_series`` -- the supervised passive MIA: a classifier on each candidate's series
  of per-round losses under the client's local models, trained on half of the candidates with
  known membership, scored on the other half (AUC; 1/2);
* ``loss_threshold`` -- loss-threshold MIA on the final global model (AUC; 1/2);
* ``lira`` -- LiRA (online, global variance) on the final global model, shadow FedAvg runs of
  the same recipe and defense on random halves of the candidate pool (AUC; 1/2).

Defenses (:data:`DEFENSES`; parameter in brackets):

* ``dp`` -- record-level DP-SGD in the clients (noise multiplier :math:`z`; 0 = undefended);
  ε of one record of one client, all clients every round (:func:`fltheory.accounting.
  local_dp_sgd`);
* ``magnitude_prune`` -- zero the fraction ``rate`` of smallest coordinates of each update
  (:class:`~fltheory.fl.compressors.MagnitudePrune`);
* ``random_prune`` -- zero each coordinate with probability ``rate`` (secret Bernoulli mask, no
  rescaling);
* ``qsgd`` -- stochastic quantization with ``s`` levels;
* ``topk`` -- top-k compression *with error feedback* (kept fraction :math:`k/d`): unlike
  magnitude pruning, the pruned mass is sent later;
* ``randk`` -- rand-k compression, unbiased :math:`d/k` scaling (kept fraction :math:`k/d`);
* ``mixup`` -- local training on mixup records, :math:`\lambda\sim\mathrm{Beta}(\alpha,\alpha)`
  (strength :math:`\alpha`);
* ``batch`` -- Poisson batch sampling in the local steps (rate :math:`q`), no noise.

Names joined by ``+`` combine defenses, with a list of parameters (``"dp+qsgd" = [[4.0, 2]]``).

**ε-equivalent** (:func:`epsilon_equivalent`).  For a noise-free point with attack success
:math:`a`, the DP points of the same attack and seed give a curve :math:`\varepsilon \mapsto
a_{\mathrm{DP}}(\varepsilon)` (made non-decreasing); the ε-equivalent is the ε at which it reaches
:math:`a` (log-linear interpolation between the bracketing DP points), reported with the DP
model's accuracy there, so the two defenses can be compared at equal attack success.  It is an
*empirical equivalence against this one attack on this one task*, **not a differential-privacy
guarantee**: a stronger attack, another dataset or a worst-case neighbouring pair can leak far
more from a noise-free defense, whose worst-case ε is infinite.  Every record carries ``"kind":
"empirical equivalence, not a DP guarantee"``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_positive
from ..fl import compressors as _compressors
from . import stats as _stats
from .transcript import glm_correct, glm_losses, local_optimum, run_fedavg, sensitive_tabular

__all__ = ["ATTACKS", "DEFENSES", "DEFAULT_DEFENSES", "EQUIVALENCE_KIND", "defense_sweep",
           "epsilon_equivalent"]

#: Attack name -> (task family, metric name).
ATTACKS: dict[str, tuple[str, str]] = {
    "source": ("source", "accuracy"),
    "attribute_gradient": ("attribute", "accuracy"),
    "attribute_model": ("model_attribute", "accuracy"),
    "eavesdropper": ("eavesdropper", "accuracy"),
    "passive_mia": ("membership", "auc"),
    "passive_mia_series": ("membership", "auc"),
    "loss_threshold": ("membership", "auc"),
    "lira": ("membership", "auc"),
}

#: Defense names and the meaning of their parameter.
DEFENSES: dict[str, str] = {
    "dp": "noise multiplier z (0 = none)",
    "magnitude_prune": "fraction of coordinates pruned by magnitude",
    "random_prune": "fraction of coordinates pruned at random",
    "qsgd": "quantization levels s",
    "topk": "kept fraction k/d (error feedback)",
    "randk": "kept fraction k/d (unbiased)",
    "mixup": "mixup strength alpha",
    "batch": "Poisson batch sampling rate q",
}

#: Reduced grid (seconds per attack): parameters of each defense.
DEFAULT_DEFENSES: dict[str, list[float]] = {
    "dp": [0.0, 1.0, 4.0, 16.0, 64.0],
    "magnitude_prune": [0.5, 0.9],
    "random_prune": [0.5, 0.9],
    "qsgd": [4, 1],
    "topk": [0.5, 0.1],
    "randk": [0.5, 0.1],
    "mixup": [0.5, 2.0],
    "batch": [0.5, 0.1],
}

EQUIVALENCE_KIND = "empirical equivalence, not a DP guarantee"

# Task family -> (task parameters, run recipe).  Each family is a regime in which its attack
# works on the undefended run (the tests check it); see the docs page for the reasons.
_FAMILIES: dict[str, tuple[dict, dict]] = {
    "source": (dict(num_clients=10, samples_per_client=10, dim=20, label_noise=0.2,
                    client_shift=0.0, client_specific=False, signal=3.0, held_out=100),
               dict(rounds=10, local_steps=10, lr=1.0)),
    "membership": (dict(num_clients=5, samples_per_client=100, dim=100, label_noise=0.1,
                        client_specific=False, signal=3.0),
                   dict(rounds=20, local_steps=10, lr=0.5)),
    "attribute": (dict(num_clients=10, samples_per_client=10, dim=20, held_out=100),
                  dict(rounds=3, local_steps=5, lr=0.5)),
    "model_attribute": (dict(num_clients=10, samples_per_client=40, dim=5, held_out=100),
                        dict(rounds=5, local_steps=50, lr=0.5, l2=0.1)),
    "eavesdropper": (dict(num_clients=10, samples_per_client=40, dim=5, held_out=100),
                     dict(rounds=40, local_steps=1, lr=0.5, l2=0.1)),
}

_LIRA_SHADOWS = 32


def _kept(fraction: float, d: int) -> int:
    return max(1, min(d, int(round(float(fraction) * d))))


def _check_fraction(name: str, value: float, *, closed_right: bool) -> float:
    v = float(value)
    ok = (0.0 < v <= 1.0) if closed_right else (0.0 <= v < 1.0)
    if not ok:
        rng = "(0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} parameter must be in {rng}, got {value}")
    return v


def _defense_kwargs(name: str, value: Any, d: int, clip: float) -> dict:
    """Keyword arguments of :func:`run_fedavg` for one (possibly combined) defense setting."""
    parts = name.split("+")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) != len(parts):
        raise ValueError(f"defense {name!r} needs {len(parts)} parameters, got {value!r}")
    kw: dict[str, Any] = {}
    for part, v in zip(parts, values):
        check_choice("defense", part, tuple(DEFENSES))
        comp = None
        if part == "dp":
            z = float(v)
            if z < 0:
                raise ValueError(f"dp parameter (noise multiplier) must be >= 0, got {v}")
            if z > 0:
                kw.update(clip=clip, noise_multiplier=z)
        elif part == "batch":
            kw["batch_rate"] = _check_fraction("batch", v, closed_right=True)
        elif part == "mixup":
            kw["mixup"] = check_positive("mixup parameter", float(v))
        elif part == "magnitude_prune":
            comp = _compressors.get("magnitude_prune",
                                    rate=_check_fraction("magnitude_prune", v, closed_right=False))
        elif part == "random_prune":
            r = _check_fraction("random_prune", v, closed_right=False)
            comp = _compressors.get("prune", keep_prob=1.0 - r)
        elif part == "qsgd":
            comp = _compressors.get("qsgd", s=check_int("qsgd parameter", v, minimum=1))
        elif part == "topk":
            comp = _compressors.get("topk", error_feedback=True,
                                    k=_kept(_check_fraction("topk", v, closed_right=True), d))
        else:  # randk
            comp = _compressors.get("randk",
                                    k=_kept(_check_fraction("randk", v, closed_right=True), d))
        if comp is not None:
            if "compressor" in kw:
                raise ValueError(f"defense {name!r} combines two compressors; use at most one")
            kw["compressor"] = comp
    return kw


def _test_accuracy(model: Any, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    return glm_correct(model, params, x, y) / y.numel()


class _Family:
    """One task family at one seed: the task, its recipe, and cached derived quantities."""

    def __init__(self, family: str, seed: int) -> None:
        task_kw, self.recipe = _FAMILIES[family]
        self.name, self.seed = family, seed
        self.task = sensitive_tabular(**task_kw, seed=seed)
        self.model = self.task.model()
        self.d = int(self.model.init(0).numel())
        self._optimum = None

    @property
    def optimum(self) -> torch.Tensor:
        if self._optimum is None:
            self._optimum = local_optimum(self.model, self.task.x, self.task.y,
                                          l2=self.recipe.get("l2", 1e-2))
        return self._optimum

    def run(self, defense_kw: dict, *, x=None, y=None, seed=None):
        kw = dict(self.recipe, **defense_kw)
        return run_fedavg(self.model, self.task.x if x is None else x,
                          self.task.y if y is None else y, **kw,
                          seed=self.seed if seed is None else seed)


def _mia_point(s_in: np.ndarray, s_out: np.ndarray, seed: int) -> dict:
    auc, ci = _stats.auc_interval(s_in, s_out, bootstrap=200, seed=seed)
    lab = np.concatenate([np.ones(len(s_in), bool), np.zeros(len(s_out), bool)])
    low = _stats.tpr_at_fpr(np.concatenate([s_in, s_out]), lab, 0.01)
    return dict(success=auc, success_ci=list(ci), baseline=0.5,
                extras={"tpr_at_1pct_fpr": float(low["tpr"])})


def _lira(fam: _Family, tr: Any, defense_kw: dict) -> dict:
    """Online LiRA on the final global model with shadow runs of the same recipe and defense."""
    from .mia import lira_scores, logit_confidence

    task, model = fam.task, fam.model
    n, m = int(task.x.shape[0]), int(task.x.shape[1])
    pool_x = torch.cat([task.x, task.x_out[:, :m]], dim=1)            # (n, 2m, p)
    pool_y = torch.cat([task.y, task.y_out[:, :m]], dim=1)
    member = torch.zeros(n, 2 * m, dtype=torch.bool)
    member[:, :m] = True
    flat_x, flat_y = pool_x.reshape(n * 2 * m, -1), pool_y.reshape(-1)
    rng = np.random.default_rng(10_000 + fam.seed)
    conf, inn = [], []
    for s in range(_LIRA_SHADOWS):
        idx = torch.as_tensor(np.stack([rng.permutation(2 * m)[:m] for _ in range(n)]))
        sx = torch.gather(pool_x, 1, idx.unsqueeze(-1).expand(-1, -1, pool_x.shape[-1]))
        sy = torch.gather(pool_y, 1, idx)
        sh = fam.run(defense_kw, x=sx, y=sy, seed=20_000 + 1000 * fam.seed + s)
        mask = torch.zeros(n, 2 * m, dtype=torch.bool)
        mask.scatter_(1, idx, True)
        conf.append(logit_confidence(model, sh.final, flat_x, flat_y))
        inn.append(mask.reshape(-1).numpy())
    target = logit_confidence(model, tr.final, flat_x, flat_y)
    scores = lira_scores(target, np.stack(conf), np.stack(inn), online=True)
    lab = member.reshape(-1).numpy()
    return _mia_point(scores[lab], scores[~lab], fam.seed)


def _attack(attack: str, fam: _Family, tr: Any, defense_kw: dict) -> dict:
    """Run one attack on one transcript; the success fields of a point plus ``extras``."""
    task, model = fam.task, fam.model
    idx = task.sensitive_index
    if attack == "source":
        from .source_inference import source_inference

        r = source_inference(model, tr, task.x, task.y)
        return dict(success=r.accuracy, success_ci=list(r.ci), baseline=r.baseline,
                    extras={"best_round_accuracy": r.best_round_accuracy,
                            "last_round_accuracy": r.last_round_accuracy})
    if attack == "attribute_gradient":
        from .attribute_inference import gradient_attribute_inference

        r = gradient_attribute_inference(model, tr, task.x, task.y, idx, seed=fam.seed)
        return dict(success=r.accuracy, success_ci=list(r.ci), baseline=r.baseline,
                    extras={"auc": r.auc})
    if attack == "attribute_model":
        from .attribute_inference import model_attribute_inference

        r = model_attribute_inference(model, tr.local_models()[-1], task.x, task.y, idx)
        return dict(success=r.accuracy, success_ci=list(r.ci), baseline=r.baseline,
                    extras={"auc": r.auc})
    if attack == "eavesdropper":
        from .attribute_inference import model_attribute_inference
        from .eavesdropper import eavesdropper_attack

        rec_res, rec = eavesdropper_attack(model, tr, task.x, task.y, fam.optimum, ridge=1e-2)
        r = model_attribute_inference(model, rec, task.x, task.y, idx)
        return dict(success=r.accuracy, success_ci=list(r.ci), baseline=r.baseline,
                    extras={"auc": r.auc, "distance": rec_res.distance,
                            "baseline_distance": rec_res.baseline_distance,
                            "reconstruction_accuracy": rec_res.accuracy,
                            "reconstruction_accuracy_ci": list(rec_res.ci),
                            "global_model_accuracy": rec_res.baseline_accuracy,
                            "optimum_accuracy": rec_res.optimum_accuracy})
    if attack == "passive_mia":
        from .passive_mia import passive_mia

        r = passive_mia(model, tr, range(task.num_clients), (task.x, task.y),
                        (task.x_out, task.y_out), bootstrap=200, seed=fam.seed)
        return dict(success=r.auc, success_ci=list(r.auc_ci), baseline=0.5)
    if attack == "passive_mia_series":
        from .passive_mia import passive_mia

        r = passive_mia(model, tr, range(task.num_clients), (task.x, task.y),
                        (task.x_out, task.y_out), score="loss", classifier="logistic",
                        bootstrap=200, seed=fam.seed)
        return dict(success=r.auc, success_ci=list(r.auc_ci), baseline=0.5)
    if attack == "loss_threshold":
        with torch.no_grad():
            s_in = -glm_losses(model, tr.final, task.x, task.y).numpy().ravel()
            s_out = -glm_losses(model, tr.final, task.x_out, task.y_out).numpy().ravel()
        return _mia_point(s_in, s_out, fam.seed)
    return _lira(fam, tr, defense_kw)


def defense_sweep(attacks: str | Sequence[str] = "source",
                  defenses: Mapping[str, Sequence[Any]] | None = None, *, seed: int = 0,
                  clip: float = 1.0) -> list[dict]:
    """Run every attack under every defense setting; one JSON-ready dict per point.

    Parameters
    ----------
    attacks : str or sequence of str
        Names from :data:`ATTACKS` (attacks of the same task family share the training runs).
    defenses : mapping, optional
        Defense name (from :data:`DEFENSES`, or names joined by ``+``) -> parameter values
        (default :data:`DEFAULT_DEFENSES`).  ``dp`` value 0 is the undefended run.
    seed : int
        Seed of the tasks and of the runs (recorded in every point).
    clip : float
        Clipping norm of the DP runs.

    Returns
    -------
    list of dict
        Keys ``attack, defense, parameter, metric, success, success_ci, baseline,
        test_accuracy, epsilon`` (``None`` without DP)``, delta, seed, extras, seconds``.

    Examples
    --------
    >>> pts = defense_sweep("source", {"dp": [0.0, 64.0], "topk": [0.2]}, seed=0)
    >>> [(p["defense"], p["parameter"]) for p in pts]
    [('dp', 0.0), ('dp', 64.0), ('topk', 0.2)]
    >>> pts[0]["success"] > pts[1]["success"]
    True
    """
    names = [attacks] if isinstance(attacks, str) else list(attacks)
    if not names:
        raise ValueError("attacks must name at least one attack")
    for a in names:
        check_choice("attack", a, tuple(ATTACKS))
    seed = check_int("seed", seed, minimum=0)
    clip = check_positive("clip", clip)
    grid = DEFAULT_DEFENSES if defenses is None else defenses
    families: dict[str, _Family] = {}
    for a in names:
        fam = ATTACKS[a][0]
        if fam not in families:
            families[fam] = _Family(fam, seed)
    # validate every setting before the first run
    settings = [(name, v) for name, values in grid.items() for v in values]
    for name, v in settings:
        _defense_kwargs(name, v, 2, clip)
    out = []
    for fam_name, fam in families.items():
        for name, v in settings:
            kw = _defense_kwargs(name, v, fam.d, clip)
            t0 = time.perf_counter()
            tr = fam.run(kw)
            t_run = time.perf_counter() - t0
            acc = _test_accuracy(fam.model, tr.final, fam.task.x_out, fam.task.y_out)
            for a in (a for a in names if ATTACKS[a][0] == fam_name):
                t1 = time.perf_counter()
                res = _attack(a, fam, tr, kw)
                out.append({
                    "attack": a, "defense": name, "parameter": v, "metric": ATTACKS[a][1],
                    "success": float(res["success"]),
                    "success_ci": [float(c) for c in res["success_ci"]],
                    "baseline": float(res["baseline"]), "test_accuracy": acc,
                    "epsilon": None if math.isinf(tr.epsilon) else float(tr.epsilon),
                    "delta": tr.delta, "seed": seed, "extras": res.get("extras", {}),
                    "seconds": t_run + time.perf_counter() - t1,
                })
    order = {a: i for i, a in enumerate(names)}
    return sorted(out, key=lambda p: order[p["attack"]])


def epsilon_equivalent(points: Sequence[Mapping[str, Any]]) -> list[dict]:
    r"""ε-equivalent of every noise-free point (an empirical equivalence, not a guarantee).

    Points are grouped by attack and seed; within a group the DP points with a finite ε form the
    reference curve.  Returns one dict per non-``dp`` point with ``epsilon_equivalent`` (``None``
    when its success is outside the DP curve's range: ``note`` then says ``"< eps_min"`` or
    ``"> eps_max"``), ``dp_accuracy_at_equivalent``, ``accuracy_gain`` (the defense's test
    accuracy minus the DP model's at equal attack success) and ``kind`` = ``"empirical
    equivalence, not a DP guarantee"``.

    Examples
    --------
    >>> dp = [{"defense": "dp", "epsilon": e, "success": s, "test_accuracy": a}
    ...       for e, s, a in [(1.0, 0.1, 0.6), (10.0, 0.3, 0.7), (None, 0.5, 0.8)]]
    >>> eq = epsilon_equivalent(dp + [{"defense": "topk", "parameter": 5, "success": 0.2,
    ...                                "test_accuracy": 0.75}])
    >>> round(eq[0]["epsilon_equivalent"], 3), eq[0]["kind"]
    (3.162, 'empirical equivalence, not a DP guarantee')
    """
    groups: dict[tuple, list] = {}
    for p in points:
        groups.setdefault((p.get("attack"), p.get("seed")), []).append(p)
    res = []
    for (attack, seed), pts in groups.items():
        dp = sorted((p for p in pts if p["defense"] == "dp" and p.get("epsilon") is not None),
                    key=lambda p: p["epsilon"])
        eps = np.array([p["epsilon"] for p in dp], dtype=float)
        suc = np.array([p["success"] for p in dp], dtype=float)
        acc = np.array([p["test_accuracy"] for p in dp], dtype=float)
        # a non-decreasing success curve in eps before inverting it
        suc_m = np.maximum.accumulate(suc) if suc.size else suc
        for p in pts:
            if p["defense"] == "dp":
                continue
            rec = {"defense": p["defense"], "parameter": p.get("parameter"),
                   "success": p["success"], "test_accuracy": p["test_accuracy"],
                   "epsilon_equivalent": None, "dp_accuracy_at_equivalent": None,
                   "accuracy_gain": None, "note": "", "kind": EQUIVALENCE_KIND}
            if attack is not None:
                rec = {"attack": attack, **rec}
            if seed is not None:
                rec["seed"] = seed
            if eps.size < 2:
                rec["note"] = "fewer than two DP points"
            elif p["success"] <= suc_m[0]:
                rec["note"] = f"< {eps[0]:.3g} (as hard to attack as the most private DP point)"
            elif p["success"] > suc_m[-1]:
                rec["note"] = f"> {eps[-1]:.3g} (leaks more than the least private DP point)"
            else:
                j = max(int(np.searchsorted(suc_m, p["success"])), 1)
                s0, s1 = suc_m[j - 1], suc_m[j]
                f = 0.0 if s1 == s0 else (p["success"] - s0) / (s1 - s0)
                rec["epsilon_equivalent"] = float(np.exp((1 - f) * np.log(eps[j - 1])
                                                         + f * np.log(eps[j])))
                dp_acc = float((1 - f) * acc[j - 1] + f * acc[j])
                rec["dp_accuracy_at_equivalent"] = dp_acc
                rec["accuracy_gain"] = float(p["test_accuracy"]) - dp_acc
            res.append(rec)
    return res
