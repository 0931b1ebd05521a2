"""Figure of ``fltheory plan --validate``: the plan against the baselines, run in the engine.

Draws a :class:`fltheory.plan.validate.PlanValidation` (never runs anything).
"""

from __future__ import annotations

import numpy as np

from fltheory.plots._common import paper_style, save_figure

__all__ = ["plot_plan_validation"]

_COLORS = {"plan": "#1b7837", "uniform": "#762a83", "sample": "#e08214", "scale": "#2166ac"}


def plot_plan_validation(res, stem) -> list[str]:
    """Four panels: accuracy (with the predicted error bound), accuracy over rounds, certified
    ε per class against its target, uplink bits per participation against the budget.

    Returns the written paths (``stem.pdf``, ``stem.png``).
    """
    import matplotlib.pyplot as plt

    recipes = res.recipes
    names = [r.name for r in recipes]
    colors = [_COLORS.get(n, "0.4") for n in names]
    classes = [c["name"] for c in recipes[0].classes]
    with paper_style():
        fig, axes = plt.subplots(1, 4, figsize=(13.0, 3.0))
        ax = axes[0]
        acc = [r.accuracy_mean for r in recipes]
        err = [r.accuracy_std for r in recipes]
        ax.bar(names, acc, yerr=err, color=colors, capsize=3)
        for i, r in enumerate(recipes):
            if r.predicted_error_bound is not None:
                ax.text(i, acc[i] + err[i] + 0.02, f"J={r.predicted_error_bound:.3g}",
                        ha="center", va="bottom", fontsize=7)
        ax.set_ylim(0, min(1.05, max(a + e for a, e in zip(acc, err)) * 1.15 + 0.05))
        ax.set_ylabel("test accuracy (final)")
        ax.set_title(f"measured accuracy, predicted bound J ({len(res.seeds)} seed(s))")
        ax = axes[1]
        for r, c in zip(recipes, colors):
            ax.plot(r.curve_rounds, r.curve_accuracy, marker="o", ms=3, color=c, label=r.name)
        ax.set_xlabel("round")
        ax.set_ylabel("test accuracy")
        ax.set_title("accuracy over rounds (mean over seeds)")
        ax.legend(frameon=False)
        x = np.arange(len(classes))
        _per_class(axes[2], recipes, colors, x, "epsilon_run", "epsilon_target", "target")
        ax = axes[2]
        ax.set_xticks(x, classes)
        ax.set_ylabel(r"certified $\varepsilon$ of the run")
        ax.set_title(r"$\varepsilon$ per class vs target")
        ax.legend(frameon=False, fontsize=7)
        _per_class(axes[3], recipes, colors, x, "uplink_bits_measured", "uplink_budget_bits",
                   "budget")
        ax = axes[3]
        ax.set_yscale("log")
        ax.set_xticks(x, classes)
        ax.set_ylabel("uplink bits per participation")
        ax.set_title("uplink (measured) vs budget")
        fig.tight_layout()
    return save_figure(fig, stem)


def _per_class(ax, recipes, colors, x, key, ref_key, ref_label) -> None:
    """Grouped bars of ``key`` per class and recipe, with ``ref_key`` of each class as a tick."""
    width = 0.8 / len(recipes)
    for j, (r, c) in enumerate(zip(recipes, colors)):
        vals = [row.get(key, np.nan) for row in r.classes]
        ax.bar(x + (j - (len(recipes) - 1) / 2) * width, vals, width, color=c, label=r.name)
    ref = [row[ref_key] for row in recipes[0].classes]
    ax.scatter(x, ref, marker="_", s=400, color="k", zorder=3, label=ref_label)
