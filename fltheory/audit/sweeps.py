r"""Defense sweeps: the success of every leakage attack against every defense, with utility.

:func:`defense_sweep` trains a FedAvg run (:func:`~fltheory.audit.transcript.run_fedavg`) of the
attack's task for every setting of every defense, runs the attack on what the server (or an
eavesdropper) saw, and records the attack's success with its confidence interval next to the
final model's test accuracy and, for DP, the run's ε from :mod:`fltheory.accounting`.

**The FL setting is a recipe.**  Each attack runs the :class:`~fltheory.config.ExperimentConfig`
it is given (default: the built-in recipe ``leakage_<task>`` of its task, :data:`ATTACKS`,
loaded by :func:`fltheory.config.recipe`): the clients, records per client and features
(``data.num_clients``, ``data.samples_per_client``, ``data.dim``), the rounds, local steps,
learning rate and ridge term (``training.weight_decay``), and the DP points' clipping norm and
δ (``privacy.clip``, ``privacy.delta``).  The runs are FedAvg over every client every round with
full-batch local steps on binary logistic regression, so every other field must keep its
default (the ``[run]`` options, evaluation cadence and progress, are the runner's); the
defenses (noise, compression, mixup, batch sampling) come from the grid, and the recipe's seed
is replaced by the sweep's.  The data are the planted-attribute task
(:func:`~fltheory.audit.transcript.sensitive_tabular`) of the recipe's sizes; how the attribute
enters the labels is the task's (:data:`TASKS`).  Attacks whose task and recipe agree share
their training runs.

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

import functools
import math
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_positive
from ..config import ConfigLike, ExperimentConfig, load_config, recipe
from ..errors import ConfigError
from ..fl import compressors as _compressors
from . import stats as _stats
from .transcript import glm_correct, glm_losses, local_optimum, run_fedavg, sensitive_tabular

__all__ = ["ATTACKS", "TASKS", "DEFENSES", "DEFAULT_DEFENSES", "EQUIVALENCE_KIND",
           "default_recipe", "recipe_setting", "check_defenses", "defense_sweep",
           "epsilon_equivalent"]

#: Attack name -> (task, metric name); the task's built-in recipe is ``leakage_<task>``.
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

#: Task -> how the planted attribute enters the data: keyword arguments of
#: :func:`~fltheory.audit.transcript.sensitive_tabular` beyond the recipe's sizes.  Each task is a
#: regime in which its attack works on the undefended run (the tests check it); see the docs page
#: for the reasons.
TASKS: dict[str, dict[str, Any]] = {
    "source": dict(label_noise=0.2, client_shift=0.0, client_specific=False, signal=3.0,
                   held_out=100),
    "membership": dict(label_noise=0.1, client_specific=False, signal=3.0),
    "attribute": dict(held_out=100),
    "model_attribute": dict(held_out=100),
    "eavesdropper": dict(held_out=100),
}

# the recipe's fields a leakage run reads (everything else must keep its default)
_SETTING = {"data.num_clients": "num_clients", "data.samples_per_client": "samples_per_client",
            "data.dim": "dim", "training.rounds": "rounds",
            "training.local_steps": "local_steps", "training.lr": "lr",
            "training.weight_decay": "l2", "privacy.clip": "clip", "privacy.delta": "delta"}
_FREE = {"name", "seed", "data.name", "model.name", "privacy.level", "run.eval_every",
         "run.checkpoint_every", "run.progress"}


def default_recipe(attack: str) -> ExperimentConfig:
    """The built-in recipe of an attack's task, ``leakage_<task>`` (:func:`fltheory.config.recipe`).

    Examples
    --------
    >>> cfg = default_recipe("lira")
    >>> cfg.name, cfg.data.num_clients, cfg.training.rounds
    ('leakage-membership', 5, 20)
    """
    check_choice("attack", attack, tuple(ATTACKS))
    return recipe(f"leakage_{ATTACKS[attack][0]}")


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return _flat(ExperimentConfig().to_dict())


def recipe_setting(config: ConfigLike, attack: str) -> dict[str, Any]:
    """The FL setting a leakage run of ``attack`` reads from a recipe, after checking the recipe
    describes such a run.

    ``config`` is an :class:`~fltheory.config.ExperimentConfig`, a dict or a TOML path
    (:func:`fltheory.config.load_config`).  Raises :class:`~fltheory.errors.ConfigError` naming
    the field for a recipe the leakage runs cannot honour: another data set or model
    (``data.name`` must be ``"synthetic_logistic"``, ``model.name`` ``"logreg"``), DP noise in
    the recipe (``privacy.level`` must be ``"none"``: noise is the grid's ``dp`` defense), or any
    other field away from its default (client sampling, batch sampling, compression, mixup,
    Byzantine clients, momentum ...; the defenses come from the grid); and, for the
    eavesdropper, ``training.weight_decay = 0`` (its local optimum would not be finite).

    Examples
    --------
    >>> recipe_setting(default_recipe("source"), "source")["rounds"]
    10
    >>> recipe_setting({"data": {"name": "synthetic_logistic"},
    ...                 "training": {"momentum": 0.9}}, "source")
    Traceback (most recent call last):
    ...
    fltheory.errors.ConfigError: recipe of attack 'source': training.momentum = 0.9 is not ...
    """
    check_choice("attack", attack, tuple(ATTACKS))
    cfg = load_config(config)
    where = f"recipe of attack {attack!r}"
    if cfg.data.name != "synthetic_logistic":
        raise ConfigError(f"{where}: data.name must be 'synthetic_logistic' (the leakage attacks "
                          "run on the planted-attribute tabular task of the recipe's sizes), "
                          f"got {cfg.data.name!r}")
    if cfg.model.name != "logreg":
        raise ConfigError(f"{where}: model.name must be 'logreg' (the attacks invert binary "
                          f"logistic regression), got {cfg.model.name!r}")
    if cfg.privacy.level != "none":
        raise ConfigError(f"{where}: privacy.level must be 'none', got {cfg.privacy.level!r}: DP "
                          "noise is the grid's dp defense (dp = [0.0, 1.0, ...]); the recipe "
                          "gives its clip and delta")
    defaults = _defaults()
    flat = _flat(cfg.to_dict())
    for key, value in flat.items():
        if key in _SETTING or key in _FREE or key.startswith("clients."):
            continue
        if value != defaults.get(key):
            raise ConfigError(
                f"{where}: {key} = {value!r} is not supported by the leakage sweeps (FedAvg over "
                "every client every round, full-batch local steps; defenses such as noise, "
                "compression, mixup and batch sampling come from the grid): remove it (default "
                f"{defaults.get(key)!r})")
    if cfg.clients.enabled:
        raise ConfigError(f"{where}: [clients] (per-client settings) is not supported by the "
                          "leakage sweeps: remove it")
    setting = {name: flat[key] for key, name in _SETTING.items()}
    if ATTACKS[attack][0] == "eavesdropper" and setting["l2"] <= 0:
        raise ConfigError(f"{where}: training.weight_decay must be > 0 for the eavesdropper (the "
                          "ridge term keeps the local optimum it reconstructs finite), got "
                          f"{setting['l2']}")
    if setting["num_clients"] < 2 or setting["samples_per_client"] < 2:
        raise ConfigError(f"{where}: data.num_clients and data.samples_per_client must be >= 2, "
                          f"got {setting['num_clients']} and {setting['samples_per_client']}")
    return setting


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


def check_defenses(defenses: Mapping[str, Sequence[Any]], clip: float = 1.0) -> None:
    """Raise ``ValueError`` naming the defense and parameter for any setting of ``defenses``
    (defense -> parameter values) that :func:`defense_sweep` would refuse.

    Examples
    --------
    >>> check_defenses({"dp": [0.0, 4.0], "topk": [0.1]})
    >>> check_defenses({"topk": [2]})
    Traceback (most recent call last):
    ...
    ValueError: topk parameter must be in (0, 1], got 2
    """
    clip = check_positive("clip", clip)
    for name, values in defenses.items():
        for v in values:
            _defense_kwargs(name, v, 2, clip)


def _test_accuracy(model: Any, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    return glm_correct(model, params, x, y) / y.numel()


class _Family:
    """One task at one seed: the planted-attribute data of the recipe's sizes, the recipe's run
    settings, and cached derived quantities."""

    def __init__(self, family: str, seed: int, setting: Mapping[str, Any]) -> None:
        self.name, self.seed = family, seed
        self.task = sensitive_tabular(num_clients=setting["num_clients"],
                                      samples_per_client=setting["samples_per_client"],
                                      dim=setting["dim"], **TASKS[family], seed=seed)
        self.recipe = {k: setting[k] for k in ("rounds", "local_steps", "lr", "l2", "delta")}
        self.model = self.task.model()
        self.d = int(self.model.init(0).numel())
        self._optimum = None

    @property
    def optimum(self) -> torch.Tensor:
        if self._optimum is None:
            self._optimum = local_optimum(self.model, self.task.x, self.task.y,
                                          l2=self.recipe["l2"])
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


@functools.lru_cache(maxsize=16)
def _family(family: str, seed: int, setting: tuple) -> _Family:
    return _Family(family, seed, dict(setting))


def _run_point(family: str, setting: tuple, attacks: tuple, seed: int, name: str,
               value: Any) -> list[dict]:
    """One training run (one task, seed and defense setting) and every attack on it: the points.

    Self-contained and seeded, so a worker process returns the same points as the calling one.
    """
    fam = _family(family, seed, setting)
    kw = _defense_kwargs(name, value, fam.d, dict(setting)["clip"])
    t0 = time.perf_counter()
    tr = fam.run(kw)
    t_run = time.perf_counter() - t0
    acc = _test_accuracy(fam.model, tr.final, fam.task.x_out, fam.task.y_out)
    out = []
    for a in attacks:
        t1 = time.perf_counter()
        res = _attack(a, fam, tr, kw)
        out.append({
            "attack": a, "defense": name, "parameter": value, "metric": ATTACKS[a][1],
            "success": float(res["success"]),
            "success_ci": [float(c) for c in res["success_ci"]],
            "baseline": float(res["baseline"]), "test_accuracy": acc,
            "epsilon": None if math.isinf(tr.epsilon) else float(tr.epsilon),
            "delta": tr.delta, "seed": seed, "extras": res.get("extras", {}),
            "seconds": t_run + time.perf_counter() - t1,
        })
    return out


def defense_sweep(attacks: str | Sequence[str] = "source",
                  defenses: Mapping[str, Sequence[Any]] | None = None, *,
                  seed: int | Sequence[int] = 0,
                  recipes: Mapping[str, ConfigLike] | None = None,
                  map_points: Callable[[Callable, list], list] | None = None,
                  progress: bool | None = None) -> list[dict]:
    """Run every attack under every defense setting; one JSON-ready dict per point.

    Parameters
    ----------
    attacks : str or sequence of str
        Names from :data:`ATTACKS` (attacks of the same task and recipe share the training runs).
    defenses : mapping, optional
        Defense name (from :data:`DEFENSES`, or names joined by ``+``) -> parameter values
        (default :data:`DEFAULT_DEFENSES`).  ``dp`` value 0 is the undefended run.
    seed : int or sequence of int
        Seed(s) of the tasks and of the runs (recorded in every point).
    recipes : mapping, optional
        Attack name -> its FL setting: an :class:`~fltheory.config.ExperimentConfig`, a dict or
        a TOML path (checked by :func:`recipe_setting`); an attack not given runs its built-in
        recipe (:func:`default_recipe`).  The DP points clip to the recipe's ``privacy.clip``.
    map_points : callable, optional
        ``map_points(fn, items)`` returns ``[fn(*it) for it in items]`` in order; how the
        training runs are executed (default: one after the other, in this process).  One run and
        its attacks form one item, seeded on its own, so the points do not depend on where or in
        what order the items run (only their ``seconds`` do); :func:`fltheory.leakage.run_config`
        passes :func:`fltheory.sweep.run_points` (``--jobs``).
    progress : bool, optional
        Progress bar of the default ``map_points`` (default: when stderr is a terminal and not
        quiet).

    Returns
    -------
    list of dict
        Keys ``attack, defense, parameter, metric, success, success_ci, baseline,
        test_accuracy, epsilon`` (``None`` without DP)``, delta, seed, extras, seconds``;
        ordered by seed, then attack, then defense setting.

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
    seeds = [seed] if isinstance(seed, (int, np.integer)) else list(seed)
    if not seeds:
        raise ValueError("seed must be an integer >= 0 or a non-empty list of them, got []")
    seeds = [check_int("seed", sd, minimum=0) for sd in seeds]
    recipes = dict(recipes or {})
    for a in recipes:
        check_choice("recipes key (attack)", a, tuple(ATTACKS))
    # one group of training runs per (task, recipe setting); attacks in their given order
    groups: dict[tuple, list[str]] = {}
    for a in names:
        cfg = recipes[a] if a in recipes else default_recipe(a)
        setting = tuple(sorted(recipe_setting(cfg, a).items()))
        groups.setdefault((ATTACKS[a][0], setting), []).append(a)
    grid = DEFAULT_DEFENSES if defenses is None else defenses
    settings = [(name, v) for name, values in grid.items() for v in values]
    for _, setting in groups:       # validate every setting before the first run
        check_defenses(grid, dict(setting)["clip"])
    items = [(fam, setting, tuple(group), sd, name, v)
             for sd in seeds for (fam, setting), group in groups.items() for name, v in settings]

    def cost(it) -> float:   # rough work of one item: the heaviest start first (load balance)
        s = dict(it[1])
        work = s["rounds"] * s["local_steps"] * s["num_clients"] * s["samples_per_client"] \
            * (s["dim"] + 2)
        return work * (1 + _LIRA_SHADOWS * ("lira" in it[2]))

    order = sorted(range(len(items)), key=lambda i: -cost(items[i]))
    if map_points is None:
        from fltheory._progress import track

        def map_points(fn, todo):
            return [fn(*it) for it in track(todo, "leakage runs", unit="run", enabled=progress)]

    done = map_points(_run_point, [items[i] for i in order])
    results: list = [None] * len(items)
    for i, pts in zip(order, done):
        results[i] = pts
    out = [p for pts in results for p in pts]
    rank = {sd: i for i, sd in enumerate(seeds)}
    pos = {a: i for i, a in enumerate(names)}
    return sorted(out, key=lambda p: (rank[p["seed"]], pos[p["attack"]]))


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
                e_eq = float(np.exp((1 - f) * np.log(eps[j - 1]) + f * np.log(eps[j])))
                # exp(log(.)) may land one ulp outside the bracket: clip to it
                rec["epsilon_equivalent"] = min(max(e_eq, float(eps[j - 1])), float(eps[j]))
                dp_acc = float((1 - f) * acc[j - 1] + f * acc[j])
                rec["dp_accuracy_at_equivalent"] = dp_acc
                rec["accuracy_gain"] = float(p["test_accuracy"]) - dp_acc
            res.append(rec)
    return res
