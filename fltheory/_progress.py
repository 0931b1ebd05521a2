"""Progress bars with an ETA (tqdm) for the commands users wait for.

A bar is drawn on stderr only when stderr is a terminal and progress is not switched off
(``fltheory ... --quiet``, :func:`set_quiet`, or the environment variable
``FLTHEORY_QUIET=1``); piped or logged output therefore stays clean.  tqdm is imported only
when a bar is drawn.

>>> list(track(range(3), "rounds", enabled=False))
[0, 1, 2]
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, Iterable, Iterator, TypeVar

__all__ = ["enabled", "set_quiet", "track", "bar"]

T = TypeVar("T")
_QUIET = False


def set_quiet(quiet: bool = True) -> None:
    """Switch every progress bar of this process off (``True``) or back to automatic."""
    global _QUIET
    _QUIET = bool(quiet)


def enabled(requested: bool | None = None) -> bool:
    """Whether to draw: ``requested`` when given, else stderr is a TTY and not quiet."""
    if requested is not None:
        return bool(requested)
    if _QUIET or os.environ.get("FLTHEORY_QUIET", "") not in ("", "0"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _NoBar:
    """What :func:`bar` returns when progress is off: every call is a no-op."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_description_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _width() -> dict:
    """Follow the terminal's size; a terminal that reports none (0 x 0, e.g. a pseudo-terminal
    nobody sized) gets 100 x 24, since tqdm would otherwise hide the bar."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        size = os.terminal_size((0, 0))
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}
    return {"ncols": size.columns or 100, "nrows": size.lines or 24}


def bar(total: int | None, desc: str, *, unit: str = "it", enabled: bool | None = None,
        delay: float = 0.5) -> Any:
    """A tqdm bar on stderr (rate, elapsed and ETA), or a no-op object when progress is off.

    ``delay``: seconds before the bar first appears, so that quick calls stay silent.
    """
    if not globals()["enabled"](enabled):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, delay=delay,
                leave=False, **_width(),
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                           "[{elapsed}<{remaining}, {rate_fmt}{postfix}]" if total else None)


def track(iterable: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it",
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``iterable`` with a bar (``total`` defaults to ``len(iterable)`` when it has one)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with bar(total, desc, unit=unit, enabled=enabled) as b:
        for item in iterable:
            yield item
            b.update(1)
