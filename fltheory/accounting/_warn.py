"""Warning categories of the amplification builders."""

from __future__ import annotations

__all__ = ["AmplificationWarning", "NoAmplificationWarning", "NotAGuaranteeWarning"]


class AmplificationWarning(UserWarning):
    """Base class: something about a claimed privacy amplification needs the user's attention."""


class NoAmplificationWarning(AmplificationWarning):
    """The randomness described gives no privacy amplification (e.g. shared/public masks)."""


class NotAGuaranteeWarning(AmplificationWarning):
    """The number computed is not a worst-case DP guarantee (e.g. mixup with hidden weights)."""
