r"""Per-client settings of the engine (heterogeneous devices, :mod:`fltheory.plan`).

A configuration's ``[clients]`` section (:class:`fltheory.config.ClientsConfig`) gives each
client its own participation rate, batch rate, noise multiplier, local steps, pruning ratio and
QSGD levels.  Clients with identical settings form a *group*; the engine trains each group with
the record-level DP-SGD step of :func:`fltheory.fl.simulate` at the group's values, so client
:math:`i` executes exactly :func:`~fltheory.accounting.local_dp_sgd` ``(p_i, q_i, z_i, K_i, T)``
-- the event :meth:`~fltheory.config.ExperimentConfig.client_accounting_event` returns.

Pruning: one uniform vector :math:`u \in [0, 1)^d` per round from the public ``mask`` stream;
a client with ratio :math:`r` trains and sends the coordinates :math:`\{j : u_j < r\}` (noise on
those only, a public mask: no amplification claimed).  QSGD (levels :math:`s`) quantizes the noised
masked update (post-processing).  Bits per client and round: the 64-bit mask seed when
:math:`r < 1`, plus :math:`32 k` for :math:`k` kept floats, or QSGD's
:math:`32 + k(1 + \lceil\log_2(s + 1)\rceil)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .compressors import QSGD

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ExperimentConfig

__all__ = ["GroupSettings", "PerClient"]

_FLOAT_BITS = 32
_SEED_BITS = 64


@dataclass(frozen=True)
class GroupSettings:
    """The settings shared by one group of clients."""

    client_rate: float
    batch_rate: float | None
    noise_multiplier: float
    local_steps: int
    prune_ratio: float
    qsgd_levels: int

    def message_bits(self, kept: int) -> int:
        """Bits of one message with ``kept`` coordinates."""
        seed = _SEED_BITS if self.prune_ratio < 1 else 0
        if self.qsgd_levels > 0:
            return seed + QSGD(self.qsgd_levels).bits(kept)
        return seed + _FLOAT_BITS * kept


class PerClient:
    """Groups of clients with identical settings, read from ``config.clients``.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({"data": {"num_clients": 3},
    ...     "training": {"batch_sampling": "poisson"},
    ...     "privacy": {"level": "record", "batch_rate": 0.1},
    ...     "clients": {"noise_multiplier": [1.0, 2.0, 1.0]}})
    >>> pc = PerClient(cfg)
    >>> pc.group_of.tolist(), [g.noise_multiplier for g in pc.groups]
    ([0, 1, 0], [1.0, 2.0])
    """

    def __init__(self, cfg: ExperimentConfig) -> None:
        cl, tr, pv = cfg.clients, cfg.training, cfg.privacy
        n = cfg.data.num_clients
        settings = [GroupSettings(
            client_rate=float(cl.value("client_rate", i, tr.effective_client_rate)),
            batch_rate=cl.value("batch_rate", i, pv.batch_rate),
            noise_multiplier=float(cl.value("noise_multiplier", i, pv.noise_multiplier)),
            local_steps=int(cl.value("local_steps", i, tr.local_steps)),
            prune_ratio=float(cl.value("prune_ratio", i, 1.0)),
            qsgd_levels=int(cl.value("qsgd_levels", i, 0))) for i in range(n)]
        self.groups: list[GroupSettings] = []
        index: dict[GroupSettings, int] = {}
        for s in settings:
            if s not in index:
                index[s] = len(self.groups)
                self.groups.append(s)
        self.group_of = torch.tensor([index[s] for s in settings], dtype=torch.long)
        self.rates = torch.tensor([s.client_rate for s in settings], dtype=torch.float64)
        self.pruned = any(s.prune_ratio < 1 for s in self.groups)

    def sample(self, generator: torch.Generator) -> torch.Tensor:
        """The clients taking part this round (independent Poisson draws at their rates)."""
        u = torch.rand(self.rates.shape[0], generator=generator, dtype=torch.float64)
        return (u < self.rates).nonzero().flatten()

    def masks(self, d: int, generator: torch.Generator, device, dtype) -> list:
        """This round's public mask of each group (``None`` for ratio 1)."""
        if not self.pruned:
            return [None] * len(self.groups)
        u = torch.rand(d, generator=generator)
        return [None if g.prune_ratio >= 1 else (u < g.prune_ratio).to(device, dtype)
                for g in self.groups]

    def split(self, ids: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
        """``(group, positions in ids)`` for every group present in ``ids``."""
        gid = self.group_of[ids.cpu()]
        return [(int(g), (gid == g).nonzero().flatten()) for g in torch.unique(gid)]

    def finish(self, msgs: torch.Tensor, ids: torch.Tensor, masks: list,
               generator: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
        """Quantize each group's messages (QSGD) and count every message's bits."""
        d = msgs.shape[1]
        bits = np.zeros(int(ids.numel()), dtype=np.int64)
        if not ids.numel():
            return msgs, bits
        out = msgs
        for g, rows in self.split(ids):
            s = self.groups[g]
            kept = d if masks[g] is None else int(masks[g].sum())
            if s.qsgd_levels > 0:
                if out is msgs:
                    out = msgs.clone()
                r = rows.to(msgs.device)
                out[r] = QSGD(s.qsgd_levels)(msgs[r], generator).value
            bits[rows.numpy()] = s.message_bits(kept)
        return out, bits

