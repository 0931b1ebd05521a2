"""``fltheory leakage``: defense sweep of the leakage attacks from one TOML configuration."""

from __future__ import annotations

_EPILOG = """\
examples:
  fltheory leakage experiments/leakage/privacy_utility.toml --out results/leakage --jobs 2
  fltheory leakage experiments/leakage/eavesdropper.toml --out results/leakage --json

The file is a recipe per attack ([recipes]: attack -> built-in recipe name or TOML path: the
FL setting) plus a grid ([grid]: attacks, seeds, figures; [grid.defenses]: defense -> its
parameters); see experiments/leakage/*.toml.  Writes DIR/<name>.json (the configuration, every
point with its seed, attack success with its confidence interval, test accuracy and epsilon,
and the epsilon-equivalents, labelled as an empirical equivalence, NOT a DP guarantee) and the
figures the grid lists (PDF + PNG).  The points do not depend on --jobs.
"""


# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "leakage": "defense sweep of the leakage attacks (PyTorch)",
}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("leakage", help=COMMANDS["leakage"],
                       description="Run leakage attacks (source / attribute inference, "
                                   "eavesdropper, passive MIA, loss-threshold, LiRA) under DP "
                                   "noise and noise-free defenses (pruning, quantization, "
                                   "top-k / rand-k, mixup, batch sampling) as a TOML config "
                                   "describes; report attack success vs test accuracy.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("config", help="TOML file: [recipes] plus [grid] (see experiments/leakage/)")
    p.add_argument("--out", default="results/leakage", metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="training runs at a time, in worker processes (-1: every core; "
                        "the results do not depend on N)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier sweep of the same name in --out "
                        "(default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    from fltheory.cli import emit

    from fltheory._io import check_out_dir
    from fltheory.cli import require

    require("torch", "fltheory leakage")
    import torch

    from fltheory import leakage as sweeps

    if args.jobs == 0 or args.jobs < -1:
        raise ValueError(f"--jobs must be >= 1 or -1 (every core), got {args.jobs}")
    sw = sweeps.load_sweep(args.config)     # every error before the output folder is touched
    check_out_dir(args.out, holds=f"{sw['name']}.json", overwrite=args.overwrite, resume=None)
    torch.set_num_threads(1)
    from fltheory.plots.leakage import draw_sweep

    res = sweeps.run_config(args.config, args.out, jobs=args.jobs, figure=draw_sweep)

    def render():
        for line in sweeps.format_points(res):
            print(line)
        print(f"\n{len(res['points'])} points in {res['seconds']:.1f} s ({res['jobs']} jobs); "
              "files written:")
        for f in res.get("files", []):
            print(f"  {f}")

    emit(res, args.json, render)
    return 0
