"""``fltheory plot``: draw a named paper figure (vector PDF + PNG)."""

from __future__ import annotations

from pathlib import Path

_EPILOG = """\
examples:
  fltheory plot --list
  fltheory plot min-batch-size --out figures/
  fltheory plot amplification-sources --out figures/
  fltheory plot epsilon-vs-steps --out figures/
"""


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


def register(sub, formatter_class) -> None:
    p = sub.add_parser("plot", help="draw a named paper figure (PDF + PNG)",
                       description="Draw one of fltheory's paper figures for its default "
                                   "scenario; files are written atomically as PDF and PNG.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("figure", nargs="?", default=None, help="figure name (see --list)")
    p.add_argument("--out", default="figures", help="output directory")
    p.add_argument("--list", action="store_true", help="list the figure names")
    p.add_argument("--json", action="store_true", help="print the written paths as JSON")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    from fltheory.cli import emit

    figs = _figures()
    if args.list or args.figure is None:
        for name in figs:
            print(name)
        return 0
    if args.figure not in figs:
        raise ValueError(f"figure must be one of {', '.join(figs)}, got {args.figure!r}")
    paths = [str(p) for p in figs[args.figure](args.out)]

    def render():
        for path in paths:
            print(path)

    emit({"figure": args.figure, "files": paths}, args.json, render)
    return 0
