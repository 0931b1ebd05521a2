r"""Experiment figures: Byzantine attacks, audits against the accountant, gradient inversion.

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

:func:`run_experiment` runs the grid and returns JSON-ready results; :func:`draw_experiment`
draws them (PDF + PNG, atomically); :func:`experiment_figure` does both and writes the results as
``<stem>.json`` next to the figure, from which ``fltheory plot NAME --from FILE`` redraws.
``quick=True`` is the reduced version the test suite runs.

Examples
--------
>>> from fltheory.plots.experiments import EXPERIMENTS, default_config
>>> sorted(EXPERIMENTS)
['audit-vs-theory', 'byzantine-attacks', 'gradient-inversion']
>>> default_config("byzantine-attacks").byzantine.num_byzantine
2
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fltheory.plots._common import paper_style, save_figure

__all__ = ["EXPERIMENTS", "Experiment", "default_config", "run_experiment", "draw_experiment",
           "experiment_figure", "load_results", "draw_runs", "FIG4_ATTACKS", "FIG4_AGGREGATORS",
           "FIG5_NOISE", "FIG6_DEFENCES"]

# --------------------------------------------------------------------------------------------------
# Base recipes (identical to experiments/configs/fig*.toml; a test keeps them in sync)
# --------------------------------------------------------------------------------------------------
_FIG4 = {
    "name": "fig4-byzantine-attacks", "seed": 0,
    "data": {"name": "digits", "num_clients": 20, "partition": "iid"},
    "model": {"name": "logreg"},
    "training": {"algorithm": "fedsgd", "rounds": 20, "lr": 2.0},
    "byzantine": {"num_byzantine": 2, "attack": "label_flip", "aggregator": "cwtm"},
    "run": {"eval_every": 1},
}
_FIG5 = {
    "name": "fig5-audit-vs-theory", "seed": 0,
    "data": {"name": "synthetic_logistic", "num_clients": 10, "samples_per_client": 100,
             "dim": 10},
    "model": {"name": "logreg"},
    "training": {"algorithm": "fedavg", "rounds": 4, "local_steps": 1, "lr": 1.0,
                 "batch_sampling": "poisson"},
    "privacy": {"level": "record", "noise_multiplier": 2.0, "clip": 1.0, "batch_rate": 1.0,
                "delta": 1e-5},
}
_FIG6 = {
    "name": "fig6-gradient-inversion", "seed": 0,
    "data": {"name": "digits", "num_clients": 20, "partition": "iid"},
    "model": {"name": "mlp", "hidden": 32},
    "training": {"algorithm": "fedavg", "rounds": 20, "local_steps": 2, "lr": 0.5},
    "privacy": {"level": "none", "clip": 1.0},
}

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

_LABELS = {"mean": "mean", "cwmed": "CWMed", "cwtm": "CWTM", "gm": "GM", "krum": "Krum",
           "nnm+cwtm": "NNM∘CWTM", "multikrum": "MultiKrum"}


@dataclass(frozen=True)
class Experiment:
    """One experiment figure: its base recipe, TOML file, grid runner and drawer."""

    name: str
    config_file: str
    base: dict
    run: Callable[..., dict]
    draw: Callable[[dict, Path], list]
    stem: str
    description: str


def default_config(name: str):
    """The base :class:`~fltheory.config.ExperimentConfig` of an experiment figure.

    Examples
    --------
    >>> default_config("audit-vs-theory").privacy.batch_rate
    1.0
    """
    from fltheory.config import ExperimentConfig

    return ExperimentConfig.from_dict(_experiment(name).base)


def _experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {', '.join(sorted(EXPERIMENTS))}, got {name!r}")
    return EXPERIMENTS[name]


def _seeds(seeds: Any, quick: bool) -> list[int]:
    from fltheory.sweep import parse_seeds

    if seeds is None:
        return [0] if quick else [0, 1, 2, 3, 4]
    return parse_seeds(seeds)


def _parallel(fn: Callable, items: list, jobs: int, desc: str = "runs") -> list:
    from fltheory._progress import parallel_map

    return parallel_map(fn, items, jobs, desc)


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


def run_byzantine_attacks(config: Any = None, *, seeds: Any = None, quick: bool = False,
                          jobs: int = 1) -> dict:
    """Figure 4's grid: every attack against every rule, every seed, plus the clean run.

    ``quick``: 3 rounds, seed 0, label flip and backdoor against mean and CWTM.
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
    out = _parallel(_fig4_one, items, jobs)
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


def _mean_sd(rows: list) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([[np.nan if v is None else float(v) for v in r] for r in rows], dtype=float)
    return np.nanmean(a, axis=0), (np.nanstd(a, axis=0, ddof=1) if a.shape[0] > 1
                                   else np.zeros(a.shape[1]))


def draw_byzantine_attacks(res: dict, stem: Path) -> list[str]:
    """Three panels: accuracy vs round under label flipping, final accuracy per attack and
    rule, backdoor success per rule."""
    import matplotlib.pyplot as plt

    aggs = res["aggregators"]
    attacks = res["attacks"]
    n = res["config"]["data"]["num_clients"]
    f = res["config"]["byzantine"]["num_byzantine"]
    palette = {"mean": "#cf222e", "cwmed": "#8250df", "cwtm": "#1a7f37", "gm": "#bf8700",
               "krum": "#6e7781", "nnm+cwtm": "#0969da", "multikrum": "#57606a"}
    seeds = res["seeds"]
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.1),
                                 gridspec_kw={"width_ratios": [1.0, 1.6, 0.9]})
        ax = axes[0]
        cm, cs = _mean_sd(res["clean"]["accuracy"])
        x = np.arange(1, cm.size + 1)
        ax.plot(x, cm, color="black", ls="--", lw=1.2, label="no attack (mean)")
        lf = res["runs"].get("label_flip", {})
        lows = [float(np.nanmin(cm))]
        for g in [g for g in ("mean", "cwtm", "nnm+cwtm", "cwmed") if g in lf]:
            m, s = _mean_sd(lf[g]["accuracy"])
            lows.append(float(np.nanmin(m - s)))
            ax.plot(x, m, color=palette.get(g), label=_LABELS.get(g, g))
            if len(seeds) > 1:
                ax.fill_between(x, m - s, m + s, color=palette.get(g), alpha=0.15, lw=0)
        ax.set_xlabel("round")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"(a) label flipping, {f} of {n} clients")
        ax.set_ylim(max(0.0, min(lows) - 0.03), 1.0)
        ax.legend(loc="lower right", frameon=False, fontsize=7)

        ax = axes[1]
        width = 0.8 / len(aggs)
        xs = np.arange(len(attacks))
        for j, g in enumerate(aggs):
            means, sds = [], []
            for a in attacks:
                vals = np.array([np.nan if v is None else v for v in res["runs"][a["name"]][g]
                                 ["final"]], dtype=float)
                means.append(np.nanmean(vals))
                sds.append(np.nanstd(vals, ddof=1) if vals.size > 1 else 0.0)
            ax.bar(xs + (j - (len(aggs) - 1) / 2) * width, means, width, yerr=sds,
                   color=palette.get(g), label=_LABELS.get(g, g), capsize=1.5,
                   error_kw={"lw": 0.6})
        cfin = np.array([v for v in res["clean"]["final"] if v is not None], dtype=float)
        ax.axhline(float(cfin.mean()), color="black", ls="--", lw=1.0, label="no attack")
        ax.set_xticks(xs)
        ax.set_xticklabels([a["label"] for a in attacks])
        ax.set_ylabel("final test accuracy")
        ax.set_ylim(0, 1.22)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_title(f"(b) final accuracy, {f} of {n} clients Byzantine"
                     + (f" (mean ± sd, {len(seeds)} seeds)" if len(seeds) > 1 else ""))
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper center", ncol=7, frameon=False, fontsize=6.5,
                  columnspacing=0.9, handlelength=1.2, handletextpad=0.4)

        ax = axes[2]
        if "backdoor" in res["runs"]:
            bd = res["runs"]["backdoor"]
            vals = [np.nanmean([np.nan if v is None else v for v in bd[g]["backdoor_success"]])
                    for g in aggs]
            ax.bar(range(len(aggs)), vals, color=[palette.get(g) for g in aggs], width=0.65)
            for i, v in enumerate(vals):
                ax.text(i, v + 0.02, f"{v:.2f}", ha="center", va="bottom", fontsize=6.5)
            ax.set_xticks(range(len(aggs)))
            ax.set_xticklabels([_LABELS.get(g, g) for g in aggs], rotation=35, ha="right")
            ax.set_ylim(0, 1.12)
            ax.set_ylabel("backdoor success rate")
            ax.set_title("(c) backdoor (model replacement)")
            ax.grid(axis="x", visible=False)
        else:
            ax.set_axis_off()
        fig.tight_layout()
    return save_figure(fig, stem)


# --------------------------------------------------------------------------------------------------
# Figure 5: audits vs the accountant
# --------------------------------------------------------------------------------------------------
def run_audit_vs_theory(config: Any = None, *, seeds: Any = None, quick: bool = False,
                        jobs: int = 1, noise: Any = None) -> dict:
    """Figure 5's grid: for each noise multiplier, the GDP audit (correct mechanism and half
    noise) and the one-run audit of the base recipe, beside the accountant's ε.

    ``quick``: z ∈ {1, 4}, 400 runs / canaries.  ``seeds``: the first seed seeds the audits.
    """
    from fltheory.audit import canary_audit
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

    def one(z):
        c = cfg.replace(privacy__noise_multiplier=z)
        good = canary_audit(c, canaries=runs_gdp, method=method, seed=seed)
        bad = canary_audit(c, canaries=runs_gdp, method=method, noise_scale=0.5, seed=seed)
        single = canary_audit(c, canaries=runs_one, method="one_run", seed=seed)
        return [good.to_dict(), bad.to_dict(), single.to_dict()]

    rows = _parallel(one, [(z,) for z in zs], jobs)
    steps = (cfg.training.local_steps * cfg.training.rounds if cfg.privacy.level == "record"
             else cfg.training.rounds)
    res = {"experiment": "audit-vs-theory", "config": cfg.to_dict(), "seed": seed,
           "noise_multipliers": zs, "steps": steps, "method": method, "full_batch": full,
           "runs": runs_gdp, "one_run_canaries": runs_one, "delta": cfg.privacy.delta,
           "audit": [r[0] for r in rows], "half_noise": [r[1] for r in rows],
           "one_run": [r[2] for r in rows], "seconds": time.perf_counter() - t0}
    return res


def _is_full_batch(cfg: Any) -> bool:
    p, t = cfg.privacy, cfg.training
    if p.level == "record":
        return p.batch_rate == 1.0 and t.effective_client_rate == 1.0
    return t.effective_client_rate == 1.0


def draw_audit_vs_theory(res: dict, stem: Path) -> list[str]:
    """Two panels: ε (accountant, audits) vs z; μ̂ vs √T/z."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    z = np.array(res["noise_multipliers"], dtype=float)
    g = lambda rows, k: np.array([np.nan if r.get(k) is None else float(r[k]) for r in rows])
    eps_up = g(res["audit"], "epsilon_theory")
    eps_lo = g(res["audit"], "epsilon_theory_lower")
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0))
        ax = axes[0]
        ax.plot(z, eps_up, color="#0969da", lw=1.6, label="accountant ε (certified upper)")
        ax.plot(z, eps_lo, color="#0969da", lw=0.8, ls=":", label="accountant, certified lower")
        name = "GDP audit" if res["method"] == "gdp" else "hypothesis-test audit"
        ax.plot(z, g(res["audit"], "epsilon_lower"), "o", ms=4, color="#1a7f37",
                label=f"{name} ({res['runs']} runs)")
        ax.plot(z, g(res["one_run"], "epsilon_lower"), "s", ms=3.5, mfc="none",
                color="#8250df", label=f"one-run audit ({res['one_run_canaries']} canaries)")
        bad = g(res["half_noise"], "epsilon_lower")
        flagged = bad > eps_up
        ax.plot(z[flagged], bad[flagged], "x", ms=5, mew=1.4, color="#cf222e",
                label="half-noise bug: flagged (above ε)")
        if (~flagged).any():
            ax.plot(z[~flagged], bad[~flagged], "x", ms=5, mew=1.0, color="#e6a1a6",
                    label="half-noise bug: not flagged")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("noise multiplier z")
        ax.set_ylabel(f"ε at δ = {res['delta']:g}")
        ax.set_title(f"(a) audited lower bounds vs accountant (T = {res['steps']})")
        ax.set_xticks(z)
        ax.set_xticklabels([f"{v:g}" for v in z])
        ax.minorticks_off()
        ax.legend(loc="lower left", frameon=False, fontsize=6.5)

        ax = axes[1]
        mu_t = g(res["audit"], "mu_theory")
        if np.all(np.isnan(mu_t)):
            mu_t = math.sqrt(res["steps"]) / z
        for rows, col, mk, lab in ((res["audit"], "#1a7f37", "o", "correct mechanism"),
                                   (res["half_noise"], "#cf222e", "x", "half the noise")):
            mu = g(rows, "mu_hat")
            tol = g(rows, "mu_tolerance")
            ax.errorbar(mu_t, mu, yerr=tol, fmt=mk, ms=4, color=col, capsize=2, lw=0.8,
                        label=f"μ̂ ± tolerance, {lab}")
        lim = np.array([min(mu_t) * 0.8, max(mu_t) * 1.25])
        ax.plot(lim, lim, color="#0969da", lw=1.0, label="μ̂ = √T/z")
        ax.plot(lim, 2 * lim, color="#0969da", lw=0.8, ls=":", label="μ̂ = 2√T/z")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*lim)
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32)]
        ax.minorticks_off()
        lo_y, hi_y = ax.get_ylim()
        ax.set_xticks([t for t in ticks if lim[0] <= t <= lim[1]])
        ax.set_yticks([t for t in ticks if lo_y <= t <= hi_y])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("√T / z (claimed)")
        ax.set_ylabel("measured separation μ̂")
        ax.set_title("(b) white-box canary separation")
        ax.legend(loc="upper left", frameon=False, fontsize=6.5)
        fig.tight_layout()
    return save_figure(fig, stem)


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


def run_gradient_inversion(config: Any = None, *, seeds: Any = None, quick: bool = False,
                           jobs: int = 1, examples: Any = None) -> dict:
    """Figure 6: every defence against the analytic and iDLG attacks on digits, and PSNR vs z.

    The attacked update is one client's gradient of one test digit at the initial global model
    (round 0) of the base recipe's architecture: an MLP (``model.hidden`` units) or logistic
    regression.  MLP units are tanh, the twice-differentiable activation gradient matching
    needs (a ReLU network leaves L-BFGS in local minima); a ``model.activation`` entry of the
    configuration, where the configuration has one, overrides it.  ``quick``: one digit, the
    analytic attack, two defences, no curve.
    """
    from fltheory.audit.inversion import invert_gradient
    from fltheory.config import load_config
    from fltheory.fl import models as _models
    from fltheory.fl.simulate import build_dataset, build_model

    t0 = time.perf_counter()
    cfg = load_config(default_config("gradient-inversion") if config is None else config)
    seed = _seeds(seeds, quick)[0]
    cfg = cfg.replace(seed=seed)
    ds = build_dataset(cfg)
    if cfg.model.name == "mlp":
        act = getattr(cfg.model, "activation", None) or "tanh"
        model = _models.mlp(ds.num_features, ds.num_classes, hidden=(cfg.model.hidden,),
                            activation=act)
    else:
        model = build_model(cfg, ds)
    params = model.init(seed=cfg.seed)
    where = "initial global model (round 0)"
    d = model.num_params
    clip = cfg.privacy.clip
    idx = ([0] if quick else [0, 1]) if examples is None else [int(i) for i in examples]
    methods = ("analytic",) if quick else ("analytic", "idlg")
    specs = [{}] + list(FIG6_DEFENCES[:1] + FIG6_DEFENCES[3:4] if quick else FIG6_DEFENCES)
    steps = 30

    def attack(i, spec, method):
        kw = _fig6_defence(spec, clip, d)
        x, y = ds.x_test[i], int(ds.y_test[i])
        r = invert_gradient(model, params, x, y, method=method, steps=steps, seed=seed, **kw)
        out = r.to_dict()
        out.update(example=i, x_true=np.asarray(r.x_true).ravel().tolist(),
                   x_rec=np.asarray(r.x_rec).ravel().tolist(), psnr_value=r.psnr)
        return out

    items = [(i, s, m) for i in idx for s in specs for m in methods]
    grid = _parallel(attack, items, jobs)
    curve = None
    if not quick:
        zs = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
        cidx = list(range(6))
        citems = [(i, {"noise_multiplier": z}, m) for z in zs for m in methods for i in cidx]
        cres = _parallel(attack, citems, jobs)
        curve = {"z": zs, "examples": cidx, "psnr": {}}
        k = 0
        for z in zs:
            for m in methods:
                curve["psnr"].setdefault(m, []).append(
                    [r["psnr_value"] for r in cres[k: k + len(cidx)]])
                k += len(cidx)
        curve["compression"] = {}
        for name in ("topk", "randk"):
            for m in methods:
                rs = [attack(i, {"compressor": name, "k": 0.1}, m) for i in cidx]
                curve["compression"][f"{name}:{m}"] = [r["psnr_value"] for r in rs]
    return {"experiment": "gradient-inversion", "config": cfg.to_dict(), "seed": seed,
            "model": model.name, "num_params": d, "attacked_at": where, "examples": idx,
            "methods": list(methods), "defences": specs, "image_shape": [8, 8],
            "results": grid, "curve": curve, "seconds": time.perf_counter() - t0}


def draw_gradient_inversion(res: dict, stem: Path) -> list[str]:
    """The reconstruction grid (``stem``) and, when measured, PSNR vs z (``stem``_psnr)."""
    import matplotlib.pyplot as plt

    from fltheory.audit.inversion import InversionResult, save_reconstruction_grid

    objs = []
    for r in res["results"]:
        p = r["psnr_value"] if "psnr_value" in r else r["psnr"]
        p = math.inf if p in ("inf", None) or (isinstance(p, float) and math.isinf(p)) else p
        objs.append(InversionResult(r["method"], r["defence"].replace("dp(", "DP("),
                                    np.array(r["x_true"], dtype=float),
                                    np.array(r["x_rec"], dtype=float), r["label_true"],
                                    r.get("label_rec"), float(r["mse"]), float(p)))
    files = save_reconstruction_grid(objs, stem, image_shape=res.get("image_shape"))
    curve = res.get("curve")
    if not curve:
        return files
    z = np.array(curve["z"], dtype=float)
    cols = {"analytic": "#0969da", "idlg": "#cf222e", "dlg": "#8250df"}

    def fin(v):
        return 120.0 if v in ("inf", None) or (isinstance(v, float) and math.isinf(v)) else v

    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0), gridspec_kw={"width_ratios": [1.5, 1]})
        ax = axes[0]
        for m, rows in curve["psnr"].items():
            a = np.array([[fin(v) for v in row] for row in rows], dtype=float)
            med = np.median(a, axis=1)
            ax.plot(z, med, marker="o", ms=3.5, color=cols.get(m), label=f"{m} (median)")
            ax.fill_between(z, a.min(axis=1), a.max(axis=1), color=cols.get(m), alpha=0.15,
                            lw=0, label=f"{m} (range)")
        ax.set_xscale("log")
        ax.set_xlabel("noise multiplier z of the DP release (clip C = 1)")
        ax.set_ylabel("PSNR of the reconstruction [dB]")
        ax.set_ylim(0, 62)
        ax.set_title(f"(a) DP noise ({len(curve['examples'])} digits, {res['model']})")
        ax.legend(loc="upper right", frameon=False, fontsize=6.5)
        ax = axes[1]
        comp = curve.get("compression", {})
        labels = []
        for j, (key, vals) in enumerate(comp.items()):
            name, m = key.split(":")
            v = np.array([fin(x) for x in vals], dtype=float)
            jitter = np.linspace(-0.12, 0.12, v.size)
            ax.plot(j + jitter, v, "o", ms=3.5, color=cols.get(m), alpha=0.85)
            ax.plot([j - 0.25, j + 0.25], [np.median(v)] * 2, color="black", lw=1.0)
            labels.append(f"{'top-k' if name == 'topk' else 'rand-k'}\n{m}")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylim(0, 125)
        ax.set_ylabel("PSNR [dB] (120: exact)")
        ax.set_title("(b) 10 % of coordinates, no noise")
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
    files += save_figure(fig, Path(str(stem) + "_psnr"))
    return files


# --------------------------------------------------------------------------------------------------
# Registry and drivers
# --------------------------------------------------------------------------------------------------
EXPERIMENTS: dict[str, Experiment] = {
    "byzantine-attacks": Experiment(
        "byzantine-attacks", "fig4_byzantine.toml", _FIG4, run_byzantine_attacks,
        draw_byzantine_attacks, "byzantine_attacks",
        "accuracy under 10 % label-flipping clients with and without robust aggregation, "
        "plus ALIE, IPM, sign flipping and a backdoor"),
    "audit-vs-theory": Experiment(
        "audit-vs-theory", "fig5_audit.toml", _FIG5, run_audit_vs_theory, draw_audit_vs_theory,
        "audit_vs_theory", "audited epsilon lower bound and mu_hat vs theoretical epsilon "
                           "across noise levels"),
    "gradient-inversion": Experiment(
        "gradient-inversion", "fig6_inversion.toml", _FIG6, run_gradient_inversion,
        draw_gradient_inversion, "gradient_inversion",
        "gradient inversion reconstructions with and without DP noise / compression"),
}


def run_experiment(name: str, config: Any = None, *, seeds: Any = None, quick: bool = False,
                   jobs: int = 1, **kw) -> dict:
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
        Parallel runs (joblib).
    """
    return _experiment(name).run(config, seeds=seeds, quick=quick, jobs=jobs, **kw)


def draw_experiment(name: str, results: dict, out_dir: Any) -> list[str]:
    """Draw an experiment from its results into ``out_dir`` (PDF + PNG); return the paths."""
    exp = _experiment(name)
    if results.get("experiment") not in (None, name):
        raise ValueError(f"results are of experiment {results.get('experiment')!r}, not "
                         f"{name!r}")
    return exp.draw(results, Path(out_dir) / exp.stem)


def load_results(path: Any) -> dict:
    """Results JSON written by :func:`experiment_figure`."""
    import json

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"results file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: not a results file (a JSON object), got a {type(data).__name__}")
    return data


def experiment_figure(name: str, out_dir: Any, *, config: Any = None, seeds: Any = None,
                      quick: bool = False, jobs: int = 1, from_json: Any = None,
                      **kw) -> dict:
    """Run (or load) an experiment, write ``<stem>.json`` and draw it; return files and results.

    Examples
    --------
    >>> import tempfile
    >>> out = experiment_figure("audit-vs-theory", tempfile.mkdtemp(), quick=True)  # doctest: +SKIP
    """
    exp = _experiment(name)
    out = Path(out_dir)
    if from_json is not None:
        res = load_results(from_json)
    else:
        res = run_experiment(name, config, seeds=seeds, quick=quick, jobs=jobs, **kw)
        from fltheory._io import write_json_atomic

        write_json_atomic(out / f"{exp.stem}.json", res)
    files = draw_experiment(name, res, out)
    if from_json is None:
        files.append(str(out / f"{exp.stem}.json"))
    return {"files": files, "results": res}


# --------------------------------------------------------------------------------------------------
# Curves of finished runs (fltheory run / sweeps)
# --------------------------------------------------------------------------------------------------
def draw_runs(run_dir: Any, stem: Any) -> list[str]:
    """Accuracy (or loss) and ε per round of every ``result.json`` under ``run_dir``.

    A sweep directory (``seed_<s>/result.json``) draws one line per seed and their mean.

    Examples
    --------
    >>> draw_runs("/nonexistent", "x")
    Traceback (most recent call last):
    ...
    ValueError: run_dir must contain result.json files (fltheory run --out DIR), got '/nonexistent'
    """
    import json

    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    root = Path(run_dir)
    paths = sorted(root.rglob("result.json")) if root.is_dir() else []
    if not paths:
        raise ValueError("run_dir must contain result.json files (fltheory run --out DIR), "
                         f"got {str(run_dir)!r}")
    runs = [(p.parent.relative_to(root).as_posix() or p.parent.name, load_results(p))
            for p in paths]
    for p, (_, r) in zip(paths, runs):
        if not isinstance(r.get("metrics"), list) or not all(
                isinstance(m, dict) and "round" in m for m in r["metrics"]):
            raise ValueError(f"{p}: not a result.json of fltheory run (no per-round 'metrics')")
    has_eps = any(isinstance(m.get("epsilon"), (int, float)) and math.isfinite(m["epsilon"])
                  for _, r in runs for m in r["metrics"])
    with paper_style():
        fig, axes = plt.subplots(1, 2 if has_eps else 1, figsize=(7.6 if has_eps else 4.2, 3.0),
                                 squeeze=False)
        ax = axes[0][0]
        key = "accuracy" if any(m.get("accuracy") is not None for _, r in runs
                                for m in r["metrics"]) else "loss"
        curves = []
        for label, r in runs:
            y = np.array([np.nan if m.get(key) is None else float(m[key])
                          for m in r["metrics"]])
            x = np.array([m["round"] for m in r["metrics"]])
            ok = ~np.isnan(y)
            ax.plot(x[ok], y[ok], lw=0.9, alpha=0.6 if len(runs) > 1 else 1.0, label=label)
            curves.append(y)
        if len(runs) > 1 and len({c.size for c in curves}) == 1:
            ax.plot(x, np.nanmean(np.vstack(curves), axis=0), color="black", lw=1.8,
                    label=f"mean of {len(runs)}")
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"test {key}")
        ax.set_title(runs[0][1].get("name", "runs"))
        if len(runs) <= 10:
            ax.legend(loc="best", frameon=False, fontsize=6.5)
        if has_eps:
            ax = axes[0][1]
            label, r = runs[0]
            y = [m["epsilon"] if isinstance(m.get("epsilon"), (int, float)) else np.nan
                 for m in r["metrics"]]
            ax.plot([m["round"] for m in r["metrics"]], y, color="#0969da")
            ax.set_xlabel("round")
            ax.set_ylabel(f"ε spent (δ = {r['accounting']['delta']:g})")
            method = str(r["accounting"].get("method") or "").upper()
            ax.set_title(f"privacy spent ({method} upper bound)" if method else
                         "privacy spent (upper bound)")
        fig.tight_layout()
    return save_figure(fig, stem)
