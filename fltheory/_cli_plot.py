"""``fltheory plot``: draw a named paper figure (vector PDF + PNG)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

_EPILOG = """\
examples:
  fltheory plot --list
  fltheory plot min-batch-size --out figures/
  fltheory plot amplification-sources --out figures/
  fltheory plot epsilon-vs-steps --out figures/

experiment figures (run their grid around a base config, write NAME.json, draw):
  fltheory plot byzantine-attacks --out figures/ --seeds 0..4 --jobs 2
  fltheory plot audit-vs-theory --config experiments/configs/fig5_audit.toml --out figures/
  fltheory plot gradient-inversion --out figures/ --quick
  fltheory plot byzantine-attacks --from figures/byzantine_attacks.json --out figures/
  fltheory plot compression-runs --quick --jobs 2 --out figures/
  fltheory plot byzantine-attacks --backend dask --scheduler tcp://HOST:8786 --out figures/
  fltheory plot byzantine-attacks --out figures/ --resume   # after an interruption

Experiment grids write one file per finished point to OUT/points (--points DIR); with --resume
the points already there with the same configuration hash are not run again.

from results on disk:
  fltheory plot runs --from runs/labelflip --out figures/      # result.json files (run, sweep)
  fltheory plot validation --from runs/val/validation.json --out figures/
"""

_FROM_ONLY = {"runs": "a directory of result.json files (fltheory run --out DIR, or a sweep)",
              "validation": "a validation.json (fltheory validate CONFIG --out DIR)"}


def _figures() -> dict:
    """Figure name -> callable(out_dir) returning the written paths."""
    from fltheory.plots.bounds import FIGURES

    figs = {name: (lambda out, fn=fn: fn(out)) for name, fn in FIGURES.items()}

    def amplification(out):
        from fltheory.plots.amplification import plot_amplification_sources

        return plot_amplification_sources(Path(out) / "amplification_sources")["files"]

    def eps_vs_steps(out):
        import numpy as np

        from fltheory.accounting import dp_sgd
        from fltheory.plots.privacy import plot_epsilon_vs_steps
        from fltheory.report import DEFAULT_SCENARIO as s

        t = np.unique(np.geomspace(max(1, s["steps"] // 200), s["steps"], 40).astype(int))
        return plot_epsilon_vs_steps(lambda k: dp_sgd(s["sampling_rate"], s["noise_multiplier"], k),
                                     t, s["delta"], Path(out) / "epsilon_vs_steps")["files"]

    figs["amplification-sources"] = amplification
    figs["epsilon-vs-steps"] = eps_vs_steps
    return dict(sorted(figs.items()))


def _experiment_names() -> list[str]:
    from fltheory.experiments import EXPERIMENTS

    return sorted(EXPERIMENTS)


# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "plot": "draw a named paper figure (PDF + PNG)",
}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("plot", help=COMMANDS["plot"],
                       description="Draw one of fltheory's paper figures; files are written "
                                   "atomically as PDF and PNG.  Experiment figures run their "
                                   "grid around a base configuration (or redraw from the JSON "
                                   "they wrote, --from).",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("figure", nargs="?", default=None, help="figure name (see --list)")
    p.add_argument("--out", default="figures", help="output directory")
    p.add_argument("--list", action="store_true", help="list the figure names")
    p.add_argument("--config", default=None, metavar="TOML",
                   help="experiment figures: base configuration (default: the figure's own)")
    p.add_argument("--seeds", default=None, metavar="A..B",
                   help="experiment figures: seeds (e.g. 0..4)")
    p.add_argument("--quick", action="store_true",
                   help="experiment figures: the reduced version (seconds)")
    from fltheory.sweep import add_executor_arguments

    add_executor_arguments(p)
    p.add_argument("--from", dest="source", default=None, metavar="PATH",
                   help="redraw from results on disk: an experiment's JSON, a validation.json, "
                        "or a directory of result.json files (figure 'runs')")
    p.add_argument("--json", action="store_true", help="print the written paths as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


def grid_options(args) -> list[str]:
    """The experiment-grid options given on the command line (they need a grid to run)."""
    return [f for f, v in (("--config", args.config), ("--seeds", args.seeds),
                           ("--quick", args.quick), ("--jobs", args.jobs != 1),
                           ("--backend", args.backend), ("--scheduler", args.scheduler),
                           ("--points", args.points), ("--resume", args.resume)) if v]


def grid_executor(args) -> dict:
    """Executor options of an experiment grid (:func:`fltheory.sweep.run_points`): points in
    ``--points`` (default ``OUT/points``)."""
    from fltheory.cli import require
    from fltheory.sweep import check_executor, executor_options

    backend = check_executor(args.backend, args.jobs, args.scheduler)
    if backend not in ("serial", "dask"):
        require("joblib", f"fltheory plot --backend {args.backend or 'joblib'}")
    return executor_options(args, points_dir=Path(args.out) / "points")


@contextmanager
def resume_hint(ex: dict):
    """On Ctrl-C during a grid, say where its finished points are and how to resume."""
    try:
        yield
    except KeyboardInterrupt:
        if ex.get("points_dir") is not None:
            import sys

            print(f"fltheory: interrupted; the finished points are in {ex['points_dir']}: run "
                  "the same command with --resume to run only the others", file=sys.stderr)
        raise


def _cmd(args) -> int:
    from fltheory.cli import emit

    figs = _figures()
    exps = _experiment_names()
    names = sorted([*figs, *exps, *_FROM_ONLY, "compression-runs"])
    if args.figure == "compression-runs":   # experiment 9: fltheory/_cli_compression.py
        from fltheory._cli_compression import plot_compression_runs

        return plot_compression_runs(args)
    if args.list or args.figure is None:
        for name in names:
            print(name)
        return 0
    if args.figure not in names:
        raise ValueError(f"figure must be one of {', '.join(names)}, got {args.figure!r}")
    from fltheory._io import check_out_dir

    check_out_dir(args.out)
    extra = grid_options(args)
    if args.figure in figs:
        if extra or args.source:
            raise ValueError(f"{(extra or ['--from'])[0]} applies to the experiment figures "
                             f"({', '.join(exps)}) only")
        paths = [str(p) for p in figs[args.figure](args.out)]
    elif args.figure in _FROM_ONLY:
        if args.source is None:
            raise ValueError(f"figure {args.figure!r} needs --from: "
                             f"{_FROM_ONLY[args.figure]}")
        if extra:
            raise ValueError(f"{extra[0]} does not apply to figure {args.figure!r}")
        if args.figure == "runs":
            from fltheory.plots.experiments import draw_runs

            paths = draw_runs(args.source, Path(args.out) / "runs")
        else:
            from fltheory.experiments import load_results
            from fltheory.plots.validation import plot_validation

            data = load_results(args.source)
            if "checks" not in data:
                raise ValueError(f"{args.source}: not a validation.json (no 'checks')")
            paths = plot_validation(data, Path(args.out) / "validation")
    else:
        from fltheory.cli import require
        from fltheory.figures import experiment_figure

        if args.source is not None and extra:
            raise ValueError(f"{extra[0]} cannot be combined with --from (the results are "
                             "already computed)")
        ex = {}
        if args.source is None:
            require("torch", f"fltheory plot {args.figure}")
            ex = grid_executor(args)
        with resume_hint(ex):
            paths = experiment_figure(args.figure, args.out, config=args.config,
                                      seeds=args.seeds, quick=args.quick, from_json=args.source,
                                      **ex)["files"]
    paths = [str(p) for p in paths]

    def render():
        for path in paths:
            print(path)

    emit({"figure": args.figure, "files": paths}, args.json, render)
    return 0
