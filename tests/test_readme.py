"""The README's Python examples print what their comments say.

Each ``python`` block of README.md is executed; every ``print(...)`` line's output must be the
start of its trailing comment (or of the comment line that follows it), so a change in a number
the README states fails here instead of reaching a reader.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _expected(lines: list[str]) -> list[str]:
    """The comment stating each ``print`` line's output, in order."""
    out = []
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("print("):
            continue
        code, _, comment = line.partition("  #")
        if not comment.strip() and i + 1 < len(lines) and lines[i + 1].lstrip().startswith("#"):
            comment = lines[i + 1].lstrip()[1:]
        assert comment.strip(), f"README print line without a stated output: {line!r}"
        out.append(comment.strip())
    return out


@pytest.mark.parametrize("block", range(len(_python_blocks())))
def test_readme_block_prints_what_it_says(block):
    src = _python_blocks()[block]
    expected = _expected(src.splitlines())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(src, f"README.md python block {block}", "exec"), {})
    printed = buf.getvalue().splitlines()
    assert len(printed) == len(expected), (printed, expected)
    for got, want in zip(printed, expected):
        assert want.startswith(got.strip()), f"README states {want!r}, the code prints {got!r}"


def test_readme_has_examples():
    assert len(_python_blocks()) >= 2
