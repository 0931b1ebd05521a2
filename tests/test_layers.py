"""Import layers: the theory packages load neither torch nor matplotlib, and the layer contract
of pyproject.toml holds (import-linter, when installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_theory_imports_neither_torch_nor_matplotlib():
    code = ("import sys, fltheory.accounting, fltheory.bounds, fltheory.tradeoffs, "
            "fltheory.config; "
            "heavy = sorted(m for m in ('torch', 'matplotlib') if m in sys.modules); "
            "print(','.join(heavy) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "none"


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_layer_contract_is_kept():
    out = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout


# what runs training, audits or grids: a plots module calling one of these would run something
_RUNNERS = {"simulate", "canary_audit", "validate", "validate_plan", "run_experiment",
            "run_byzantine_attacks", "run_audit_vs_theory", "run_gradient_inversion",
            "run_compression_grid", "run_sweep", "run_points", "run_config", "defense_sweep",
            "experiment_figure", "invert_gradient", "membership_inference", "build_report"}


def _runner_calls(root: Path) -> list[str]:
    import ast

    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name in _RUNNERS:
                    found.append(f"{path.name}:{node.lineno} {name}")
    return found


def test_plots_never_run_anything(tmp_path):
    assert _runner_calls(ROOT / "fltheory" / "plots") == []
    (tmp_path / "bad.py").write_text("from fltheory.fl import simulate\nsimulate({})\n")
    assert _runner_calls(tmp_path) == ["bad.py:2 simulate"]          # the scan can fail


def test_runners_take_their_figure_from_the_plots_layer(tmp_path):
    # moved names keep working with a DeprecationWarning, resolving to the drawing layers
    from fltheory import experiments, figures, validation
    from fltheory.plots import experiments as plots_experiments
    from fltheory.plots import validation as plots_validation

    with pytest.warns(DeprecationWarning, match="fltheory.figures.experiment_figure"):
        assert experiments.experiment_figure is figures.experiment_figure
    with pytest.warns(DeprecationWarning, match="plots.experiments.draw_experiment"):
        assert experiments.draw_experiment is plots_experiments.draw_experiment
    with pytest.warns(DeprecationWarning, match="plots.validation.plot_validation"):
        assert validation.plot_validation is plots_validation.plot_validation
    with pytest.raises(ValueError, match="figure must be a drawing function"):
        validation.validate({"training": {"rounds": 1}}, figure=True, out_dir=tmp_path)
