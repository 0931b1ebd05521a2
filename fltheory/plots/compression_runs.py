"""Figures of experiment 9 (compression runs), drawn from a ``compression-runs.json`` result.

Nothing here runs an experiment: every function takes the result object of
:func:`fltheory.compression_runs.run_compression_grid` (or the JSON it wrote).

* :func:`plot_accuracy_vs_bits` -- accuracy vs bits per client per round at each target ε under
  attack, one curve per compressor;
* :func:`plot_aggregation_time` -- aggregation wall time vs the rule's input dimension (d dense,
  k with a shared rand-k mask) per rule, the cost model of :func:`fltheory.bounds.aggregation_cost`
  scaled by one fitted constant per rule, fitted exponents, and exact SMEA on the d×d covariance
  (the d³ regime) on small d;
* :func:`plot_robust_error` -- measured :math:`\\|F(x)-\\bar x_H\\|^2` vs its prediction per round;
* :func:`plot_pareto` -- the Pareto front of the measured points over (accuracy, ε, bits,
  aggregation time) next to the theoretical front of
  :func:`fltheory.tradeoffs.compression_tradeoff`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ._common import new_figure, paper_style, save_figure

__all__ = ["plot_accuracy_vs_bits", "plot_aggregation_time", "plot_robust_error", "plot_pareto",
           "draw_compression_runs", "STEMS"]

#: File stems of the four figures.
STEMS = ("compression_accuracy_vs_bits", "compression_aggregation_time",
         "compression_robust_error", "compression_pareto")

_LABEL = {"none": "none (dense)", "randk_shared": "rand-k, shared seed",
          "randk_secret": "rand-k, secret masks", "topk_ef": "top-k + EF", "qsgd": "QSGD",
          "scaled_sign": "scaled sign", "magnitude_prune": "magnitude pruning"}
_RULE = {"mean": "mean", "cwtm": "CWTM", "nnm+cwtm": "NNM∘CWTM", "krum": "Krum", "gm": "GM",
         "smea": "SMEA", "cwmed": "CWMed"}
_MARK = {"none": "*", "randk_shared": "o", "randk_secret": "D", "topk_ef": "s", "qsgd": "^",
         "scaled_sign": "v", "magnitude_prune": "P"}


def _points(res: dict) -> list[dict]:
    return [p for p in res.get("points", []) if not p.get("skipped")]


def _eps(p: dict) -> float:
    e = p.get("epsilon")
    return math.inf if e in (None, "inf") else float(e)


def _runtime_note(res: dict) -> str:
    rt = res.get("runtime_seconds")
    return "" if rt is None else f"grid runtime {rt / 60:.1f} min" if rt >= 120 else \
        f"grid runtime {rt:.0f} s"


def plot_accuracy_vs_bits(res: dict, stem: Any) -> list[str]:
    """Accuracy vs bits per client per round, one panel per target ε, under attack."""
    pts = [p for p in _points(res) if p["slice"] == "accuracy_vs_bits"
           or p.get("slice") is None]
    if not pts:
        pts = _points(res)
    attacked = [p for p in pts if p["attack"] != "none"] or pts
    attack = attacked[0]["attack"]
    agg = attacked[0]["aggregator"]
    pts = [p for p in attacked if p["attack"] == attack and p["aggregator"] == agg]
    targets = sorted({p["epsilon_target"] for p in pts},
                     key=lambda e: math.inf if e is None else e)
    with paper_style():
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(targets), figsize=(3.3 * len(targets) + 0.8, 3.1),
                                 sharey=True, squeeze=False)
    for ax, tgt in zip(axes[0], targets):
        sel = [p for p in pts if p["epsilon_target"] == tgt]
        for comp in _LABEL:
            cp = sorted([p for p in sel if p["compressor"] == comp], key=lambda p: p["bits"])
            if not cp:
                continue
            accs = [p["accuracy"] if p["accuracy"] is not None else np.nan for p in cp]
            ax.plot([p["bits"] for p in cp], accs, marker=_MARK[comp], ms=5,
                    label=_LABEL[comp], lw=1.0)
        ax.set_xscale("log")
        ax.set_xlabel("bits per client per round")
        eps_run = [_eps(p) for p in sel if math.isfinite(_eps(p))]
        title = "no DP" if tgt is None else (f"ε ≤ {tgt:g} (certified max {max(eps_run):.3g})"
                                           if eps_run else f"ε = {tgt:g}")
        ax.set_title(title)
    axes[0][0].set_ylabel("test accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    task = pts[0]["task"] if pts else ""
    fig.suptitle(f"{task}: {_RULE.get(agg, agg)} under {attack} "
                 f"(f = {pts[0].get('f', '?')} of n = {pts[0].get('n', '?')}); "
                 f"{_runtime_note(res)}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, stem)


def _fit_exponent(x, y, min_x: float = 0.0) -> float | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = (x >= min_x) & (y > 0)
    if m.sum() < 2:
        return None
    return float(np.polyfit(np.log(x[m]), np.log(y[m]), 1)[0])


def timing_table(res: dict) -> dict:
    """Per rule: dims, seconds (median per round), and whether the dimension is d or k."""
    out: dict = {}
    for p in _points(res):
        for rule, sec in (p.get("rule_seconds") or {}).items():
            r = out.setdefault(rule, {"dim": [], "seconds": [], "shared": []})
            r["dim"].append(int(p["aggregation_dim"]))
            r["seconds"].append(float(sec))
            r["shared"].append(p["compressor"] == "randk_shared")
    return out


def plot_aggregation_time(res: dict, stem: Any) -> list[str]:
    """Aggregation time vs the rule's input dimension, with the cost model and fitted exponents."""
    tab = timing_table(res)
    model = res.get("cost_model", {})
    with paper_style():
        import matplotlib.pyplot as plt

        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.6, 3.9))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (rule, r) in enumerate(sorted(tab.items())):
        c = colors[i % len(colors)]
        dim = np.array(r["dim"])
        sec = np.array(r["seconds"])
        shared = np.array(r["shared"])
        order = np.argsort(dim)
        slope = _fit_exponent(dim, sec, min_x=1e4)
        lab = _RULE.get(rule, rule) + (f" (slope {slope:.2f})" if slope is not None else "")
        ax.plot(dim[order], sec[order], color=c, lw=0.8, alpha=0.6)
        ax.scatter(dim[~shared], sec[~shared], color=c, marker="o", s=16, label=lab)
        ax.scatter(dim[shared], sec[shared], facecolors="none", edgecolors=c, marker="s", s=22)
        m = model.get(rule)
        if m:
            flops = np.asarray(m["flops"], float)
            dd = np.asarray(m["dims"], float)
            # fixed overhead (smallest measured time) + one constant per rule, fitted on the
            # largest tenth of the dimensions where the modelled work dominates
            fl_at = np.exp(np.interp(np.log(dim), np.log(dd), np.log(flops)))
            big = dim >= dim.max() / 10
            t0 = float(sec.min())
            scale = float(np.median(np.maximum(sec[big] - t0, 1e-12) / fl_at[big]))
            ax.plot(dd, t0 + scale * flops, color=c, ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input dimension of the rule (● d dense, □ k shared rand-k)")
    ax.set_ylabel("aggregation seconds per round")
    ax.set_title("measured (markers; slopes: log-log fit over dims ≥ 10⁴); cost model\n"
                 "(dashed): overhead + fitted constant × flops of aggregation_cost",
                 fontsize=8)
    ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=3)
    sd = res.get("smea_dense") or {}
    if sd.get("dims"):
        d = np.array(sd["dims"], float)
        s = np.array(sd["seconds"], float)
        ax2.plot(d, s, "o-", label=f"SMEA on d×d covariance (fitted exponent "
                                   f"{sd['exponent']:.2f})" if sd.get("exponent") else "SMEA")
        ax2.plot(d, s[-1] * (d / d[-1]) ** 3, "k:", lw=0.8, label="∝ d³")
        ax2.plot(d, s[-1] * (d / d[-1]), "k--", lw=0.6, label="∝ d")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xticks(d)
        ax2.set_xticklabels([str(int(v)) for v in d])
        ax2.minorticks_off()
        ax2.set_xlabel("d")
        ax2.set_ylabel("seconds per aggregation")
        ax2.set_title(f"exact SMEA on the d×d covariance\n(n = {sd.get('n')}, f = {sd.get('f')}, "
                      "C(n, f) eigenproblems)"
                      + ("" if sd.get("agrees", True) else " (selection differs)"), fontsize=8)
        ax2.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, stem)


def robust_error_pairs(res: dict) -> dict:
    """Per rule: arrays of (measured, predicted, rounding allowance) per round where a
    prediction exists."""
    out: dict = {}
    for p in _points(res):
        tols = p.get("robust_error_tolerance") or [0.0] * len(p["robust_error_measured"])
        for e, q, t in zip(p["robust_error_measured"], p["robust_error_predicted"], tols):
            if q is None or e is None:
                continue
            o = out.setdefault(p["aggregator"], [[], [], []])
            o[0].append(float(e))
            o[1].append(float(q))
            o[2].append(float(t))
    return {k: (np.array(a), np.array(b), np.array(c)) for k, (a, b, c) in out.items()}


def plot_robust_error(res: dict, stem: Any) -> list[str]:
    """Measured robust error vs its prediction, one point per round, one colour per rule."""
    pairs = robust_error_pairs(res)
    fig, ax = new_figure(5.0, 3.8)
    lo, hi = math.inf, 0.0
    qs = np.concatenate([q[q > 0] for _, q, _ in pairs.values()]) if pairs else np.array([])
    floor = 1e-6 * qs.min() if qs.size else 0.0
    for rule, (e, q, t) in sorted(pairs.items()):
        pos = q > 0
        frac = float(np.mean(e <= q * (1 + 1e-9) + t)) if len(e) else float("nan")
        ax.scatter(q[pos], np.maximum(e[pos], floor), s=8, alpha=0.6,
                   label=f"{_RULE.get(rule, rule)}: {100 * frac:.1f} % of {len(e)} rounds ≤ 1"
                         + (f" ({int((~pos).sum())} with κ = 0)" if (~pos).any() else ""))
        if pos.any():
            lo = min(lo, q[pos].min(), max(e[pos].min(), floor))
            hi = max(hi, q[pos].max(), e[pos].max())
    if hi > 0:
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="measured = predicted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"predicted $\kappa\cdot\frac{1}{|H|}\sum_{i\in H}\|x_i-\bar x_H\|^2$")
    ax.set_ylabel(r"measured $\|F(x)-\bar x_H\|^2$ (floored at $10^{-6}\times$ min prediction)")
    s = res.get("summary", {})
    fr = s.get("fraction_within_prediction")
    ax.set_title("robust error per round (below the diagonal: theory holds)"
                 + (f"; all: {100 * fr:.1f} %" if fr is not None else ""))
    ax.legend(fontsize=6.5, frameon=False, loc="upper left")
    return save_figure(fig, stem)


def measured_front(res: dict, task: str | None = None) -> tuple[list[dict], np.ndarray]:
    """Points of one task under attack and the indices of their Pareto front over (bits ↓,
    accuracy ↑, ε ↓, aggregation time ↓); ``task`` defaults to that of the first point."""
    from fltheory.tradeoffs import pareto_front

    pts = [p for p in _points(res) if p.get("accuracy") is not None and p["attack"] != "none"]
    if pts:
        task = task or pts[0]["task"]
        pts = [p for p in pts if p["task"] == task]
    if not pts:
        return pts, np.array([], dtype=int)
    cols = {"accuracy": [p["accuracy"] for p in pts],
            "epsilon": [min(_eps(p), 1e300) for p in pts],
            "bits": [p["bits"] for p in pts],
            "aggregation_seconds": [p["aggregation_seconds"] for p in pts]}
    front = pareto_front(cols, ["bits", "accuracy", "epsilon", "aggregation_seconds"],
                         maximize=["accuracy"])
    return pts, front


def plot_pareto(res: dict, stem: Any) -> list[str]:
    """Measured Pareto front (left) next to the theoretical front of compression_tradeoff (right)."""
    pts, front = measured_front(res)
    with paper_style():
        import matplotlib.pyplot as plt

        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.5))
    onf = np.zeros(len(pts), bool)
    onf[front] = True
    bits = np.array([p["bits"] for p in pts], float)
    acc = np.array([p["accuracy"] for p in pts], float)
    ax.scatter(bits[~onf], acc[~onf], s=10, c="0.8", label="dominated")
    targets = sorted({p["epsilon_target"] for p in pts}, key=lambda e: math.inf if e is None
                     else e)
    for tgt in targets:
        sel = onf & np.array([p["epsilon_target"] == tgt for p in pts], bool)
        if not sel.any():
            continue
        comps = [p for p, s_ in zip(pts, sel) if s_]
        ax.scatter(bits[sel], acc[sel], s=24, label="front, " + ("no DP" if tgt is None else
                                                                 f"ε ≤ {tgt:g}"))
        for p in comps:
            ax.annotate(_LABEL.get(p["compressor"], p["compressor"]).split(",")[0]
                        + f" / {_RULE.get(p['aggregator'], p['aggregator'])} / {p['attack']}",
                        (p["bits"], p["accuracy"]), fontsize=5, xytext=(3, 2),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("bits per client per round")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"measured ({pts[0]['task'] if pts else ''}, under attack): Pareto front\n"
                 "over (accuracy, ε, bits, aggregation time)", fontsize=8)
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    th = res.get("theory")
    if th:
        cols = th["columns"]
        mode = np.array(cols["mode"])
        b = np.array(cols["bits"], float)
        r = np.array(cols["robust_error_rel"], float)
        fr = np.array(th.get("pareto_front", []), int)
        for m, mk in (("dense", "*"), ("shared", "o"), ("secret", "D")):
            sel = mode == m
            if sel.any():
                o = np.argsort(b[sel])
                ax2.plot(b[sel][o], r[sel][o], marker=mk, ms=5, lw=0.8, label=m)
        if fr.size:
            ax2.scatter(b[fr], r[fr], s=80, facecolors="none", edgecolors="k",
                        label="Pareto (" + ", ".join(th.get("objectives", [])) + ")")
        meta = th.get("meta", {})
        ax2.set_title(f"theory (compression_tradeoff): d = {meta.get('d')}, "
                      f"z = {meta.get('noise_multiplier', float('nan')):.3g},\n"
                      f"{meta.get('aggregator')}{'∘NNM' if meta.get('nnm') else ''}, "
                      f"n = {meta.get('n')}, f = {meta.get('f')}", fontsize=8)
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("bits per client per round")
        ax2.set_ylabel("robust error / retained signal energy")
        ax2.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return save_figure(fig, stem)


def draw_compression_runs(res: dict, out_dir: Any) -> list[str]:
    """Draw the four figures of experiment 9 into ``out_dir`` (PDF + PNG); return the paths."""
    out = Path(out_dir)
    files: list[str] = []
    for fn, stem in zip((plot_accuracy_vs_bits, plot_aggregation_time, plot_robust_error,
                         plot_pareto), STEMS):
        files += fn(res, out / stem)
    return files
