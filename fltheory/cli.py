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
import sys
from typing import Sequence

from fltheory._io import jsonable as _jsonable  # noqa: F401  (re-exported for older callers)
from fltheory._table import emit, print_table

__all__ = ["main", "build_parser", "print_table", "emit"]

# (module, description) -- each module defines register(subparsers)
_COMMAND_MODULES = [
    "fltheory._cli_accounting",
    "fltheory._cli_bounds",
    "fltheory._cli_report",
    "fltheory._cli_plot",
    "fltheory._cli_run",
    "fltheory._cli_leakage",
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
