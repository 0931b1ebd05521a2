"""Paper-style matplotlib figures (vector PDF + PNG, written atomically).

One function per figure kind; each takes an output directory and returns the written paths.
Matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "plot_min_batch_size": "fltheory.plots.bounds",
    "plot_aggregation_cost": "fltheory.plots.bounds",
    "plot_tradeoff": "fltheory.plots.bounds",
    "plot_trilemma": "fltheory.plots.bounds",
    "FIGURES": "fltheory.plots.bounds",
    "plot_epsilon_vs_steps": "fltheory.plots.privacy",
    "plot_amplification_sources": "fltheory.plots.amplification",
    "run_experiment": "fltheory.plots.experiments",
    "draw_experiment": "fltheory.plots.experiments",
    "EXPERIMENTS": "fltheory.plots.experiments",
    "save_figure": "fltheory.plots._common",
    "paper_style": "fltheory.plots._common",
    "new_figure": "fltheory.plots._common",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fltheory.plots' has no attribute {name!r}")
