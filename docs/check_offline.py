"""Check that a built Sphinx HTML tree loads its math, scripts, styles and images locally.

Usage: ``python docs/check_offline.py HTMLDIR``

Every ``<script src>``, ``<link href>`` (stylesheets, preloads, icons), ``<img src>``,
``<iframe src>``, ``<source src>`` and CSS ``url(...)`` / ``@import`` in the built pages and their
stylesheets must point to a file inside HTMLDIR that exists.  Pages with math must load MathJax
from HTMLDIR.  Links the reader clicks (``<a href>``) may point anywhere.  Exit status 1, with
one line per offence, when something would be fetched from the network or is missing.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
            ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
            ("object", "data")}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.has_math = False
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for t, attr in _LOADING:
            if tag == t and a.get(attr):
                if tag == "link" and not _link_loads(a.get("rel") or ""):
                    continue
                self.refs.append(a[attr])
        if tag == "style":
            self._in_style = True
        cls = a.get("class") or ""
        if "math" in cls.split():
            self.has_math = True

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _link_loads(rel: str) -> bool:
    """``<link rel=...>`` kinds that make the browser fetch the target."""
    kinds = set(rel.lower().split())
    return bool(kinds & {"stylesheet", "preload", "modulepreload", "icon", "prefetch",
                         "manifest"})


def _is_remote(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.scheme not in ("file", "data")) or url.startswith("//")


def _local_target(base: Path, url: str) -> Path:
    path = unquote(urlsplit(url).path)
    return (base.parent / path).resolve()


def check(root: Path) -> list[str]:
    """The offences in the HTML tree at ``root`` (empty list when it loads everything locally)."""
    root = root.resolve()
    problems: list[str] = []
    pages = sorted(root.rglob("*.html"))
    if not pages:
        return [f"{root}: no HTML pages"]
    css_seen: set[Path] = set()
    math_pages = 0
    for page in pages:
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        rel = page.relative_to(root)
        mathjax_local = False
        refs = list(parser.refs)
        for css in parser.styles:
            refs += [m.group(1) or m.group(2) for m in _CSS_URL.finditer(css)]
        for url in refs:
            if url.startswith("data:"):
                continue
            if _is_remote(url):
                problems.append(f"{rel}: loads {url} from the network")
                continue
            target = _local_target(page, url)
            if root not in target.parents and target != root:
                problems.append(f"{rel}: loads {url} from outside the HTML tree")
            elif not target.is_file():
                problems.append(f"{rel}: {url} is missing")
            else:
                if target.suffix == ".css":
                    css_seen.add(target)
                if "mathjax" in url.lower():
                    mathjax_local = True
        if parser.has_math:
            math_pages += 1
            if not mathjax_local:
                problems.append(f"{rel}: has math but loads no local MathJax")
    for css in sorted(css_seen):
        text = css.read_text(encoding="utf-8", errors="replace")
        for m in _CSS_URL.finditer(text):
            url = m.group(1) or m.group(2)
            if url.startswith("data:") or url.startswith("#"):
                continue
            if _is_remote(url):
                problems.append(f"{css.relative_to(root)}: loads {url} from the network")
            elif not _local_target(css, url).is_file():
                problems.append(f"{css.relative_to(root)}: {url} is missing")
    if not problems:
        print(f"check_offline: {len(pages)} pages ({math_pages} with math), "
              f"{len(css_seen)} stylesheets: everything loads from {root}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python docs/check_offline.py HTMLDIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    if not root.is_dir():
        print(f"check_offline: {root} is not a directory", file=sys.stderr)
        return 2
    problems = check(root)
    for p in problems:
        print(f"check_offline: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
