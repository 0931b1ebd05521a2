"""Progress bars: drawn on a terminal with an ETA, silent when piped or quiet."""

import io
import sys

import pytest

from fltheory import _progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def tty(monkeypatch):
    """A terminal stand-in for stderr (patched in the test body: pytest's capture re-patches
    sys.stderr between the setup and call phases)."""
    return lambda: _patch(monkeypatch)


def _patch(monkeypatch):
    buf = _Tty()
    monkeypatch.setattr(sys, "stderr", buf)
    monkeypatch.delenv("FLTHEORY_QUIET", raising=False)
    return buf


def _drain(**kw):
    b = _progress.bar(4, "work", unit="run", delay=0, **kw)
    for _ in range(4):
        b.update(1)
    b.close()


def test_bar_on_a_terminal_shows_count_elapsed_and_eta(tty):
    tty = tty()
    _drain()
    out = tty.getvalue()
    assert "work:" in out and "/4 [" in out and "<" in out       # elapsed<remaining (the ETA)


def test_bar_is_silent_when_not_a_terminal(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    _drain()
    assert buf.getvalue() == ""


def test_quiet_switches_bars_off(tty, monkeypatch):
    tty = tty()
    _progress.set_quiet(True)
    try:
        _drain()
    finally:
        _progress.set_quiet(False)
    assert tty.getvalue() == ""
    monkeypatch.setenv("FLTHEORY_QUIET", "1")
    _drain()
    assert tty.getvalue() == ""


def test_explicit_request_wins(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    _drain(enabled=True)
    assert "work:" in buf.getvalue()


def test_track_keeps_order(tty):
    tty = tty()
    assert list(_progress.track(range(3), "t")) == [0, 1, 2]


def test_cli_quiet_flag_is_accepted_and_reset(tty):
    tty = tty()
    from fltheory.cli import main

    assert main(["--quiet", "plot", "--list"]) == 0
    assert not _progress._QUIET
