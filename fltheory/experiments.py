r"""Experiment runners: Byzantine attacks, audits against the accountant, gradient inversion.

Each figure is one experiment: a base recipe (an :class:`~fltheory.config.ExperimentConfig`, the
TOML file of ``experiments/configs/`` that ``fltheory run`` runs as it is) and the grid the figure
varies around it, defined here:

* ``byzantine-attacks`` (figure 4, ``fig4_byzantine.toml``: digits, 20 clients, 2 label
  flippers, FedSGD, CWTM): attacks {label flip, ALIE (z = 1), IPM (τ = 10), sign flip, backdoor}
  × rules {mean, CWMed, CWTM, GM, Krum, NNM∘CWTM} × seeds, plus the run without attack;
* ``audit-vs-theory`` (figure 5, ``fig5_audit.toml``: full-batch record-level DP-SGD on
  synthetic data, T = 4): noise multipliers z ∈ {0.5, …, 8} × {GDP audit with 2,000 runs,
  one-run audit with 1,000 canaries, GDP audit of the half-noise bug};
* ``gradient-inversion`` (figure 6, ``fig6_inversion.toml``: digits, MLP with 32 hidden units):
  defences {none, DP z ∈ {0.01, 0.1}, top-k 10 %, rand-k 10 %, DP + rand-k} × {analytic, iDLG}
  × digits, and PSNR against z.

:func:`run_experiment` runs the grid and returns JSON-ready results;
:func:`fltheory.plots.experiments.draw_experiment` draws them (PDF + PNG, atomically);
:func:`fltheory.figures.experiment_figure` does both and writes the results as ``<stem>.json``
next to the figure, from which ``fltheory plot NAME --from FILE`` redraws.
``quick=True`` is the reduced version the test suite runs.

Examples
--------
>>> from fltheory.experiments import EXPERIMENTS, default_config
>>> sorted(EXPERIMENTS)
['audit-vs-theory', 'byzantine-attacks', 'gradient-inversion']
>>> default_config("byzantine-attacks").byzantine.num_byzantine
2
"""


from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np


if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike, ExperimentConfig

__all__ = ["EXPERIMENTS", "Experiment", "default_config", "run_experiment",
           "load_results", "FIG4_ATTACKS", "FIG4_AGGREGATORS",
           "FIG5_NOISE", "FIG6_DEFENCES", "run_byzantine_attacks", "run_audit_vs_theory",
           "run_gradient_inversion"]

# --------------------------------------------------------------------------------------------------
# Grids around the base recipes (the base recipes are fltheory/recipes/fig*.toml, linked from
# experiments/configs/)
# --------------------------------------------------------------------------------------------------
#: Figure 4's attacks: (engine name, parameters, label).
FIG4_ATTACKS = (("label_flip", {}, "label flip"), ("alie", {"z": 1.0}, "ALIE\n(z = 1)"),
                ("ipm", {"tau": 10.0}, "IPM\n(τ = 10)"), ("sign_flip", {}, "sign flip"),
                ("backdoor", {}, "backdoor"))
#: Figure 4's aggregation rules.
FIG4_AGGREGATORS = ("mean", "cwmed", "cwtm", "gm", "krum", "nnm+cwtm")
#: Figure 5's noise multipliers.
FIG5_NOISE = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0)
#: Figure 6's defences (besides none): keyword dictionaries of the inversion attack; ``k`` is a
#: fraction of the model dimension, ``clip`` defaults to ``privacy.clip``.
FIG6_DEFENCES = ({"noise_multiplier": 0.01}, {"noise_multiplier": 0.1},
                 {"compressor": "topk", "k": 0.1}, {"compressor": "randk", "k": 0.1},
                 {"noise_multiplier": 0.01, "compressor": "randk", "k": 0.1})


@dataclass(frozen=True)
class Experiment:
    """One experiment figure: its TOML file, built-in recipe name (:func:`fltheory.config.recipe`),
    grid runner and the file stem of its results and figure (drawn by
    :func:`fltheory.plots.experiments.draw_experiment`)."""

    name: str
    config_file: str
    recipe: str
    run: Callable[..., dict]
    stem: str
    description: str


def default_config(name: str):
    """The base :class:`~fltheory.config.ExperimentConfig` of an experiment figure.

    Examples
    --------
    >>> default_config("audit-vs-theory").privacy.batch_rate
    1.0
    """
    from fltheory.config import recipe

    return recipe(_experiment(name).recipe)


def _experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {', '.join(sorted(EXPERIMENTS))}, got {name!r}")
    return EXPERIMENTS[name]


def _seeds(seeds: Any, quick: bool) -> list[int]:
    from fltheory.sweep import parse_seeds

    if seeds is None:
        return [0] if quick else [0, 1, 2, 3, 4]
    return parse_seeds(seeds)


def _points(fn: Callable, items: list, jobs: int, executor: dict, labels: list[str],
            desc: str = "runs") -> list:
    """Run the grid's points through :func:`fltheory.sweep.run_points` (``executor``: its
    ``backend``, ``scheduler``, ``client``, ``points_dir`` and ``resume``)."""
    from fltheory.sweep import run_points

    return run_points(fn, items, labels=labels, jobs=jobs, desc=desc, **executor)[0]



# --------------------------------------------------------------------------------------------------
# Figure 4: Byzantine attacks
# --------------------------------------------------------------------------------------------------
def _fig4_one(cfg_dict: dict, seed: int, attack: str | None, params: dict, agg: str) -> dict:
    from fltheory.config import ExperimentConfig
    from fltheory.fl import simulate

    cfg = ExperimentConfig.from_dict(cfg_dict).replace(seed=seed, run__progress=False,
                                                       run__checkpoint_every=0)
    if attack is None:
        cfg = cfg.replace(byzantine__num_byzantine=0, byzantine__attack="none",
                          byzantine__attack_params={}, byzantine__aggregator=agg)
    else:
        cfg = cfg.replace(byzantine__attack=attack, byzantine__attack_params=params,
                          byzantine__aggregator=agg)
    run = simulate(cfg, progress=False)
    ka = run.metric("kappa_empirical")
    return {"accuracy": [m.get("accuracy") for m in run.metrics],
            "final_accuracy": run.last("accuracy"), "final_loss": run.last("loss"),
            "backdoor_success": run.last("backdoor_success"),
            "max_kappa_empirical": None if np.all(np.isnan(ka)) else float(np.nanmax(ka)),
            "kappa_name": run.info.get("kappa_name"), "nnm": run.info.get("nnm")}


def run_byzantine_attacks(config: ConfigLike | None = None, *, seeds: Any = None,
                          quick: bool = False, jobs: int = 1, **executor) -> dict:
    """Figure 4's grid: every attack against every rule, every seed, plus the clean run.

    ``quick``: 3 rounds, seed 0, label flip and backdoor against mean and CWTM.  ``executor``:
    the options of :func:`fltheory.sweep.run_points` (backend, scheduler, points_dir, resume).
    """
    from fltheory.bounds import kappa
    from fltheory.config import load_config

    t0 = time.perf_counter()
    cfg = load_config(default_config("byzantine-attacks") if config is None else config)
    if quick:
        cfg = cfg.replace(training__rounds=min(cfg.training.rounds, 3))
    seeds = _seeds(seeds, quick)
    attacks = [a for a in FIG4_ATTACKS if not quick or a[0] in ("label_flip", "backdoor")]
    aggs = ["mean", "cwtm"] if quick else list(FIG4_AGGREGATORS)
    if cfg.byzantine.aggregator not in aggs:
        aggs.append(cfg.byzantine.aggregator)
    base = cfg.to_dict()
    items = [(base, s, None, {}, "mean") for s in seeds]
    items += [(base, s, a, p, g) for (a, p, _) in attacks for g in aggs for s in seeds]
    labels = [f"byzantine-attacks.{a or 'clean'}.{g}.seed{sd}" for _, sd, a, _, g in items]
    out = _points(_fig4_one, items, jobs, executor, labels)
    clean = out[: len(seeds)]
    grid = out[len(seeds):]
    res: dict = {"experiment": "byzantine-attacks", "config": base, "seeds": seeds,
                 "aggregators": aggs, "robust": cfg.byzantine.aggregator,
                 "attacks": [{"name": a, "params": p, "label": lab} for a, p, lab in attacks],
                 "clean": {"accuracy": [r["accuracy"] for r in clean],
                           "final": [r["final_accuracy"] for r in clean]},
                 "runs": {}}
    i = 0
    n, f = cfg.data.num_clients, cfg.byzantine.num_byzantine
    for a, _, lab in attacks:
        res["runs"][a] = {}
        for g in aggs:
            rs = grid[i: i + len(seeds)]
            i += len(seeds)
            kn, nnm = rs[0]["kappa_name"], rs[0]["nnm"]
            res["runs"][a][g] = {
                "accuracy": [r["accuracy"] for r in rs],
                "final": [r["final_accuracy"] for r in rs],
                "loss": [r["final_loss"] for r in rs],
                "backdoor_success": [r["backdoor_success"] for r in rs],
                "max_kappa_empirical": max((r["max_kappa_empirical"] or 0.0) for r in rs),
                "kappa": None if kn is None or n <= 2 * f else float(kappa(kn, n=n, f=f,
                                                                           nnm=bool(nnm)))}
    res["seconds"] = time.perf_counter() - t0
    return res



# --------------------------------------------------------------------------------------------------
# Figure 5: audits vs the accountant
# --------------------------------------------------------------------------------------------------
def _fig5_one(cfg_dict: dict, z: float, runs_gdp: int, runs_one: int, method: str,
              seed: int) -> list:
    """Figure 5 at one noise multiplier: GDP audit, its half-noise bug and the one-run audit."""
    from fltheory.audit import canary_audit
    from fltheory.config import ExperimentConfig

    c = ExperimentConfig.from_dict(cfg_dict).replace(privacy__noise_multiplier=z)
    good = canary_audit(c, canaries=runs_gdp, method=method, seed=seed)
    bad = canary_audit(c, canaries=runs_gdp, method=method, noise_scale=0.5, seed=seed)
    single = canary_audit(c, canaries=runs_one, method="one_run", seed=seed)
    return [good.to_dict(), bad.to_dict(), single.to_dict()]


def run_audit_vs_theory(config: ConfigLike | None = None, *, seeds: Any = None,
                        quick: bool = False, jobs: int = 1, noise: Any = None,
                        **executor) -> dict:
    """Figure 5's grid: for each noise multiplier, the GDP audit (correct mechanism and half
    noise) and the one-run audit of the base recipe, beside the accountant's ε.

    ``quick``: z ∈ {1, 4}, 400 runs / canaries.  ``seeds``: the first seed seeds the audits.
    """
    from fltheory.config import load_config

    t0 = time.perf_counter()
    cfg = load_config(default_config("audit-vs-theory") if config is None else config)
    if cfg.privacy.level == "none":
        raise ValueError("config must have privacy.level 'record' or 'client' for the audit "
                         "figure, got 'none'")
    seed = _seeds(seeds, quick)[0]
    zs = ([1.0, 4.0] if quick else list(FIG5_NOISE)) if noise is None else [float(z) for z in
                                                                            noise]
    runs_gdp = 400 if quick else 2000
    runs_one = 400 if quick else 1000
    full = _is_full_batch(cfg)
    method = "gdp" if full else "hypothesis_test"

    base = cfg.to_dict()
    rows = _points(_fig5_one, [(base, z, runs_gdp, runs_one, method, seed) for z in zs], jobs,
                   executor, [f"audit-vs-theory.z{z:g}.seed{seed}" for z in zs])
    steps = (cfg.training.local_steps * cfg.training.rounds if cfg.privacy.level == "record"
             else cfg.training.rounds)
    res = {"experiment": "audit-vs-theory", "config": cfg.to_dict(), "seed": seed,
           "noise_multipliers": zs, "steps": steps, "method": method, "full_batch": full,
           "runs": runs_gdp, "one_run_canaries": runs_one, "delta": cfg.privacy.delta,
           "audit": [r[0] for r in rows], "half_noise": [r[1] for r in rows],
           "one_run": [r[2] for r in rows], "seconds": time.perf_counter() - t0}
    return res


def _is_full_batch(cfg: ExperimentConfig) -> bool:
    p, t = cfg.privacy, cfg.training
    if p.level == "record":
        return p.batch_rate == 1.0 and t.effective_client_rate == 1.0
    return t.effective_client_rate == 1.0



# --------------------------------------------------------------------------------------------------
# Figure 6: gradient inversion
# --------------------------------------------------------------------------------------------------
def _fig6_defence(spec: dict, clip: float, d: int) -> dict:
    from fltheory.fl import compressors

    kw: dict = {}
    if spec.get("noise_multiplier"):
        kw["clip"] = float(spec.get("clip", clip))
        kw["noise_multiplier"] = float(spec["noise_multiplier"])
    if spec.get("compressor"):
        k = spec.get("k", 0.1)
        k = max(1, int(round(k * d))) if isinstance(k, float) and k <= 1 else int(k)
        kw["compressor"] = compressors.get(spec["compressor"], k=k)
    return kw


_FIG6_CACHE: dict = {}


def _fig6_target(cfg_dict: dict) -> tuple:
    """Dataset, model and initial parameters of figure 6's recipe (built once per process)."""
    import json

    key = json.dumps(cfg_dict, sort_keys=True)
    if key not in _FIG6_CACHE:
        from fltheory.config import ExperimentConfig
        from fltheory.fl import models as _models
        from fltheory.fl.simulate import build_dataset, build_model

        cfg = ExperimentConfig.from_dict(cfg_dict)
        ds = build_dataset(cfg)
        if cfg.model.name == "mlp":
            act = getattr(cfg.model, "activation", None) or "tanh"
            model = _models.mlp(ds.num_features, ds.num_classes, hidden=(cfg.model.hidden,),
                                activation=act)
        else:
            model = build_model(cfg, ds)
        _FIG6_CACHE.clear()
        _FIG6_CACHE[key] = (ds, model, model.init(seed=cfg.seed))
    return _FIG6_CACHE[key]


def _fig6_one(cfg_dict: dict, i: int, spec: dict, method: str, steps: int) -> dict:
    """One inversion attack of figure 6: test digit ``i``, defence ``spec``, ``method``."""
    from fltheory.audit.inversion import invert_gradient

    ds, model, params = _fig6_target(cfg_dict)
    kw = _fig6_defence(spec, float(cfg_dict["privacy"]["clip"]), model.num_params)
    x, y = ds.x_test[i], int(ds.y_test[i])
    seed = int(cfg_dict["seed"])
    r = invert_gradient(model, params, x, y, method=method, steps=steps, seed=seed, **kw)
    out = r.to_dict()
    out.update(example=i, x_true=np.asarray(r.x_true).ravel().tolist(),
               x_rec=np.asarray(r.x_rec).ravel().tolist(), psnr_value=r.psnr)
    return out


def _fig6_label(i: int, spec: dict, method: str) -> str:
    parts = [f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in sorted(spec.items())]
    return f"gradient-inversion.ex{i}.{'-'.join(parts) or 'none'}.{method}"


def run_gradient_inversion(config: ConfigLike | None = None, *, seeds: Any = None,
                           quick: bool = False, jobs: int = 1, examples: Any = None,
                           **executor) -> dict:
    """Figure 6: every defence against the analytic and iDLG attacks on digits, and PSNR vs z.

    The attacked update is one client's gradient of one test digit at the initial global model
    (round 0) of the base recipe's architecture: an MLP (``model.hidden`` units) or logistic
    regression.  MLP units are tanh, the twice-differentiable activation gradient matching
    needs (a ReLU network leaves L-BFGS in local minima); a ``model.activation`` entry of the
    configuration, where the configuration has one, overrides it.  ``quick``: one digit, the
    analytic attack, two defences, no curve.
    """
    from fltheory.config import load_config

    t0 = time.perf_counter()
    cfg = load_config(default_config("gradient-inversion") if config is None else config)
    seed = _seeds(seeds, quick)[0]
    cfg = cfg.replace(seed=seed)
    base = cfg.to_dict()
    _, model, _ = _fig6_target(base)
    where = "initial global model (round 0)"
    d = model.num_params
    idx = ([0] if quick else [0, 1]) if examples is None else [int(i) for i in examples]
    methods = ("analytic",) if quick else ("analytic", "idlg")
    specs = [{}] + list(FIG6_DEFENCES[:1] + FIG6_DEFENCES[3:4] if quick else FIG6_DEFENCES)
    steps = 30

    def run(items: list) -> list:
        return _points(_fig6_one, [(base, i, sp, m, steps) for i, sp, m in items], jobs,
                       executor, [_fig6_label(*it) for it in items])

    grid = run([(i, s, m) for i in idx for s in specs for m in methods])
    curve = None
    if not quick:
        zs = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
        cidx = list(range(6))
        names = ("topk", "randk")
        citems = [(i, {"noise_multiplier": z}, m) for z in zs for m in methods for i in cidx]
        citems += [(i, {"compressor": name, "k": 0.1}, m) for name in names for m in methods
                   for i in cidx]
        cres = run(citems)
        curve = {"z": zs, "examples": cidx, "psnr": {}}
        k = 0
        for z in zs:
            for m in methods:
                curve["psnr"].setdefault(m, []).append(
                    [r["psnr_value"] for r in cres[k: k + len(cidx)]])
                k += len(cidx)
        curve["compression"] = {}
        for name in names:
            for m in methods:
                curve["compression"][f"{name}:{m}"] = [r["psnr_value"]
                                                       for r in cres[k: k + len(cidx)]]
                k += len(cidx)
    return {"experiment": "gradient-inversion", "config": cfg.to_dict(), "seed": seed,
            "model": model.name, "num_params": d, "attacked_at": where, "examples": idx,
            "methods": list(methods), "defences": specs, "image_shape": [8, 8],
            "results": grid, "curve": curve, "seconds": time.perf_counter() - t0}



# --------------------------------------------------------------------------------------------------
# Registry and drivers
# --------------------------------------------------------------------------------------------------
EXPERIMENTS: dict[str, Experiment] = {
    "byzantine-attacks": Experiment(
        "byzantine-attacks", "fig4_byzantine.toml", "fig4_byzantine", run_byzantine_attacks,
        "byzantine_attacks",
        "accuracy under 10 % label-flipping clients with and without robust aggregation, "
        "plus ALIE, IPM, sign flipping and a backdoor"),
    "audit-vs-theory": Experiment(
        "audit-vs-theory", "fig5_audit.toml", "fig5_audit", run_audit_vs_theory,
        "audit_vs_theory", "audited epsilon lower bound and mu_hat vs theoretical epsilon "
                           "across noise levels"),
    "gradient-inversion": Experiment(
        "gradient-inversion", "fig6_inversion.toml", "fig6_inversion", run_gradient_inversion,
        "gradient_inversion",
        "gradient inversion reconstructions with and without DP noise / compression"),
}


def run_experiment(name: str, config: ConfigLike | None = None, *, seeds: Any = None,
                   quick: bool = False, jobs: int = 1, backend: str | None = None,
                   scheduler: str | None = None, client: Any = None, points_dir: Any = None, resume: bool = True,
                   **kw) -> dict:
    """Run an experiment's grid; JSON-ready results.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    config : ExperimentConfig, dict or path, optional
        Base recipe (default: the experiment's own, as in ``experiments/configs``).
    seeds : str or iterable of int, optional
        ``"0..4"`` etc. (default 0..4; quick: 0).
    quick : bool
        The reduced version (seconds; the test suite's).
    jobs : int
        Parallel points (joblib processes, or local Dask workers).
    backend : str, optional
        Where the points run (:func:`fltheory.sweep.run_points`): ``"serial"``, ``"joblib"``,
        ``"dask"`` or another joblib backend; default serial for ``jobs=1``, else joblib.
    scheduler : str, optional
        With ``backend="dask"``: the scheduler's address.
    client : dask.distributed.Client, optional
        With ``backend="dask"``: an existing client.
    points_dir : str or path, optional
        One file per finished point here; with ``resume``, the points already there with the
        same configuration hash are loaded instead of run (an interrupted grid resumes).
    resume : bool
        See ``points_dir``.

    Examples
    --------
    >>> res = run_experiment("audit-vs-theory", quick=True, noise=[4.0],
    ...                      backend="serial")                          # doctest: +SKIP
    >>> res["noise_multipliers"]                                        # doctest: +SKIP
    [4.0]
    """
    from fltheory.sweep import check_executor

    check_executor(backend, jobs, scheduler)
    return _experiment(name).run(config, seeds=seeds, quick=quick, jobs=jobs, backend=backend,
                                 scheduler=scheduler, client=client, points_dir=points_dir,
                                 resume=resume, **kw)


def load_results(path: Any) -> dict:
    """Results JSON written by :func:`experiment_figure`."""
    from fltheory._io import read_json

    return read_json(path)


# Moved to the drawing layers (plots draw result objects; the runners never import them):
# ``draw_experiment`` to fltheory.plots.experiments, ``experiment_figure`` (run, then draw) to
# fltheory.figures.  The old names keep working with a DeprecationWarning.
_MOVED = {"draw_experiment": "fltheory.plots.experiments",
          "experiment_figure": "fltheory.figures"}


def __getattr__(name: str) -> Any:
    from fltheory._moved import moved

    return moved(__name__, name, _MOVED)
