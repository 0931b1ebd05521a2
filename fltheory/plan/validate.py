r"""Run a device plan in the engine against the baselines (``fltheory plan --validate``).

:func:`validate_plan` turns each recipe -- the plan of :func:`fltheory.plan.plan`, the uniform
recipe at the strictest ε and the SAMPLE / SCALE heuristics (:func:`fltheory.plan.optimize.baseline`)
-- into an :class:`~fltheory.config.ExperimentConfig` with per-client settings
(``[clients]``, :mod:`fltheory.fl.per_client`) and runs it with :func:`fltheory.fl.simulate` on
a federation whose clients hold the planned numbers of records.  It reports, per recipe, the
predicted error bound :math:`J` next to the measured test accuracy and loss, and per class the
certified ε of what the engine executed (``run.client_guarantees``; checked equal to the planned
event), the measured uplink bits per participation and participation rate, and the modelled
memory and round time.  :func:`fltheory.plots.planning.plot_plan_validation` draws the figure
(pass it as ``figure``; the runner does not import the plots).

The data: the model's data set of the devices file (scikit-learn's digits, or the synthetic
logistic task), its training records dealt out at random so that every client of a class holds
the class's ``data_size`` records (an error says so when the data set is too small).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fltheory.plan.optimize import BASELINES, Plan, baseline, by_name

__all__ = ["RecipeResult", "PlanValidation", "validate_plan", "recipe_config",
           "federation_dataset", "format_validation"]

_LR = 0.5


@dataclass
class RecipeResult:
    """One recipe run in the engine (over seeds)."""

    name: str
    predicted_error_bound: float | None
    accuracy: list
    loss: list
    curve_rounds: list
    curve_accuracy: list
    classes: list
    seconds: float

    @property
    def accuracy_mean(self) -> float:
        return float(np.mean(self.accuracy)) if self.accuracy else float("nan")

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.accuracy)) if len(self.accuracy) > 1 else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "predicted_error_bound": self.predicted_error_bound,
                "accuracy": list(self.accuracy), "accuracy_mean": self.accuracy_mean,
                "accuracy_std": self.accuracy_std, "loss": list(self.loss),
                "curve_rounds": list(self.curve_rounds),
                "curve_accuracy": list(self.curve_accuracy), "classes": list(self.classes),
                "seconds": self.seconds}


@dataclass
class PlanValidation:
    """Plan vs baselines, run in the engine: what :func:`validate_plan` returns."""

    name: str
    dataset: str
    seeds: list
    quick: bool
    rounds: int
    recipes: list
    seconds: float = 0.0
    files: list = field(default_factory=list)

    def __getitem__(self, name: str) -> RecipeResult:
        return by_name(self.recipes, name)

    def to_dict(self) -> dict:
        return {"name": self.name, "dataset": self.dataset, "seeds": list(self.seeds),
                "quick": self.quick, "rounds": self.rounds, "seconds": self.seconds,
                "files": list(self.files), "recipes": [r.to_dict() for r in self.recipes]}


def federation_dataset(spec, seed: int = 0, classes=None):
    """The engine data set of ``spec``: each client of class ``c`` holds ``data_size`` records.

    ``classes`` (default: all) selects the classes that take part.
    """
    from fltheory.fl import data as _data

    classes = list(spec.classes if classes is None else classes)
    sizes = [c.data_size for c in classes for _ in range(c.count)]
    name = spec.model.dataset or "digits"
    if name == "synthetic_logistic":
        return _data.synthetic_logistic(num_clients=len(sizes), samples_per_client=sizes,
                                        seed=seed)
    if name != "digits":
        raise ValueError(f"--validate runs on the data sets the engine ships (model.dataset "
                         f"'digits' or 'synthetic_logistic'), got {name!r}")
    full = _data.digits(num_clients=1, seed=seed)
    x, y = full.x[0], full.y[0]
    need = sum(sizes)
    if need > x.shape[0]:
        raise ValueError(f"the devices file's clients hold {need} records in all, more than the "
                         f"{x.shape[0]} training records of digits; lower the data_size or "
                         "count values")
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    xs, ys, a = [], [], 0
    for m in sizes:
        idx = perm[a:a + m]
        xs.append(x[idx])
        ys.append(y[idx])
        a += m
    return _data.FederatedDataset(xs, ys, full.x_test, full.y_test, task=full.task,
                                  num_classes=full.num_classes, name="digits")


def recipe_config(pl: Plan, *, seed: int = 0, eval_every: int | None = None,
                  lr: float = _LR) -> tuple[dict, list]:
    """The engine configuration (a dict) of a plan, and the classes that take part.

    Every client of a feasible class gets its class's participation rate, batch rate
    (``batch_size / data_size``), noise multiplier, local steps, pruning ratio and QSGD levels;
    infeasible classes do not take part.
    """
    spec = pl.spec
    live = [(cls, cp) for cls, cp in zip(spec.classes, pl.classes) if cp.feasible]
    if not live:
        raise ValueError(f"{pl.mode}: no device class is feasible; nothing to run")
    per = {k: [] for k in ("client_rate", "batch_rate", "noise_multiplier", "local_steps",
                           "prune_ratio", "qsgd_levels", "delta", "group")}
    for cls, cp in live:
        s = cp.settings
        for _ in range(cls.count):
            per["client_rate"].append(float(s["participation"]))
            per["batch_rate"].append(float(s["batch_size"]) / cls.data_size)
            per["noise_multiplier"].append(float(s["noise_multiplier"]))
            per["local_steps"].append(int(s["local_steps"]))
            per["prune_ratio"].append(float(s["prune_ratio"]))
            per["qsgd_levels"].append(int(s["quantizer_levels"]))
            per["delta"].append(float(cls.delta))
            per["group"].append(cls.name)
    n = len(per["group"])
    T = spec.rounds
    cfg = {"name": f"{spec.name}-{pl.mode}", "seed": int(seed),
           "data": {"name": spec.model.dataset or "digits", "num_clients": n},
           "model": {"name": spec.model.name or "logreg", "hidden": spec.model.hidden},
           "training": {"rounds": T, "lr": lr, "batch_sampling": "poisson",
                        "client_sampling": "poisson", "client_rate": 1.0},
           "privacy": {"level": "record", "clip": spec.clip, "batch_rate": per["batch_rate"][0],
                       "noise_multiplier": per["noise_multiplier"][0],
                       "delta": min(per["delta"])},
           "clients": per,
           "run": {"progress": False, "eval_every": eval_every or T}}
    return cfg, [cls for cls, _ in live]


def _run_point(pl: Plan, seed: int, eval_every, lr) -> dict:
    """One recipe and seed in the engine (run by :func:`fltheory.sweep.run_points`)."""
    from fltheory.accounting import local_dp_sgd
    from fltheory.config import ExperimentConfig
    from fltheory.fl import simulate

    t0 = time.perf_counter()
    spec = pl.spec
    cfg_dict, live = recipe_config(pl, seed=seed, eval_every=eval_every, lr=lr)
    cfg = ExperimentConfig.from_dict(cfg_dict)
    ds = federation_dataset(spec, seed=seed, classes=live)
    run = simulate(cfg, dataset=ds)
    a = run.metric("accuracy")
    keep = ~np.isnan(a)
    group = np.array(cfg.clients.group)
    bits = np.asarray(run.info["client_bits_total"], float)
    parts = np.asarray(run.info["client_rounds"], float)
    classes = {}
    for cls in live:
        cp = pl[cls.name]
        idx = np.flatnonzero(group == cls.name)
        s = cp.settings
        planned = local_dp_sgd(s["participation"], s["batch_size"] / cls.data_size,
                               s["noise_multiplier"], s["local_steps"], spec.rounds)
        if any(run.client_events[int(i)] != planned for i in idx):
            raise AssertionError(f"{pl.mode}/{cls.name}: the engine executed another "
                                 "mechanism than the plan accounted")
        classes[cls.name] = {
            "epsilon": max(run.client_guarantees[int(i)].epsilon for i in idx),
            "bits": float(bits[idx].sum() / max(parts[idx].sum(), 1.0)),
            "participation": float(parts[idx].mean() / spec.rounds)}
    return {"accuracy": float(run.last("accuracy")), "loss": float(run.last("loss")),
            "rounds": run.metric("round")[keep].tolist(), "curve": a[keep].tolist(),
            "classes": classes, "seconds": time.perf_counter() - t0}


def _recipe_result(pl: Plan, points: list) -> RecipeResult:
    """A recipe's result from its points (one per seed, in the order of the seeds)."""
    spec = pl.spec
    per_class: dict = {}
    for pt in points:
        for name, m in pt["classes"].items():
            row = per_class.setdefault(name, {"bits": [], "participation": []})
            row["epsilon"] = m["epsilon"]          # the same event for every seed
            row["bits"].append(m["bits"])
            row["participation"].append(m["participation"])
    classes = []
    for cls, cp in zip(spec.classes, pl.classes):
        row = {"name": cls.name, "feasible": cp.feasible, "epsilon_target": cls.epsilon,
               "epsilon_planned": cp.epsilon, "memory_bytes": cp.memory_bytes,
               "memory_budget_bytes": cp.memory_budget_bytes,
               "round_seconds": cp.round_seconds, "deadline_seconds": cp.deadline_seconds,
               "uplink_bits_planned": cp.uplink_bits,
               "uplink_budget_bits": cp.uplink_budget_bits,
               "participation_planned": cp.settings.get("participation")}
        m = per_class.get(cls.name)
        if m is not None:
            row.update(epsilon_run=m["epsilon"], uplink_bits_measured=float(np.mean(m["bits"])),
                       participation_measured=float(np.mean(m["participation"])))
        classes.append(row)
    curves = [np.asarray(pt["curve"], float) for pt in points]
    n = min(len(c) for c in curves)
    return RecipeResult(name=pl.mode, predicted_error_bound=pl.objective.get("J"),
                        accuracy=[pt["accuracy"] for pt in points],
                        loss=[pt["loss"] for pt in points],
                        curve_rounds=points[-1]["rounds"][:n],
                        curve_accuracy=np.mean([c[:n] for c in curves], 0).tolist(),
                        classes=classes, seconds=float(sum(pt["seconds"] for pt in points)))


def validate_plan(pl: Plan, *, quick: bool = False, seeds=None, out_dir=None,
                  lr: float = _LR, figure=None, jobs: int = 1, backend: str | None = None,
                  scheduler: str | None = None, client=None, points_dir=None,
                  resume: bool = True) -> PlanValidation:
    """Run ``pl`` and the baselines (uniform, SAMPLE, SCALE) in the engine.

    Parameters
    ----------
    pl : Plan
        The plan (:func:`fltheory.plan.plan`).
    quick : bool
        One seed and 5 evaluations (default: 3 seeds, 10 evaluations).
    seeds : int, optional
        Seeds per recipe (overrides ``quick``'s default).
    out_dir : path, optional
        Where ``<name>-validation.json`` (and, with ``figure``, the figure: PNG + PDF) are
        written.
    lr : float
        The clients' learning rate in the engine.
    figure : callable, optional
        A drawing function ``figure(result, stem) -> paths``, e.g.
        :func:`fltheory.plots.planning.plot_plan_validation` (what ``fltheory plan --validate
        --out`` uses).
    jobs, backend, scheduler, client, points_dir, resume : optional
        Where the (recipe, seed) points run and where each is saved
        (:func:`fltheory.sweep.run_points`): serial by default, ``jobs`` joblib processes, or a
        Dask cluster; with ``points_dir`` and ``resume`` an interrupted validation resumes.

    Returns
    -------
    PlanValidation
    """
    from fltheory._checks import check_drawer, check_int, check_positive
    from fltheory.sweep import check_executor, run_points

    t0 = time.perf_counter()
    n_seeds = check_int("seeds", seeds, minimum=1) if seeds is not None else (1 if quick else 3)
    lr = check_positive("lr", lr)
    figure = check_drawer("figure", figure, "fltheory.plots.planning.plot_plan_validation")
    check_executor(backend, jobs, scheduler)
    T = pl.spec.rounds
    eval_every = max(1, T // (5 if quick else 10))
    recipes = [r for r in [pl] + [baseline(pl.spec, k) for k in BASELINES]
               if any(c.feasible for c in r.classes)]
    items = [(r, s, eval_every, lr) for r in recipes for s in range(n_seeds)]
    ids = [{"spec": r.spec.to_dict(), "config": recipe_config(r, seed=s, eval_every=e,
                                                              lr=lr_)[0]}
           for r, s, e, lr_ in items]
    points = run_points(_run_point, items, identities=ids,
                        labels=[f"plan.{pl.spec.name}.{r.mode}.seed{s}" for r, s, _, _ in items],
                        backend=backend, jobs=jobs, scheduler=scheduler, client=client,
                        points_dir=points_dir, resume=resume, desc="recipes")[0]
    results = [_recipe_result(r, points[i * n_seeds:(i + 1) * n_seeds])
               for i, r in enumerate(recipes)]
    res = PlanValidation(name=pl.spec.name, dataset=pl.spec.model.dataset or "digits",
                         seeds=list(range(n_seeds)), quick=quick, rounds=T, recipes=results,
                         seconds=time.perf_counter() - t0)
    if out_dir is not None:
        from fltheory._io import write_json_atomic

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{pl.spec.name}-validation"
        res.files = [] if figure is None else list(figure(res, stem))
        res.files.insert(0, write_json_atomic(stem.with_suffix(".json"), res.to_dict()))
    return res


def format_validation(res: PlanValidation) -> list[str]:
    """Text lines of the validation table."""
    lines = [f"validation in the engine ({res.dataset}, {res.rounds} rounds, "
             f"{len(res.seeds)} seed(s), {res.seconds:.1f} s):",
             f"  {'recipe':<8} {'error bound J':>13} {'accuracy':>16} {'loss':>8}"]
    for r in res.recipes:
        j = "-" if r.predicted_error_bound is None else f"{r.predicted_error_bound:.4g}"
        lines.append(f"  {r.name:<8} {j:>13} {r.accuracy_mean:>9.4f} ± {r.accuracy_std:.4f} "
                     f"{np.mean(r.loss):>8.4f}")
    lines.append("  per class: certified epsilon of the run / target, uplink bits per "
                 "participation (measured / budget), participation (measured / planned)")
    for r in res.recipes:
        for c in r.classes:
            if "epsilon_run" not in c:
                lines.append(f"    {r.name:<8} {c['name']:<10} not run (infeasible)")
                continue
            lines.append(f"    {r.name:<8} {c['name']:<10} eps {c['epsilon_run']:.4g}/"
                         f"{c['epsilon_target']:g}  bits {c['uplink_bits_measured']:.4g}/"
                         f"{c['uplink_budget_bits']:.4g}  p {c['participation_measured']:.3g}/"
                         f"{c['participation_planned']:.3g}")
    for f in res.files:
        lines.append(f"  wrote {f}")
    return lines
