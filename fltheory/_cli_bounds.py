"""``fltheory bound ...`` and ``fltheory tradeoff``: robustness, DP x Byzantine and compression.

Registered by :mod:`fltheory.cli`; every command prints a table (or JSON with ``--json``) and
returns 0; invalid input raises :class:`ValueError` (one stderr line, exit status 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def _num(text: str) -> float:
    """argparse type for numbers written like ``25e6`` or ``1e-5`` (validated later)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _out():
    from fltheory.cli import emit, print_table   # imported lazily: cli imports this module
    return emit, print_table


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_clients(p: argparse.ArgumentParser) -> None:
    """``--n`` clients of which ``--f`` are Byzantine (defaults 20 and 4)."""
    p.add_argument("--n", type=_num, default=20, help="number of clients")
    p.add_argument("--f", type=_num, default=4, help="number of Byzantine clients")


# ---------------------------------------------------------------------------------------------
# bound kappa

def _cmd_kappa(args: argparse.Namespace) -> int:
    # plain-Python twins of the symbolic bounds, their LaTeX from the generated table (no sympy)
    from fltheory.bounds._numeric import (AGGREGATORS, bound_entry, kappa_info,
                                          kappa_lower_value, kappa_value)
    from fltheory._checks import check_int

    emit, print_table = _out()
    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    names = AGGREGATORS if args.aggregator == "all" else (args.aggregator,)
    rows, data = [], []
    values = [(name, bound_entry(kappa_info(name, nnm=args.nnm)["name"])) for name in names]
    values = [(name, b, kappa_value(name, n, f, nnm=args.nnm)) for name, b in values]
    lb = kappa_lower_value(n, f)
    for name, b, v in values:
        rows.append([b["name"], n, f, v, lb, v / lb if lb > 0 else float("inf"),
                     f"{b['kind']}/{b['status']}"])
        data.append({"aggregator": name, "nnm": args.nnm, "n": n, "f": f, "kappa": v,
                     "lower_bound": lb, "latex": b["latex"],
                     "assumptions": b["assumptions"], "status": b["status"],
                     "kind": b["kind"], "reference": b["reference"],
                     "description": b["description"]})

    def render() -> None:
        print_table(rows, ["bound", "n", "f", "kappa", "lower f/(n-2f)", "ratio", "status"])
        if args.latex:
            print()
            for name, d in zip(names, data):
                print(f"{d['latex']}    % valid when {', '.join(d['assumptions'])}")
            print(f"{bound_entry('kappa_lower')['latex']}    % any aggregation rule")
        print()
        print("References: " + data[0]["reference"])
        if any(d.get("kind") == "estimate" for d in data):
            print("Note: rows with status 'literature' are estimates, not certified bounds "
                  "(see their descriptions); cwtm and cwmed are proved.")

    emit({"kappa": data}, args.json, render)
    return 0


# ---------------------------------------------------------------------------------------------
# bound min-batch-size

def _cmd_min_batch(args: argparse.Namespace) -> int:
    # plain-Python twins of fltheory.bounds' min_batch_size and vn_threshold (no sympy, no SciPy)
    from fltheory.bounds._numeric import (canonical_aggregator, min_batch_size_value as
                                          min_batch_size, vn_threshold_value)
    from fltheory._checks import check_int

    emit, print_table = _out()
    d = check_int("d", args.d, minimum=1)
    k = None if args.k is None else check_int("k", args.k, minimum=1)
    common = dict(aggregator=args.aggregator, n=args.n, f=args.f, clip=args.clip,
                  grad_norm=args.grad_norm, sampling_std=args.sampling_std,
                  retained_energy=args.retained_energy)
    thr = vn_threshold_value(canonical_aggregator(args.aggregator),
                             check_int("n", args.n, minimum=1), check_int("f", args.f, minimum=0))
    dims = [("d", d, None)] + ([("k", k, k)] if k is not None else [])
    rows, data = [], []
    for label, dim, kk in dims:
        pure = min_batch_size(d, args.epsilon, args.delta, k=kk, constants=False)
        rows.append([label, dim, "sqrt law (constants dropped)", pure])
        data.append({"dimension": label, "value": dim, "calibration": None, "constants": False,
                     "min_batch_size": pure})
        if args.no_constants:
            continue
        for cal in ("classical", "analytic"):
            v = min_batch_size(d, args.epsilon, args.delta, k=kk, calibration=cal, **common)
            rows.append([label, dim, f"full constants, {cal}", v])
            data.append({"dimension": label, "value": dim, "calibration": cal, "constants": True,
                         "min_batch_size": v})

    def render() -> None:
        print_table(rows, ["dim", "value", "requirement", "min batch size b*"])
        print()
        print(f"VN threshold kappa_F({args.aggregator}, n={args.n:g}, f={args.f:g}) = {thr:.4g}; "
              f"epsilon={args.epsilon:g}, delta={args.delta:g}, C={args.clip:g}, "
              f"||grad||={args.grad_norm:g}, rho={args.retained_energy:g}")
        print("Any batch size b > b* meets the VN condition (Guerraoui et al., PODC 2021).")

    emit({"min_batch_size": data, "kappa_F": thr}, args.json, render)
    return 0


# ---------------------------------------------------------------------------------------------
# bound vn-threshold, error-floor, compressor, cost, list

def _cmd_vn(args: argparse.Namespace) -> int:
    from fltheory.bounds._numeric import bound_entry, evaluate, vn_bound_name
    from fltheory._checks import check_int

    emit, print_table = _out()
    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    b = bound_entry(vn_bound_name(args.aggregator, args.route))
    v = evaluate(b["name"], n=n, f=f)
    emit({"name": b["name"], "n": n, "f": f, "kappa_F": v, "latex": b["latex"],
          "status": b["status"], "reference": b["reference"]}, args.json,
         lambda: (print_table([[b["name"], n, f, v, b["status"]]],
                              ["bound", "n", "f", "kappa_F", "status"]),
                  print(), print(b["latex"]), print("Reference: " + b["reference"])))
    return 0


def _cmd_floor(args: argparse.Namespace) -> int:
    from fltheory.bounds._numeric import (breakdown_point_value, kappa_value,
                                          robust_error_floor_value, robust_lower_value)
    from fltheory._checks import check_int

    emit, print_table = _out()
    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    kv = kappa_value(args.aggregator, n, f, nnm=args.nnm)
    floor = robust_error_floor_value(args.aggregator, n, f, G=args.G, B=args.B, nnm=args.nnm)
    lower = robust_lower_value(n, f, args.G, args.B)
    bp = breakdown_point_value(args.B)
    data = {"aggregator": args.aggregator, "nnm": args.nnm, "n": n, "f": f, "G": args.G,
            "B": args.B, "kappa": kv, "error_floor": floor, "lower_bound_order": lower,
            "breakdown_point": bp}
    emit(data, args.json, lambda: print_table(
        [[args.aggregator + ("+nnm" if args.nnm else ""), kv, floor, lower, f / n, bp]],
        ["aggregator", "kappa", "floor kG^2/(1-kB^2)", "lower bound (order)", "f/n",
         "breakdown 1/(2+B^2)"]))
    return 0


def _cmd_compressor(args: argparse.Namespace) -> int:
    from fltheory.bounds._numeric import (bits_per_round_value, bound_entry,
                                          compressor_variance_value, is_unbiased,
                                          variance_bound_name)
    from fltheory._checks import check_int

    emit, print_table = _out()
    d = check_int("d", args.d, minimum=1)
    k = None if args.k is None else check_int("k", args.k, minimum=1, maximum=d)
    levels = None if args.levels is None else check_int("levels", args.levels, minimum=1)
    v = compressor_variance_value(args.kind, d, k=k, levels=levels)
    bits = bits_per_round_value(args.kind, d, k=k, levels=levels)
    dense = bits_per_round_value("none", d)
    b = bound_entry(variance_bound_name(args.kind))
    what = "omega" if is_unbiased(args.kind) else "contraction 1-delta"
    data = {"kind": args.kind, "d": d, "k": k, "levels": levels, what.split()[0]: v,
            "bits_per_round": bits, "compression_ratio": dense / bits, "latex": b["latex"],
            "reference": b["reference"]}
    emit(data, args.json, lambda: (print_table(
        [[args.kind, d, k if k is not None else "-", levels if levels is not None else "-", v,
          bits, dense / bits]],
        ["kind", "d", "k", "levels", what, "bits/round", "x smaller than dense"]),
        print(), print(b["latex"]), print("Reference: " + b["reference"])))
    return 0


def _cmd_cost(args: argparse.Namespace) -> int:
    from fltheory.bounds._numeric import COST_AGGREGATORS, aggregation_cost_info
    from fltheory._checks import check_int

    emit, print_table = _out()
    d = check_int("d", args.d, minimum=1)
    names = COST_AGGREGATORS if args.aggregator == "all" else (args.aggregator,)
    rows, data = [], []
    for name in names:
        methods = ("gram", "dense") if name == "smea" else ("gram",)
        for m in methods:
            c = aggregation_cost_info(name, n=args.n, f=args.f, d=d, smea_method=m)
            label = c["aggregator"] + (f" ({m})" if name == "smea" else "")
            rows.append([label, c["flops"], c["memory_bytes"]])
            data.append({**c, "smea_method": m if name == "smea" else None})
    emit({"d": d, "n": args.n, "f": args.f, "costs": data}, args.json,
         lambda: print_table(rows, ["aggregator", "flops", "memory (bytes)"]))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    # every Bound of fltheory.bounds.all_bounds(), from the generated table (no sympy)
    from fltheory.bounds._numeric import bound_dict, listed_bounds

    emit, print_table = _out()
    bounds = [bound_dict(name) for name in listed_bounds()]
    if args.latex:
        rows = [[b["name"], b["status"], b["latex"]] for b in bounds]
        header = ["name", "status", "latex"]
    else:
        rows = [[b["name"], b["kind"], b["status"], ", ".join(b["parameters"])] for b in bounds]
        header = ["name", "kind", "status", "parameters"]
    emit({"bounds": bounds}, args.json, lambda: print_table(rows, header))
    return 0


# ---------------------------------------------------------------------------------------------
# tradeoff

def _cmd_tradeoff(args: argparse.Namespace) -> int:
    from fltheory._checks import check_int
    from fltheory.tradeoffs import compression_tradeoff, pareto_front

    if args.validate is not None:       # experiment 9: fltheory/_cli_compression.py
        from fltheory._cli_compression import validate_tradeoff

        return validate_tradeoff(args)
    if args.d is None:
        raise ValueError("--d is required (or --validate CONFIG)")
    emit, print_table = _out()
    d = check_int("d", args.d, minimum=1)
    if args.out:
        from fltheory._io import check_out_dir

        check_out_dir(args.out)
    ks = None if not args.k else [check_int("k", kk, minimum=1, maximum=d) for kk in args.k]
    table = compression_tradeoff(
        d, ks, n=args.n, f=args.f, aggregator=args.aggregator, nnm=args.nnm,
        epsilon=args.epsilon, delta=args.delta, noise_multiplier=args.noise_multiplier,
        rounds=args.rounds, batch_size=args.batch_size, clip=args.clip,
        heterogeneity=args.heterogeneity, retained_energy=args.retained_energy,
        modes=args.modes, amplification=not args.no_amplification)
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    try:
        front = pareto_front(table, objectives)
    except ValueError as exc:
        raise ValueError(f"--objectives {args.objectives!r}: {exc}") from None
    data = {**table.to_dict(), "pareto_front": front.tolist(), "objectives": objectives}
    figures: list[str] = []
    if args.out:
        from fltheory.plots.bounds import (plot_aggregation_cost, plot_min_batch_size,
                                           plot_tradeoff, plot_trilemma)

        from fltheory._io import write_json_atomic

        out = Path(args.out)
        write_json_atomic(out / "tradeoff.json", data)
        agg = table.meta["aggregator"]
        kf = (min(ks) / d) if ks else 0.01
        figures += plot_min_batch_size(out, epsilon=args.epsilon, delta=args.delta,
                                       aggregator=agg, n=table.meta["n"], f=table.meta["f"],
                                       k_fraction=kf)
        figures += plot_aggregation_cost(out, n=table.meta["n"], f=table.meta["f"])
        figures += plot_tradeoff(out, table, objectives=objectives)
        figures += plot_trilemma(out, n=table.meta["n"], f=table.meta["f"], aggregator=agg)
        data["files"] = [str(out / "tradeoff.json")] + figures

    cols = ["mode", "k", "bits", "epsilon", "mse", "robust_error_rel", "min_batch_size", "flops"]

    def render() -> None:
        rows = []
        for i, r in enumerate(table.rows()):
            cells = [r[c] if c != "k" else int(r[c]) for c in cols]
            rows.append(cells + ["*" if i in front else ""])
        print_table(rows, cols + ["pareto"])
        m = table.meta
        print()
        print(f"d={m['d']}, n={m['n']}, f={m['f']}, {m['aggregator']} (kappa={m['kappa']:.4g}, "
              f"kappa_F={m['kappa_F']:.4g}), z={m['noise_multiplier']:.4g}, b={m['batch_size']}, "
              f"T={m['rounds']}, delta={m['delta']:g}; Pareto front on {', '.join(objectives)}")
        for note in m["notes"]:
            print("note: " + note)
        for p in data.get("files", []):
            print("wrote " + p)

    emit(data, args.json, render)
    return 0


# ---------------------------------------------------------------------------------------------

# the sub-commands this module registers (fltheory.cli stubs them when another one runs)
COMMANDS = {
    "bound": "robustness, DP x Byzantine and compression bounds",
    "tradeoff": "compression trade-off table, Pareto front and figures",
}


def register(subparsers, formatter_class) -> None:
    """Add ``bound`` (with its sub-commands) and ``tradeoff`` to the ``fltheory`` parser."""
    bound = subparsers.add_parser(
        "bound", formatter_class=formatter_class,
        help=COMMANDS["bound"],
        description="Evaluate the symbolic bounds of fltheory.bounds (kappa, minimum batch size, "
                    "VN thresholds, error floors, compressors, aggregation cost).",
        epilog="example:\n  fltheory bound kappa --aggregator cwtm --n 20 --f 4 --latex\n"
               "  fltheory bound min-batch-size --d 25e6 --epsilon 1 --delta 1e-5")
    bsub = bound.add_subparsers(dest="bound_command", metavar="bound_command",
                                parser_class=type(bound))
    bound.set_defaults(func=lambda a: (bound.print_help(), 0)[1])

    p = bsub.add_parser("kappa", formatter_class=formatter_class,
                        help="(f, kappa)-robustness coefficient of an aggregator",
                        description="Upper bound on the (f, kappa)-robustness coefficient and the "
                                    "universal lower bound f/(n-2f).",
                        epilog="example:\n  fltheory bound kappa --aggregator cwtm --n 20 --f 4 "
                               "--nnm --latex\n"
                               "  fltheory bound kappa --aggregator all --n 20 --f 4")
    p.add_argument("--aggregator", default="cwtm",
                   help="cwtm, cwmed (median) [proved], gm, krum [estimates], or all")
    _add_clients(p)
    p.add_argument("--nnm", action="store_true", help="compose with nearest-neighbour mixing")
    p.add_argument("--latex", action="store_true", help="also print the LaTeX of the bounds")
    _add_json(p)
    p.set_defaults(func=_cmd_kappa)

    p = bsub.add_parser("min-batch-size", formatter_class=formatter_class,
                        help="minimum batch size for DP x Byzantine resilience (sqrt(d) law)",
                        description="Smallest batch size for which per-worker Gaussian DP noise "
                                    "keeps the VN ratio below the aggregator's threshold "
                                    "(Guerraoui et al., PODC 2021).",
                        epilog="example:\n  fltheory bound min-batch-size --d 25e6 --epsilon 1 "
                               "--delta 1e-5 --aggregator median --n 20 --f 4 --k 250000")
    p.add_argument("--d", type=_num, required=True, help="model dimension")
    p.add_argument("--k", type=_num, default=None,
                   help="coordinates each worker releases (d -> k)")
    p.add_argument("--epsilon", type=_num, default=1.0, help="per-release epsilon")
    p.add_argument("--delta", type=_num, default=1e-5, help="per-release delta")
    p.add_argument("--aggregator", default="cwmed", help="aggregation rule (VN threshold)")
    _add_clients(p)
    p.add_argument("--clip", type=_num, default=1.0, help="per-sample clipping norm C")
    p.add_argument("--grad-norm", type=_num, default=1.0, help="true gradient norm ||grad Q||")
    p.add_argument("--sampling-std", type=_num, default=0.0,
                   help="trace std of one per-sample gradient")
    p.add_argument("--retained-energy", type=_num, default=1.0,
                   help="fraction of ||grad||^2 kept by compression (k/d for rand-k)")
    p.add_argument("--no-constants", action="store_true",
                   help="only the pure sqrt(d) law (constants dropped)")
    _add_json(p)
    p.set_defaults(func=_cmd_min_batch)

    p = bsub.add_parser("vn-threshold", formatter_class=formatter_class,
                        help="VN-ratio resilience threshold kappa_F",
                        description="Variance-to-norm threshold of an aggregation rule.",
                        epilog="example:\n"
                               "  fltheory bound vn-threshold --aggregator krum --n 20 --f 4")
    p.add_argument("--aggregator", default="cwmed", help="krum, bulyan, cwmed, mda, cwtm, gm ...")
    _add_clients(p)
    p.add_argument("--route", default="auto", choices=("auto", "vn", "kappa"),
                   help="published VN threshold or one derived from kappa")
    _add_json(p)
    p.set_defaults(func=_cmd_vn)

    p = bsub.add_parser("error-floor", formatter_class=formatter_class,
                        help="robust D-GD error floor under (G, B)-dissimilarity",
                        description="kappa G^2 / (1 - kappa B^2), the matching lower-bound order "
                                    "and the breakdown point 1/(2 + B^2).",
                        epilog="example:\n  fltheory bound error-floor --aggregator cwtm --n 20 "
                               "--f 4 --G 1 --B 0.5 --nnm")
    p.add_argument("--aggregator", default="cwtm", help="aggregation rule")
    _add_clients(p)
    p.add_argument("--G", type=_num, default=1.0, help="heterogeneity G")
    p.add_argument("--B", type=_num, default=0.0, help="heterogeneity B")
    p.add_argument("--nnm", action="store_true", help="compose with nearest-neighbour mixing")
    _add_json(p)
    p.set_defaults(func=_cmd_floor)

    p = bsub.add_parser("compressor", formatter_class=formatter_class,
                        help="compressor variance (omega) and bits per round",
                        description="omega of unbiased compressors (contraction factor of biased "
                                    "ones) and the bits one client sends per round.",
                        epilog="example:\n"
                               "  fltheory bound compressor --kind randk --d 25e6 --k 250000")
    p.add_argument("--kind", default="randk",
                   help="none, randk, topk, qsgd, l2, scaled_sign (sign: the plain sign, "
                        "no bound)")
    p.add_argument("--d", type=_num, required=True, help="dimension")
    p.add_argument("--k", type=_num, default=None, help="kept coordinates (randk, topk)")
    p.add_argument("--levels", type=_num, default=None, help="quantisation levels (qsgd)")
    _add_json(p)
    p.set_defaults(func=_cmd_compressor)

    p = bsub.add_parser("cost", formatter_class=formatter_class,
                        help="flops and memory of one aggregation",
                        description="Operation-count model of robust aggregation "
                                    "(SMEA dense shows the d^3 regime).",
                        epilog="example:\n"
                               "  fltheory bound cost --aggregator all --n 20 --f 4 --d 25e6")
    p.add_argument("--aggregator", default="all", help="an aggregator, or all")
    _add_clients(p)
    p.add_argument("--d", type=_num, required=True, help="dimension")
    _add_json(p)
    p.set_defaults(func=_cmd_cost)

    p = bsub.add_parser("list", formatter_class=formatter_class, help="every Bound object",
                        description="All symbolic bounds with their status and parameters.",
                        epilog="example:\n  fltheory bound list --latex")
    p.add_argument("--latex", action="store_true", help="show the LaTeX of each bound")
    _add_json(p)
    p.set_defaults(func=_cmd_list)

    t = subparsers.add_parser(
        "tradeoff", formatter_class=formatter_class,
        help=COMMANDS["tradeoff"],
        description="For a grid of rand-k levels: bits per round, privacy epsilon (with and "
                    "without secret-mask amplification), mean-estimation MSE, robust-aggregation "
                    "error, minimum DP x Byzantine batch size and aggregation cost.",
        epilog="example:\n  fltheory tradeoff --d 25e6 --k 25000 250000 2500000 --out figures/\n"
               "  fltheory tradeoff --d 1e6 --modes dense shared --json\n"
               "  fltheory tradeoff --validate experiments/grids/compression_runs.toml "
               "--quick")
    t.add_argument("--d", type=_num, default=None, help="model dimension (required unless "
                   "--validate)")
    t.add_argument("--k", type=_num, nargs="*", default=None,
                   help="kept coordinates (default d/10^4 ... d/10)")
    _add_clients(t)
    t.add_argument("--aggregator", default="cwtm", help="robust aggregation rule")
    t.add_argument("--nnm", action="store_true", help="compose with nearest-neighbour mixing")
    t.add_argument("--epsilon", type=_num, default=1.0, help="target epsilon (un-amplified)")
    t.add_argument("--delta", type=_num, default=1e-5, help="delta")
    t.add_argument("--noise-multiplier", type=_num, default=None,
                   help="fix the noise multiplier z instead of calibrating it to --epsilon")
    t.add_argument("--rounds", type=_num, default=1, help="releases per client")
    t.add_argument("--batch-size", type=_num, default=1024, help="samples per release")
    t.add_argument("--clip", type=_num, default=1.0, help="per-sample clipping norm")
    t.add_argument("--heterogeneity", type=_num, default=0.0, help="heterogeneity G")
    t.add_argument("--retained-energy", type=_num, default=None,
                   help="fraction of ||grad||^2 on the kept coordinates (default k/d)")
    t.add_argument("--modes", nargs="+", default=["dense", "shared", "secret"],
                   help="release modes: dense shared secret")
    t.add_argument("--no-amplification", action="store_true",
                   help="skip the secret-mask rows (no fltheory.accounting needed)")
    t.add_argument("--objectives", default="bits,mse,epsilon",
                   help="comma-separated columns for the Pareto front")
    t.add_argument("--out", default=None, help="directory for tradeoff.json and the figures")
    t.add_argument("--validate", default=None, metavar="CONFIG",
                   help="theory vs runs: a compression-runs grid TOML (run now) or its "
                        "compression-runs.json; prints both tables and a verdict per row")
    t.add_argument("--quick", action="store_true", help="with --validate: the grid's quick "
                   "version")
    from fltheory.sweep import add_executor_arguments   # --validate's grid runs through it

    add_executor_arguments(t)
    _add_json(t)
    t.set_defaults(func=_cmd_tradeoff)
