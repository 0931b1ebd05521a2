"""``fltheory report``: the main job; ``fltheory validate``: theory against the run."""

from __future__ import annotations

_EPILOG = """\
examples:
  fltheory report                       # built-in default scenario, files in ./fltheory-report
  fltheory report --validate            # ... and the quick validation of the default FL recipe
  fltheory report experiments/configs/synthetic_dp_record.toml --out results/
  fltheory report CONFIG --validate     # the configuration's guarantees and its validation
  fltheory report --out results/ --json
  fltheory report --section privacy

With --validate the exit status is 1 when a validation check fails.
"""

_VALIDATE_EPILOG = """\
examples:
  fltheory validate experiments/configs/synthetic_dp_record.toml --quick
  fltheory validate CONFIG --out runs/validation --json
  fltheory validate CONFIG --noise-scale 0.5      # plant the half-noise bug: must FAIL

Checks: (a) audit epsilon lower bound <= the accountant's epsilon; (b) white-box noise calibration
(mu_hat vs sqrt(T)/z, and the engine's released noise); (c) aggregation error <= kappa x honest
variance in every attack run; (d) compressor variance <= omega ||x||^2; (e) accuracy and loss with
and without attack, against the error floor where it applies.  Exit status 1 when a check fails.
"""


# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "report": "full report of the default scenario or of a config",
    "validate": "run, audit and check a config against its guarantees",
}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("report", help=COMMANDS["report"],
                       description="Privacy, robustness and compression guarantees of the "
                                   "built-in default scenario (or of CONFIG), with figures "
                                   "(PDF + PNG) and report.json; --validate also runs the quick "
                                   "validation (theory vs run) and prints its verdicts.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("config", nargs="?", default=None,
                   help="TOML configuration to report (default: the built-in scenario)")
    p.add_argument("--out", default="fltheory-report", help="output directory")
    p.add_argument("--section", action="append", default=None,
                   help="only this section (repeatable)")
    p.add_argument("--validate", action="store_true",
                   help="also validate (the config, or the default FL recipe at small scale)")
    p.add_argument("--full", action="store_true",
                   help="with --validate: the full validation instead of the quick one")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation")
    p.add_argument("--json", action="store_true", help="print report.json's content")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)

    v = sub.add_parser("validate", help=COMMANDS["validate"],
                       description="Run the FL recipe CONFIG, audit it, and set every "
                                   "measurement beside the bound that predicts it; writes "
                                   "validation.json and validation.pdf/png.",
                       formatter_class=formatter_class, epilog=_VALIDATE_EPILOG)
    v.add_argument("config", help="TOML configuration (see experiments/configs/)")
    v.add_argument("--out", default=None, metavar="DIR",
                   help="write validation.json and the figure here")
    v.add_argument("--quick", action="store_true",
                   help="fewer canaries (1000 at 99 %%), the config's attack only, <= 50 rounds")
    v.add_argument("--seed", type=int, default=0, help="seed of every run and audit")
    v.add_argument("--noise-scale", type=float, default=1.0,
                   help="multiply the noise actually added (0.5 plants the half-noise bug)")
    v.add_argument("--json", action="store_true", help="print validation.json's content")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=_cmd_validate)


def _cmd(args) -> int:
    from fltheory.cli import emit
    from fltheory.report import CONFIG_SECTIONS, SECTIONS, build_report

    keys = [k for k, _ in (SECTIONS if args.config is None else CONFIG_SECTIONS)]
    if args.section:
        bad = [s for s in args.section if s not in keys]
        if bad:
            raise ValueError(f"section must be one of {', '.join(keys)}, got {bad[0]!r}")
    if args.full and not args.validate:
        raise ValueError("--full applies to --validate only")
    from fltheory._io import check_out_dir
    from fltheory.cli import require

    if args.validate:
        require("torch", "fltheory report --validate")
    if args.config is not None:
        from fltheory.report import check_config

        check_config(args.config)             # a bad configuration fails before any work
    check_out_dir(args.out)
    res = build_report(args.out, sections=args.section, config=args.config,
                       validate=args.validate, quick=not args.full, seed=args.seed)

    def render():
        for key, sec in res["sections"].items():
            print("=" * 78)
            print(f"{sec['title']}  ({sec['seconds']:.1f} s)")
            print("=" * 78)
            for line in sec["lines"]:
                print(line)
            print()
        print("files written:")
        for f in res["files"]:
            print(f"  {f}")

    emit({k: {"title": s["title"], "data": s["data"], "figures": s.get("figures", [])}
          for k, s in res["sections"].items()}, args.json, render)
    val = res["sections"].get("validation")
    return 1 if val is not None and not val.get("passed", True) else 0


def _cmd_validate(args) -> int:
    from fltheory.cli import emit

    from fltheory._io import check_out_dir
    from fltheory.cli import require

    require("torch", "fltheory validate")
    from fltheory.fl.registries import validate_config
    from fltheory.validation import validate

    validate_config(args.config)              # a bad configuration fails before any run
    if args.out is not None:
        check_out_dir(args.out)
    from fltheory.plots.validation import plot_validation

    rep = validate(args.config, seed=args.seed, quick=args.quick, noise_scale=args.noise_scale,
                   out_dir=args.out, figure=plot_validation)

    def render():
        print(rep)
        if rep.files:
            print("\nfiles written:")
            for f in rep.files:
                print(f"  {f}")

    emit(rep.to_dict(), args.json, render)
    return 0 if rep.passed else 1
