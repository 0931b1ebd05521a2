r"""The validation figure: one panel per check of a :class:`~fltheory.validation.ValidationReport`.

Draws a finished report only (:func:`fltheory.validation.validate` runs the checks; it draws
when given :func:`plot_validation` as ``figure``, as ``fltheory validate --out`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fltheory.plots._common import paper_style, save_figure

__all__ = ["draw_validation", "plot_validation"]

_COLORS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "N/A": "#6e7781"}



def draw_validation(report: Any, stem: Any) -> list[str]:
    """One panel per check of ``report`` (a :class:`~fltheory.validation.ValidationReport`):
    audit ε vs theory, μ̂ vs √T/z and the engine's noise, κ̂ per round vs κ, compressor variance
    vs ω, accuracy with and without attack; PDF + PNG written atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> from fltheory.validation import CHECKS, Check, ValidationReport
    >>> rep = ValidationReport("x", [Check("a", CHECKS["a"], "N/A", "no DP")], {}, 0)
    >>> [os.path.splitext(p)[1] for p in draw_validation(rep, os.path.join(tempfile.mkdtemp(),
    ...                                                                     "v"))]
    ['.pdf', '.png']
    """
    import matplotlib.pyplot as plt

    rep = report
    by = {c.key: c for c in rep.checks}
    with paper_style():
        fig, axes = plt.subplots(2, 3, figsize=(9.0, 5.2))
        axes = axes.ravel()
        panels = [("a", _panel_audit, "(a) audit ε vs accountant"),
                  ("b", _panel_mu, "(b1) white-box μ̂ vs √T/z"),
                  ("b", _panel_engine, "(b2) engine noise"),
                  ("c", _panel_kappa, "(c) aggregation error ratio vs κ"),
                  ("d", _panel_compressor, "(d) compressor variance vs ω"),
                  ("e", _panel_utility, "(e) accuracy with / without attack")]
        for ax, (key, fn, title) in zip(axes, panels):
            c = by.get(key)
            if c is None:
                ax.set_axis_off()
                continue
            drawn = False
            if c.data:
                try:
                    drawn = fn(ax, c)
                except (KeyError, TypeError, ValueError):
                    drawn = False
            if not drawn:
                _text_panel(ax, c.summary)
            ax.set_title(f"{title}: {c.status}", color=_COLORS.get(c.status, "black"),
                         fontsize=8)
        fig.suptitle(f"Validation of {rep.name!r}: "
                     f"{'passed' if rep.passed else 'FAILED (' + ', '.join(rep.failed) + ')'}"
                     + (f"  [noise x{rep.noise_scale:g}]" if rep.noise_scale != 1 else ""),
                     fontsize=9)
        fig.tight_layout()
    return save_figure(fig, stem)


def _int_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _text_panel(ax, text: str) -> None:
    import textwrap

    ax.set_axis_off()
    text = text if len(text) < 240 else text[:237] + "..."
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 44)), ha="center", va="center",
            fontsize=6.5, color="#444444", transform=ax.transAxes,
            bbox={"boxstyle": "round,pad=0.6", "facecolor": "#f6f8fa", "edgecolor": "#d0d7de"})


def _panel_audit(ax, c: Any) -> bool:
    d = c.data
    if "epsilon_lower" not in d:
        return False
    labels = ["audit lower\nbound", "accountant\n(certified)"]
    vals = [d["epsilon_lower"], d["epsilon_theory"]]
    colors = [_COLORS[c.status], "#0969da"]
    ax.bar(labels, vals, color=colors, width=0.55)
    if d.get("epsilon_theory_lower") is not None:
        ax.plot([0.725, 1.275], [d["epsilon_theory_lower"]] * 2, color="black", lw=1,
                label="certified lower bound")
        ax.legend(loc="upper left", frameon=False)
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel(f"ε at δ = {d['delta']:g}")
    ax.set_ylim(0, max(vals) * 1.25 + 1e-9)
    ax.grid(axis="x", visible=False)
    return True


def _panel_mu(ax, c: Any) -> bool:
    d = c.data
    if d.get("mu_hat") is None:
        return False
    ax.errorbar([0], [d["mu_hat"]], yerr=[d["mu_tolerance"]], fmt="o",
                color=_COLORS["PASS" if d["mu_consistent"] else "FAIL"], capsize=4,
                label="μ̂ ± tolerance")
    ax.axhline(d["mu_theory"], color="#0969da", ls="--", label="√T / z (claimed)")
    ax.set_xlim(-1, 1)
    ax.set_xticks([])
    ax.set_ylabel("Gaussian separation μ")
    lo = min(d["mu_hat"] - d["mu_tolerance"], d["mu_theory"])
    hi = max(d["mu_hat"] + d["mu_tolerance"], d["mu_theory"])
    ax.set_ylim(max(0.0, lo - 0.3 * (hi - lo + 0.1)), hi + 0.5 * (hi - lo + 0.1))
    ax.legend(loc="upper right", frameon=False)
    return True


def _panel_engine(ax, c: Any) -> bool:
    eng = c.data.get("engine", {})
    if "per_round" not in eng:
        if "reason" in eng:
            _text_panel(ax, "n/a: " + eng["reason"])
            return True
        return False
    y = np.array([np.nan if v is None else v for v in eng["per_round"]], dtype=float)
    x = np.arange(1, y.size + 1)
    ax.plot(x, y, marker=".", ms=3, color=_COLORS["PASS" if eng["ok"] else "FAIL"],
            label=f"measured / claimed (all rounds: {eng['ratio']:.2f})")
    ax.axhline(1.0, color="#0969da", ls="--", label="claimed noise")
    ax.axhline(1.0 - eng["tolerance"], color="#6e7781", ls=":", label="pass threshold")
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(_int_locator())
    ax.set_ylabel(f"{eng['what']} / noise")
    top = float(np.nanmax(y)) if np.isfinite(np.nanmax(y)) else 1.0
    ax.set_ylim(0, max(1.6, top) * 1.6)
    ax.legend(loc="upper right", frameon=False, fontsize=6.5)
    return True


def _panel_kappa(ax, c: Any) -> bool:
    d = c.data
    series = d.get("series")
    if not series:
        return False
    for att, s in series.items():
        y = np.array([np.nan if v is None else v for v in s], dtype=float)
        ax.plot(np.arange(1, y.size + 1), y, label=att, lw=1.2)
    bounds = d.get("bounds") or {}
    if bounds:
        b = next(iter(bounds.values()))
        yb = np.array([np.nan if v is None else v for v in b], dtype=float)
        ax.plot(np.arange(1, yb.size + 1), yb, color="black", ls="--",
                label=f"κ ({d['kappa_name']}{'+NNM' if d.get('nnm') else ''}) at the "
                      "round's n clients")
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    top = max([hi] + [v for b in bounds.values() for v in b if v is not None])
    ax.set_ylim(lo, top * 40)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(_int_locator())
    ax.set_ylabel(r"$\|F(x)-\bar x_H\|^2 / \mathrm{var}_H$")
    ax.legend(loc="upper left", frameon=False, fontsize=6.5, ncol=1)
    return True


def _panel_compressor(ax, c: Any) -> bool:
    d = c.data
    rows = d.get("vectors")
    if not rows:
        return False
    names = list(rows)
    vals = [rows[k]["ratio"] for k in names]
    k_se = float(d.get("se_multiple", 4.0))
    errs = [k_se * rows[k]["se"] for k in names]
    cols = [_COLORS["PASS" if rows[k]["ok"] else "FAIL"] for k in names]
    ax.bar(range(len(names)), vals, yerr=errs, color=cols, width=0.6, capsize=2,
           label=f"measured (± {k_se:g} s.e.)")
    if d.get("bound") is not None:
        ax.axhline(d["bound"], color="#0969da", ls="--", label=d["bound_is"])
    ax.set_ylim(0, max(max(v + e for v, e in zip(vals, errs)),
                       d.get("bound") or 0.0) * 1.35 + 1e-12)
    ax.legend(loc="upper right", frameon=False, fontsize=6.5, ncol=2)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace(" ", "\n") for n in names], fontsize=6.5)
    ax.set_ylabel(r"$E\|Q(x)-x\|^2 / \|x\|^2$")
    ax.grid(axis="x", visible=False)
    return True


def _panel_utility(ax, c: Any) -> bool:
    curves = c.data.get("curves")
    if not curves:
        return False
    style = {"clean": ("#0969da", "-", "no attack")}
    for key, cv in curves.items():
        y = np.array([np.nan if v is None else v for v in cv["accuracy"]], dtype=float)
        if np.all(np.isnan(y)):
            continue
        col, ls, lab = style.get(key, (None, "-", key))
        if key.startswith("attack:"):
            col, lab = _COLORS["PASS"], f"{key.split(':', 1)[1]} (config's rule)"
        elif key == "mean_under_attack":
            col, ls, lab = _COLORS["FAIL"], "--", "same attack, mean"
        x = np.arange(1, y.size + 1)
        ok = ~np.isnan(y)
        ax.plot(x[ok], y[ok], color=col, ls=ls, label=lab)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(_int_locator())
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right", frameon=False, fontsize=6.5)
    return True


def plot_validation(report: Any, stem: Any) -> list[str]:
    """One panel per check (PDF + PNG, atomic) of a
    :class:`~fltheory.validation.ValidationReport` or its JSON dictionary: audit ε vs theory,
    μ̂ vs √T/z and the engine's noise, κ̂ per round vs κ, compressor variance vs ω, accuracy with
    and without attack.

    Examples
    --------
    >>> import os, tempfile
    >>> from fltheory.validation import CHECKS, Check, ValidationReport
    >>> rep = ValidationReport("x", [Check("a", CHECKS["a"], "N/A", "no DP")], {}, 0)
    >>> [os.path.splitext(p)[1] for p in plot_validation(rep, os.path.join(tempfile.mkdtemp(),
    ...                                                                     "v"))]
    ['.pdf', '.png']
    """
    from fltheory.validation import ValidationReport

    rep = ValidationReport.from_dict(report) if isinstance(report, dict) else report
    return draw_validation(rep, stem)
