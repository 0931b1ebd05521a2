"""Typed errors raised by fltheory.

Both are :class:`ValueError` subclasses, so code that catches ``ValueError`` keeps working. The CLI
treats them (and every ``ValueError`` raised while validating user input) as user errors: one line
on stderr and exit status 2. Anything else that escapes a command is an internal error.

Examples
--------
>>> from fltheory.errors import ConfigError
>>> try:
...     raise ConfigError("rounds must be >= 1, got 0")
... except ValueError as err:
...     print(err)
rounds must be >= 1, got 0
"""

from __future__ import annotations

__all__ = ["ConfigError", "UnsupportedEventError"]


class ConfigError(ValueError):
    """An experiment configuration (TOML file or mapping) is invalid.

    The message names the file or key, the value received and the valid range or choices.
    """


class UnsupportedEventError(ValueError):
    """An accounting method cannot analyse the given ``DpEvent``.

    Raised, for example, when RDP is asked for a mechanism without a finite Rényi divergence, or
    when PLD accounting is asked for an event with no privacy-loss distribution. The message names
    the event, the method, and the methods that do support it.
    """
