"""Privacy-accounting figures."""

from __future__ import annotations

from typing import Callable

import numpy as np

from fltheory.plots._common import latex_sci, new_figure, paper_style, save_figure

__all__ = ["plot_epsilon_vs_steps"]


def plot_epsilon_vs_steps(build: Callable[[int], object], steps, delta: float, stem,
                          *, title: str | None = None, rdp: bool = True) -> dict:
    """Figure: certified ε (upper and lower PLD bounds, and RDP) against the number of steps.

    Parameters
    ----------
    build : callable
        ``build(T)`` returns the event after ``T`` steps.
    steps : array_like of int
        Step counts.
    delta : float
        Target δ.
    stem : str or pathlib.Path
        Output path without extension; ``stem.pdf`` and ``stem.png`` are written.
    title : str, optional
        Figure title.
    rdp : bool
        Also draw the RDP upper bound.

    Returns
    -------
    dict
        ``{"steps", "epsilon", "epsilon_lower", "epsilon_rdp", "files"}``.

    References
    ----------
    .. [1] Doroshenko et al., PETS 2022 (PLD upper bound); Mironov et al., arXiv:1908.10530
       (RDP).

    Examples
    --------
    >>> import tempfile, os
    >>> from fltheory.accounting import dp_sgd
    >>> d = tempfile.mkdtemp()
    >>> out = plot_epsilon_vs_steps(lambda T: dp_sgd(0.01, 1.0, T), [10, 100, 1000], 1e-5,
    ...                             os.path.join(d, "eps"))
    >>> sorted(os.path.basename(f) for f in out["files"])
    ['eps.pdf', 'eps.png']
    """
    from fltheory.accounting import epsilon_curve

    t = np.asarray(steps, dtype=np.int64)
    up, lo = epsilon_curve(build, t, delta, return_lower=True)
    er = epsilon_curve(build, t, delta, method="rdp") if rdp else None
    fig, ax = new_figure()
    with paper_style():
        if er is not None:
            ax.plot(t, er, ls="--", color="0.45", label="RDP upper bound")
        ax.plot(t, up, color="C0", label="PLD certified upper bound")
        gap = float(np.max((up - lo) / np.where(up > 0, up, 1.0)))
        ax.plot(t, lo, color="C1", ls=":",
                label=f"PLD certified lower bound (gap \u2264 {100 * gap:.2g} %)")
        ax.set_xlabel("steps $T$")
        ax.set_ylabel(rf"$\varepsilon$ at $\delta = {latex_sci(delta)}$")
        if t.max() / max(t.min(), 1) > 50:
            ax.set_xscale("log")
        if title:
            ax.set_title(title)
        ax.legend(frameon=False)
    files = save_figure(fig, stem)
    return {"steps": t, "epsilon": up, "epsilon_lower": lo, "epsilon_rdp": er, "files": files}
