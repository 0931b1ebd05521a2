"""``fltheory run``: run an FL experiment from a TOML configuration."""

from __future__ import annotations

import math
import os
import sys

_EPILOG = """\
examples:
  fltheory run experiments/configs/digits_labelflip.toml --out runs/labelflip
  fltheory run experiments/configs/synthetic_dp_record.toml --out runs/dp --quiet --json
  fltheory run CONFIG --out runs/long --resume      # continue after an interruption

Writes DIR/result.json (metrics of every round, the accounting event and its epsilon) and
DIR/params.pt; with run.checkpoint_every = N also DIR/checkpoint.pt every N rounds.
"""


# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "run": "run an FL experiment (PyTorch) from a TOML config",
}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("run", help=COMMANDS["run"],
                       description="Run the FL recipe a TOML configuration describes (the one "
                                   "'fltheory epsilon' accounts) and write its per-round metrics "
                                   "and accounting event as JSON.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("config", help="TOML configuration file (see experiments/configs/)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue from DIR/checkpoint.pt if present")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in DIR (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print result.json's content")
    from fltheory.sweep import add_sweep_arguments

    add_sweep_arguments(p)
    p.set_defaults(func=_cmd)


def _fmt(v, spec: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return format(v, spec)


def _cmd(args) -> int:
    from fltheory._io import check_out_dir
    from fltheory.cli import emit, print_table, require
    from fltheory.config import load_config

    sweep = getattr(args, "seeds", None) is not None
    require("torch", "fltheory run")
    if sweep:
        require("joblib", "fltheory run --seeds")
    from fltheory.fl.registries import validate_config

    cfg = validate_config(load_config(args.config))   # every check before the first round
    if sweep and args.resume:
        raise ValueError("--resume applies to a single run, not to --seeds")
    check_out_dir(args.out, holds="sweep.json" if sweep else "result.json",
                  overwrite=args.overwrite, resume=args.resume)
    if sweep:
        from fltheory.sweep import sweep_command

        return sweep_command(args)
    from fltheory.fl import simulate
    try:
        run = simulate(cfg, out_dir=args.out, resume=args.resume,
                       progress=False if args.quiet else None)
    except KeyboardInterrupt:
        every = cfg.run.checkpoint_every
        hint = (f"resume with: fltheory run {args.config} --out {args.out} --resume"
                if every else "set run.checkpoint_every to be able to resume")
        print(f"fltheory: interrupted; {hint}", file=sys.stderr)
        return 130

    if args.resume and not run.info.get("resumed_from"):
        print(f"fltheory: no checkpoint in {args.out}; the run started from round 1",
              file=sys.stderr)

    def render():
        rows = []
        n = len(run.metrics)
        step = max(1, n // 10)
        for i, m in enumerate(run.metrics):
            if i % step and i != n - 1:
                continue
            rows.append([m["round"], _fmt(m.get("loss"), ".4f"), _fmt(m.get("accuracy"), ".4f"),
                         _fmt(m.get("epsilon"), ".4g"), m["bits_total"],
                         _fmt(m.get("agg_error"), ".3g"), _fmt(m.get("wall_time"), ".2f")])
        print(f"{cfg.name}: {n} rounds, {run.info['model']} ({run.info['num_params']} params), "
              f"aggregator {run.info['aggregator']}, privacy {cfg.privacy.level}")
        print_table(rows, ["round", "loss", "accuracy", "epsilon", "bits", "agg_error", "time_s"])
        g = run.guarantee
        if g is not None:
            print(f"\n{g}")
        print("\nfiles written:")
        for name in ("result.json", "params.pt"):
            print(f"  {os.path.join(args.out, name)}")

    emit(run.to_dict(), args.json, render)
    return 0
