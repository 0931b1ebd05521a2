"""Sphinx directives that render fltheory's Bound objects and figures at build time.

One source of truth: the formulas on the theory pages are produced by
:meth:`fltheory.bounds.Bound.latex` when the docs are built, never copied by hand.

Directives
----------
``.. bound:: NAME``
    A display equation with the bound ``NAME`` (see ``fltheory.bounds.all_bounds()``), followed by
    its validity conditions, provenance status, reference and description.  Options:
    ``:label:`` (equation label), ``:no-details:`` (equation only).

``.. bound-table::``
    A table of bounds (name, formula, status).  Options: ``:prefix:`` (names starting with it),
    ``:names:`` (space-separated list).

``.. bound-figure:: NAME``
    Draws figure ``NAME`` of ``fltheory.plots.bounds.FIGURES`` into ``<srcdir>/_generated/bounds``
    (redrawn only when missing or older than the fltheory sources) and includes it as a figure;
    the directive content is the caption.  Option ``:width:``.

Enable with ``extensions = [..., "bounddirective"]`` and ``docs/_ext`` on ``sys.path``.
"""

from __future__ import annotations

import inspect
import os
import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

__all__ = ["setup"]

_GENERATED = os.path.join("_generated", "bounds")


def _source_mtime() -> float:
    """Newest modification time of the code the figures depend on."""
    import fltheory

    root = os.path.dirname(fltheory.__file__)
    newest = 0.0
    for sub in ("bounds", "plots", "accounting"):
        for dirpath, _, files in os.walk(os.path.join(root, sub)):
            for fn in files:
                if fn.endswith(".py"):
                    newest = max(newest, os.path.getmtime(os.path.join(dirpath, fn)))
    return max(newest, os.path.getmtime(os.path.join(root, "tradeoffs.py")))


def _up_to_date(paths: list[str]) -> bool:
    """Figures exist and are newer than every source file they are drawn from."""
    if not all(os.path.exists(p) for p in paths):
        return False
    return min(os.path.getmtime(p) for p in paths) > _source_mtime()


def _rst_escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")
    # "Y. Allouah ..." would open an enumerated list: escape a leading "<letter>." enumerator
    return re.sub(r"^([A-Za-z0-9]{1,3})\.(\s)", r"\1\\.\2", text)


def _parse(directive: Directive, lines: list[str]) -> list[nodes.Node]:
    container = nodes.container()
    source = directive.state_machine.get_source_and_line(directive.lineno)[0] or "<bound>"
    directive.state.nested_parse(StringList(lines, source=source), directive.content_offset,
                                 container)
    return container.children


def _get(name: str, directive: Directive):
    from fltheory.bounds import all_bounds

    bounds = all_bounds()
    if name not in bounds:
        raise directive.error(f"unknown bound {name!r}; known: {', '.join(sorted(bounds))}")
    return bounds[name]


class BoundDirective(Directive):
    """``.. bound:: NAME`` -- the bound's LaTeX as a display equation, plus its metadata."""

    required_arguments = 1
    has_content = False
    option_spec = {"label": directives.unchanged, "no-details": directives.flag}

    def run(self):
        from fltheory.bounds import STATUSES

        b = _get(self.arguments[0].strip(), self)
        lines = [".. math::"]
        if "label" in self.options:
            lines.append(f"   :label: {self.options['label']}")
        lines += ["", f"   {b.latex()}", ""]
        if "no-details" not in self.options:
            if b.assumptions:
                conds = ", ".join(f":math:`{a.latex()}`" for a in b.assumptions)
                lines.append(f":Valid when: {conds}")
            kind = {"upper": "upper bound", "lower": "lower bound", "exact": "exact expression",
                    "order": "order only (constants unknown)",
                    "estimate": "estimate (not a certified bound)"}[b.kind]
            lines.append(f":Kind: {kind}")
            lines.append(f":Status: **{b.status}** -- {_rst_escape(STATUSES[b.status])}")
            lines.append(f":Reference: {_rst_escape(b.reference)}")
            lines.append(f":In short: {_rst_escape(b.description)}")
            lines.append(f":Object: ``fltheory.bounds.get_bound({b.name!r})``")
            lines.append("")
        return _parse(self, lines)


class BoundTableDirective(Directive):
    """``.. bound-table::`` -- name, formula and status of several bounds."""

    has_content = False
    option_spec = {"prefix": directives.unchanged, "names": directives.unchanged}

    def run(self):
        from fltheory.bounds import all_bounds

        bounds = all_bounds()
        if "names" in self.options:
            names = self.options["names"].split()
            for nm in names:
                _get(nm, self)
        else:
            prefix = self.options.get("prefix", "")
            names = [nm for nm in bounds if nm.startswith(prefix)]
        if not names:
            raise self.error("no bound matches the options")
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 22 60 18", "",
                 "   * - name", "     - bound", "     - status"]
        for nm in names:
            b = bounds[nm]
            lines += [f"   * - ``{nm}``", f"     - :math:`{b.latex()}`", f"     - {b.status}"]
        lines.append("")
        return _parse(self, lines)


class BoundFigureDirective(Directive):
    """``.. bound-figure:: NAME`` -- draw an fltheory figure at build time and include it."""

    required_arguments = 1
    has_content = True
    option_spec = {"width": directives.unchanged, "alt": directives.unchanged}

    def run(self):
        from fltheory.plots.bounds import FIGURES

        name = self.arguments[0].strip()
        if name not in FIGURES:
            raise self.error(f"unknown figure {name!r}; known: {', '.join(sorted(FIGURES))}")
        env = self.state.document.settings.env
        out = os.path.join(str(env.srcdir), _GENERATED)
        stem = inspect.signature(FIGURES[name]).parameters["stem"].default
        targets = [os.path.join(out, f"{stem}.{ext}") for ext in ("pdf", "png")]
        if not _up_to_date(targets):
            FIGURES[name](out)
        png = targets[1]
        stem = os.path.splitext(os.path.basename(png))[0]
        uri = "/" + "/".join([*_GENERATED.split(os.sep), stem]) + ".*"
        lines = [f".. figure:: {uri}",
                 f"   :width: {self.options.get('width', '90%')}",
                 f"   :alt: {self.options.get('alt', name)}", ""]
        lines += ["   " + ln for ln in self.content] or ["   " + name]
        lines.append("")
        return _parse(self, lines)


def setup(app):
    app.add_directive("bound", BoundDirective)
    app.add_directive("bound-table", BoundTableDirective)
    app.add_directive("bound-figure", BoundFigureDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
