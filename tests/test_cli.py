"""The command line: tables, JSON, errors as one line with exit status 2, the report."""

import json
import os
import subprocess
import sys

import pytest

from fltheory.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_epsilon_table_and_json(capsys):
    rc, out, err = run(capsys, "epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1.0",
                       "--steps", "1000", "--delta", "1e-5")
    assert rc == 0 and err == ""
    assert "epsilon (certified upper)" in out and "epsilon (certified lower)" in out
    rc, out, _ = run(capsys, "epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1.0",
                     "--steps", "1000", "--delta", "1e-5", "--json", "--method", "rdp")
    data = json.loads(out)
    assert rc == 0 and data["guarantee"]["method"] == "rdp"
    assert data["guarantee"]["epsilon_lower"] is None
    from fltheory.accounting import dp_sgd, epsilon
    assert data["guarantee"]["epsilon"] == pytest.approx(
        epsilon(dp_sgd(0.01, 1.0, 1000), 1e-5, method="rdp").epsilon)


def test_delta_mode(capsys):
    rc, out, _ = run(capsys, "epsilon", "--sampling-rate", "0.01", "--noise-multiplier", "1.0",
                     "--steps", "1000", "--epsilon", "1.0", "--json")
    g = json.loads(out)["guarantee"]
    assert rc == 0 and g["delta_lower"] <= g["delta"]


@pytest.mark.parametrize("argv,needle", [
    (["epsilon", "--sampling-rate", "1.5", "--noise-multiplier", "1", "--steps", "10"],
     "sampling_rate must be in (0, 1]"),
    (["epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "-1", "--steps", "10"],
     "noise_multiplier must be > 0"),
    (["epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "2.5"],
     "steps must be an integer"),
    (["epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "10",
      "--delta", "2"], "delta must be in (0, 1)"),
    (["epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "10",
      "--method", "xyz"], "method must be one of"),
    (["epsilon", "--sampling-rate", "0.1", "--steps", "10"], "needs --noise-multiplier"),
    (["epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1", "--steps", "10",
      "--sampling", "shuffle"], "refused"),
    (["epsilon", "--bogus"], "unrecognized arguments"),
    (["epsilon", "--scenario", "nope", "--steps", "1"], "scenario must be one of"),
    (["calibrate", "--target-epsilon", "-1", "--sampling-rate", "0.1", "--steps", "10"],
     "target_epsilon must be > 0"),
    (["nosuchcommand"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help_shows_examples(capsys):
    for cmd in ("epsilon", "calibrate", "report"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        out, _ = capsys.readouterr()
        assert e.value.code == 0
        assert "example" in out and f"fltheory {cmd}" in out


def test_calibrate(capsys):
    rc, out, _ = run(capsys, "calibrate", "--target-epsilon", "2", "--sampling-rate", "0.01",
                     "--steps", "1000", "--delta", "1e-5", "--json")
    data = json.loads(out)
    r = data["results"][0]
    assert rc == 0 and r["guarantee"]["epsilon"] <= 2.0
    rc, out, _ = run(capsys, "calibrate", "--target-epsilon", "2", "--solve-for", "steps",
                     "--sampling-rate", "0.01", "--noise-multiplier", "1.0", "--json")
    steps = json.loads(out)["results"][0]["steps"]
    assert rc == 0 and 1000 < steps < 1300


def test_report_privacy_section(tmp_path, capsys):
    rc, out, err = run(capsys, "report", "--out", str(tmp_path), "--section", "privacy")
    assert rc == 0, err
    assert "Privacy budget" in out and "RDP / PLD" in out
    for name in ("report.json", "epsilon_vs_steps.pdf", "epsilon_vs_steps.png"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads((tmp_path / "report.json").read_text())
    sec = data["privacy"]["data"]
    assert sec["pld_add_remove"]["epsilon_lower"] <= sec["pld_add_remove"]["epsilon"]
    assert [c["target_epsilon"] for c in sec["calibration"]] == [1.0, 3.0, 8.0]
    zs = [c["noise_multiplier"] for c in sec["calibration"]]
    assert zs[0] > zs[1] > zs[2]


_BLOCK_TORCH = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def test_accounting_imports_without_torch():
    code = _BLOCK_TORCH + (
        "import fltheory, fltheory.accounting\n"
        "from fltheory.accounting import dp_sgd, epsilon\n"
        "assert 'torch' not in sys.modules\n"
        "print(epsilon(dp_sgd(0.01, 1.0, 10), 1e-5).epsilon > 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_console_script_exit_code():
    exe = os.path.join(os.path.dirname(sys.executable), "fltheory")
    if not os.path.exists(exe):
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([exe, "epsilon", "--sampling-rate", "7", "--noise-multiplier", "1",
                        "--steps", "3"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_plot_command(tmp_path, capsys):
    rc, out, _ = run(capsys, "plot", "--list")
    names = out.split()
    assert rc == 0 and {"min-batch-size", "aggregation-cost", "tradeoff",
                        "amplification-sources", "epsilon-vs-steps"} <= set(names)
    rc, out, _ = run(capsys, "plot", "aggregation-cost", "--out", str(tmp_path), "--json")
    files = json.loads(out)["files"]
    assert rc == 0 and any(f.endswith(".pdf") for f in files)
    assert all(os.path.getsize(f) > 0 for f in files)
    rc, _, err = run(capsys, "plot", "nope")
    assert rc == 2 and "figure must be one of" in err
