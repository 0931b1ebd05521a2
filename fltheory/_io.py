"""Atomic result files (temp file in the same folder + rename: never a half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "write_json_atomic", "jsonable"]


def jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, dataclasses with ``to_dict`` and infinities for JSON."""
    from fltheory.cli import _jsonable

    return _jsonable(obj)


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
                  overwrite: bool = False, resume: bool = False) -> Path:
    """Check (and create) an output directory *before* any work is done.

    Raises ``ValueError`` naming ``option`` when ``path`` is an existing file, cannot be created
    or is not writable, and -- when ``holds`` names the file a previous run leaves there --
    when that file exists and neither ``overwrite`` nor ``resume`` is set.

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
        raise ValueError(f"{option} {str(p)!r} already holds {holds} from an earlier run; pass "
                         "--overwrite to replace it (or --resume to continue it)")
    return p
