"""Figures of the leakage defense sweeps (:mod:`fltheory.audit.sweeps`).

Each function takes the sweep's points (``run_config(...)["points"]``, one dict per attack,
defense setting and seed) and returns a matplotlib figure; :func:`save` writes PDF + PNG
atomically.  Several seeds are averaged: markers are means over seeds, error bars their
standard deviation (with a single seed, the attack's own confidence interval).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ._common import paper_style, plt, save_figure

__all__ = ["privacy_utility", "success_vs_epsilon", "eavesdropper", "summarize", "save",
           "draw_sweep"]

_TITLES = {
    "source": "source inference",
    "attribute_gradient": "attribute inference (gradient)",
    "attribute_model": "attribute inference (local model)",
    "eavesdropper": "eavesdropper → attribute inference",
    "passive_mia": "passive MIA (updates)",
    "passive_mia_series": "passive MIA (loss series, supervised)",
    "loss_threshold": "loss-threshold MIA (final model)",
    "lira": "LiRA (final model)",
}
_MARKERS = {"dp": "o", "magnitude_prune": "v", "random_prune": "^", "qsgd": "s", "topk": "D",
            "randk": "d", "mixup": "P", "batch": "X"}


def _key(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def summarize(points: Sequence[Mapping[str, Any]], value: str = "success") -> list[dict]:
    """Mean and spread over seeds of ``value`` (and of test accuracy) per attack/defense/parameter.

    Examples
    --------
    >>> pts = [{"attack": "a", "defense": "dp", "parameter": 1.0, "seed": s, "success": v,
    ...         "success_ci": [0, 1], "test_accuracy": 0.5, "epsilon": 2.0, "baseline": 0.1,
    ...         "metric": "accuracy"} for s, v in [(0, 0.2), (1, 0.4)]]
    >>> r = summarize(pts)[0]
    >>> round(r["mean"], 3), round(r["spread"], 3), r["seeds"]
    (0.3, 0.141, 2)
    """
    groups: dict[tuple, list] = {}
    for p in points:
        groups.setdefault((p["attack"], p["defense"], _key(p["parameter"])), []).append(p)
    out = []
    for (attack, defense, par), pts in groups.items():
        vals = np.array([_get(p, value) for p in pts], dtype=float)
        accs = np.array([p["test_accuracy"] for p in pts], dtype=float)
        eps = [p.get("epsilon") for p in pts]
        if len(pts) > 1:
            spread = float(vals.std(ddof=1))
            acc_spread = float(accs.std(ddof=1))
        else:
            ci = pts[0].get("success_ci") if value == "success" else None
            spread = None if ci is None else float(max(ci[1] - vals[0], vals[0] - ci[0]))
            acc_spread = 0.0
        out.append({"attack": attack, "defense": defense, "parameter": par,
                    "mean": float(vals.mean()), "spread": spread,
                    "accuracy": float(accs.mean()), "accuracy_spread": acc_spread,
                    "epsilon": None if any(e is None for e in eps) else float(np.mean(eps)),
                    "baseline": float(np.mean([p["baseline"] for p in pts])),
                    "metric": pts[0]["metric"], "seeds": len(pts)})
    return out


def _get(p: Mapping[str, Any], value: str) -> float:
    return float(p[value]) if value in p else float(p["extras"][value])


_NAMES = {"dp": "DP", "magnitude_prune": "mag. prune", "random_prune": "rand. prune",
          "qsgd": "QSGD s", "topk": "top-k EF", "randk": "rand-k", "mixup": "mixup α",
          "batch": "batch q"}


def _long_label(defense: str, par: Any, eps: float | None) -> str:
    if defense == "dp":
        return "no defense" if par == 0 else f"DP ε={_eps(eps)}"
    names = [_NAMES.get(d, d) for d in defense.split("+")]
    pars = list(par) if isinstance(par, tuple) else [par]
    return " + ".join(f"{n}={v:g}" if not n.startswith("DP") else f"DP z={v:g}"
                      for n, v in zip(names, pars))


_LEGEND = {"dp": "DP-SGD (label: ε)", "magnitude_prune": "magnitude pruning (rate)",
           "random_prune": "random pruning (rate)", "qsgd": "QSGD (levels s)",
           "topk": "top-k + error feedback (k/d)", "randk": "rand-k (k/d)",
           "mixup": "mixup (α)", "batch": "batch sampling (q)"}


def _eps(eps: float) -> str:
    return f"{eps:.2g}" if eps < 100 else f"{eps:.0f}"


def _label(defense: str, par: Any, eps: float | None) -> str:
    if defense == "dp":
        return "none" if par == 0 else (f"ε={_eps(eps)}" if eps is not None else f"z={par:g}")
    if isinstance(par, tuple):
        return "+".join(f"{v:g}" for v in par)
    return f"{par:g}"


def privacy_utility(points: Sequence[Mapping[str, Any]]) -> Any:
    """Attack success vs test accuracy, one panel per attack, one curve per defense.

    The undefended run (``dp`` with z = 0) starts every curve; the dotted line is the attack's
    trivial baseline.
    """
    rows = summarize(points)
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    cols = min(3, len(attacks))
    nrows = math.ceil(len(attacks) / cols)
    with paper_style():
        fig, axes = plt.subplots(nrows, cols, figsize=(3.3 * cols, 2.8 * nrows), squeeze=False)
        for ax, attack in zip(axes.flat, attacks):
            ar = [r for r in rows if r["attack"] == attack]
            none = [r for r in ar if r["defense"] == "dp" and r["parameter"] == 0]
            for defense in dict.fromkeys(r["defense"] for r in ar):
                dr = [r for r in ar if r["defense"] == defense]
                if defense != "dp":
                    dr = none + dr
                ax.errorbar([r["accuracy"] for r in dr], [r["mean"] for r in dr],
                            yerr=[r["spread"] or 0.0 for r in dr],
                            marker=_MARKERS.get(defense.split("+")[0], "o"), ms=3.5,
                            capsize=0, lw=1.0, elinewidth=0.5, alpha=0.85, label=defense)
                # only the DP curve is labelled (by its ε); the other defenses' parameters are
                # listed, in the order of their markers, in the legend
                if defense == "dp":
                    for r in dr:
                        ax.annotate(_label(defense, r["parameter"], r["epsilon"]),
                                    (r["accuracy"], r["mean"]), fontsize=5.5,
                                    textcoords="offset points", xytext=(2, 2))
            ax.axhline(ar[0]["baseline"], color="k", ls=":", lw=1)
            ax.set_title(_TITLES.get(attack, attack))
            ax.set_xlabel("test accuracy")
            ax.set_ylabel(f"attack {ar[0]['metric']}")
        spare = list(axes.flat)[len(attacks):]
        for ax in spare:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        params = {d: [_label(d, r["parameter"], r["epsilon"]) for r in rows
                      if r["attack"] == attacks[0] and r["defense"] == d and
                      not (d == "dp" and r["parameter"] == 0)] for d in labels}
        labels = [_LEGEND.get(lab, lab) + ("" if lab == "dp" else
                                           ": " + ", ".join(params.get(lab, [])))
                  for lab in labels]
        if spare:   # the legend in the first empty panel
            spare[0].legend(handles, labels, loc="center", fontsize=7, frameon=False,
                            title="defense (label: parameter)", title_fontsize=7)
            fig.tight_layout()
        else:
            fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)),
                       fontsize=7, frameon=False, bbox_to_anchor=(0.5, -0.01))
            fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def success_vs_epsilon(points: Sequence[Mapping[str, Any]]) -> Any:
    """Attack success vs the run's ε (DP points), each attack relative to its baseline.

    The undefended run is drawn at the right edge (ε = ∞); the dotted lines are the baselines.
    """
    rows = [r for r in summarize(points) if r["defense"] == "dp"]
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    with paper_style():
        fig, ax = plt.subplots(figsize=(4.6, 3.2))
        finite = [r["epsilon"] for r in rows if r["epsilon"] is not None]
        if not finite:
            raise ValueError("points must contain DP points with a finite epsilon")
        x_inf = max(finite) * 4
        for attack in attacks:
            ar = sorted((r for r in rows if r["attack"] == attack),
                        key=lambda r: math.inf if r["epsilon"] is None else r["epsilon"])
            xs = [x_inf if r["epsilon"] is None else r["epsilon"] for r in ar]
            line = ax.errorbar(xs, [r["mean"] for r in ar],
                               yerr=[r["spread"] or 0.0 for r in ar], marker="o", ms=3.5,
                               capsize=1.5, lw=1.0, label=_TITLES.get(attack, attack))
            ax.axhline(ar[0]["baseline"], color=line[0].get_color(), ls=":", lw=1)
        ax.set_xscale("log")
        ticks = [t for t in ax.get_xticks() if min(finite) / 2 < t < x_inf / 2]
        ax.set_xticks(ticks + [x_inf])
        ax.set_xticklabels([f"{t:g}" for t in ticks] + ["∞"])
        ax.set_xlabel("record-level ε (δ = 1e-5)")
        ax.set_ylabel("attack success (accuracy)")
        ax.legend(fontsize=7)
        fig.tight_layout()
    return fig


def eavesdropper(points: Sequence[Mapping[str, Any]]) -> Any:
    """The eavesdropper's reconstruction under each defense setting (three panels).

    Left: distance of the reconstructed local models to the true local optima, relative to the
    trivial estimate (the last global model; 1 = no better).  Middle: the reconstructed models'
    accuracy on the clients' data.  Right: attribute inference with them.
    """
    pts = [p for p in points if p["attack"] == "eavesdropper"]
    if not pts:
        raise ValueError("points must contain eavesdropper points")
    ratio = [dict(p, extras=dict(p["extras"], ratio=p["extras"]["distance"]
                                 / max(p["extras"]["baseline_distance"], 1e-12))) for p in pts]
    panels = [("ratio", "distance / trivial distance (log)", 1.0),
              ("reconstruction_accuracy", "accuracy on the client's data",
               float(np.mean([p["extras"]["global_model_accuracy"] for p in pts]))),
              ("success", "attribute inference accuracy", float(pts[0]["baseline"]))]
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.3))
        for ax, (value, ylabel, ref) in zip(axes, panels):
            rows = summarize(ratio, value)
            labels = [_long_label(r["defense"], r["parameter"], r["epsilon"]) for r in rows]
            colors = ["C0" if r["defense"] == "dp" else
                      ("C2" if "+" in r["defense"] else "C1") for r in rows]
            if value == "ratio":
                # heavy-tailed when the fit is ill-conditioned: geometric mean, min-max bars
                groups = [[_get(p, value) for p in ratio
                           if (p["defense"], _key(p["parameter"])) == (r["defense"], r["parameter"])]
                          for r in rows]
                mid = [float(np.exp(np.mean(np.log(g)))) for g in groups]
                err = [[m - min(g) for m, g in zip(mid, groups)],
                       [max(g) - m for m, g in zip(mid, groups)]]
                ax.set_yscale("log")
            else:
                mid = [r["mean"] for r in rows]
                err = [r["spread"] or 0.0 for r in rows]
            ax.bar(range(len(rows)), mid, yerr=err, color=colors, capsize=1.5)
            ax.axhline(ref, color="k", ls=":", lw=1)
            ax.set_xticks(range(len(rows)))
            ax.set_xticklabels(labels, fontsize=6, rotation=60, ha="right")
            ax.set_ylabel(ylabel)
        axes[0].set_title("reconstruction error")
        axes[1].set_title("reconstructed local model")
        axes[2].set_title("attribute inference with it")
        fig.tight_layout()
    return fig


def save(fig: Any, stem: Any) -> list[str]:
    """Write ``stem.pdf`` and ``stem.png`` atomically; return the paths."""
    return save_figure(fig, stem)


def draw_sweep(result: Mapping[str, Any], out_dir: Any) -> list[str]:
    """Draw the figures a leakage sweep asked for (``result["figures"]``, from
    :func:`fltheory.leakage.run_config`) into ``out_dir`` as ``<name>_<figure>.pdf/png``
    (``<name>.pdf/png`` when the two are equal); return the paths.  Nothing is run here."""
    from pathlib import Path

    files: list[str] = []
    name = str(result["name"])
    for f in result["figures"]:
        fig = {"privacy_utility": privacy_utility, "success_vs_epsilon": success_vs_epsilon,
               "eavesdropper": eavesdropper}[f](result["points"])
        stem = name if name == f else f"{name}_{f}"   # no privacy_utility_privacy_utility
        files += save(fig, Path(out_dir) / stem)
    return files
