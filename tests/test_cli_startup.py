"""The CLI imports only what the command it runs needs (start-up speed; times live in
benchmarks/cli_startup.py, never in a test)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("dp_accounting", "torch", "matplotlib", "sympy", "scipy")

_PROBE = """
import json, sys
from fltheory.cli import main
try:
    rc = main({argv!r})
except SystemExit as exc:
    rc = exc.code
print("MODULES=" + json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
sys.exit(rc or 0)
"""


def heavy_modules(argv):
    out = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv, heavy=HEAVY)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stderr.rsplit("MODULES=", 1)[1]))


@pytest.mark.parametrize("argv, allowed", [
    (["--help"], set()),
    (["--version"], set()),
    (["plot", "--list"], set()),
    (["epsilon", "--help"], {"dp_accounting", "scipy"}),
    # the table paths evaluate plain-Python twins of the bounds: no sympy, no SciPy
    (["bound", "kappa", "--n", "20", "--f", "4"], set()),
    (["bound", "kappa", "--aggregator", "all", "--nnm"], set()),
    (["bound", "min-batch-size", "--d", "25e6"], set()),
    (["bound", "min-batch-size", "--d", "25e6", "--k", "250000", "--aggregator", "krum",
      "--json"], set()),
    # the LaTeX and metadata come from the table generated from the Bound objects
    (["bound", "kappa", "--latex"], set()),
    (["bound", "kappa", "--aggregator", "all", "--nnm", "--latex", "--json"], set()),
    (["bound", "vn-threshold"], set()),
    (["bound", "vn-threshold", "--aggregator", "gm", "--route", "kappa", "--json"], set()),
    (["bound", "error-floor", "--aggregator", "median", "--nnm", "--G", "2", "--B", "0.3"],
     set()),
    (["bound", "error-floor", "--json"], set()),
    (["bound", "compressor", "--kind", "randk", "--d", "25e6", "--k", "250000"], set()),
    (["bound", "compressor", "--kind", "qsgd", "--d", "1000", "--levels", "4", "--json"], set()),
    (["bound", "cost", "--d", "25e6"], set()),
    (["bound", "cost", "--aggregator", "smea", "--d", "1e4", "--json"], set()),
    (["bound", "list"], set()),
    (["bound", "list", "--latex", "--json"], set()),
    (["tradeoff", "--d", "1e6", "--no-amplification"], set()),
    (["tradeoff", "--d", "1e6", "--k", "1000", "--aggregator", "krum", "--nnm",
      "--no-amplification", "--json"], set()),
])
def test_command_imports_only_what_it_uses(argv, allowed):
    assert heavy_modules(argv) <= allowed


def test_help_lists_every_command_without_registering_them(capsys):
    from fltheory import cli

    full = cli.build_parser()
    lazy = cli.build_parser(["--help"])
    names = lambda p: sorted(p._subparsers._group_actions[0].choices)  # noqa: E731
    assert names(full) == names(lazy)
    assert "epsilon" in names(full) and "plot" in names(full)


def test_no_none_default_in_help(capsys):
    from fltheory import cli

    for cmd in (["run", "--help"], ["plot", "--help"], ["bound", "min-batch-size", "--help"],
                ["tradeoff", "--help"], ["report", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(cmd)
        out = capsys.readouterr().out
        assert "(default: None)" not in out and "(default: False)" not in out, cmd
