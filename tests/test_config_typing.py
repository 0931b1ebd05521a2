"""The configuration is typed: no parameter named ``config``/``cfg`` is annotated ``Any``."""

from __future__ import annotations

import ast
from pathlib import Path

import fltheory

ROOT = Path(fltheory.__file__).parent


def _any_typed_config_params(root=ROOT):
    bad = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                if arg.arg in ("config", "cfg") and arg.annotation is not None:
                    text = ast.unparse(arg.annotation)
                    if "Any" in text.replace("'", "").replace('"', "").split(" | "):
                        bad.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return bad


def test_no_config_typed_any():
    assert _any_typed_config_params() == []


def test_the_check_finds_one(tmp_path):
    # the scan is able to fail
    (tmp_path / "m.py").write_text("from typing import Any\ndef f(config: Any): ...\n")
    assert _any_typed_config_params(tmp_path) == ["m.py:2 f"]
