r"""Mixup on client data, with the mixing weights drawn as the accountant assumes.

Two forms, one weight law (:math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`):

* :func:`mix_batch` -- the mixup of Zhang et al. (2018), for training without record-level DP:
  every example is mixed with a random partner from the same client's batch,
  :math:`\tilde x = \lambda x_i + (1-\lambda)x_{\pi(i)}`, :math:`\tilde t = \lambda t_i +
  (1-\lambda)t_{\pi(i)}` (soft targets).
* :func:`record_weights` -- mixup of *clipped per-example gradients* inside DP-SGD, the mechanism
  :func:`fltheory.accounting.mixup` accounts: every sampled record enters the step's sum with its
  own weight, :math:`\sum_i \lambda_i\,\mathrm{clip}_C(g_i) + \mathcal N(0, z^2C^2 I)`, the
  :math:`\lambda_i` i.i.d. :math:`\mathrm{Beta}(\alpha,\alpha)` and independent of the data and
  of which other records were sampled.  Adding or removing one record then changes exactly one
  term, by at most :math:`\lambda C` -- the sensitivity of the accountant's event, given
  :math:`\lambda`.

Why not pairs with weights :math:`(\lambda, 1-\lambda)` under DP?  A pairing of the sampled
records depends on who was sampled: adding one record re-pairs others and changes *their*
weights too (up to three terms move), which the event does not cover.  Independent weights have
the same law per record (Beta(α, α) is symmetric, so :math:`1-\lambda` has the law of
:math:`\lambda`) and match the event exactly.  Mixing the *inputs* under DP would make one record
influence a whole mixed example, so the engine never does that under record-level DP either.

The weights are never released, so the hidden-weights account (``mixup.reveal_weights =
false``, the default) is exact for this mechanism; ``true`` gives the revealed-weights mixture,
a valid but looser bound (the account of pair mixup).

References
----------
H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz (2018). mixup: Beyond empirical risk
minimization. ICLR.  H. Xiao and S. Devadas (2021). Towards understanding practical randomness
beyond noise: differential privacy and mixup. IACR ePrint 2021/687.

Examples
--------
>>> import numpy as np, torch
>>> from fltheory.fl.mixup import record_weights
>>> w = record_weights(torch.tensor([[1.0, 1.0, 0.0]]), 0.4, np.random.default_rng(0))
>>> bool(w[0, 2] == 0), bool(((w[0, :2] > 0) & (w[0, :2] < 1)).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_positive

__all__ = ["record_weights", "mix_batch", "random_partners", "MEAN_WEIGHT"]

#: Mean of one record's mixing weight under Beta(α, α) (used to normalise DP steps).
MEAN_WEIGHT = 0.5


def _valid_perm(w: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per row, a random order of the positions with ``w > 0`` first (then the others)."""
    u = torch.rand(tuple(w.shape), generator=generator).to(w.device)
    u = torch.where(w > 0, u, torch.full_like(u, 2.0))
    return torch.argsort(u, dim=1)


def random_partners(w: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A uniformly random permutation of each row's valid positions (``w > 0``).

    Returns ``(K, B)`` partner indices: ``partner[k, i]`` is a valid position of row ``k`` for every
    valid ``i`` (invalid positions map to themselves).  Valid positions must come first in each
    row (as :func:`fltheory.fl.training.compact` packs them).

    Examples
    --------
    >>> p = random_partners(torch.tensor([[1.0, 1.0, 1.0, 0.0]]), torch.Generator().manual_seed(0))
    >>> sorted(p[0, :3].tolist()), int(p[0, 3])
    ([0, 1, 2], 3)
    """
    perm = _valid_perm(w, generator)
    valid = w > 0
    pos = torch.arange(w.shape[1], device=w.device).expand_as(perm)
    return torch.where(valid, perm, pos)


def record_weights(w: torch.Tensor, alpha: float, rng: np.random.Generator) -> torch.Tensor:
    r"""Mixup weights of clipped per-example gradients: i.i.d. :math:`\lambda_i \sim
    \mathrm{Beta}(\alpha, \alpha)` for every record of the batch.

    Parameters
    ----------
    w : torch.Tensor, shape (K, B)
        Batch indicator (> 0 on the records of each client's batch, 0 on padding).
    alpha : float
        Beta parameter :math:`\alpha > 0`.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    torch.Tensor, shape (K, B)
        The weight of every record (0 outside the batch), each in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> lam = record_weights(torch.ones(2000, 4), 0.4, np.random.default_rng(1))
    >>> round(float(lam.mean()), 2)
    0.5
    """
    alpha = check_positive("alpha", alpha)
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=tuple(w.shape)).astype(np.float32))
    return lam.to(device=w.device, dtype=w.dtype) * (w > 0).to(w.dtype)


def mix_batch(x: torch.Tensor, targets: torch.Tensor, w: torch.Tensor, alpha: float,
              rng: np.random.Generator, generator: torch.Generator | None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mixup of inputs and soft targets within each client's batch (no record-level DP).

    Example :math:`i` becomes :math:`\lambda_i x_i + (1-\lambda_i)x_{\pi(i)}` with
    :math:`\lambda_i\sim\mathrm{Beta}(\alpha,\alpha)` and :math:`\pi` a random permutation of the
    client's batch (:func:`random_partners`); targets are mixed alike.

    Examples
    --------
    >>> import numpy as np
    >>> x, t = torch.tensor([[[0.0], [1.0]]]), torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> xm, tm = mix_batch(x, t, torch.ones(1, 2), 0.4, np.random.default_rng(0),
    ...                    torch.Generator().manual_seed(3))
    >>> bool(torch.allclose(xm[0, :, 0], tm[0, :, 1]))   # x is the second target's weight
    True
    """
    alpha = check_positive("alpha", alpha)
    kk, bb = w.shape
    if bb == 0:
        return x, targets
    partner = random_partners(w, generator)
    from .training import gather

    lam = torch.from_numpy(rng.beta(alpha, alpha, size=(kk, bb)).astype(np.float32))
    lam = lam.to(device=x.device)
    lx = lam.reshape(kk, bb, *([1] * (x.dim() - 2))).to(x.dtype)
    lt = lam.reshape(kk, bb, 1).to(targets.dtype)
    xm = lx * x + (1.0 - lx) * gather(x, partner)
    tm = lt * targets + (1.0 - lt) * gather(targets, partner)
    return xm, tm
