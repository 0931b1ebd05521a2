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
