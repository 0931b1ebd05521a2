"""Atomic result files: JSON for numbers (temp file + rename, never a half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "jsonable"]


def jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, dataclasses with ``to_dict`` and infinities for JSON."""
    from fltheory.cli import _jsonable

    return _jsonable(obj)


def write_json_atomic(path, data: Any) -> str:
    """Write ``data`` as indented JSON to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(jsonable(data), fh, indent=2)
            fh.write("\n")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return str(path)
