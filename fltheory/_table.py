"""Plain-text tables and JSON on stdout: the output helpers of every command."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Callable, Sequence

from fltheory._io import jsonable as _jsonable

__all__ = ["emit", "print_table"]


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` to print the human form."""
    if as_json:
        print(json.dumps(_jsonable(data), indent=2))
    else:
        render()


def _fmt_cell(v: Any) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.4e}"
        return f"{v:.6g}"
    return str(v)


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None,
                file=None) -> None:
    """Print a plain aligned text table."""
    file = file or sys.stdout
    cells = [[_fmt_cell(c) for c in r] for r in rows]
    if header:
        cells.insert(0, list(header))
    if not cells:
        return
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    for j, r in enumerate(cells):
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip(), file=file)
        if header and j == 0:
            print("  ".join("-" * w for w in widths), file=file)
