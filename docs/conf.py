"""Sphinx configuration for fltheory (builds offline, warnings are errors in CI)."""

import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

project = "fltheory"
author = "fltheory developers"
copyright = "2026, fltheory developers"

from fltheory import __version__ as release  # noqa: E402

version = release
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # ships MathJax 3 inside the package and copies it into _static/mathjax: formulas render
    # with no network (docs/check_offline.py checks the built HTML loads nothing remote)
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
]
# optional local extensions (added by later modules) are loaded when present
for _ext in ("bounddirective",):
    if os.path.exists(os.path.join(os.path.dirname(__file__), "_ext", _ext + ".py")):
        extensions.append(_ext)

napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"fltheory {release}"
html_static_path = ["_static"]
html_css_files = ["fltheory.css"]
# furo loads no web fonts and no remote scripts; keep it that way (see docs/check_offline.py)
html_theme_options = {"navigation_with_keys": True}

nitpicky = False
# no intersphinx: the build must not need the network
math_number_all = False

_CIT = re.compile(r"^(\s*)\.\. \[([^\]]+)\]\s*(.*)$")
_REF = re.compile(r"\[([0-9]+)\]_")


def _citations_to_lists(app, what, name, obj, options, lines):
    """Turn NumPy-style ``.. [1]`` citations into enumerated lists.

    Citations with the same label in several docstrings of one page would be duplicate targets;
    a per-docstring enumerated list reads the same and cannot collide.
    """
    out = []
    in_cit = None
    for line in lines:
        m = _CIT.match(line)
        if m:
            base, label, text = m.groups()
            in_cit = base
            prefix = "#. " if label.isdigit() else f"#. [{label}] "
            out.append(f"{base}{prefix}{text}")
            continue
        if in_cit is not None:
            if not line.strip():
                in_cit = None
                out.append(line)
                continue
            indent = len(line) - len(line.lstrip())
            if indent > len(in_cit):
                out.append(in_cit + "   " + line.strip())
                continue
            in_cit = None
        out.append(_REF.sub(r"[\1]", line))
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _citations_to_lists)
