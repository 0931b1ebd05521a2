r"""Vectorised client computation: the local steps of many clients as one tensor program.

The FL engine (:func:`fltheory.fl.simulate`) runs every sampled client's local steps at once.
Client data are stacked and padded into ``(K, m, ...)`` tensors (:class:`ClientStack`); a batch
is a ``(K, B)`` tensor of *weights* -- 1 for a record in the batch, 0 for a record left out or
for padding, the mixup weight :math:`\lambda` under mixup -- so Poisson batches of different
sizes, unequal client sizes and mixup all run through the same kernels:

* :func:`weighted_grads` -- :math:`\sum_b w_{kb}\nabla\ell(\theta_k; x_{kb}, t_{kb})` for every
  client :math:`k` (plain local SGD);
* :func:`clipped_sums` -- :math:`\sum_b w_{kb}\,\mathrm{clip}_C(\nabla\ell(\theta_k; x_{kb},
  t_{kb}))` (DP-SGD), with per-example norms.

Targets are "soft": ``(K, B, out)`` float tensors (one-hot rows for hard labels, mixtures under
mixup; the label itself for binary logistic and linear regression), see :func:`soft_targets`.

For logistic/linear regression the per-example gradient is :math:`r\otimes[x, 1]` with residual
:math:`r = \partial\ell/\partial z` (probabilities minus targets), so both kernels are batched
matrix products.  For the MLP and CNN of :mod:`fltheory.fl.models` (chains of linear,
convolution, activation and pooling layers) one batched forward pass with per-client weights
(``baddbmm`` for linear layers, a grouped convolution for convolutions) and one backward pass
give the outputs' gradients :math:`g_{kb}` of every layer; per-example norms follow from the
"ghost norm" identity :math:`\lVert g\rVert^2(\lVert a\rVert^2 + 1)` of a linear layer with
input :math:`a` (convolutions: from the unfolded input patches) and the clipped sums are one
batched product per layer -- no per-example gradient of the whole model is ever formed.  Other
architectures fall back to ``torch.func.vmap(grad)`` per client.

Examples
--------
>>> import torch
>>> from fltheory.fl import models, training
>>> model = models.logistic_regression(3, num_classes=2)
>>> xs, ys = torch.randn(4, 6, 3), torch.randint(0, 2, (4, 6))
>>> t = training.soft_targets(model, ys)
>>> w = torch.ones(4, 6)
>>> sums, norms = training.clipped_sums(model, torch.zeros(4, 4), xs, t, w, clip=1.0)
>>> one = models.clipped_grad_sum(model, torch.zeros(4), xs[2], ys[2], 1.0, 0.0)
>>> bool(torch.allclose(sums[2], one, atol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from .._checks import check_int, check_positive
from .models import FunctionalModel, GeneralizedLinearModel

__all__ = [
    "ClientStack",
    "soft_targets",
    "batched_outputs",
    "per_example_losses",
    "weighted_grads",
    "clipped_sums",
    "poisson_batches",
    "fixed_batches",
    "compact",
    "gather",
]


# --------------------------------------------------------------------------------------------------
# Client data as padded stacks
# --------------------------------------------------------------------------------------------------
@dataclass
class ClientStack:
    """All clients' training data padded to a common size ``m`` (the largest client).

    Attributes
    ----------
    x : torch.Tensor, shape (n, m, ...)
        Inputs; padding rows are zeros.
    y : torch.Tensor, shape (n, m)
        Labels (padding: 0).
    valid : torch.Tensor, shape (n, m), bool
        ``True`` on real records.
    sizes : torch.Tensor, shape (n,)
        Number of records of each client.

    Examples
    --------
    >>> from fltheory.fl import data
    >>> ds = data.digits(num_clients=3, partition_method="dirichlet", alpha=0.5, seed=0)
    >>> st = ClientStack.from_dataset(ds)
    >>> st.x.shape[0], int(st.valid.sum()) == ds.num_samples
    (3, True)
    """

    x: torch.Tensor
    y: torch.Tensor
    valid: torch.Tensor
    sizes: torch.Tensor

    @classmethod
    def from_dataset(cls, dataset: Any, device: Any = "cpu") -> "ClientStack":
        """Stack a :class:`~fltheory.fl.data.FederatedDataset` (copies to ``device``)."""
        sizes = dataset.sizes
        n, m = len(sizes), max(sizes)
        shape = dataset.input_shape
        x = torch.zeros((n, m, *shape), dtype=torch.float32)
        y = torch.zeros((n, m), dtype=dataset.y[0].dtype)
        valid = torch.zeros((n, m), dtype=torch.bool)
        for i, (xi, yi) in enumerate(zip(dataset.x, dataset.y)):
            x[i, : xi.shape[0]] = xi.to(torch.float32)
            y[i, : yi.shape[0]] = yi
            valid[i, : xi.shape[0]] = True
        return cls(x.to(device), y.to(device), valid.to(device),
                   torch.tensor(sizes, dtype=torch.long).to(device))

    def select(self, ids: torch.Tensor) -> "ClientStack":
        """The clients ``ids`` (a 1-D index tensor), in that order."""
        return ClientStack(self.x[ids], self.y[ids], self.valid[ids], self.sizes[ids])

    @property
    def num_clients(self) -> int:
        return int(self.x.shape[0])


def soft_targets(model: FunctionalModel, y: torch.Tensor,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Targets as a float tensor ``y.shape + (out,)``: one-hot rows for softmax models, the
    label itself (one column) for binary logistic and linear regression.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> soft_targets(models.mlp(2, 3, hidden=(2,)), torch.tensor([[2, 0]]))
    tensor([[[0., 0., 1.],
             [1., 0., 0.]]])
    """
    if model.loss_name == "cross_entropy":
        k = _out_features(model)
        return F.one_hot(y.long(), k).to(dtype)
    return y.to(dtype).unsqueeze(-1)


def _out_features(model: FunctionalModel) -> int:
    if isinstance(model, GeneralizedLinearModel):
        return model.out_features
    last = [m for m in model.module.modules() if isinstance(m, nn.Linear)]
    if not last:  # pragma: no cover - models of this package all end with a linear layer
        raise ValueError("model must end with an nn.Linear layer to infer its number of classes")
    return last[-1].out_features


# --------------------------------------------------------------------------------------------------
# Losses and their output gradients
# --------------------------------------------------------------------------------------------------
def per_example_losses(model: FunctionalModel, out: torch.Tensor,
                       targets: torch.Tensor) -> torch.Tensor:
    """Loss of each example from outputs ``(..., out)`` and soft targets of the same shape."""
    if model.loss_name == "cross_entropy":
        return -(targets * torch.log_softmax(out, dim=-1)).sum(-1)
    if model.loss_name == "bce":
        return F.binary_cross_entropy_with_logits(out, targets, reduction="none").sum(-1)
    return 0.5 * ((out - targets) ** 2).sum(-1)


def _residual(model: FunctionalModel, out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`\\partial\\ell/\\partial z` of each example (targets of a softmax sum to 1)."""
    if model.loss_name == "cross_entropy":
        return torch.softmax(out, dim=-1) - targets
    if model.loss_name == "bce":
        return torch.sigmoid(out) - targets
    return out - targets


# --------------------------------------------------------------------------------------------------
# Batched forward passes with per-client parameters
# --------------------------------------------------------------------------------------------------
def _glm_parts(model: GeneralizedLinearModel, params: torch.Tensor, x: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    k, p = model.out_features, model.in_features
    kk = params.shape[0]
    xf = x.to(params.dtype).reshape(kk, x.shape[1], p)
    w = params[:, : k * p].reshape(kk, k, p)
    b = params[:, k * p:]
    z = torch.baddbmm(b.unsqueeze(1), xf, w.transpose(1, 2))
    return z, xf


def _is_chain(model: FunctionalModel) -> bool:
    return bool(getattr(model, "linear_chain", False)) and isinstance(model.module,
                                                                      nn.Sequential)


def _chain_forward(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                   record: bool) -> tuple[torch.Tensor, list]:
    """Forward pass of a chain model with one parameter row per client.

    ``x`` is ``(K, B, ...)``.  With ``record=True`` each linear/convolution layer's input (detached)
    and output (a leaf that requires grad) are recorded for the ghost-norm computation.
    """
    kk, bb = x.shape[0], x.shape[1]
    p = model.unflatten(params)
    h = x.to(params.dtype)
    records: list = []
    for idx, layer in enumerate(model.module):
        if isinstance(layer, nn.Flatten):
            h = h.reshape(kk, bb, -1)
        elif isinstance(layer, nn.Linear):
            w, bias = p[f"{idx}.weight"], p[f"{idx}.bias"]
            if record:
                w, bias = w.detach(), bias.detach()
            z = torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))
            if record:
                if not z.requires_grad:
                    z.requires_grad_(True)
                records.append(("linear", idx, h.detach(), z, layer))
            h = z
        elif isinstance(layer, nn.Conv2d):
            w, bias = p[f"{idx}.weight"], p[f"{idx}.bias"]
            if record:
                w, bias = w.detach(), bias.detach()
            c, hh, ww = h.shape[2:]
            o = w.shape[1]
            inp = h.transpose(0, 1).reshape(bb, kk * c, hh, ww)
            z = F.conv2d(inp, w.reshape(kk * o, *w.shape[2:]), bias.reshape(kk * o),
                         stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                         groups=kk)
            z = z.reshape(bb, kk, o, *z.shape[2:]).transpose(0, 1)
            if record:
                if not z.requires_grad:
                    z.requires_grad_(True)
                records.append(("conv", idx, h.detach(), z, layer))
            h = z
        elif isinstance(layer, nn.MaxPool2d):
            shp = h.shape
            hp = F.max_pool2d(h.reshape(kk * bb, *shp[2:]), layer.kernel_size, layer.stride,
                              layer.padding, layer.dilation, layer.ceil_mode)
            h = hp.reshape(kk, bb, *hp.shape[1:])
        elif isinstance(layer, nn.ReLU):
            h = torch.relu(h)
        else:
            h = torch.tanh(h)
    return h, records


def batched_outputs(model: FunctionalModel, params: torch.Tensor,
                    x: torch.Tensor) -> torch.Tensor:
    """Outputs ``(K, B, out)`` of ``K`` models (rows of ``params``) on their own batches ``x``.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.mlp(3, 2, hidden=(4,))
    >>> p = torch.stack([m.init(seed=0), m.init(seed=1)])
    >>> x = torch.randn(2, 5, 3)
    >>> out = batched_outputs(m, p, x)
    >>> bool(torch.allclose(out[1], m.forward(p[1], x[1]), atol=1e-6))
    True
    """
    if isinstance(model, GeneralizedLinearModel):
        return _glm_parts(model, params, x)[0]
    if _is_chain(model):
        return _chain_forward(model, params, x, record=False)[0]
    return vmap(model.forward)(params, x)


# --------------------------------------------------------------------------------------------------
# The two kernels
# --------------------------------------------------------------------------------------------------
def _check(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
           targets: torch.Tensor, weights: torch.Tensor) -> None:
    if params.dim() != 2 or params.shape[1] != model.num_params:
        raise ValueError(f"params must have shape (K, {model.num_params}), "
                         f"got {tuple(params.shape)}")
    kk = params.shape[0]
    if x.shape[0] != kk or targets.shape[0] != kk or tuple(weights.shape) != tuple(x.shape[:2]):
        raise ValueError("params, x, targets and weights must share the client dimension K and "
                         f"x/weights the batch dimension, got params {tuple(params.shape)}, "
                         f"x {tuple(x.shape)}, targets {tuple(targets.shape)}, "
                         f"weights {tuple(weights.shape)}")


def weighted_grads(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                   targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    r"""Per-client weighted gradient sums :math:`\sum_b w_{kb}\nabla\ell(\theta_k; x_{kb},
    t_{kb})`, shape ``(K, d)``.

    Parameters
    ----------
    model : FunctionalModel
        The model.
    params : torch.Tensor, shape (K, d)
        One parameter row per client.
    x : torch.Tensor, shape (K, B, ...)
        Batches.
    targets : torch.Tensor, shape (K, B, out)
        Soft targets (:func:`soft_targets`).
    weights : torch.Tensor, shape (K, B)
        Example weights (0 leaves an example out).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(3, 3)
    >>> p, x, y = torch.zeros(2, 12), torch.randn(2, 4, 3), torch.randint(0, 3, (2, 4))
    >>> g = weighted_grads(m, p, x, soft_targets(m, y), torch.ones(2, 4)) / 4
    >>> bool(torch.allclose(g[0], m.grad(p[0], x[0], y[0]), atol=1e-6))
    True
    """
    _check(model, params, x, targets, weights)
    w = weights.to(params.dtype)
    if isinstance(model, GeneralizedLinearModel):
        with torch.no_grad():
            z, xf = _glm_parts(model, params, x)
            rs = _residual(model, z, targets.to(z.dtype)) * w.unsqueeze(-1)
            gw = torch.bmm(rs.transpose(1, 2), xf).flatten(1)
            return torch.cat([gw, rs.sum(1)], dim=1)
    if _is_chain(model):
        with torch.enable_grad():
            p = params.detach().requires_grad_(True)
            out = _chain_forward(model, p, x, record=False)[0]
            loss = (per_example_losses(model, out, targets.to(out.dtype)) * w).sum()
            return torch.autograd.grad(loss, p)[0]

    def single(pk, xk, tk, wk):
        return (per_example_losses(model, model.forward(pk, xk), tk) * wk).sum()

    return vmap(grad(single))(params.detach(), x, targets.to(params.dtype), w)


def clipped_sums(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                 targets: torch.Tensor, weights: torch.Tensor, clip: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-client weighted sums of per-example gradients clipped to norm ``clip``.

    .. math::

        s_k = \sum_b w_{kb}\, g_{kb}\min\Bigl(1, \frac{C}{\lVert g_{kb}\rVert}\Bigr),
        \qquad g_{kb} = \nabla\ell(\theta_k; x_{kb}, t_{kb}).

    With weights in [0, 1] one example moves :math:`s_k` by at most :math:`C` -- the sensitivity
    of the DP-SGD step (no noise is added here).

    Parameters
    ----------
    model, params, x, targets, weights :
        As in :func:`weighted_grads`.
    clip : float
        :math:`C > 0`.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Sums ``(K, d)`` and unclipped per-example norms ``(K, B)``.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.mlp(4, 3, hidden=(5,))
    >>> p = torch.stack([m.init(seed=s) for s in range(3)])
    >>> x, y = torch.randn(3, 6, 4), torch.randint(0, 3, (3, 6))
    >>> s, norms = clipped_sums(m, p, x, soft_targets(m, y), torch.ones(3, 6), clip=0.5)
    >>> ref = models.clipped_grad_sum(m, p[1], x[1], y[1], 0.5, 0.0)
    >>> bool(torch.allclose(s[1], ref, atol=1e-5))
    True
    """
    _check(model, params, x, targets, weights)
    clip = check_positive("clip", clip)
    w = weights.to(params.dtype)
    kk, bb = x.shape[0], x.shape[1]
    if bb == 0:
        return torch.zeros_like(params), torch.zeros((kk, 0), dtype=params.dtype,
                                                     device=params.device)
    if isinstance(model, GeneralizedLinearModel):
        with torch.no_grad():
            z, xf = _glm_parts(model, params, x)
            r = _residual(model, z, targets.to(z.dtype))
            norms = r.norm(dim=-1) * torch.sqrt((xf * xf).sum(-1) + 1.0)
            scale = torch.clamp(clip / norms, max=1.0) * w
            rs = r * scale.unsqueeze(-1)
            gw = torch.bmm(rs.transpose(1, 2), xf).flatten(1)
            return torch.cat([gw, rs.sum(1)], dim=1), norms
    if _is_chain(model):
        return _chain_clipped_sums(model, params.detach(), x, targets, w, clip)
    sums, norms = [], []
    with torch.no_grad():
        for k in range(kk):
            def single(pk, xb, tb):
                return per_example_losses(model, model.forward(pk, xb.unsqueeze(0)),
                                          tb.unsqueeze(0)).sum()

            g = vmap(grad(single), in_dims=(None, 0, 0))(params[k], x[k],
                                                          targets[k].to(params.dtype))
            nrm = g.norm(dim=1)
            sums.append((torch.clamp(clip / nrm, max=1.0) * w[k]) @ g)
            norms.append(nrm)
    return torch.stack(sums), torch.stack(norms)


def _chain_clipped_sums(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                        targets: torch.Tensor, w: torch.Tensor, clip: float
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    kk, bb = x.shape[0], x.shape[1]
    with torch.enable_grad():
        out, records = _chain_forward(model, params, x, record=True)
        loss = per_example_losses(model, out, targets.to(out.dtype)).sum()
        grads = torch.autograd.grad(loss, [r[3] for r in records])
    with torch.no_grad():
        sq = torch.zeros((kk, bb), dtype=params.dtype, device=params.device)
        per_example: list = []
        for (kind, _, a, _, layer), g in zip(records, grads):
            if kind == "linear":
                sq += (g * g).sum(-1) * ((a * a).sum(-1) + 1.0)
                per_example.append(None)
            else:
                c = a.shape[2]
                cols = F.unfold(a.reshape(kk * bb, c, *a.shape[3:]), layer.kernel_size,
                                dilation=layer.dilation, padding=layer.padding,
                                stride=layer.stride)                       # (KB, C*k*k, T)
                gz = g.reshape(kk * bb, g.shape[2], -1)                     # (KB, O, T)
                gw = torch.bmm(gz, cols.transpose(1, 2))                    # (KB, O, C*k*k)
                gb = gz.sum(2)
                sq += ((gw * gw).sum((1, 2)) + (gb * gb).sum(1)).reshape(kk, bb)
                per_example.append((gw.reshape(kk, bb, *gw.shape[1:]), gb.reshape(kk, bb, -1)))
        norms = sq.sqrt()
        scale = torch.clamp(clip / norms, max=1.0) * w
        p = model.unflatten(params)
        parts: dict[str, torch.Tensor] = {}
        for (kind, idx, a, _, layer), g, pe in zip(records, grads, per_example):
            wshape = p[f"{idx}.weight"].shape
            if pe is None:
                gs = g * scale.unsqueeze(-1)                                # (K, B, out)
                parts[f"{idx}.weight"] = torch.bmm(gs.transpose(1, 2), a)
                parts[f"{idx}.bias"] = gs.sum(1)
            else:
                gw, gb = pe
                parts[f"{idx}.weight"] = torch.einsum("kb,kboc->koc", scale, gw).reshape(wshape)
                parts[f"{idx}.bias"] = torch.einsum("kb,kbo->ko", scale, gb)
        flat = torch.cat([parts[name].reshape(kk, -1) for name, _ in model.spec], dim=1)
    return flat, norms


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------
def poisson_batches(valid: torch.Tensor, rate: Any, generator: torch.Generator | None
                    ) -> torch.Tensor:
    """Poisson batches: every valid record independently with probability ``rate``.

    ``rate`` is a float or a ``(K,)`` tensor (one rate per client).  Returns a bool ``(K, m)``
    mask.  Uniforms are drawn on the CPU with ``generator`` (same numbers on every device).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> mask = poisson_batches(torch.ones(2, 10_000, dtype=torch.bool), 0.1, g)
    >>> abs(float(mask.float().mean()) - 0.1) < 0.01
    True
    """
    u = torch.rand(tuple(valid.shape), generator=generator)
    r = rate if not isinstance(rate, torch.Tensor) else rate.detach().cpu().reshape(-1, 1)
    return (u < r).to(valid.device) & valid


def fixed_batches(valid: torch.Tensor, batch_size: int, generator: torch.Generator | None
                  ) -> torch.Tensor:
    """``batch_size`` records per client uniformly without replacement (all if fewer).

    Examples
    --------
    >>> valid = torch.tensor([[True, True, True, False], [True, True, True, True]])
    >>> fixed_batches(valid, 2, torch.Generator().manual_seed(0)).sum(dim=1).tolist()
    [2, 2]
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    u = torch.rand(tuple(valid.shape), generator=generator).to(valid.device)
    u = torch.where(valid, u, torch.full_like(u, 2.0))
    b = min(batch_size, valid.shape[1])
    idx = torch.topk(-u, b, dim=1).indices
    mask = torch.zeros_like(valid)
    mask.scatter_(1, idx, True)
    return mask & valid


def compact(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and 0/1 weights of a ``(K, m)`` batch mask packed to the largest batch.

    Returns ``(idx, w)`` of shape ``(K, b_max)``: ``idx[k, :b_k]`` are client ``k``'s selected
    positions (in order), the rest point at position 0 with weight 0.

    Examples
    --------
    >>> idx, w = compact(torch.tensor([[False, True, True], [True, False, False]]))
    >>> idx.tolist(), w.tolist()
    ([[1, 2], [0, 0]], [[1.0, 1.0], [1.0, 0.0]])
    """
    counts = mask.sum(dim=1)
    b = int(counts.max()) if mask.numel() else 0
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices[:, :b]
    w = (torch.arange(b, device=mask.device).unsqueeze(0) < counts.unsqueeze(1))
    idx = torch.where(w, order, torch.zeros_like(order))
    return idx, w.to(torch.float32)


def gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[k, idx[k]]`` for every client ``k`` (``t`` is ``(K, m, ...)``, ``idx`` ``(K, b)``).

    Examples
    --------
    >>> gather(torch.arange(6).reshape(2, 3), torch.tensor([[2, 0], [1, 1]])).tolist()
    [[2, 0], [4, 4]]
    """
    kk, m = t.shape[0], t.shape[1]
    flat = (torch.arange(kk, device=t.device).unsqueeze(1) * m + idx).reshape(-1)
    return t.reshape(kk * m, *t.shape[2:])[flat].reshape(kk, idx.shape[1], *t.shape[2:])
