"""Names that moved to another module keep working from the old one with a DeprecationWarning.

Used by a module's ``__getattr__``: ``return moved(__name__, name, {"old": "new.module"})``.
The import is by name (:func:`importlib.import_module`) because the new home of a drawing
function may sit in a layer above the old module; only the deprecated name goes through it.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any


def moved(module: str, name: str, homes: dict[str, str]) -> Any:
    """``name`` from its new module ``homes[name]``, with a DeprecationWarning; else
    ``AttributeError`` as for any missing attribute of ``module``."""
    if name not in homes:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(f"{module}.{name} moved to {homes[name]}.{name}", DeprecationWarning,
                  stacklevel=3)
    return getattr(importlib.import_module(homes[name]), name)
