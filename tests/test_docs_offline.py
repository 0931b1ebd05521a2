"""docs/check_offline.py: the built HTML must load math, scripts and styles from local files."""

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "check_offline", Path(__file__).resolve().parents[1] / "docs" / "check_offline.py")
check_offline = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(check_offline)

_MATH = '<span class="math notranslate nohighlight">\\(x\\)</span>'


def _tree(tmp_path, head, body=_MATH, files=("_static/mathjax/tex-chtml.js", "_static/s.css")):
    for f in files:
        p = tmp_path / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("body { color: black }" if f.endswith(".css") else "//")
    (tmp_path / "page.html").write_text(f"<html><head>{head}</head><body>{body}</body></html>")
    return tmp_path


LOCAL = ('<script defer src="_static/mathjax/tex-chtml.js"></script>'
         '<link rel="stylesheet" href="_static/s.css?v=1">')


def test_local_tree_passes(tmp_path):
    assert check_offline.check(_tree(tmp_path, LOCAL)) == []


@pytest.mark.parametrize("head, needle", [
    ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
     '<link rel="stylesheet" href="_static/s.css">', "from the network"),
    (LOCAL + '<link rel="stylesheet" href="//fonts.example.org/x.css">', "from the network"),
    (LOCAL + '<link rel="preload" as="font" href="http://x.org/f.woff2">', "from the network"),
    (LOCAL + '<img src="_static/missing.png">', "is missing"),
    (LOCAL + '<style>@import "https://x.org/a.css";</style>', "from the network"),
    ('<link rel="stylesheet" href="_static/s.css">', "loads no local MathJax"),
])
def test_remote_or_missing_is_reported(tmp_path, head, needle):
    problems = check_offline.check(_tree(tmp_path, head))
    assert problems and needle in problems[0]


def test_remote_url_inside_stylesheet_is_reported(tmp_path):
    root = _tree(tmp_path, LOCAL)
    (root / "_static" / "s.css").write_text("@font-face { src: url(https://x.org/f.woff2) }")
    problems = check_offline.check(root)
    assert problems and "s.css" in problems[0]


def test_links_the_reader_clicks_may_be_remote(tmp_path):
    assert check_offline.check(_tree(tmp_path, LOCAL, _MATH + '<a href="https://arxiv.org">x</a>')) == []


def test_main_exit_status(tmp_path, capsys):
    assert check_offline.main([str(tmp_path / "nope")]) == 2
    root = _tree(tmp_path, '<script src="https://x.org/m.js"></script>')
    assert check_offline.main([str(root)]) == 1
    assert "from the network" in capsys.readouterr().err
