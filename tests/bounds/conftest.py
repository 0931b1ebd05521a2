"""Fixtures shared by the bounds tests: the figures are drawn once per session."""

import pytest


@pytest.fixture(scope="session")
def tradeoff_out(tmp_path_factory):
    """``fltheory tradeoff ... --out DIR`` run once: (exit status, stdout, DIR)."""
    import contextlib
    import io

    from fltheory.cli import main

    out = tmp_path_factory.mktemp("tradeoff")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["tradeoff", "--d", "1e6", "--k", "1000", "10000", "--out", str(out)])
    return rc, buf.getvalue(), out
