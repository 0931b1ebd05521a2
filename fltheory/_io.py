"""Atomic result files (temp file in the same folder + rename: never a half-written file)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "write_json_atomic", "jsonable", "read_toml"]


def read_toml(path) -> dict:
    """The table of a TOML file (``tomllib``, or ``tomli`` on Python 3.10).

    Raises :class:`~fltheory.errors.ConfigError` naming the file when it is missing or not
    valid TOML.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.toml"
    >>> _ = p.write_text("x = 1")
    >>> read_toml(p)
    {'x': 1}
    """
    import sys

    from fltheory.errors import ConfigError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None


def jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, dataclasses with ``to_dict`` and infinities for JSON.

    NaN becomes ``None``, infinities ``"inf"`` / ``"-inf"``.

    Examples
    --------
    >>> jsonable({"a": float("inf"), "b": (1, 2.5)})
    {'a': 'inf', 'b': [1, 2.5]}
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(obj, np.integer):
        return int(obj)
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return obj


def atomic_write(path, write: Callable[[str], None], *, suffix: str = "") -> str:
    """Create ``path`` atomically: ``write(tmp)`` fills a temporary file, which is renamed.

    The temporary file lives in the target's folder (created if needed), named
    ``.<name>.XXXX<suffix>`` (``suffix`` lets writers that read the format from the name, such as
    matplotlib, see it); it gets the permissions a plain ``open`` would give, and is removed if
    ``write`` fails.  Returns the path as a string.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> out = atomic_write(d / "a.txt", lambda tmp: pathlib.Path(tmp).write_text("hi"))
    >>> out == str(d / "a.txt")
    True
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('hi', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return str(path)


def write_json_atomic(path, data: Any) -> str:
    """Write ``data`` as indented JSON to ``path`` atomically; return the path."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(jsonable(data), fh, indent=2)
            fh.write("\n")

    return atomic_write(path, write)
