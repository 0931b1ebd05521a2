"""``fltheory epsilon`` and ``fltheory calibrate``."""

from __future__ import annotations

import argparse
import math

from fltheory.cli import emit, print_table

_EPS_EPILOG = """\
examples:
  fltheory epsilon --sampling-rate 0.01 --noise-multiplier 1.0 --steps 10000 --delta 1e-5
  fltheory epsilon --sampling-rate 0.01 --noise-multiplier 1.0 --steps 10000 --delta 1e-5 \\
      --method rdp --neighboring replace_one --json
  fltheory epsilon --sampling-rate 0.01 --noise-multiplier 1.0 --steps 10000 --epsilon 2.0

scenarios (--scenario NAME, default dp_sgd):
{scenarios}
"""

_CAL_EPILOG = """\
examples:
  fltheory calibrate --target-epsilon 3 --sampling-rate 0.01 --steps 10000 --delta 1e-5
  fltheory calibrate --target-epsilon 3 --solve-for steps --sampling-rate 0.01 \\
      --noise-multiplier 1.0 --delta 1e-5
  fltheory calibrate --target-epsilon 1 3 8 --sampling-rate 0.0042667 --steps 14062 --delta 1e-5

The parameter named by --solve-for (default: the scenario's noise parameter) is left out.
"""


def _scenarios():
    from fltheory.accounting.scenarios import SCENARIOS

    return SCENARIOS


def _scenario_help() -> str:
    lines = []
    for name, s in sorted(_scenarios().items()):
        lines.append(f"  {name}: {s.summary}")
        lines.append(f"      {s.example}")
    return "\n".join(lines)


def _add_scenario_params(p: argparse.ArgumentParser) -> None:
    seen: dict[str, object] = {}
    for s in _scenarios().values():
        for prm in s.params:
            if prm.name in seen:
                continue
            seen[prm.name] = prm
            p.add_argument(prm.flag, dest=f"sp_{prm.name}", type=str, default=None,
                           metavar=prm.type.__name__.upper(), help=prm.help)


def _convert(prm, raw: str):
    from fltheory._checks import check_choice, check_int, check_real

    if prm.type is int:
        return check_int(prm.name, raw)
    if prm.type is float:
        return check_real(prm.name, raw)
    if prm.type is bool:
        v = str(raw).strip().lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{prm.name} must be true or false, got {raw!r}")
    if prm.choices:
        return check_choice(prm.name, raw, prm.choices)
    return raw


def _collect(args, scenario, skip: str | None = None) -> dict:
    given = {k[3:]: v for k, v in vars(args).items() if k.startswith("sp_") and v is not None}
    names = {p.name for p in scenario.params}
    extra = sorted(set(given) - names)
    if extra:
        flag = "--" + extra[0].replace("_", "-")
        raise ValueError(f"{flag} is not a parameter of scenario {scenario.name!r} "
                         f"(it takes: {', '.join(p.flag for p in scenario.params)})")
    kw = {}
    for prm in scenario.params:
        if prm.name == skip:
            if prm.name in given:
                raise ValueError(f"{prm.flag} is what --solve-for computes; leave it out")
            continue
        if prm.name in given:
            kw[prm.name] = _convert(prm, given[prm.name])
        elif prm.required:
            raise ValueError(f"scenario {scenario.name!r} needs {prm.flag}")
        else:
            kw[prm.name] = prm.default
    return kw


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="dp_sgd", help="accounting scenario (see below)")
    p.add_argument("--delta", type=str, default=None, help="target delta in (0, 1)")
    p.add_argument("--method", default="pld", help="pld (certified two-sided) or rdp")
    p.add_argument("--neighboring", default=None,
                   help="add_remove or replace_one (default: the scenario's natural relation)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_scenario_params(p)


# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "epsilon": "certified epsilon (or delta) of a training recipe",
    "calibrate": "noise (or steps / sampling rate) for a target epsilon",
}


def register(sub, formatter_class) -> None:
    p = sub.add_parser("epsilon", help=COMMANDS["epsilon"],
                       description="Certified privacy budget of a recipe: PLD upper and lower "
                                   "bounds (default) or the RDP bound.",
                       formatter_class=formatter_class,
                       epilog=_EPS_EPILOG.format(scenarios=_scenario_help()))
    _common(p)
    p.add_argument("--epsilon", type=str, default=None,
                   help="compute delta(epsilon) instead of epsilon(delta)")
    p.add_argument("--rtol", type=str, default=None,
                   help="target relative gap of the certified interval (default 0.002; larger "
                        "is faster)")
    p.set_defaults(func=_cmd_epsilon)

    c = sub.add_parser("calibrate", help=COMMANDS["calibrate"],
                       description="Smallest noise multiplier (or largest number of steps / "
                                   "sampling rate) whose certified epsilon meets a target.",
                       formatter_class=formatter_class,
                       epilog=_CAL_EPILOG)
    _common(c)
    c.add_argument("--target-epsilon", type=str, nargs="+", required=True,
                   help="one or more target epsilons")
    c.add_argument("--solve-for", default=None,
                   help="parameter to solve for (default: the scenario's noise parameter)")
    c.set_defaults(func=_cmd_calibrate)


def _cmd_epsilon(args) -> int:
    from fltheory._checks import check_nonnegative, check_open_unit
    from fltheory.accounting import delta as delta_fn
    from fltheory.accounting import epsilon as eps_fn
    from fltheory.accounting.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    args.neighboring = args.neighboring or sc.neighboring[0]
    kw = _collect(args, sc)
    ev = sc.build(**kw)
    from fltheory._checks import check_positive
    from fltheory.accounting.core import DEFAULT_RTOL

    rtol = DEFAULT_RTOL if args.rtol is None else check_positive("rtol", args.rtol)
    if args.epsilon is not None:
        if args.delta is not None:
            raise ValueError("give either --delta or --epsilon, not both")
        e = check_nonnegative("epsilon", args.epsilon)
        g = delta_fn(ev, e, method=args.method, neighboring=args.neighboring, rtol=rtol)
        finite = math.isfinite(g.delta) and g.delta < 1.0
    else:
        d = check_open_unit("delta", args.delta if args.delta is not None else "1e-5")
        g = eps_fn(ev, d, method=args.method, neighboring=args.neighboring, rtol=rtol)
        finite = math.isfinite(g.epsilon)
    data = {"scenario": sc.name, "parameters": kw, "guarantee": g.to_dict()}

    def render():
        print(f"scenario: {sc.name} ({sc.summary})")
        print("parameters: " + ", ".join(f"{k}={v}" for k, v in kw.items()))
        rows = []
        if g.delta_lower is not None or args.epsilon is not None:
            rows.append(["epsilon", g.epsilon])
            rows.append(["delta (certified upper)", g.delta])
            rows.append(["delta (certified lower)",
                         "n/a" if g.delta_lower is None else g.delta_lower])
        else:
            rows.append(["delta", g.delta])
            rows.append(["epsilon (certified upper)", g.epsilon])
            rows.append(["epsilon (certified lower)",
                         "n/a" if g.epsilon_lower is None else g.epsilon_lower])
            if g.relative_gap is not None and math.isfinite(g.relative_gap):
                over = g.relative_gap > rtol * (1 + 1e-9)
                rows.append(["relative gap", f"{g.relative_gap:.3g}"
                             + (f"  (WIDER than rtol = {rtol:g})" if over else
                                f"  (within rtol = {rtol:g})")])
        rows.append(["method", g.method])
        if g.upper_method and g.upper_method != g.method:
            rows.append(["upper bound from", g.upper_method])
        if g.lower_method and g.lower_method != g.method:
            rows.append(["lower bound from", g.lower_method])
        rows.append(["neighboring", g.neighboring])
        print_table(rows, header=["quantity", "value"])
        print(f"reference: {g.reference}")
        for n in g.notes:
            print(f"note: {n}")

    emit(data, args.json, render)
    if not finite and "non-private" not in g.reference:
        import sys

        print("fltheory epsilon: error: no finite certified bound at these settings",
              file=sys.stderr)
        return 1
    return 0


def _cmd_calibrate(args) -> int:
    from fltheory._checks import check_open_unit, check_positive
    from fltheory.accounting import (calibrate_noise, calibrate_sampling_rate, calibrate_steps,
                                     epsilon)
    from fltheory.accounting.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    args.neighboring = args.neighboring or sc.neighboring[0]
    solve = args.solve_for
    if solve is None:
        noise = [p for p in sc.params if p.role == "noise"]
        if not noise:
            raise ValueError(f"scenario {sc.name!r} has no noise parameter; use --solve-for")
        solve = noise[0].name
    solve = solve.replace("-", "_")
    prm = sc.param(solve)
    if prm.role not in ("noise", "rate", "count"):
        raise ValueError(f"--solve-for {solve} is not a noise, rate or count parameter")
    kw = _collect(args, sc, skip=solve)
    d = check_open_unit("delta", args.delta if args.delta is not None else "1e-5")
    targets = [check_positive("target_epsilon", t) for t in args.target_epsilon]
    rows, out = [], []
    for tgt in targets:
        def build(x, _kw=kw):
            return sc.build(**{**_kw, solve: x})

        if prm.role == "noise":
            x = calibrate_noise(build, tgt, d, method=args.method, neighboring=args.neighboring)
        elif prm.role == "rate":
            x = calibrate_sampling_rate(build, tgt, d, method=args.method,
                                        neighboring=args.neighboring)
        else:
            x = calibrate_steps(build, tgt, d, method=args.method, neighboring=args.neighboring)
        g = epsilon(build(x), d, method=args.method, neighboring=args.neighboring) \
            if not (prm.role == "count" and x == 0) else None
        rows.append([tgt, x, g.epsilon if g else "n/a",
                     (g.epsilon_lower if g and g.epsilon_lower is not None else "n/a")])
        out.append({"target_epsilon": tgt, solve: x,
                    "guarantee": None if g is None else g.to_dict()})
    data = {"scenario": sc.name, "solve_for": solve, "parameters": kw, "delta": d,
            "results": out}

    def render():
        print(f"scenario: {sc.name}; solving for {solve}; delta={d:g}")
        print("fixed: " + ", ".join(f"{k}={v}" for k, v in kw.items()))
        print_table(rows, header=["target eps", solve, "certified eps", "eps lower bound"])

    emit(data, args.json, render)
    return 0
