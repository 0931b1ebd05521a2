"""The CLI's exit codes: user errors (ValueError and the typed errors) exit 2 with one line,
anything else exits 1 with a short 'internal error' line and the traceback saved to a file."""

from __future__ import annotations

import pathlib

from fltheory import cli
from fltheory.errors import ConfigError, UnsupportedEventError


def _run_with(monkeypatch, capsys, exc):
    def boom(args):
        raise exc

    real = cli.build_parser

    def parser(argv=None):
        p = real(argv)
        p.set_defaults(command="boom", func=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    rc = cli.main([])
    return rc, capsys.readouterr()


def test_user_errors_exit_2_with_one_line(monkeypatch, capsys):
    for exc in (ValueError("rounds must be >= 1, got 0"), ConfigError("bad.toml: no recipe"),
                UnsupportedEventError("event is not supported")):
        rc, out = _run_with(monkeypatch, capsys, exc)
        assert rc == 2
        assert out.err.count("\n") == 1 and out.err.startswith("fltheory: error: ")
        assert "Traceback" not in out.err


def test_internal_errors_exit_1_and_save_the_traceback(monkeypatch, capsys):
    rc, out = _run_with(monkeypatch, capsys, KeyError("oops"))
    assert rc == 1
    line = out.err.strip()
    assert out.err.count("\n") == 1 and line.startswith("fltheory: internal error: KeyError")
    path = pathlib.Path(line.split("traceback saved to ")[1].rstrip(")"))
    try:
        assert "Traceback" in path.read_text() and "KeyError" in path.read_text()
    finally:
        path.unlink()


def test_empty_config_file_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    rc = cli.main(["run", str(empty), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "empty.toml: no recipe" in err
