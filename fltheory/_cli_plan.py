"""``fltheory plan``: per-device-class settings that meet every class's ε and resources."""

from __future__ import annotations

_EPILOG = """\
examples:
  fltheory plan experiments/devices/heterogeneous.toml
  fltheory plan experiments/devices/heterogeneous.toml --json
  fltheory plan experiments/devices/heterogeneous.toml --validate --quick --out results/plan

The table gives, per device class, the participation rate p, batch size B, local steps K, pruning
ratio r, quantizer bits, noise multiplier z, the certified epsilon (record-level DP of local
DP-SGD with revealed participation), memory, uplink bits and round time against their budgets,
and which constraints bind.  --validate runs the plan in the engine against a uniform recipe at
the strictest epsilon and the per-client SAMPLE / SCALE heuristics, and draws a figure.
"""


COMMANDS = {"plan": "device-aware plan: per-class compression, noise, batch, participation"}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("plan", help=COMMANDS["plan"],
                       description="Choose per device class the compression, local steps, batch "
                                   "size, participation rate and noise multiplier that meet "
                                   "every class's certified epsilon, memory, round deadline and "
                                   "uplink budget while minimising a stated error bound.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("devices", help="devices file (TOML, see experiments/devices/)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--validate", action="store_true",
                   help="run the plan and the baselines (uniform, SAMPLE, SCALE) in the "
                        "engine (PyTorch)")
    p.add_argument("--quick", action="store_true",
                   help="with --validate: one seed and fewer evaluations (about a minute)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="with --validate: seeds per recipe (default 3, 1 with --quick)")
    p.add_argument("--out", default="results/plan", metavar="DIR",
                   help="with --validate: where the JSON and the figure go")
    from fltheory.sweep import add_executor_arguments   # where --validate's runs execute

    add_executor_arguments(p)
    p.set_defaults(func=_cmd)


def _fmt(x, spec=".4g"):
    return "-" if x is None else format(x, spec)


def plan_rows(pl) -> tuple[list, list]:
    """Header and rows of the plan table."""
    header = ["class", "n", "p", "B", "K", "prune r", "bits", "z", "eps/target",
              "memory/budget", "uplink/budget", "round s/deadline", "binds"]
    rows = []
    for c in pl.classes:
        if not c.feasible:
            rows.append([c.name, c.count] + ["-"] * 10 + ["INFEASIBLE"])
            continue
        s = c.settings
        rows.append([c.name, c.count, f"{s['participation']:g}", s["batch_size"],
                     s["local_steps"], f"{s['prune_ratio']:g}", s["quantizer_bits"],
                     _fmt(s["noise_multiplier"]),
                     f"{c.epsilon:.5g}/{c.epsilon_target:g}",
                     f"{c.memory_bytes:.4g}/{c.memory_budget_bytes:.4g}",
                     f"{c.uplink_bits:.4g}/{c.uplink_budget_bits:.4g}",
                     f"{c.round_seconds:.3g}/{c.deadline_seconds:g}",
                     ",".join(c.binding)])
    return header, rows


def _render(pl) -> None:
    from fltheory.cli import print_table

    sp = pl.spec
    print(f"plan for {sp.name}: {len(sp.classes)} device classes, {sp.num_clients} clients, "
          f"d = {sp.model.d}, {sp.rounds} rounds, deadline {sp.deadline_seconds:g} s")
    header, rows = plan_rows(pl)
    print_table(rows, header)
    if pl.objective:
        o = pl.objective
        print(f"\nerror bound J = {o['J']:.4g} (optimisation {o['optimisation']:.3g} + "
              f"variance {o['variance']:.3g} + heterogeneity {o['heterogeneity']:.3g}); "
              "an estimate that ranks settings, see fltheory.plan.optimize")
    for c in pl.classes:
        print(f"\n{c.name}:")
        for line in c.explanation:
            print(f"  - {line}")
        if c.alternatives:
            print("  Pareto alternatives (error bound, round time, uplink, memory; z from the RDP "
                  "search):")
            for a in c.alternatives:
                print(f"    p={a['participation']:g} B={a['batch_size']} K={a['local_steps']} "
                      f"r={a['prune_ratio']:g} bits={a['quantizer_bits']} "
                      f"z={a['noise_multiplier']:.4g}: J={a['error_bound']:.4g}, "
                      f"{a['round_seconds']:.3g} s, {a['uplink_bits']:.4g} bits, "
                      f"{a['memory_bytes']:.4g} B")


def _cmd(args) -> int:
    from fltheory.cli import emit
    from fltheory.plan import plan

    if args.quick and not args.validate:
        raise ValueError("--quick is an option of --validate; add --validate")
    extra = [f for f, v in (("--backend", args.backend), ("--jobs", args.jobs != 1),
                            ("--scheduler", args.scheduler), ("--points", args.points),
                            ("--resume", args.resume)) if v]
    if extra and not args.validate:
        raise ValueError(f"{extra[0]} is an option of --validate; add --validate")
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    pl = plan(args.devices)
    if not args.validate:
        emit(pl.to_dict(), args.json, lambda: _render(pl))
        return 0
    try:
        from fltheory.plan import validate as _validate
    except ImportError as exc:  # pragma: no cover - torch missing
        raise ValueError(f"fltheory plan --validate needs PyTorch: pip install 'fltheory[fl]' "
                         f"({exc})") from None
    from pathlib import Path

    from fltheory.plots.planning import plot_plan_validation
    from fltheory.sweep import executor_options

    res = _validate.validate_plan(pl, quick=args.quick, seeds=args.seeds, out_dir=args.out,
                                  figure=plot_plan_validation,
                                  **executor_options(args, Path(args.out) / "points"))

    def render():
        _render(pl)
        print()
        for line in _validate.format_validation(res):
            print(line)

    emit({"plan": pl.to_dict(), "validation": res.to_dict()}, args.json, render)
    return 0
