"""Shared figure style and atomic saving for every fltheory figure."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["paper_style", "save_figure", "new_figure", "latex_sci"]

_STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
    "savefig.bbox": "tight",
}


def _pyplot():
    """``matplotlib.pyplot`` on the Agg backend, imported on first use (not at import time, so
    that ``fltheory plot --list`` and the other commands that draw nothing stay fast)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot

    return matplotlib.pyplot


def __getattr__(name: str) -> Any:  # ``from fltheory.plots._common import plt``
    if name == "plt":
        return _pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextmanager
def paper_style():
    """Context manager applying fltheory's paper style to matplotlib."""
    with _pyplot().rc_context(_STYLE):
        yield


def new_figure(width: float = 4.2, height: float = 3.0):
    """A new (figure, axes) pair in paper size (inches)."""
    with paper_style():
        fig, ax = _pyplot().subplots(figsize=(width, height))
    return fig, ax


def latex_sci(x: float, digits: int = 2) -> str:
    """``1e-05`` -> ``10^{-5}``, ``2.5e-06`` -> ``2.5 \\times 10^{-6}`` (for math labels)."""
    if x == 0:
        return "0"
    mant, exp = f"{x:.{digits}e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    e = int(exp)
    if e == 0:
        return mant
    return f"10^{{{e}}}" if mant == "1" else f"{mant} \\times 10^{{{e}}}"


def _atomic_savefig(fig, path: Path, fmt: str) -> None:
    from fltheory._io import atomic_write

    def write(tmp: str) -> None:
        with paper_style():
            fig.savefig(tmp, format=fmt)

    atomic_write(path, write, suffix=f".{fmt}")


def save_figure(fig, stem, formats=("pdf", "png")) -> list[str]:
    """Write ``stem.pdf`` and ``stem.png`` atomically (temp file + rename); return the paths."""
    stem = Path(stem)
    out = []
    for fmt in formats:
        p = stem.with_suffix(f".{fmt}")
        _atomic_savefig(fig, p, fmt)
        out.append(str(p))
    _pyplot().close(fig)
    return out
