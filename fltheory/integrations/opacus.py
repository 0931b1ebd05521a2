r"""fltheory's certified accountant inside Opacus: ``PrivacyEngine(accountant="fltheory")``.

Importing this module registers :class:`FlTheoryAccountant` under the name ``"fltheory"`` in
Opacus's accountant registry (``opacus.accountants.register_accountant``), so training code stays
as it is::

    import fltheory.integrations.opacus                     # registers "fltheory"
    from opacus import PrivacyEngine

    engine = PrivacyEngine(accountant="fltheory")
    model, optimizer, loader = engine.make_private(module=model, optimizer=optimizer,
                                                   data_loader=loader, noise_multiplier=1.1,
                                                   max_grad_norm=1.0)
    ...                                                      # train as usual
    engine.get_epsilon(delta=1e-5)                           # certified upper bound on epsilon
    engine.accountant.get_guarantee(1e-5).epsilon_lower      # certified lower bound

The accountant records Opacus's history -- ``(noise_multiplier, sample_rate, steps)`` runs, one
entry per change of noise or sampling rate, exactly as Opacus's ``RDPAccountant`` does -- and
accounts it as the dp-accounting event

.. math::

    \mathcal M = \bigcirc_{j} \bigl(\mathrm{PoissonSampled}_{q_j}\circ
    \mathrm{Gaussian}_{\sigma_j}\bigr)^{\circ T_j},

a ``ComposedDpEvent`` of :func:`fltheory.accounting.dp_sgd` events, through
:func:`fltheory.accounting.epsilon`: the PLD method returns a certified upper bound and a
certified lower bound on :math:`\varepsilon(\delta)` of that mechanism, at most ``rtol`` apart.
``get_epsilon`` returns the upper bound, so it equals
``epsilon(accountant.event(), delta).epsilon`` for the same history.  ``state_dict`` and
``load_state_dict`` are Opacus's (history and mechanism name), so checkpoints written with
``PrivacyEngine.save_checkpoint`` load back.

What is certified is the mechanism above: Poisson sampling with rate ``sample_rate`` (Opacus's
default ``poisson_sampling=True`` data loader) and the Gaussian noise of the DP optimizer.  With
``poisson_sampling=False`` (shuffled batches) no Poisson accountant, Opacus's included, gives a
valid bound (Chua et al., ICML 2024).

References
----------
.. [1] Abadi et al. "Deep Learning with Differential Privacy." CCS 2016, Alg. 1 (DP-SGD).
.. [2] Doroshenko, Ghazi, Kamath, Kumar, Manurangsi. "Connect the Dots: Tighter Discrete
   Approximations of Privacy Loss Distributions." PETS 2022, Thm. 3.2 (the certified PLD bounds).
.. [3] Yousefpour et al. "Opacus: User-Friendly Differential Privacy Library in PyTorch."
   arXiv:2109.12298, 2021 (the accountant interface).

Examples
--------
>>> from fltheory.integrations.opacus import FlTheoryAccountant
>>> acc = FlTheoryAccountant()
>>> for _ in range(100):
...     acc.step(noise_multiplier=1.0, sample_rate=0.01)
>>> acc.history, len(acc)
([(1.0, 0.01, 100)], 100)
>>> g = acc.get_guarantee(1e-5)
>>> g.epsilon_lower <= acc.get_epsilon(1e-5) == g.epsilon
True
"""

from __future__ import annotations

import math
from typing import Any

import dp_accounting
from opacus.accountants import IAccountant, register_accountant

from fltheory.accounting import PrivacyGuarantee, dp_sgd, epsilon

__all__ = ["FlTheoryAccountant", "MECHANISM"]

#: The name under which the accountant is registered with Opacus.
MECHANISM = "fltheory"


def _check_rate(name: str, value: Any) -> float:
    v = float(value)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return v


class FlTheoryAccountant(IAccountant):
    """Opacus accountant with fltheory's certified two-sided PLD bounds.

    Parameters
    ----------
    method : {"pld", "rdp"}
        Passed to :func:`fltheory.accounting.epsilon` (``"pld"``: certified upper and lower bounds).
    neighboring : {"add_remove", "replace_one"}
        Neighbouring relation (Opacus reports add/remove).
    rtol : float
        Target relative gap between the PLD bounds.
    """

    def __init__(self, method: str = "pld", neighboring: str = "add_remove",
                 rtol: float = 0.005) -> None:
        super().__init__()
        self.method = method
        self.neighboring = neighboring
        self.rtol = rtol
        self._cache: dict = {}

    @classmethod
    def mechanism(cls) -> str:
        return MECHANISM

    def step(self, *, noise_multiplier: float, sample_rate: float) -> None:
        """Record one step (consecutive steps with the same noise and rate are merged)."""
        z = float(noise_multiplier)
        if not z >= 0.0 or math.isinf(z):
            raise ValueError(f"noise_multiplier must be >= 0 and finite, got {noise_multiplier!r}")
        q = _check_rate("sample_rate", sample_rate)
        if self.history and self.history[-1][0] == z and self.history[-1][1] == q:
            self.history[-1] = (z, q, self.history[-1][2] + 1)
        else:
            self.history.append((z, q, 1))

    def __len__(self) -> int:
        return int(sum(steps for _, _, steps in self.history))

    def event(self) -> dp_accounting.DpEvent:
        """The dp-accounting event of the recorded history (``NoOpDpEvent`` when empty).

        Examples
        --------
        >>> acc = FlTheoryAccountant()
        >>> acc.step(noise_multiplier=1.0, sample_rate=0.1)
        >>> acc.step(noise_multiplier=2.0, sample_rate=0.1)
        >>> [e.count for e in acc.event().events]
        [1, 1]
        """
        parts = []
        for z, q, steps in self.history:
            if z == 0.0:
                parts.append(dp_accounting.NonPrivateDpEvent())
            else:
                parts.append(dp_sgd(sampling_rate=q, noise_multiplier=z, steps=int(steps)))
        if not parts:
            return dp_accounting.NoOpDpEvent()
        return dp_accounting.ComposedDpEvent(parts)

    def get_guarantee(self, delta: float) -> PrivacyGuarantee:
        """The :class:`~fltheory.accounting.PrivacyGuarantee` of the history at ``delta``."""
        key = (tuple(self.history), float(delta))
        if key not in self._cache:  # one entry: the cache serves repeated calls between steps
            self._cache = {key: epsilon(self.event(), delta, method=self.method,
                                        neighboring=self.neighboring, rtol=self.rtol)}
        return self._cache[key]

    def get_epsilon(self, delta: float, **kwargs: Any) -> float:
        """Certified upper bound on ε at ``delta`` (Opacus's interface)."""
        return float(self.get_guarantee(delta).epsilon)

    def get_epsilon_lower(self, delta: float) -> float | None:
        """Certified lower bound on ε at ``delta`` (``None`` for ``method="rdp"``)."""
        return self.get_guarantee(delta).epsilon_lower

    def get_privacy_spent(self, *, delta: float, **kwargs: Any) -> tuple[float, float | None]:
        """``(epsilon upper bound, epsilon lower bound)``."""
        g = self.get_guarantee(delta)
        return float(g.epsilon), g.epsilon_lower

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self.history = [tuple(h) for h in self.history]
        self._cache = {}


register_accountant(MECHANISM, FlTheoryAccountant, force=True)
