"""The ``fltheory`` command line.

One entry point with sub-commands; every sub-command prints a human-readable
table by default and JSON with ``--json``.  Invalid input is reported as a single
line on stderr with exit status 2 (never a traceback).

Sub-commands live in small modules that expose ``register(subparsers)``; this
module only wires them together and owns the error handling.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "print_table", "emit"]

# (module, description) -- each module defines register(subparsers)
_COMMAND_MODULES = [
    "fltheory._cli_accounting",
    "fltheory._cli_bounds",
    "fltheory._cli_report",
    "fltheory._cli_plot",
    "fltheory._cli_run",
    "fltheory._cli_leakage",
    "fltheory._cli_plan",
]


class UsageError(ValueError):
    """Raised by the parser instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The full ``fltheory`` parser with every registered sub-command."""
    parser = _Parser(
        prog="fltheory",
        description="Theory-driven privacy accounting and robustness analysis for federated learning.",
        formatter_class=_Formatter,
        epilog="Run 'fltheory <command> --help' for an example of each command.",
    )
    from fltheory import __version__

    parser.add_argument("--version", action="version", version=f"fltheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    for modname in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == modname:
                continue
            raise
        mod.register(sub, _Formatter)
    return parser


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(obj, np.integer):
        return int(obj)
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    return obj


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fltheory`` command; returns the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        result = args.func(args)
        return int(result or 0)
    except (ValueError, OverflowError) as exc:  # bad input: one line, exit 2
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, UsageError):
            msg = f"fltheory: error: {msg}"
        print(msg, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
