"""One registry of named components: aggregators, pre-aggregators, attacks, compressors.

A :class:`Registry` maps canonical names to components (classes or factories), accepts aliases
(case-insensitive, ``-`` and ``_`` alike), warns about deprecated ones, stores what each
component declares about the theory it is checked against (``kappa_name`` for aggregation rules,
``variance`` -- the :func:`fltheory.bounds.compressor_variance` kind -- for compressors), and
refuses an unknown name with an error that lists the choices.  Users add their own components
with :meth:`Registry.register`.  A data set, model or compressor registered on the engine's
registries (``fltheory.fl.data.REGISTRY``, ``fltheory.fl.models.REGISTRY``,
``fltheory.fl.compressors.REGISTRY``) can then be named in a configuration file
(``data.name``, ``model.name``, ``compression.name``), aliases included.

Examples
--------
>>> from fltheory.registry import Registry
>>> reg = Registry("widget")
>>> @reg.register("square", aliases=("sq",), sides=4)
... class Square:
...     pass
>>> reg.get("SQ") is Square, reg.meta("square")["sides"]
(True, 4)
>>> reg.get("circle")
Traceback (most recent call last):
...
ValueError: widget must be one of 'square' (aliases: 'sq'), got 'circle'
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import MutableMapping
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Registry"]


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class Registry(MutableMapping):
    """Named components of one kind (see the module documentation).

    ``reg.register(name, obj, aliases=..., deprecated=..., replace=False, **meta)`` adds a
    component (as a decorator when ``obj`` is omitted): ``deprecated`` aliases warn, ``meta``
    holds its declared theory links (read back with :meth:`meta`), and a name already taken
    raises ``ValueError`` unless ``replace=True``.  Mapping access (``reg[name]``,
    ``name in reg``, iteration over every accepted name, aliases included) keeps code written
    against plain dictionaries working; ``reg[name] = obj`` registers (or replaces) ``obj``.

    Parameters
    ----------
    kind : str
        What the components are (``"aggregator"``, ``"attack"``, ...); the name of the argument
        in error messages.
    on_register : callable, optional
        Called as ``on_register(name, aliases)`` after each registration (canonical name and
        its non-deprecated aliases): how the engine's data, model and compressor registries tell
        :mod:`fltheory.config` which names a configuration may use.
    """

    def __init__(self, kind: str, *,
                 on_register: Callable[[str, tuple[str, ...]], None] | None = None) -> None:
        self.kind = kind
        self._on_register = on_register
        self._items: dict[str, Any] = {}
        self._meta: dict[str, dict] = {}
        self._aliases: dict[str, str] = {}
        self._deprecated: dict[str, str] = {}

    # -- registration ----------------------------------------------------------------------
    def register(self, name: str, obj: Any = None, *, aliases: Iterable[str] = (),
                 deprecated: Iterable[str] = (), replace: bool = False, **meta: Any) -> Any:
        """Register a component (as a decorator when ``obj`` is omitted).

        Parameters
        ----------
        name : str
            Its canonical name.
        obj : object, optional
            The class or factory.
        aliases, deprecated : iterable of str
            Other accepted names; ``deprecated`` ones are accepted with a
            ``DeprecationWarning``.
        replace : bool
            Override a name already taken (otherwise ``ValueError``).
        **meta
            The component's declared theory links (e.g. ``kappa_name="cwtm"``,
            ``variance="randk"``), read back with :meth:`meta`.
        """
        if obj is None:
            def deco(o: Any) -> Any:
                self.register(name, o, aliases=aliases, deprecated=deprecated, replace=replace,
                              **meta)
                return o
            return deco
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        key = _norm(name)
        taken = key in self._items or key in self._aliases
        if taken and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True "
                             "to override it")
        self._aliases.pop(key, None)
        self._items[key] = obj
        self._meta[key] = dict(meta)
        for a in aliases:
            self._aliases[_norm(a)] = key
        for a in deprecated:
            self._aliases[_norm(a)] = key
            self._deprecated[_norm(a)] = key
        if self._on_register is not None:
            self._on_register(key, tuple(_norm(a) for a in aliases))
        return obj

    # -- lookup ------------------------------------------------------------------------------
    def canonical(self, name: Any, *, param: str | None = None) -> str:
        """The canonical name of ``name`` (an alias resolved); ``ValueError`` listing the
        choices when unknown."""
        if isinstance(name, str):
            key = _norm(name)
            if key in self._items:
                return key
            if key in self._aliases:
                target = self._aliases[key]
                if key in self._deprecated:
                    warnings.warn(f"{self.kind} name {name!r} is deprecated; use {target!r}",
                                  DeprecationWarning, stacklevel=3)
                return target
        raise ValueError(self.unknown_message(name, param=param))

    def unknown_message(self, name: Any, *, param: str | None = None) -> str:
        """The error message for an unknown ``name``: the choices, and the closest one."""
        names = ", ".join(repr(k) for k in sorted(self._items))
        alias = sorted(a for a in self._aliases if a not in self._deprecated)
        extra = f" (aliases: {', '.join(repr(a) for a in alias)})" if alias else ""
        msg = f"{param or self.kind} must be one of {names}{extra}, got {name!r}"
        if isinstance(name, str):
            close = difflib.get_close_matches(_norm(name), [*self._items, *alias], n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        return msg

    def get(self, name: Any, default: Any = None, *, param: str | None = None) -> Any:  # type: ignore[override]
        """The component called ``name`` (an alias works too)."""
        return self._items[self.canonical(name, param=param)]

    def meta(self, name: str) -> dict:
        """What the component declared when registered (its links to the theory)."""
        return dict(self._meta[self.canonical(name)])

    def available(self, *, aliases: bool = False) -> list[str]:
        """Canonical names, sorted (with ``aliases=True``: every accepted name)."""
        names = set(self._items)
        if aliases:
            names |= set(self._aliases)
        return sorted(names)

    # -- mapping protocol ----------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        try:
            return self.get(name)
        except ValueError:
            raise KeyError(name) from None

    def __setitem__(self, name: str, obj: Any) -> None:
        self.register(name, obj, replace=True)

    def __delitem__(self, name: str) -> None:
        key = self.canonical(name)
        del self._items[key], self._meta[key]
        for a in [a for a, t in self._aliases.items() if t == key]:
            self._aliases.pop(a)
            self._deprecated.pop(a, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (_norm(name) in self._items
                                          or _norm(name) in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self.available(aliases=True))

    def __len__(self) -> int:
        return len(self._items) + len(self._aliases)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.available()})"


def register_all(registry: Registry, entries: dict[str, Any],
                 meta: Callable[[Any], dict] | None = None) -> None:
    """Register ``{name: obj}`` in order; a later name bound to an object already registered
    becomes an alias of the first."""
    seen: dict[int, str] = {}
    for name, obj in entries.items():
        if id(obj) in seen:
            registry._aliases[_norm(name)] = seen[id(obj)]
            continue
        registry.register(name, obj, **(meta(obj) if meta else {}))
        seen[id(obj)] = _norm(name)
