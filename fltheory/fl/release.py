r"""The one DP release mechanism: clip, (mask), sum, Gaussian noise.

Every place of fltheory that releases a differentially private sum calls this module: the FL
engine (:func:`fltheory.fl.simulate`, record-level DP-SGD inside the clients and the
client-level DP-FedAvg server), the canary audits (:mod:`fltheory.audit.canary`), the MIA shadow
models (:mod:`fltheory.audit.mia`), gradient inversion (:mod:`fltheory.audit.inversion`) and,
through :func:`~fltheory.fl.simulate` with ``record_messages=True``, the leakage attacks.  A bug
planted here (``bug=...``) therefore reaches the runs *and* the audits that check them, and
:func:`fltheory.validation.validate` must catch it (DESIGN principle 6).

The mechanism
-------------
A :class:`Release` with clip norm :math:`C`, noise multiplier :math:`z` and, optionally, random
coordinate masks releases

.. math::

    \tilde s = \sum_{i} m_i \odot \mathrm{clip}_C(g_i) + \mathcal N(0, (zC)^2 I_d),
    \qquad \mathrm{clip}_C(g) = g \min\Bigl(1, \frac{C}{\lVert g\rVert_2}\Bigr),

over the contributions :math:`g_i` -- per-example gradients (record-level DP,
:meth:`Release.record_sums`) or whole client updates (client-level DP,
:meth:`Release.aggregate`).  Masks :math:`m_i \in \{0, 1\}^d`:

* ``mask="none"``: :math:`m_i = \mathbf 1`.
* ``mask="secret"``: an independent mask per contribution -- Poisson (each coordinate kept with
  probability :math:`\gamma` = ``mask_rate``) or rand-k (``mask_k`` coordinates uniformly) --
  drawn by the releasing party and **never transmitted**; the noise covers all :math:`d`
  coordinates (a dense release).  At record level every record gets its own mask, applied to its
  clipped gradient before the sum; at client level one mask covers the client's whole clipped
  update.  These are the variants whose masks can amplify privacy (issue 11, item 1).
* ``mask="shared"``: one public mask per round (a shared seed, the same at every client;
  rand-k with a shared seed), applied to every contribution *and to the noise*: the release
  lives in the :math:`k` kept coordinates (the robust rules then work in :math:`k`
  dimensions).  No amplification: the mask is public.

Each contribution moves :math:`\tilde s` by at most :math:`C` (masks only shrink norms), the
sensitivity the accountant assumes.

Planted bugs
------------
``bug`` reproduces, on purpose, four classic implementation errors (:data:`BUGS`); the
accounting event stays that of the configuration, so an audit of the release must flag each:

* ``"half_noise"``: the noise standard deviation is :math:`zC/2`.
* ``"double_clip"``: contributions are clipped to :math:`2C` (twice the sensitivity).
* ``"noise_before_clip"``: the noise is added to the *unclipped* sum, and the noisy sum is then
  clipped to :math:`C` (clipping the release instead of the contributions: unbounded
  sensitivity).
* ``"positions_sent"``: the kept positions of secret masks are transmitted with the release
  (:attr:`Released.positions`), which reveals the masks and voids their amplification.

References
----------
M. Abadi et al. (2016). Deep learning with differential privacy. ACM CCS, Algorithm 1.
H. B. McMahan, D. Ramage, K. Talwar and L. Zhang (2018). Learning differentially private recurrent
language models. ICLR (DP-FedAvg).

Examples
--------
>>> import torch
>>> from fltheory.fl.release import Release
>>> rel = Release(clip=1.0, noise_multiplier=0.0)
>>> out = rel.aggregate(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))
>>> out.value
tensor([0.9000, 1.2000])
>>> Release(1.0, 2.0, bug="half_noise").noise_std
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.func import grad, vmap

from .._checks import check_choice, check_int, check_nonnegative, check_positive, check_probability
from ._util import GeneratorLike, randn, torch_generator
from .models import FunctionalModel, GeneralizedLinearModel, _chain_clipped_sum

__all__ = ["Release", "Released", "BUGS", "MASKS", "dp_noise_std", "clipped_grad_sum",
           "clipped_grad_sums", "draw_masks"]

#: The planted bugs (see the module documentation).
BUGS = ("half_noise", "double_clip", "noise_before_clip", "positions_sent")
#: Mask kinds.
MASKS = ("none", "secret", "shared")


def dp_noise_std(noise_multiplier: float, clip: float, noise_scale: float = 1.0) -> float:
    r"""Standard deviation of the Gaussian noise of DP-SGD / DP-FedAvg: ``z * C``.

    ``noise_scale`` (default 1) multiplies it and exists only to plant a bug on purpose
    (``noise_scale=0.5``: half the noise the accountant assumes).

    .. math::

        \sigma = z \, C \cdot \text{noise\_scale}.

    References
    ----------
    .. [1] Abadi et al. "Deep Learning with Differential Privacy." CCS 2016, Alg. 1.

    Examples
    --------
    >>> dp_noise_std(1.1, 2.0)
    2.2
    """
    return float(noise_multiplier) * float(clip) * float(noise_scale)


def draw_masks(rows: int, d: int, generator: torch.Generator | None, *,
               rate: float | None = None, k: int | None = None,
               device: Any = "cpu", leading: tuple[int, ...] = ()) -> torch.Tensor:
    """Boolean coordinate masks ``leading + (rows, d)``: Poisson at ``rate`` or rand-``k``.

    One uniform draw per coordinate: kept when below ``rate`` (Poisson), or the ``k`` largest
    (rand-k, uniformly among the subsets of size ``k``).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> draw_masks(2, 5, g, k=2).sum(1).tolist()
    [2, 2]
    """
    u = torch.rand((*leading, rows, d), generator=generator)
    if rate is not None:
        mask = u < rate
    else:
        idx = torch.topk(u, min(int(k), d), dim=-1).indices
        mask = torch.zeros(u.shape, dtype=torch.bool)
        mask.scatter_(-1, idx, True)
    return mask.to(device)


@dataclass(frozen=True)
class Released:
    """What one call of the release mechanism publishes (and a few diagnostics).

    Attributes
    ----------
    value : torch.Tensor
        The noisy sum(s): ``(K, d)`` for :meth:`Release.record_sums`, ``(d,)`` for
        :meth:`Release.aggregate`.
    positions : torch.Tensor or None
        Transmitted kept positions of secret masks -- ``None`` unless the planted bug
        ``"positions_sent"`` is on (the correct mechanism never sends them).  Boolean, the
        masks of every contribution (``(K, B, d)`` per record, ``(K, d)`` per client).
    clipped : torch.Tensor or None
        :meth:`Release.aggregate` only: the clipped (masked) contributions, ``(K, d)``, before
        the noise (the server's view, for diagnostics).
    norms : torch.Tensor or None
        Unclipped per-contribution norms.
    rejected : int
        Non-finite contributions dropped (:meth:`Release.aggregate`).
    kept : torch.Tensor or None
        :meth:`Release.aggregate` with secret masks: coordinates kept per contribution.
    """

    value: torch.Tensor
    positions: torch.Tensor | None = None
    clipped: torch.Tensor | None = None
    norms: torch.Tensor | None = None
    rejected: int = 0
    kept: torch.Tensor | None = None


@dataclass(frozen=True)
class Release:
    r"""The DP release: clip to :math:`C`, mask, sum, add :math:`\mathcal N(0, (zC)^2)`.

    Parameters
    ----------
    clip : float
        :math:`C > 0`.
    noise_multiplier : float
        :math:`z \ge 0` (what the accountant assumes).
    mask : {"none", "secret", "shared"}
        Coordinate masks (module documentation).
    mask_rate : float, optional
        Poisson keep probability :math:`\gamma` of a mask.
    mask_k : int, optional
        Rand-k masks: coordinates kept (exactly one of ``mask_rate`` / ``mask_k`` with a mask).
    bug : str, optional
        A planted bug of :data:`BUGS` (tests of the audits only).
    noise_scale : float
        Multiplier of the noise actually added (1; another value is a planted bug too).

    Examples
    --------
    >>> rel = Release(1.0, 1.0, mask="secret", mask_rate=0.5)
    >>> rel.noise_std, rel.clip_norm, rel.sends_positions
    (1.0, 1.0, False)
    """

    clip: float
    noise_multiplier: float
    mask: str = "none"
    mask_rate: float | None = None
    mask_k: int | None = None
    bug: str | None = None
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        check_positive("clip", self.clip)
        check_nonnegative("noise_multiplier", self.noise_multiplier)
        check_positive("noise_scale", self.noise_scale)
        check_choice("mask", self.mask, MASKS)
        if self.bug is not None:
            check_choice("bug", self.bug, BUGS)
            if self.bug == "positions_sent" and self.mask != "secret":
                raise ValueError(f"bug='positions_sent' needs secret masks (mask='secret'), got "
                                 f"mask={self.mask!r}: there are no secret positions to send")
        if self.mask != "none":
            if (self.mask_rate is None) == (self.mask_k is None):
                raise ValueError(f"exactly one of mask_rate and mask_k must be given with "
                                 f"mask={self.mask!r}, got mask_rate={self.mask_rate}, "
                                 f"mask_k={self.mask_k}")
            if self.mask_rate is not None:
                check_probability("mask_rate", self.mask_rate)
            else:
                check_int("mask_k", self.mask_k, minimum=1)

    # -- what the bugs change ---------------------------------------------------------------
    @property
    def noise_std(self) -> float:
        """Standard deviation of the noise actually added (:math:`zC` without a bug)."""
        half = 0.5 if self.bug == "half_noise" else 1.0
        return dp_noise_std(self.noise_multiplier, self.clip, self.noise_scale * half)

    @property
    def clip_norm(self) -> float:
        """Norm the contributions are clipped to (:math:`C` without a bug)."""
        return 2.0 * float(self.clip) if self.bug == "double_clip" else float(self.clip)

    @property
    def sends_positions(self) -> bool:
        """Whether kept positions of secret masks are transmitted (a planted bug)."""
        return self.bug == "positions_sent" and self.mask == "secret"

    # -- building blocks ----------------------------------------------------------------------
    def draw_masks(self, rows: int, d: int, generator: torch.Generator | None, *,
                   device: Any = "cpu", leading: tuple[int, ...] = ()) -> torch.Tensor:
        """Masks of this release (:func:`draw_masks` with its rate or k)."""
        return draw_masks(rows, d, generator, rate=self.mask_rate, k=self.mask_k,
                          device=device, leading=leading)

    def clip_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Rows of ``x`` (last dimension) clipped to :attr:`clip_norm`."""
        if x.numel() == 0:
            return x
        norms = torch.linalg.vector_norm(x, dim=-1)
        return x * torch.clamp(self.clip_norm / norms, max=1.0).unsqueeze(-1)

    def add_noise(self, total: torch.Tensor, generator: torch.Generator | None, *,
                  shared_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``total + N(0, noise_std^2)`` in place (times ``shared_mask`` when given)."""
        if self.noise_multiplier > 0:
            noise = randn(tuple(total.shape), generator, device=total.device, dtype=total.dtype)
            total.add_(noise, alpha=self.noise_std)
        if shared_mask is not None:
            total.mul_(shared_mask)
        return total

    # -- record level -------------------------------------------------------------------------
    def record_sums(self, model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                    targets: torch.Tensor, weights: torch.Tensor, *,
                    generator: torch.Generator | None = None,
                    mask_generator: torch.Generator | None = None,
                    shared_mask: torch.Tensor | None = None) -> Released:
        r"""Record-level DP-SGD release of ``K`` clients at once: ``(K, d)`` noisy sums.

        .. math::

            \tilde s_k = \sum_b w_{kb}\, m_{kb} \odot \mathrm{clip}_C(g_{kb})
                         + \mathcal N(0, (zC)^2 I_d)

        with secret per-record masks :math:`m_{kb}` (``mask="secret"``), or the round's
        public ``shared_mask`` on the sum and the noise (``mask="shared"``).

        Parameters
        ----------
        model : FunctionalModel
        params : torch.Tensor, shape (K, d)
        x, targets, weights :
            Batches ``(K, B, ...)``, soft targets ``(K, B, out)``
            (:func:`fltheory.fl.training.soft_targets`) and weights ``(K, B)`` in [0, 1].
        generator, mask_generator : torch.Generator, optional
            Noise and mask streams.
        shared_mask : torch.Tensor, optional
            The round's public mask ``(d,)`` (``mask="shared"``).

        Examples
        --------
        >>> from fltheory.fl import models, training
        >>> m = models.logistic_regression(3)
        >>> x, y = torch.randn(2, 5, 3), torch.randint(0, 2, (2, 5))
        >>> t = training.soft_targets(m, y)
        >>> out = Release(1.0, 0.0).record_sums(m, torch.zeros(2, 4), x, t, torch.ones(2, 5))
        >>> tuple(out.value.shape)
        (2, 4)
        """
        from .training import clipped_sums, weighted_grads

        positions = None
        if self.bug == "noise_before_clip":
            total = weighted_grads(model, params, x, targets, weights)
            total = self.clip_rows(self.add_noise(total, generator))
            if shared_mask is not None:
                total.mul_(shared_mask)
            return Released(total)
        if self.mask == "secret":
            g = _per_example_grads(model, params, x, targets)          # (K, B, d)
            g = self.clip_rows(g) * weights.to(g.dtype).unsqueeze(-1)
            masks = self.draw_masks(g.shape[1], g.shape[2], mask_generator, device=g.device,
                                    leading=(g.shape[0],))
            total = (g * masks.to(g.dtype)).sum(1)
            if self.sends_positions:
                positions = masks
            norms = None
        else:
            total, norms = clipped_sums(model, params, x, targets, weights, self.clip_norm)
        total = self.add_noise(total, generator, shared_mask=shared_mask)
        return Released(total, positions, norms=norms)

    def release_batch(self, model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                      y: torch.Tensor, generator: GeneratorLike = None, *,
                      chunk_size: int | None = None) -> Released:
        """One batch ``(B, ...)`` with labels ``y`` (DP-SGD's step): a ``(d,)`` release.

        The labels are the raw ``y`` of the model's loss (as :meth:`FunctionalModel.grad`
        takes them).  Used by :func:`clipped_grad_sum`.
        """
        if params.dim() != 1 or params.shape[0] != model.num_params:
            raise ValueError(f"params must have shape ({model.num_params},), "
                             f"got {tuple(params.shape)}")
        gen = torch_generator(generator, params.device)
        if self.mask != "none" or self.bug == "noise_before_clip":
            from .training import soft_targets

            t = soft_targets(model, y.unsqueeze(0), params.dtype)
            out = self.record_sums(model, params.unsqueeze(0), x.unsqueeze(0), t,
                                   torch.ones((1, x.shape[0]), dtype=params.dtype),
                                   generator=gen, mask_generator=gen)
            pos = None if out.positions is None else out.positions[0]
            return Released(out.value[0], pos, norms=None if out.norms is None else out.norms[0])
        clip = self.clip_norm
        if x.shape[0] == 0:
            total = torch.zeros_like(params)
            norms = torch.zeros(0, dtype=params.dtype, device=params.device)
        elif isinstance(model, GeneralizedLinearModel):
            with torch.no_grad():
                total, norms = model.clipped_sum(params, x, y, clip)
        elif model.linear_chain:
            total, norms = _chain_clipped_sum(model, params.detach(), x, y, clip)
        else:
            step = x.shape[0] if chunk_size is None else check_int("chunk_size", chunk_size,
                                                                   minimum=1)
            total = torch.zeros_like(params)
            norm_list = []
            with torch.no_grad():
                for i in range(0, x.shape[0], step):
                    g = model.per_sample_grads(params, x[i:i + step], y[i:i + step])
                    nrm = g.norm(dim=1)
                    total += torch.clamp(clip / nrm, max=1.0) @ g
                    norm_list.append(nrm)
            norms = torch.cat(norm_list)
        return Released(self.add_noise(total, gen), norms=norms)

    # -- client level -------------------------------------------------------------------------
    def aggregate(self, updates: torch.Tensor, *, generator: torch.Generator | None = None,
                  mask_generator: torch.Generator | None = None,
                  shared_mask: torch.Tensor | None = None) -> Released:
        r"""Client-level DP-FedAvg release of updates ``(K, d)``: a ``(d,)`` noisy sum.

        Non-finite updates are dropped (counted in :attr:`Released.rejected`); the others are
        clipped to :math:`C`, masked (one secret mask per client, or the public
        ``shared_mask``), summed, and noised (every coordinate; only the kept ones with a shared
        mask).

        Examples
        --------
        >>> g = torch.Generator().manual_seed(0)
        >>> rel = Release(1.0, 1.0, mask="secret", mask_rate=0.5)
        >>> out = rel.aggregate(torch.ones(3, 4), generator=g, mask_generator=g)
        >>> tuple(out.value.shape), out.positions is None
        ((4,), True)
        """
        k, d = updates.shape
        finite = torch.isfinite(updates).all(dim=1) if k else \
            torch.zeros(0, dtype=torch.bool, device=updates.device)
        rejected = int((~finite).sum())
        safe = torch.where(finite.unsqueeze(1), updates, torch.zeros_like(updates))
        norms = torch.linalg.vector_norm(safe, dim=1)
        positions = None
        if self.bug == "noise_before_clip":
            total = self.clip_rows(self.add_noise(safe[finite].sum(0), generator))
            if shared_mask is not None:
                total.mul_(shared_mask)
            return Released(total, None, safe, norms, rejected)
        clipped = self.clip_rows(safe)
        kept = None
        if self.mask == "secret":
            masks = self.draw_masks(k, d, mask_generator, device=updates.device)
            clipped = clipped * masks.to(clipped.dtype)
            kept = masks.sum(1)
            if self.sends_positions:
                positions = masks
        elif shared_mask is not None:
            clipped = clipped * shared_mask
        total = self.add_noise(clipped[finite].sum(0), generator, shared_mask=shared_mask)
        return Released(total, positions, clipped, norms, rejected, kept)


def _per_example_grads(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                       targets: torch.Tensor) -> torch.Tensor:
    """``(K, B, d)`` per-example gradients (per-record masks need them one by one)."""
    from .training import per_example_losses

    def single(p, xb, tb):
        return per_example_losses(model, model.forward(p, xb.unsqueeze(0)), tb.unsqueeze(0)).sum()

    with torch.no_grad():
        return vmap(vmap(grad(single), in_dims=(None, 0, 0)))(params.detach(), x,
                                                               targets.to(params.dtype))


# --------------------------------------------------------------------------------------------------
# The DP-SGD building blocks of earlier releases (now thin wrappers of Release)
# --------------------------------------------------------------------------------------------------
def clipped_grad_sum(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                     y: torch.Tensor, clip: float, noise_multiplier: float,
                     generator: GeneratorLike = None, *, return_norms: bool = False,
                     chunk_size: int | None = None, bug: str | None = None,
                     noise_scale: float = 1.0) -> Any:
    r"""Sum of per-example gradients clipped to norm ``clip``, plus Gaussian noise (DP-SGD).

    .. math::

        \tilde g = \sum_{i=1}^{B} g_i \min\Bigl(1, \frac{C}{\lVert g_i\rVert_2}\Bigr)
                   + \mathcal N\bigl(0, (zC)^2 I_d\bigr)

    :meth:`Release.release_batch` of ``Release(clip, noise_multiplier)``.  Each clipped term has
    norm at most :math:`C`, so the sum has sensitivity :math:`C` under adding/removing one record
    and the release is the Gaussian mechanism with noise multiplier :math:`z` -- the mechanism a
    ``dp_sgd(q, z, T)`` accounting event describes.  Divide by the expected batch size yourself
    (:math:`qN` under Poisson sampling).  Logistic/linear regression use the closed form of
    :class:`~fltheory.fl.models.GeneralizedLinearModel`; the MLP and CNN get their per-example
    norms and the clipped sum from one forward and one backward pass ("ghost norms"); other
    architectures use ``vmap(grad)``.

    Parameters
    ----------
    model : FunctionalModel
        The model.
    params : torch.Tensor, shape (d,)
        Flat parameters.
    x, y : torch.Tensor
        The batch (may be empty: the result is then pure noise).
    clip : float
        Clipping norm :math:`C > 0`.
    noise_multiplier : float
        :math:`z \ge 0`; the noise standard deviation is :math:`zC` (0: no noise).
    generator : torch.Generator or int, optional
        Source of the noise (an int seeds a new generator); ``None`` uses torch's global RNG.
    return_norms : bool
        Also return the unclipped per-example norms ``(B,)``.
    chunk_size : int, optional
        Process at most this many examples at once (general models; bounds memory).
    bug, noise_scale :
        Planted bugs (:class:`Release`).

    Returns
    -------
    torch.Tensor or (torch.Tensor, torch.Tensor)
        The noisy sum ``(d,)`` (and the norms).

    References
    ----------
    M. Abadi, A. Chu, I. Goodfellow, H. B. McMahan, I. Mironov, K. Talwar and L. Zhang (2016).
    Deep learning with differential privacy. ACM CCS, Algorithm 1.

    Examples
    --------
    >>> from fltheory.fl.models import linear_regression
    >>> model = linear_regression(2)
    >>> params = torch.zeros(3)
    >>> x, y = torch.tensor([[3.0, 4.0]]), torch.tensor([10.0])
    >>> clipped_grad_sum(model, params, x, y, clip=1.0, noise_multiplier=0.0, return_norms=True)
    (tensor([-0.5883, -0.7845, -0.1961]), tensor([50.9902]))
    """
    rel = Release(clip, noise_multiplier, bug=bug, noise_scale=noise_scale)
    out = rel.release_batch(model, params, x, y, generator, chunk_size=chunk_size)
    return (out.value, out.norms) if return_norms else out.value


def clipped_grad_sums(model: FunctionalModel, params: torch.Tensor, xs: torch.Tensor,
                      ys: torch.Tensor, clip: float, noise_multiplier: float,
                      generator: GeneratorLike = None, *, return_norms: bool = False,
                      bug: str | None = None, noise_scale: float = 1.0) -> Any:
    r""":func:`clipped_grad_sum` for ``K`` clients at once, each with its own noise draw.

    ``xs`` is ``(K, B, ...)``, ``ys`` ``(K, B)``; ``params`` is shared ``(d,)`` or per client
    ``(K, d)``.  Noise is ``(K, d)`` i.i.d. :math:`\mathcal N(0, (zC)^2)`.

    Returns
    -------
    torch.Tensor or (torch.Tensor, torch.Tensor)
        ``(K, d)`` noisy sums (and ``(K, B)`` norms).

    Examples
    --------
    >>> from fltheory.fl.models import logistic_regression
    >>> model = logistic_regression(3)
    >>> xs, ys = torch.randn(4, 6, 3), torch.randint(0, 2, (4, 6))
    >>> out = clipped_grad_sums(model, torch.zeros(4), xs, ys, 1.0, 0.0)
    >>> one = clipped_grad_sum(model, torch.zeros(4), xs[2], ys[2], 1.0, 0.0)
    >>> bool(torch.allclose(out[2], one, atol=1e-6))
    True
    """
    rel = Release(clip, noise_multiplier, bug=bug, noise_scale=noise_scale)
    k = xs.shape[0]
    if params.dim() == 1:
        shared = True
    elif params.dim() == 2 and params.shape[0] == k:
        shared = False
    else:
        raise ValueError(f"params must have shape ({model.num_params},) or ({k}, "
                         f"{model.num_params}), got {tuple(params.shape)}")
    gen = torch_generator(generator, params.device)
    if bug == "noise_before_clip" or not isinstance(model, GeneralizedLinearModel):
        # one client at a time (nested vmap over clients x examples is slower on CPU)
        one = rel if bug == "noise_before_clip" else Release(clip, 0.0, bug=bug)
        outs = [one.release_batch(model, params if shared else params[i], xs[i], ys[i], gen)
                for i in range(k)]
        total = torch.stack([o.value for o in outs])
        norms = None if outs and outs[0].norms is None else torch.stack([o.norms for o in outs])
        if one is not rel:
            total = rel.add_noise(total, gen)
    else:
        with torch.no_grad():
            p = params.expand(k, -1) if shared else params
            total, norms = model.clipped_sum(p, xs, ys, rel.clip_norm)
        total = rel.add_noise(total, gen)
    return (total, norms) if return_norms else total
