"""``fltheory bound ...`` and ``fltheory tradeoff`` through fltheory.cli.main."""

import json
import os

import pytest

from fltheory.cli import main


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_kappa_table_and_latex(capsys):
    rc, out, err = _run(capsys, "bound", "kappa", "--aggregator", "cwtm", "--n", "20", "--f", "4",
                        "--latex")
    assert rc == 0 and not err
    assert "kappa_cwtm" in out and "0.333333" in out
    assert r"\kappa_{\mathrm{CWTM}} =" in out
    rc, out, _ = _run(capsys, "bound", "kappa", "--aggregator", "all", "--n", "20", "--f", "4",
                      "--nnm", "--json")
    data = json.loads(out)["kappa"]
    assert [d["aggregator"] for d in data] == ["cwtm", "cwmed", "gm", "krum"]
    assert data[0]["kappa"] == pytest.approx(8 * 4 / 16 * (1 / 3 + 1))   # NNM lemma, estimate
    assert all(d["kind"] == "estimate" for d in data)
    assert all(d["lower_bound"] == pytest.approx(1 / 3) for d in data)


def test_min_batch_size(capsys):
    rc, out, _ = _run(capsys, "bound", "min-batch-size", "--d", "25e6", "--json")
    data = json.loads(out)
    pure = [r for r in data["min_batch_size"] if not r["constants"]]
    assert pure[0]["min_batch_size"] == 5000.0
    full = {r["calibration"]: r["min_batch_size"] for r in data["min_batch_size"] if r["constants"]}
    import math
    # PODC'21 with the median's VN threshold 1/sqrt(n - f) (n=20, f=4), eps=1, delta=1e-5
    by_hand = 2 * math.sqrt(2 * math.log(1.25 / 1e-5)) * math.sqrt(20 - 4) * math.sqrt(25e6)
    assert full["classical"] == pytest.approx(by_hand, rel=1e-9)
    assert full["analytic"] < full["classical"]
    rc, out, _ = _run(capsys, "bound", "min-batch-size", "--d", "25e6", "--k", "250000",
                      "--no-constants")
    assert rc == 0 and "5000" in out and "500" in out and "classical" not in out


def test_other_bound_commands(capsys):
    rc, out, _ = _run(capsys, "bound", "vn-threshold", "--aggregator", "median", "--json")
    assert json.loads(out)["kappa_F"] == pytest.approx(0.25)
    rc, out, _ = _run(capsys, "bound", "error-floor", "--aggregator", "cwtm", "--G", "1",
                      "--B", "0.3", "--json")
    d = json.loads(out)
    assert d["error_floor"] == pytest.approx(d["kappa"] / (1 - d["kappa"] * 0.09))
    assert d["breakdown_point"] == pytest.approx(1 / 2.09)
    rc, out, _ = _run(capsys, "bound", "compressor", "--kind", "randk", "--d", "25e6", "--k",
                      "250000")
    assert rc == 0 and "99" in out and "omega" in out
    rc, out, _ = _run(capsys, "bound", "cost", "--d", "25e6", "--json")
    costs = {c["aggregator"] + (c["smea_method"] or ""): c for c in json.loads(out)["costs"]}
    assert costs["smeadense"]["flops"] > 1e25
    rc, out, _ = _run(capsys, "bound", "list")
    assert rc == 0 and "kappa_cwtm" in out and "min_batch_size" in out
    rc, out, _ = _run(capsys, "bound", "list", "--latex", "--json")
    assert len(json.loads(out)["bounds"]) > 50
    rc, out, _ = _run(capsys, "bound")
    assert rc == 0 and "min-batch-size" in out


@pytest.mark.parametrize("argv, msg", [
    (["bound", "kappa", "--n", "8", "--f", "4"], "assumption n > 2f violated at f=4, n=8"),
    (["bound", "kappa", "--aggregator", "foo"], "aggregator must be one of"),
    (["bound", "kappa", "--n", "20.5"], "n must be an integer, got 20.5"),
    (["bound", "min-batch-size", "--d", "100", "--k", "200"], "k must be <= d"),
    (["bound", "min-batch-size", "--d", "1e6", "--epsilon", "0"], "epsilon must be in (0, inf]"),
    (["bound", "min-batch-size"], "required: --d"),
    (["bound", "error-floor", "--B", "2"], "kappa B^2 < 1 violated"),
    (["tradeoff", "--d", "1e6", "--k", "2e6"], "k must be <= 1000000"),
    (["bound", "cost", "--d", "abc"], "expected a number"),
])
def test_bad_input_one_line_exit_2(capsys, argv, msg):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [["bound", "kappa"], ["bound", "min-batch-size"],
                                  ["bound", "vn-threshold"], ["bound", "error-floor"],
                                  ["bound", "compressor"], ["bound", "cost"], ["bound", "list"],
                                  ["bound"], ["tradeoff"]])
def test_help_shows_an_example(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and "fltheory " + argv[0] in out


def test_tradeoff_table_json_and_figures(capsys, tradeoff_out):
    rc, out, _ = _run(capsys, "tradeoff", "--d", "1e6", "--k", "1000", "10000", "--modes",
                      "dense", "shared")
    assert rc == 0 and "pareto" in out and "shared" in out and "note:" in out
    rc, out, _ = _run(capsys, "tradeoff", "--d", "1e6", "--k", "10000", "--json",
                      "--no-amplification")
    data = json.loads(out)
    assert data["columns"]["mode"] == ["dense", "shared"] and data["pareto_front"]
    rc, out, tmp_path = tradeoff_out
    assert rc == 0 and "wrote " in out
    files = sorted(os.listdir(tmp_path))
    for stem in ("min_batch_size_vs_d", "aggregation_cost_vs_d", "compression_tradeoff",
                 "trilemma_error_vs_d"):
        assert f"{stem}.pdf" in files and f"{stem}.png" in files
        with open(tmp_path / f"{stem}.pdf", "rb") as fh:
            assert fh.read(5) == b"%PDF-"
    saved = json.loads((tmp_path / "tradeoff.json").read_text())
    assert "secret" in saved["columns"]["mode"]
    assert not [f for f in files if f.startswith(".")]       # no temp files left behind


# ---------------------------------------------------------------------------------------------
# The bound sub-commands read the generated table and the numeric twins (no sympy).  Here the
# same outputs are computed the symbolic way -- the Bound objects, their evaluate() and latex() --
# as the commands did before, and the two must be byte-identical (exit status, stdout, stderr).

def _symbolic_kappa(args, emit, print_table):
    from fltheory._checks import check_int
    from fltheory.bounds import AGGREGATORS, kappa_bound, kappa_lower_bound, kappa_lower_bound_bound

    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    names = AGGREGATORS if args.aggregator == "all" else (args.aggregator,)
    bounds = [(name, kappa_bound(name, nnm=args.nnm)) for name in names]
    values = [(name, b.to_dict(), b.evaluate(n=n, f=f)) for name, b in bounds]
    lb = kappa_lower_bound(n=n, f=f)
    rows, data = [], []
    for name, b, v in values:
        rows.append([b["name"], n, f, v, lb, v / lb if lb > 0 else float("inf"),
                     f"{b['kind']}/{b['status']}"])
        data.append({"aggregator": name, "nnm": args.nnm, "n": n, "f": f, "kappa": v,
                     "lower_bound": lb, "latex": b["latex"], "assumptions": b["assumptions"],
                     "status": b["status"], "kind": b["kind"], "reference": b["reference"],
                     "description": b["description"]})

    def render():
        print_table(rows, ["bound", "n", "f", "kappa", "lower f/(n-2f)", "ratio", "status"])
        if args.latex:
            print()
            for d in data:
                print(f"{d['latex']}    % valid when {', '.join(d['assumptions'])}")
            print(f"{kappa_lower_bound_bound().latex()}    % any aggregation rule")
        print()
        print("References: " + data[0]["reference"])
        if any(d["kind"] == "estimate" for d in data):
            print("Note: rows with status 'literature' are estimates, not certified bounds "
                  "(see their descriptions); cwtm and cwmed are proved.")

    emit({"kappa": data}, args.json, render)


def _symbolic_vn(args, emit, print_table):
    from fltheory._checks import check_int
    from fltheory.bounds import vn_threshold_bound

    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    b = vn_threshold_bound(args.aggregator, args.route)
    v = b.evaluate(n=n, f=f)
    emit({"name": b.name, "n": n, "f": f, "kappa_F": v, "latex": b.latex(), "status": b.status,
          "reference": b.reference}, args.json,
         lambda: (print_table([[b.name, n, f, v, b.status]],
                              ["bound", "n", "f", "kappa_F", "status"]),
                  print(), print(b.latex()), print("Reference: " + b.reference)))


def _symbolic_floor(args, emit, print_table):
    from fltheory._checks import check_int
    from fltheory.bounds import breakdown_point, kappa, robust_error_floor, robust_lower_bound

    n = check_int("n", args.n, minimum=1)
    f = check_int("f", args.f, minimum=0)
    kv = kappa(args.aggregator, n=n, f=f, nnm=args.nnm)
    floor = robust_error_floor(args.aggregator, n=n, f=f, G=args.G, B=args.B, nnm=args.nnm)
    lower = robust_lower_bound().evaluate(n=n, f=f, G=args.G, B=args.B)
    bp = breakdown_point(args.B)
    data = {"aggregator": args.aggregator, "nnm": args.nnm, "n": n, "f": f, "G": args.G,
            "B": args.B, "kappa": kv, "error_floor": floor, "lower_bound_order": lower,
            "breakdown_point": bp}
    emit(data, args.json, lambda: print_table(
        [[args.aggregator + ("+nnm" if args.nnm else ""), kv, floor, lower, f / n, bp]],
        ["aggregator", "kappa", "floor kG^2/(1-kB^2)", "lower bound (order)", "f/n",
         "breakdown 1/(2+B^2)"]))


def _symbolic_compressor(args, emit, print_table):
    from fltheory._checks import check_int
    from fltheory.bounds import (bits_per_round, compressor_variance, compressor_variance_bound,
                                 is_unbiased)

    d = check_int("d", args.d, minimum=1)
    k = None if args.k is None else check_int("k", args.k, minimum=1, maximum=d)
    levels = None if args.levels is None else check_int("levels", args.levels, minimum=1)
    v = compressor_variance(args.kind, d, k=k, levels=levels)
    bits = bits_per_round(args.kind, d, k=k, levels=levels)
    dense = bits_per_round("none", d)
    b = compressor_variance_bound(args.kind)
    what = "omega" if is_unbiased(args.kind) else "contraction 1-delta"
    data = {"kind": args.kind, "d": d, "k": k, "levels": levels, what.split()[0]: v,
            "bits_per_round": bits, "compression_ratio": dense / bits, "latex": b.latex(),
            "reference": b.reference}
    emit(data, args.json, lambda: (print_table(
        [[args.kind, d, k if k is not None else "-", levels if levels is not None else "-", v,
          bits, dense / bits]],
        ["kind", "d", "k", "levels", what, "bits/round", "x smaller than dense"]),
        print(), print(b.latex()), print("Reference: " + b.reference)))


def _symbolic_cost(args, emit, print_table):
    from fltheory._checks import check_int
    from fltheory.bounds import COST_AGGREGATORS, aggregation_cost

    d = check_int("d", args.d, minimum=1)
    names = COST_AGGREGATORS if args.aggregator == "all" else (args.aggregator,)
    rows, data = [], []
    for name in names:
        for m in (("gram", "dense") if name == "smea" else ("gram",)):
            c = aggregation_cost(name, n=args.n, f=args.f, d=d, smea_method=m)
            rows.append([c["aggregator"] + (f" ({m})" if name == "smea" else ""), c["flops"],
                         c["memory_bytes"]])
            data.append({**c, "smea_method": m if name == "smea" else None})
    emit({"d": d, "n": args.n, "f": args.f, "costs": data}, args.json,
         lambda: print_table(rows, ["aggregator", "flops", "memory (bytes)"]))


def _symbolic_list(args, emit, print_table):
    from fltheory.bounds import all_bounds

    bounds = all_bounds()
    if args.latex:
        rows = [[b.name, b.status, b.latex()] for b in bounds.values()]
        header = ["name", "status", "latex"]
    else:
        rows = [[b.name, b.kind, b.status, ", ".join(b.parameters)] for b in bounds.values()]
        header = ["name", "kind", "status", "parameters"]
    emit({"bounds": [b.to_dict() for b in bounds.values()]}, args.json,
         lambda: print_table(rows, header))


_SYMBOLIC = {"kappa": _symbolic_kappa, "vn-threshold": _symbolic_vn,
             "error-floor": _symbolic_floor, "compressor": _symbolic_compressor,
             "cost": _symbolic_cost, "list": _symbolic_list}


def _symbolic(argv):
    """(exit status, stdout, stderr) of ``fltheory *argv`` computed with the Bound objects."""
    import contextlib
    import io

    from fltheory.cli import build_parser, emit, print_table

    args = build_parser(argv).parse_args(argv)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            _SYMBOLIC[args.bound_command](args, emit, print_table)
    except (ValueError, OverflowError) as exc:
        return 2, out.getvalue(), "fltheory: error: " + " ".join(str(exc).split()) + "\n"
    return 0, out.getvalue(), ""


@pytest.mark.parametrize("argv", [
    "bound kappa --latex",
    "bound kappa --aggregator all --nnm --json",
    "bound kappa --aggregator all --n 21 --f 4 --latex --json",
    "bound kappa --aggregator median --n 1000 --f 499 --latex",
    "bound kappa --aggregator krum --n 1e17 --f 3 --json",
    "bound kappa --n 8 --f 4 --json",
    "bound kappa --aggregator multikrum --latex",
    "bound kappa --aggregator foo --json",
    "bound vn-threshold",
    "bound vn-threshold --aggregator krum --n 23 --f 5 --json",
    "bound vn-threshold --aggregator gm --route kappa",
    "bound vn-threshold --aggregator median --route kappa --n 11 --f 2 --json",
    "bound vn-threshold --aggregator mda --n 7 --f 1",
    "bound vn-threshold --aggregator bulyan --n 11 --f 2",
    "bound vn-threshold --aggregator krum --f 0",
    "bound vn-threshold --aggregator cwtm --route vn",
    "bound vn-threshold --aggregator bulyan --route kappa",
    "bound vn-threshold --aggregator median --n 20 --f 10 --json",
    "bound error-floor",
    "bound error-floor --aggregator median --nnm --G 2 --B 0.5 --json",
    "bound error-floor --aggregator gm --n 1e17 --f 3 --G 0.7 --B 0.1 --json",
    "bound error-floor --n 20 --f 4 --B 1.7320508075688772",
    "bound error-floor --B 2 --aggregator krum --nnm",
    "bound error-floor --n 9 --f 4 --B 0.1",
    "bound error-floor --G 1e200",
    "bound compressor --kind randk --d 25e6 --k 250000",
    "bound compressor --kind qsgd --d 1000 --levels 4 --json",
    "bound compressor --kind topk --d 1000 --k 10",
    "bound compressor --kind scaled_sign --d 1e15 --json",
    "bound compressor --kind l2 --d 1024",
    "bound compressor --kind none --d 1000 --k 3",
    "bound compressor --kind signsgd --d 1000",
    "bound compressor --kind sign --d 100",
    "bound compressor --kind randk --d 100",
    "bound compressor --kind foo --d 100",
    "bound cost --d 25e6",
    "bound cost --aggregator smea --n 7 --f 3 --d 12345 --json",
    "bound cost --aggregator all --n 3 --f 1 --d 1e300",
    "bound cost --aggregator krum --n 8 --f 4 --d 10",
    "bound cost --aggregator foo --d 5",
    "bound list",
    "bound list --latex",
    "bound list --json",
    "bound list --latex --json",
])
def test_output_is_the_symbolic_output(capsys, argv):
    argv = argv.split()
    assert _run(capsys, *argv) == _symbolic(argv)
