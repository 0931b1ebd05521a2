"""Gradient-inversion figure: originals next to their reconstructions (draws results only).

The attacks and their :class:`~fltheory.audit.inversion.InversionResult` live in
:mod:`fltheory.audit.inversion`; this module only draws them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from fltheory.audit.inversion import InversionResult

__all__ = ["save_reconstruction_grid"]


def save_reconstruction_grid(results: Sequence[InversionResult], stem: Any, *,
                             image_shape: Sequence[int] | None = None) -> list[str]:
    """Draw originals and reconstructions as a grid; write ``stem.pdf`` and ``stem.png``.

    For each distinct original (in order of appearance): one row per attack method, one column per
    defence, the original in the first column; every panel is labelled with its PSNR.  Written
    atomically (temp file + rename) by :func:`fltheory.plots._common.save_figure`.

    Returns
    -------
    list of str
        The written paths.

    Examples
    --------
    >>> import tempfile, os
    >>> from fltheory.audit.inversion import inversion_experiment
    >>> res = inversion_experiment(methods=("analytic",), defences=[{}], steps=1)
    >>> paths = save_reconstruction_grid(res, os.path.join(tempfile.mkdtemp(), "grid"))
    >>> [os.path.splitext(p)[1] for p in paths]
    ['.pdf', '.png']
    """
    import matplotlib.pyplot as plt

    from fltheory.plots._common import paper_style, save_figure

    if not results:
        raise ValueError("results must not be empty")
    blocks: list[tuple[np.ndarray, list[InversionResult]]] = []
    for r in results:
        for orig, lst in blocks:
            if orig.shape == r.x_true.shape and np.array_equal(orig, r.x_true):
                lst.append(r)
                break
        else:
            blocks.append((r.x_true, [r]))
    defences = list(dict.fromkeys(r.defence for r in results))
    layout = []  # (original, method, {defence: result})
    for orig, lst in blocks:
        for meth in dict.fromkeys(r.method for r in lst):
            layout.append((orig, meth, {r.defence: r for r in lst if r.method == meth}))
    ncols = 1 + len(defences)

    def img(a):
        a = np.asarray(a)
        if image_shape is not None:
            return a.reshape(tuple(image_shape))
        a = a.squeeze()
        if a.ndim == 1:
            side = int(round(math.sqrt(a.size)))
            return a.reshape(side, side) if side * side == a.size else a.reshape(1, -1)
        return a

    def blank(ax):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for sp in ax.spines.values():
            sp.set_visible(True)
            sp.set_linewidth(0.5)

    with paper_style():
        fig, axes = plt.subplots(len(layout), ncols,
                                 figsize=(1.15 * ncols + 0.4, 1.3 * len(layout) + 0.3),
                                 squeeze=False)
        prev = None
        for ri, (orig, meth, byd) in enumerate(layout):
            ax = axes[ri][0]
            blank(ax)
            if prev is None or not np.array_equal(prev, orig):
                ax.imshow(img(orig), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
                ax.set_title("original", fontsize=7)
            else:
                ax.set_axis_off()
            prev = orig
            for ci, dfn in enumerate(defences, start=1):
                ax = axes[ri][ci]
                blank(ax)
                if ri == 0:
                    ax.set_title(dfn.replace(" + ", "\n+ "), fontsize=7)
                if ci == 1:
                    ax.set_ylabel(meth, fontsize=7)
                r = byd.get(dfn)
                if r is None:
                    ax.set_axis_off()
                    continue
                ax.imshow(img(r.x_rec), cmap="gray_r", vmin=0.0, vmax=1.0,
                          interpolation="nearest")
                ax.set_xlabel("exact" if not math.isfinite(r.psnr) else f"{r.psnr:.1f} dB",
                              fontsize=7)
        fig.tight_layout()
    return save_figure(fig, stem)
