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
import re
import sys
from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "print_table", "emit", "require"]

# Each module defines register(subparsers, formatter_class).  A module may also define
# COMMANDS = {"name": "one-line help", ...}: then only the command being run is registered in
# full and the others appear as one-line stubs, so `fltheory --help` and `fltheory bound ...`
# import nothing the other commands need (dp_accounting, torch, matplotlib).
_COMMAND_MODULES = [
    "fltheory._cli_accounting",
    "fltheory._cli_bounds",
    "fltheory._cli_report",
    "fltheory._cli_plot",
    "fltheory._cli_run",
    "fltheory._cli_leakage",
    "fltheory._cli_plan",
]

# argparse (3.10, 3.11) takes "-1e-5" for an option; accept every number written with a sign so
# that it reaches the range check, which says what the valid values are
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-inf(inity)?$", re.I)


class UsageError(ValueError):
    """Raised by the parser instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default only where it has one (no "(default: None)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_ = action.help or ""
        if ("%(default)" in help_ or action.default in (None, False, argparse.SUPPRESS)
                or action.required or not action.option_strings):
            return help_
        return help_ + " (default: %(default)s)"


def _selected_command(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line (the first token that is not an option)."""
    for tok in argv:
        if tok == "--":
            return None
        if not tok.startswith("-"):
            return tok
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``fltheory`` parser.

    With ``argv``, only the sub-command ``argv`` names is registered in full (the others as
    one-line stubs that import nothing); without it, every sub-command is.
    """
    parser = _Parser(
        prog="fltheory",
        description="Theory-driven privacy accounting and robustness analysis for federated learning.",
        formatter_class=_Formatter,
        epilog="Run 'fltheory <command> --help' for an example of each command.",
    )
    from fltheory import __version__

    parser.add_argument("--version", action="version", version=f"fltheory {__version__}")
    parser.add_argument("--quiet", dest="quiet_all", action="store_true",
                        help="no progress bars (also each command's --quiet; bars are drawn "
                             "only when stderr is a terminal)")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    wanted = _selected_command(argv) if argv is not None else None
    for modname in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == modname:
                continue
            raise
        commands = getattr(mod, "COMMANDS", None)
        if argv is not None and commands and wanted not in commands:
            for name, help_ in commands.items():
                sub.add_parser(name, help=help_, add_help=False)
            continue
        mod.register(sub, _Formatter)
    return parser


def require(module: str, what: str, extra: str = "fl") -> None:
    """Import ``module`` or raise one line saying which extra to install (exit status 2).

    >>> require("json", "fltheory run")
    >>> require("no_such_module_xyz", "fltheory validate")
    Traceback (most recent call last):
    ...
    ValueError: fltheory validate needs no_such_module_xyz, which is not installed: pip install 'fltheory[fl]'
    """
    try:
        importlib.import_module(module)
    except ImportError:
        raise ValueError(f"{what} needs {module}, which is not installed: "
                         f"pip install 'fltheory[{extra}]'") from None


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
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        quiet = getattr(args, "quiet", False) or getattr(args, "quiet_all", False)
        if quiet:
            from fltheory import _progress

            _progress.set_quiet(True)
        try:
            result = args.func(args)
        finally:
            if quiet:
                _progress.set_quiet(False)
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
