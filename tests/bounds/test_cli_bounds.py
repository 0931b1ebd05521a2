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
