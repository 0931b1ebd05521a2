r"""Experiment figures: Byzantine attacks, audits against the accountant, gradient inversion.

The drawing half of the experiment figures: each function takes the JSON-ready results of a
runner of :mod:`fltheory.experiments` (or of ``fltheory run``'s result files) and draws them
(PDF + PNG, atomically).  Nothing here runs a simulation or an audit.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fltheory.plots._common import paper_style, save_figure

__all__ = ["draw_byzantine_attacks", "draw_audit_vs_theory", "draw_gradient_inversion",
           "draw_runs", "DRAWERS", "draw_experiment"]

_LABELS = {"mean": "mean", "cwmed": "CWMed", "cwtm": "CWTM", "gm": "GM", "krum": "Krum",
           "nnm+cwtm": "NNM∘CWTM", "multikrum": "MultiKrum"}



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



def draw_gradient_inversion(res: dict, stem: Path) -> list[str]:
    """The reconstruction grid (``stem``) and, when measured, PSNR vs z (``stem``_psnr)."""
    import matplotlib.pyplot as plt

    from fltheory.audit.inversion import InversionResult
    from fltheory.plots.inversion import save_reconstruction_grid

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
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    root = Path(run_dir)
    paths = sorted(root.rglob("result.json")) if root.is_dir() else []
    if not paths:
        raise ValueError("run_dir must contain result.json files (fltheory run --out DIR), "
                         f"got {str(run_dir)!r}")
    from fltheory._io import read_json

    runs = [(p.parent.relative_to(root).as_posix() or p.parent.name,
             read_json(p, "result.json")) for p in paths]
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


#: The drawing function of each experiment of :data:`fltheory.experiments.EXPERIMENTS`.
DRAWERS = {"byzantine-attacks": draw_byzantine_attacks,
           "audit-vs-theory": draw_audit_vs_theory,
           "gradient-inversion": draw_gradient_inversion}


def draw_experiment(name: str, results: dict, out_dir: Any) -> list[str]:
    """Draw an experiment from its results into ``out_dir`` (PDF + PNG); return the paths.

    ``results`` is what :func:`fltheory.experiments.run_experiment` returned (or its JSON);
    nothing is run here.
    """
    from fltheory.experiments import EXPERIMENTS

    if name not in DRAWERS:
        raise ValueError(f"name must be one of {', '.join(sorted(DRAWERS))}, got {name!r}")
    if results.get("experiment") not in (None, name):
        raise ValueError(f"results are of experiment {results.get('experiment')!r}, not "
                         f"{name!r}")
    return DRAWERS[name](results, Path(out_dir) / EXPERIMENTS[name].stem)


# Names that moved to the runner module fltheory.experiments (plots never run anything) or, for
# experiment_figure (run, then draw), to fltheory.figures; the old import path keeps working
# with a DeprecationWarning.
_MOVED = {n: "fltheory.experiments" for n in (
    "EXPERIMENTS", "Experiment", "default_config", "run_experiment", "load_results",
    "FIG4_ATTACKS", "FIG4_AGGREGATORS", "FIG5_NOISE", "FIG6_DEFENCES", "run_byzantine_attacks",
    "run_audit_vs_theory", "run_gradient_inversion")}
_MOVED["experiment_figure"] = "fltheory.figures"


def __getattr__(name: str) -> Any:
    from fltheory._moved import moved

    return moved(__name__, name, _MOVED)
