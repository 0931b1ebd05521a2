"""Figures that need a run: run (or load) the results, write them, then draw them.

The runners (:mod:`fltheory.experiments`, :mod:`fltheory.validation`, :mod:`fltheory.plan`,
:mod:`fltheory.leakage`) return result objects and write JSON; :mod:`fltheory.plots` draws result
objects and never runs anything.  This module, in the layer of the report, joins the two for the
figures the command line and the report produce.

Examples
--------
>>> import tempfile
>>> out = experiment_figure("audit-vs-theory", tempfile.mkdtemp(), quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike

__all__ = ["experiment_figure"]


def experiment_figure(name: str, out_dir: Any, *, config: ConfigLike | None = None,
                      seeds: Any = None, quick: bool = False, jobs: int = 1, from_json: Any = None,
                      **kw) -> dict:
    """Run (or load) an experiment, write ``<stem>.json`` and draw it; return files and results.

    Parameters
    ----------
    name : str
        A key of :data:`fltheory.experiments.EXPERIMENTS`.
    out_dir : str or path
        Where ``<stem>.json`` and the figure (PDF + PNG) go.
    config, seeds, quick, jobs, **kw
        As :func:`fltheory.experiments.run_experiment`.
    from_json : str or path, optional
        Draw these results (written by an earlier call) instead of running.

    Returns
    -------
    dict
        ``{"files": [...], "results": {...}}``.
    """
    from fltheory.experiments import EXPERIMENTS, load_results, run_experiment
    from fltheory.plots.experiments import draw_experiment

    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {', '.join(sorted(EXPERIMENTS))}, got {name!r}")
    stem = EXPERIMENTS[name].stem
    out = Path(out_dir)
    if from_json is not None:
        res = load_results(from_json)
    else:
        res = run_experiment(name, config, seeds=seeds, quick=quick, jobs=jobs, **kw)
        from fltheory._io import write_json_atomic

        write_json_atomic(out / f"{stem}.json", res)
    files = draw_experiment(name, res, out)
    if from_json is None:
        files.append(str(out / f"{stem}.json"))
    return {"files": files, "results": res}
