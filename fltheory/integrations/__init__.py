"""Integrations with the tools FL researchers already use.

* :mod:`fltheory.integrations.byzfl` -- drop-in, ByzFL-compatible callables backed by
  :mod:`fltheory.fl.aggregators` and :mod:`fltheory.fl.attacks`;
* :mod:`fltheory.integrations.opacus` -- the ``"fltheory"`` accountant for Opacus's
  ``PrivacyEngine`` (extra ``fltheory[opacus]``);
* :mod:`fltheory.integrations.flower` -- :class:`~fltheory.integrations.flower.RobustStrategy`,
  a Flower strategy with fltheory's rules and certified ε (extra ``fltheory[flower]``).

Each submodule imports its tool only when it is imported itself.
"""
