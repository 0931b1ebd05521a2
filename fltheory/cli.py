"""The ``fltheory`` command line.

One entry point with sub-commands; every sub-command prints a human-readable
table by default and JSON with ``--json``.  Invalid input (``ValueError`` and its subclasses
``ConfigError`` and ``UnsupportedEventError``) is reported as a single line on stderr with exit
status 2 (never a traceback); any other exception is an internal error: one line
``fltheory: internal error: ... (traceback saved to PATH)`` and exit status 1.

Sub-commands live in small modules that expose ``register(subparsers)``; this
module only wires them together and owns the error handling.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import Sequence

from fltheory._io import jsonable as _jsonable  # noqa: F401  (re-exported for older callers)
from fltheory._table import emit, print_table

__all__ = ["main", "build_parser", "print_table", "emit"]

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fltheory`` command; returns the exit status."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(argv)
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
    except Exception as exc:  # a bug of fltheory, not of the input: exit 1, traceback to a file
        path = _save_traceback()
        msg = " ".join(str(exc).split())[:200]
        print(f"fltheory: internal error: {type(exc).__name__}: {msg} (traceback saved to "
              f"{path})", file=sys.stderr)
        return 1


def _save_traceback() -> str:
    """Write the current exception's traceback to a temporary file; return its path."""
    import os
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="fltheory-traceback-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write(traceback.format_exc())
    return path


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
