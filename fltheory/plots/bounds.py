"""Paper figures for the robustness and compression bounds.

Each function writes ``<stem>.pdf`` (vector) and ``<stem>.png`` into ``out_dir`` and returns the
paths.  :data:`FIGURES` maps a figure name to its function (for ``fltheory plot NAME``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fltheory.plots._common import latex_sci, paper_style, save_figure

__all__ = ["plot_min_batch_size", "plot_aggregation_cost", "plot_tradeoff", "plot_trilemma",
           "FIGURES", "RESNET50_D"]

#: Parameters of ResNet-50 (the mission's example).
RESNET50_D = 25_000_000

_COLORS = ["#1b4f9c", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#16a085", "#7f8c8d",
           "#2c3e50", "#b7950b", "#e74c8c", "#5d6d7e"]


#: Local refinements of the project style for these (denser) figures.
_RC = {"legend.fontsize": 6.5, "legend.frameon": False, "xtick.labelsize": 7.5,
       "ytick.labelsize": 7.5, "axes.labelsize": 8, "axes.titlesize": 8.5, "font.size": 8}


def _styled(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with paper_style(), matplotlib.rc_context(_RC):
            return func(*args, **kwargs)
    return wrapper


def _figure(width: float, height: float, ncols: int = 1):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    axes = list(axes[0])
    return fig, (axes[0] if ncols == 1 else axes)


def _save(fig, out_dir, stem: str) -> list[str]:
    return save_figure(fig, Path(out_dir) / stem)


_DISPLAY = {"mean": "Mean", "cwtm": "CWTM", "cwmed": "CWMed", "krum": "Krum",
            "multikrum": "MultiKrum", "gm": "GM (Weiszfeld, 100 it.)", "nnm": "NNM (mixing only)",
            "mda": "MDA", "caf": "CAF (2f steps)"}


def _sci(x: float) -> str:
    return latex_sci(float(x), digits=2)


@_styled
def plot_min_batch_size(out_dir: str | os.PathLike, *, epsilon: float = 1.0, delta: float = 1e-5,
                        aggregator: str = "cwmed", n: int = 20, f: int = 4,
                        k_fraction: float = 0.01, d_min: float = 1e3, d_max: float = 1e10,
                        stem: str = "min_batch_size_vs_d") -> list[str]:
    """Figure (a): minimum DP x Byzantine batch size against the model dimension (log-log).

    Curves: the pure :math:`\\sqrt d` law, the full-constant requirement with the classical and the
    analytic Gaussian calibration, and the requirement when workers release only
    :math:`k = d/100` coordinates that carry the gradient; the ResNet-50 point is marked.

    References
    ----------
    .. [1] Guerraoui et al. (2021), PODC 2021, Section 4.

    Examples
    --------
    >>> import tempfile
    >>> paths = plot_min_batch_size(tempfile.mkdtemp(), d_max=1e8)
    >>> [p.rsplit(".", 1)[1] for p in paths]
    ['pdf', 'png']
    """
    from fltheory.bounds import min_batch_size

    d = np.unique(np.round(np.geomspace(d_min, d_max, 60)))
    k = np.maximum(np.round(d * k_fraction), 1)
    pure = min_batch_size(d, epsilon, delta, constants=False)
    cls = min_batch_size(d, epsilon, delta, aggregator, n=n, f=f)
    ana = min_batch_size(d, epsilon, delta, aggregator, n=n, f=f, calibration="analytic")
    kco = min_batch_size(d, epsilon, delta, aggregator, n=n, f=f, k=k)
    fig, ax = _figure(3.5, 2.7)
    ax.loglog(d, cls, color=_COLORS[1], label=f"{aggregator}, classical calibration (PODC'21)")
    ax.loglog(d, ana, color=_COLORS[1], ls="--", label=f"{aggregator}, analytic Gaussian")
    ax.loglog(d, kco, color=_COLORS[2],
              label=rf"$k = d/{round(1 / k_fraction)}$ coordinates (gradient kept)")
    ax.loglog(d, pure, color="k", ls=":", label=r"$b = \sqrt{d}$ (constants dropped)")
    dr = RESNET50_D
    pts = [float(min_batch_size(dr, epsilon, delta, constants=False)),
           float(min_batch_size(dr, epsilon, delta, aggregator, n=n, f=f)),
           float(min_batch_size(dr, epsilon, delta, aggregator, n=n, f=f,
                                k=max(round(dr * k_fraction), 1)))]
    ax.axvline(dr, color="0.6", lw=0.6, zorder=0)
    ax.plot([dr] * 3, pts, "o", color="k", ms=3.5, zorder=5)
    # the ResNet-50 values in a box of their own (labels on the curves would cross them)
    ax.text(0.03, 0.85, "ResNet-50 ($d=2.5\\times10^7$, grey line):\n"
            rf"  classical: $b^*\approx {_sci(pts[1])}$" "\n"
            rf"  $k=d/{round(1 / k_fraction)}$: $b^*\approx {_sci(pts[2])}$" "\n"
            rf"  $\sqrt{{d}}={pts[0]:.0f}$",
            transform=ax.transAxes, ha="left", va="top", fontsize=6.3, linespacing=1.35)
    ax.set_xlabel("model dimension $d$ (parameters)")
    ax.set_ylabel("minimum batch size $b^*$ (samples/worker)")
    ax.set_title(rf"DP $\times$ Byzantine: $\varepsilon={epsilon:g}$, $\delta={_sci(delta)}$, "
                 rf"$n={n}$, $f={f}$")
    ax.set_ylim(1.0, 1e10)            # head-room above the curves for the two notes
    ax.legend(loc="lower right")
    ax.text(0.97, 0.97, "rand-k with unbiased rescaling\nkeeps the full-$d$ curves",
            transform=ax.transAxes, ha="right", va="top", fontsize=6.3, color="0.35")
    return _save(fig, out_dir, stem)


@_styled
def plot_aggregation_cost(out_dir: str | os.PathLike, *, n: int = 20, f: int = 4,
                          d_min: float = 1e2, d_max: float = 1e9,
                          aggregators: Sequence[str] = ("mean", "cwtm", "cwmed", "krum",
                                                        "multikrum", "gm", "nnm", "mda", "caf"),
                          stem: str = "aggregation_cost_vs_d") -> list[str]:
    """Figure (b): operations per aggregation against d, per aggregator (log-log).

    SMEA is drawn twice: on the :math:`d\\times d` covariance (the :math:`\\binom nf d^3` regime) and on
    the :math:`(n-f)\\times(n-f)` Gram matrix.

    Examples
    --------
    >>> import tempfile
    >>> len(plot_aggregation_cost(tempfile.mkdtemp(), d_max=1e6))
    2
    """
    from fltheory.bounds import aggregation_cost

    d = np.geomspace(d_min, d_max, 50)
    d = np.unique(np.round(d))
    fig, ax = _figure(3.3, 2.8)
    styles = ["-", "-", "--", "-", "--", "-.", ":", "-", "-."]
    for i, name in enumerate(aggregators):
        c = aggregation_cost(name, n=n, f=f, d=d)
        ax.loglog(d, c["flops"], color=_COLORS[i % len(_COLORS)], ls=styles[i % len(styles)],
                  label=_DISPLAY.get(name, name))
    cg = aggregation_cost("smea", n=n, f=f, d=d, smea_method="gram")
    cd = aggregation_cost("smea", n=n, f=f, d=d, smea_method="dense")
    ax.loglog(d, cg["flops"], color="k", ls="--", label="SMEA (Gram)")
    # SMEA on the dense d x d covariance grows like C(n,f) d^3 (10^32 flops at d = 10^9): drawn
    # up to the top of the other rules' range, its end value written where it leaves the axis
    top = 100 * max(float(np.max(ax.lines[i].get_ydata())) for i in range(len(ax.lines)))
    ax.loglog(d, cd["flops"], color="k", lw=1.8, label=r"SMEA (dense, $\binom{n}{f}d^3$)")
    ax.set_ylim(top=top)
    cross = d[np.argmax(cd["flops"] > top)] if np.any(cd["flops"] > top) else None
    if cross is not None:
        ax.annotate(rf"SMEA dense: ${_sci(cd['flops'][-1])}$ flops at $d={_sci(d[-1])}$",
                    (cross, top), xytext=(4, -10), textcoords="offset points", fontsize=6,
                    ha="left", va="top", arrowprops=dict(arrowstyle="-|>", lw=0.6, color="k"))
    ax.axvline(RESNET50_D, color="0.6", lw=0.6, zorder=0)
    ax.text(RESNET50_D, 0.02, "ResNet-50 ", fontsize=6.5, color="0.35", rotation=90,
            va="bottom", ha="right", transform=ax.get_xaxis_transform())
    ax.set_xlabel("vector dimension $d$ (coordinates aggregated)")
    ax.set_ylabel("operations per aggregation (flops)")
    ax.set_title(rf"Aggregation cost, $n={n}$, $f={f}$ (model counts)")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), handlelength=2.4)
    return _save(fig, out_dir, stem)


@_styled
def plot_tradeoff(out_dir: str | os.PathLike, table=None, *,
                  objectives: Sequence[str] = ("bits", "mse", "epsilon"),
                  stem: str = "compression_tradeoff", **tradeoff_kwargs) -> list[str]:
    """Figure (c): trade-off curves over rand-k levels and their Pareto front.

    Panels: communication vs utility (bits per round vs mean-estimation MSE), privacy vs utility
    (ε vs MSE) and robustness (relative robust-aggregation error bound vs the kept fraction k/d).
    Rows on the Pareto front of ``objectives`` are circled.  ``table`` defaults to
    :func:`fltheory.tradeoffs.compression_tradeoff` ``(**tradeoff_kwargs)``.

    Examples
    --------
    >>> import tempfile
    >>> from fltheory.tradeoffs import compression_tradeoff
    >>> t = compression_tradeoff(10**6, [10**3, 10**4, 10**5], modes=("dense", "shared"))
    >>> len(plot_tradeoff(tempfile.mkdtemp(), t))
    2
    """
    from fltheory.tradeoffs import compression_tradeoff, pareto_front

    if table is None:
        d = tradeoff_kwargs.pop("d", RESNET50_D)
        ks = tradeoff_kwargs.pop("k", [d // 10_000, d // 1000, d // 100, d // 10])
        table = compression_tradeoff(d, ks, **tradeoff_kwargs)
    front = pareto_front(table, list(objectives))
    fig, axes = _figure(7.6, 2.8, ncols=3)
    present = set(table["mode"].tolist())
    modes = [m for m in ("dense", "shared", "secret") if m in present]
    style = {"dense": dict(color="k", marker="s", ls="none"),
             "shared": dict(color=_COLORS[0], marker="o", ls="-"),
             "secret": dict(color=_COLORS[1], marker="^", ls="-")}
    label = {"dense": "dense (no compression)", "shared": "rand-k, shared (public) mask",
             "secret": "Poisson(k/d) secret mask per record, dense noisy release"}
    mse_label = r"MSE of the mean ($\|\cdot\|_2^2$)"
    panels = [("bits", "mse", "bits per client per round", mse_label),
              ("epsilon", "mse", rf"privacy $\varepsilon$ at $\delta={_sci(table.meta.get('delta', 1e-5))}$",
               mse_label),
              ("gamma", "robust_error_rel", "kept fraction $k/d$",
               "robust error / signal energy")]
    for ax, (xc, yc, xl, yl) in zip(axes, panels):
        for m in modes:
            sel = np.flatnonzero(table["mode"] == m)
            x, y = table[xc][sel], table[yc][sel]
            ok = np.isfinite(x) & np.isfinite(y)
            ax.loglog(x[ok], y[ok], label=label[m], **style[m])
        if xc != "gamma":
            ok = np.isfinite(table[xc][front]) & np.isfinite(table[yc][front])
            ax.plot(table[xc][front][ok], table[yc][front][ok], "o", mfc="none", mec="#e67e22",
                    ms=8, mew=1.0, label="Pareto front" if xc == "bits" else None)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    shared = np.flatnonzero(table["mode"] == "shared")
    for i in shared:   # above-right, clear of the markers; the last one below-left (dense column)
        last = i == shared[-1]
        axes[0].annotate(rf"$k/d={_sci(table['gamma'][i])}$", (table["bits"][i], table["mse"][i]),
                         xytext=(-6, -6) if last else (6, 5), textcoords="offset points",
                         fontsize=6, ha="right" if last else "left",
                         va="top" if last else "bottom", color=_COLORS[0])
    parts = []
    for m in modes:
        v = table["min_batch_size"][table["mode"] == m]
        fin = v[np.isfinite(v)]
        if fin.size == 0:
            parts.append(f"{m} $\\infty$ (VN condition unreachable)")
        elif fin.size == v.size:
            lo, hi = fin.min(), fin.max()
            parts.append(f"{m} ${_sci(lo)}$" if np.isclose(lo, hi) else
                         f"{m} ${_sci(lo)}$ to ${_sci(hi)}$")
        else:
            parts.append(f"{m} ${_sci(fin.min())}$ to $\\infty$")
    fig.text(0.5, 0.1, "minimum batch size $b^*$: " + "; ".join(parts), ha="center", va="top",
             fontsize=6.3, color="0.25")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.1))
    meta = table.meta
    fig.suptitle(rf"Compression trade-off: $d={_sci(meta.get('d', 1))}$, $n={meta.get('n')}$, "
                 rf"$f={meta.get('f')}$, {meta.get('aggregator')}, "
                 rf"$z={meta.get('noise_multiplier', 0):.3g}$, $b={meta.get('batch_size')}$; "
                 rf"Pareto front on ({', '.join(objectives)})", fontsize=7.5, y=1.0)
    fig.subplots_adjust(wspace=0.55, bottom=0.36)
    return _save(fig, out_dir, stem)


@_styled
def plot_trilemma(out_dir: str | os.PathLike, *, n: int = 20, f: int = 4, sigma: float = 1.0,
                  aggregator: str = "cwtm", d_min: float = 1e1, d_max: float = 1e9,
                  stem: str = "trilemma_error_vs_d") -> list[str]:
    """Error of naive DP + (f, κ)-robust composition vs a spectral (SMEA-type) rule, against d.

    The naive curve is a derived upper bound; the SMEA curve is an order (constants unknown) and is
    labelled so.

    Examples
    --------
    >>> import tempfile
    >>> len(plot_trilemma(tempfile.mkdtemp(), d_max=1e6))
    2
    """
    from fltheory.bounds import trilemma_errors

    d = np.unique(np.round(np.geomspace(d_min, d_max, 60)))
    r = trilemma_errors(d, n=n, f=f, sigma=sigma, aggregator=aggregator)
    fig, (ax, ax2) = _figure(6.8, 2.6, ncols=2)
    ax.loglog(d, r["naive"], color=_COLORS[1],
              label=rf"naive: {aggregator} on DP noise (bound, $\kappa={r['kappa']:.2g}$)")
    ax.loglog(d, r["honest_mean"], color="0.4", ls=":", label="honest mean, no attack (exact)")
    ax.set_ylabel(r"$\mathbb{E}\|F-\mu\|^2$ (units of $\sigma^2$)")
    ax.set_title("(a) error (bound; exact honest mean)")
    # an order has no constants: only its growth in d is drawn, beside the bound's growth
    ax2.loglog(d, r["naive"] / r["naive"][0], color=_COLORS[1],
               label=f"naive {aggregator} bound")
    ax2.loglog(d, r["smea_order"] / r["smea_order"][0], color=_COLORS[0], ls="--",
               label="SMEA-type (order only, constants unknown)")
    ax2.set_ylabel(rf"error($d$) / error($d={_sci(d[0])}$)")
    ax2.set_title(rf"(b) growth in $d$ (normalised at $d={_sci(d[0])}$)")
    for a in (ax, ax2):
        a.axvline(RESNET50_D, color="0.6", lw=0.6, zorder=0)
        a.set_xlabel("model dimension $d$ (parameters)")
        a.legend(loc="upper left")
    fig.suptitle(rf"Privacy-robustness trilemma, $n={n}$, $f={f}$, $\sigma={sigma:g}$",
                 fontsize=8.5)
    fig.tight_layout()
    return _save(fig, out_dir, stem)


#: Figure name -> function(out_dir, **kwargs) -> paths (for ``fltheory plot``).
FIGURES: dict[str, Callable[..., list[str]]] = {
    "min-batch-size": plot_min_batch_size,
    "aggregation-cost": plot_aggregation_cost,
    "tradeoff": plot_tradeoff,
    "trilemma": plot_trilemma,
}
