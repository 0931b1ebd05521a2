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
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None


def read_json(path, what: str = "results file") -> dict:
    """The JSON object in ``path``; ``ValueError`` naming the file when it is missing, not
    JSON (or not text), or not an object.

    >>> read_json("/nonexistent.json")
    Traceback (most recent call last):
    ...
    ValueError: results file not found: /nonexistent.json
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: not a {what} (a JSON object), got a {type(data).__name__}")
    return data


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


def check_out_dir(path, *, option: str = "--out", holds: str | None = None,
                  overwrite: bool = False, resume: bool | None = False) -> Path:
    """Check (and create) an output directory *before* any work is done.

    Raises ``ValueError`` naming ``option`` when ``path`` is an existing file, cannot be created
    or is not writable, and -- when ``holds`` names the file a previous run leaves there --
    when that file exists and neither ``overwrite`` nor ``resume`` is set (``resume=None``: the
    command cannot resume, and the message offers ``--overwrite`` only).

    >>> import tempfile, os
    >>> d = check_out_dir(os.path.join(tempfile.mkdtemp(), "new"))
    >>> d.is_dir()
    True
    >>> check_out_dir(__file__)
    Traceback (most recent call last):
    ...
    ValueError: --out must be a directory, got the existing file ...
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{option} must be a directory, got the existing file {str(p)!r}")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{option}: cannot create directory {str(p)!r}: "
                         f"{exc.strerror or exc}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: directory {str(p)!r} is not writable")
    if holds is not None and (p / holds).exists() and not (overwrite or resume):
        also = "" if resume is None else " (or --resume to continue it)"
        raise ValueError(f"{option} {str(p)!r} already holds {holds} from an earlier run; pass "
                         f"--overwrite to replace it{also}")
    return p
