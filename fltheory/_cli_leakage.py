"""``fltheory leakage``: defense sweep of the leakage attacks from one TOML configuration."""

from __future__ import annotations

_EPILOG = """\
examples:
  fltheory leakage experiments/leakage/privacy_utility.toml --out results/leakage
  fltheory leakage experiments/leakage/eavesdropper.toml --out results/leakage --json

Writes DIR/<name>.json (the configuration, every point with its seed, attack success with its
confidence interval, test accuracy and epsilon, and the epsilon-equivalents, labelled as an
empirical equivalence, NOT a DP guarantee) and the figures the config lists (PDF + PNG).
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
    p.add_argument("config", help="TOML configuration (see experiments/leakage/)")
    p.add_argument("--out", default="results/leakage", metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    from fltheory.cli import emit

    from fltheory._io import check_out_dir
    from fltheory.cli import require

    require("torch", "fltheory leakage")
    import torch

    from fltheory import leakage as sweeps

    check_out_dir(args.out)
    torch.set_num_threads(1)
    from fltheory.plots.leakage import draw_sweep

    res = sweeps.run_config(args.config, args.out, figure=draw_sweep)

    def render():
        for line in sweeps.format_points(res):
            print(line)
        print(f"\n{len(res['points'])} points in {res['seconds']:.1f} s; files written:")
        for f in res.get("files", []):
            print(f"  {f}")

    emit(res, args.json, render)
    return 0
