r"""Models in functional form: flat parameter vectors, per-sample and per-client gradients, DP sums.

Every model is a :class:`FunctionalModel`: an ``nn.Module`` whose parameters live *outside* it, as
one flat vector ``params`` of length :attr:`FunctionalModel.num_params`.  The module is evaluated
with :func:`torch.func.functional_call`, so per-sample gradients are one ``vmap(grad(...))`` and
per-client gradients one more ``vmap`` -- no hooks, no parameter copies.  Robust aggregators,
compressors and attacks all work on such flat vectors.

:func:`clipped_grad_sum` is the core of DP-SGD: the sum over a batch of per-example gradients
clipped to norm :math:`C`, plus Gaussian noise of standard deviation :math:`zC`,

.. math::

    \tilde g = \sum_{i\in B} g_i \min\Bigl(1, \frac{C}{\lVert g_i\rVert_2}\Bigr)
               + \mathcal N(0, z^2C^2 I_d).

For logistic and linear regression (:class:`GeneralizedLinearModel`) the per-example gradient has
the closed form :math:`g_i = r_i \otimes [x_i, 1]` with residual :math:`r_i = p_i - y_i` (softmax or
sigmoid probabilities minus the one-hot label; prediction minus target for regression), so
:math:`\lVert g_i\rVert = \lVert r_i\rVert\,\lVert[x_i, 1]\rVert` and the clipped sum is one matrix
product, without materialising the :math:`B\times d` per-example gradients.

Examples
--------
>>> import torch
>>> from fltheory.fl import models
>>> model = models.logistic_regression(3, num_classes=2)
>>> params = model.init()
>>> x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
>>> g = models.clipped_grad_sum(model, params, x, y, clip=1.0, noise_multiplier=0.0)
>>> g.shape
torch.Size([4])
"""

from __future__ import annotations

from functools import partial

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from .._checks import check_choice, check_int
from ..config import declare_component
from ..registry import Registry
from ._util import GeneratorLike, torch_generator

__all__ = [
    "FunctionalModel",
    "GeneralizedLinearModel",
    "logistic_regression",
    "linear_regression",
    "mlp",
    "cnn",
    "REGISTRY",
    "available",
    "get",
    "for_dataset",
    "clipped_grad_sum",
    "clipped_grad_sums",
    "flatten_params",
    "unflatten_params",
]

LOSSES = ("cross_entropy", "bce", "mse")


def flatten_params(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate a name → tensor dict (in its order) into one flat vector.

    Examples
    --------
    >>> flatten_params({"w": torch.ones(2, 2), "b": torch.zeros(2)})
    tensor([1., 1., 1., 1., 0., 0.])
    """
    return torch.cat([p.reshape(-1) for p in params.values()])


def unflatten_params(flat: torch.Tensor, spec: Sequence[tuple[str, tuple[int, ...]]]
                     ) -> dict[str, torch.Tensor]:
    """Split a flat vector into a name → view dict following ``spec = [(name, shape), ...]``.

    The returned tensors are views of ``flat`` (no copy), so gradients flow back to it.

    Examples
    --------
    >>> d = unflatten_params(torch.arange(6.0), [("w", (2, 2)), ("b", (2,))])
    >>> d["b"]
    tensor([4., 5.])
    """
    sizes = [math.prod(shape) for _, shape in spec]
    if flat.shape[-1] != sum(sizes):
        raise ValueError(f"params must have {sum(sizes)} entries, got {flat.shape[-1]}")
    chunks = torch.split(flat, sizes, dim=-1)
    lead = flat.shape[:-1]
    return {name: c.reshape(*lead, *shape) for (name, shape), c in zip(spec, chunks)}


class FunctionalModel:
    """An ``nn.Module`` evaluated functionally on a flat parameter vector.

    Parameters
    ----------
    module : torch.nn.Module
        The architecture.  Its own parameter values are ignored (only names and shapes are used).
    loss : {"cross_entropy", "bce", "mse"}
        Per-example loss: softmax cross-entropy (integer labels), binary cross-entropy on a single
        logit (labels in {0, 1}), or :math:`\\tfrac12(\\hat y - y)^2`.  :meth:`loss` is the batch
        mean.
    name : str
        Recorded for reports.
    init : {"uniform", "zeros"}
        Default initialisation of :meth:`init`.

    Examples
    --------
    >>> model = mlp(4, 3, hidden=(5,))
    >>> params = model.init(seed=0)
    >>> model.num_params, model.forward(params, torch.zeros(2, 4)).shape
    (43, torch.Size([2, 3]))
    """

    def __init__(self, module: nn.Module, loss: str, *, name: str = "model",
                 init: str = "uniform") -> None:
        self.module = module
        self.loss_name = check_choice("loss", loss, LOSSES)
        self.name = name
        self.default_init = check_choice("init", init, ("uniform", "zeros"))
        self.spec: list[tuple[str, tuple[int, ...]]] = [
            (n, tuple(p.shape)) for n, p in module.named_parameters()]
        self._fan_in = self._fan_ins()
        self.num_params = sum(math.prod(s) for _, s in self.spec)
        self.linear_chain = _is_linear_chain(module)

        def _single(params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.per_sample_loss(params, x.unsqueeze(0), y.unsqueeze(0)).squeeze(0)

        self._ps_grad = vmap(grad(_single), in_dims=(None, 0, 0))
        self._client_grad_shared = vmap(grad(self.loss), in_dims=(None, 0, 0))
        self._client_grad_own = vmap(grad(self.loss), in_dims=(0, 0, 0))

    def _fan_ins(self) -> dict[str, int]:
        fan = {}
        for mod_name, mod in self.module.named_modules():
            w = getattr(mod, "weight", None)
            if not isinstance(w, torch.Tensor) or w.dim() < 2:
                continue
            f = int(np.prod(w.shape[1:]))
            prefix = f"{mod_name}." if mod_name else ""
            fan[prefix + "weight"] = f
            fan[prefix + "bias"] = f
        return fan

    # -- parameters -------------------------------------------------------------------------------
    def unflatten(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """The name → tensor dict (views) of a flat vector (leading batch dims allowed)."""
        return unflatten_params(params, self.spec)

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Flat vector from a name → tensor dict (order of :attr:`spec`)."""
        return torch.cat([params[n].reshape(-1) for n, _ in self.spec])

    def init(self, seed: GeneratorLike = 0, *, scheme: str | None = None,
             dtype: torch.dtype = torch.float32, device: Any = "cpu") -> torch.Tensor:
        """Initial flat parameters.

        ``"uniform"`` draws every weight and bias from :math:`U(-1/\\sqrt{m}, 1/\\sqrt{m})`, ``m``
        the fan-in of its layer (PyTorch's default for ``Linear``/``Conv2d``); ``"zeros"`` returns
        zeros.  ``seed`` is an int or a ``torch.Generator``.

        Examples
        --------
        >>> m = mlp(2, 2, hidden=(3,))
        >>> bool(torch.equal(m.init(seed=1), m.init(seed=1)))
        True
        """
        scheme = self.default_init if scheme is None else check_choice(
            "scheme", scheme, ("uniform", "zeros"))
        if scheme == "zeros":
            return torch.zeros(self.num_params, dtype=dtype, device=device)
        gen = torch_generator(seed, "cpu", name="seed")
        parts = []
        for name, shape in self.spec:
            bound = 1.0 / math.sqrt(self._fan_in.get(name, max(1, shape[-1] if shape else 1)))
            u = torch.rand(math.prod(shape), generator=gen, dtype=torch.float64)
            parts.append((2.0 * u - 1.0) * bound)
        return torch.cat(parts).to(dtype=dtype, device=device)

    # -- evaluation -------------------------------------------------------------------------------
    def forward(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Model outputs (logits or predictions), shape ``(B, outputs)``."""
        return functional_call(self.module, self.unflatten(params), (x.to(params.dtype),))

    def per_sample_loss(self, params: torch.Tensor, x: torch.Tensor,
                        y: torch.Tensor) -> torch.Tensor:
        """Loss of each example, shape ``(B,)``."""
        out = self.forward(params, x)
        if self.loss_name == "cross_entropy":
            return F.cross_entropy(out, y.long(), reduction="none")
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits(out.squeeze(-1), y.to(out.dtype),
                                                      reduction="none")
        return 0.5 * (out.squeeze(-1) - y.to(out.dtype)) ** 2

    def loss(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch (a scalar)."""
        return self.per_sample_loss(params, x, y).mean()

    def grad(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gradient of :meth:`loss`, shape ``(d,)``."""
        return grad(self.loss)(params, x, y)

    def per_sample_grads(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                         chunk_size: int | None = None) -> torch.Tensor:
        """Gradient of each example's loss, shape ``(B, d)`` (``vmap(grad)``).

        ``chunk_size`` bounds how many examples are processed at once (memory).
        """
        if chunk_size is None or chunk_size >= x.shape[0]:
            return self._ps_grad(params, x, y)
        return torch.cat([self._ps_grad(params, x[i:i + chunk_size], y[i:i + chunk_size])
                          for i in range(0, x.shape[0], chunk_size)])

    def per_sample_grad_norms(self, params: torch.Tensor, x: torch.Tensor,
                              y: torch.Tensor) -> torch.Tensor:
        """Euclidean norm of each example's gradient, shape ``(B,)``.

        For the MLP and CNN of this module the norms come from the layer inputs and output
        gradients without forming per-example gradients (see :func:`clipped_grad_sum`).
        """
        if self.linear_chain:
            return _chain_clipped_sum(self, params, x, y, None)[1]
        return self.per_sample_grads(params, x, y).norm(dim=1)

    def client_grads(self, params: torch.Tensor, xs: torch.Tensor,
                     ys: torch.Tensor) -> torch.Tensor:
        """Mean-loss gradient of every client at once, shape ``(K, d)``.

        ``xs`` is ``(K, m, ...)`` and ``ys`` ``(K, m)`` (see
        :meth:`fltheory.fl.data.FederatedDataset.stacked`); ``params`` is shared ``(d,)`` or one
        row per client ``(K, d)`` (local models after local steps).
        """
        if params.dim() == 1:
            return self._client_grad_shared(params, xs, ys)
        return self._client_grad_own(params, xs, ys)

    def predict(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels (classification) or values (regression)."""
        with torch.no_grad():
            out = self.forward(params, x)
        if self.loss_name == "cross_entropy":
            return out.argmax(dim=-1)
        if self.loss_name == "bce":
            return (out.squeeze(-1) > 0).long()
        return out.squeeze(-1)

    def evaluate(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """``{"loss": mean loss, "accuracy": fraction correct}`` (accuracy omitted for MSE)."""
        with torch.no_grad():
            res = {"loss": float(self.loss(params, x, y))}
            if self.loss_name != "mse":
                res["accuracy"] = float((self.predict(params, x) == y.long()).float().mean())
        return res

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, loss={self.loss_name!r}, "
                f"num_params={self.num_params})")


def _is_linear_chain(module: nn.Module) -> bool:
    """Whether ``module`` is a chain the fast per-example path understands (our MLP and CNN)."""
    allowed = (nn.Flatten, nn.Linear, nn.ReLU, nn.Tanh, nn.Conv2d, nn.MaxPool2d)
    if not isinstance(module, nn.Sequential) or len(module) == 0:
        return False
    for m in module:
        if not isinstance(m, allowed):
            return False
        if isinstance(m, (nn.Linear, nn.Conv2d)) and m.bias is None:
            return False
        if isinstance(m, nn.Conv2d) and (m.groups != 1 or m.padding_mode != "zeros"
                                         or isinstance(m.padding, str)):
            return False
    return True


def _chain_clipped_sum(model: FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                       y: torch.Tensor, clip: float | None
                       ) -> tuple[torch.Tensor | None, torch.Tensor]:
    r"""Clipped gradient sum and per-example norms from one forward and one backward pass.

    For a linear layer :math:`z = Wa + b`, example :math:`i`'s gradient is
    :math:`(g_i a_i^\top, g_i)` with :math:`g_i = \partial\ell_i/\partial z_i`, of squared norm
    :math:`\lVert g_i\rVert^2(\lVert a_i\rVert^2 + 1)` (never formed); its clipped sum is
    :math:`(s\circ G)^\top A`.  A convolution's per-example weight gradient is small
    (out-channels × in-channels × kernel), so it is formed from the unfolded input patches.
    """
    p = model.unflatten(params)
    h = x.to(params.dtype)
    records: list[tuple[str, str, torch.Tensor, torch.Tensor, Any]] = []
    with torch.enable_grad():
        for idx, layer in enumerate(model.module):
            if isinstance(layer, nn.Flatten):
                h = h.flatten(1)
            elif isinstance(layer, nn.Linear):
                w, bias = p[f"{idx}.weight"].detach(), p[f"{idx}.bias"].detach()
                z = torch.addmm(bias, h, w.T)
                if not z.requires_grad:
                    z.requires_grad_(True)
                records.append(("linear", str(idx), h.detach(), z, None))
                h = z
            elif isinstance(layer, nn.Conv2d):
                w, bias = p[f"{idx}.weight"].detach(), p[f"{idx}.bias"].detach()
                z = F.conv2d(h, w, bias, stride=layer.stride, padding=layer.padding,
                             dilation=layer.dilation)
                if not z.requires_grad:
                    z.requires_grad_(True)
                records.append(("conv", str(idx), h.detach(), z, layer))
                h = z
            elif isinstance(layer, nn.MaxPool2d):
                h = F.max_pool2d(h, layer.kernel_size, layer.stride, layer.padding,
                                 layer.dilation, layer.ceil_mode)
            elif isinstance(layer, nn.ReLU):
                h = torch.relu(h)
            else:
                h = torch.tanh(h)
        if model.loss_name == "cross_entropy":
            loss = F.cross_entropy(h, y.long(), reduction="sum")
        elif model.loss_name == "bce":
            loss = F.binary_cross_entropy_with_logits(h.squeeze(-1), y.to(h.dtype),
                                                      reduction="sum")
        else:
            loss = 0.5 * ((h.squeeze(-1) - y.to(h.dtype)) ** 2).sum()
        grads = torch.autograd.grad(loss, [r[3] for r in records])
    b = x.shape[0]
    sq = torch.zeros(b, dtype=params.dtype, device=params.device)
    per_example: list[tuple[torch.Tensor, torch.Tensor] | None] = []
    for (kind, _, a, _, layer), g in zip(records, grads):
        if kind == "linear":
            sq += (g * g).sum(1) * ((a * a).sum(1) + 1.0)
            per_example.append(None)
        else:
            cols = F.unfold(a, layer.kernel_size, dilation=layer.dilation,
                            padding=layer.padding, stride=layer.stride)  # (B, C*k*k, T)
            gz = g.flatten(2)  # (B, O, T)
            gw = torch.bmm(gz, cols.transpose(1, 2))  # (B, O, C*k*k)
            gb = gz.sum(2)
            sq += (gw * gw).sum((1, 2)) + (gb * gb).sum(1)
            per_example.append((gw, gb))
    norms = sq.sqrt()
    if clip is None:
        return None, norms
    scale = torch.clamp(clip / norms, max=1.0)
    parts: dict[str, torch.Tensor] = {}
    for (kind, name, a, _, layer), g, pe in zip(records, grads, per_example):
        wshape = p[f"{name}.weight"].shape
        if pe is None:
            gs = g * scale[:, None]
            parts[f"{name}.weight"] = gs.T @ a
            parts[f"{name}.bias"] = gs.sum(0)
        else:
            gw, gb = pe
            parts[f"{name}.weight"] = torch.einsum("b,boc->oc", scale, gw).reshape(wshape)
            parts[f"{name}.bias"] = scale @ gb
    return model.flatten(parts), norms


# --------------------------------------------------------------------------------------------------
# Generalized linear models: closed-form per-example gradients
# --------------------------------------------------------------------------------------------------
class _Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


class GeneralizedLinearModel(FunctionalModel):
    r"""Logistic (binary or softmax) or linear regression with closed-form per-example gradients.

    Parameters are laid out as ``[W.flatten(), b]`` with ``W`` of shape ``(k, p)`` (``k`` outputs,
    ``p`` input features).  For example :math:`i` with residual :math:`r_i \in \mathbb R^k`,

    .. math::

        g_i = \bigl[\, r_i x_i^\top,\; r_i \bigr], \qquad
        \lVert g_i\rVert_2 = \lVert r_i\rVert_2 \sqrt{\lVert x_i\rVert_2^2 + 1}.

    Examples
    --------
    >>> m = logistic_regression(4, num_classes=3)
    >>> p = m.init(seed=0, scheme="uniform")
    >>> x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    >>> auto = FunctionalModel.per_sample_grads(m, p, x, y)
    >>> bool(torch.allclose(m.per_sample_grads(p, x, y), auto, atol=1e-6))
    True
    """

    def __init__(self, in_features: int, out_features: int, loss: str, *, name: str) -> None:
        super().__init__(_Linear(in_features, out_features), loss, name=name, init="zeros")
        self.in_features = in_features
        self.out_features = out_features

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, p = self.out_features, self.in_features
        w = params[..., : k * p].reshape(*params.shape[:-1], k, p)
        b = params[..., k * p:]
        return w, b

    def _residual(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "cross_entropy":
            return torch.softmax(z, dim=-1) - F.one_hot(y.long(), self.out_features).to(z.dtype)
        if self.loss_name == "bce":
            return torch.sigmoid(z) - y.to(z.dtype).unsqueeze(-1)
        return z - y.to(z.dtype).unsqueeze(-1)

    def residuals(self, params: torch.Tensor, x: torch.Tensor,
                  y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(r, x_flat)``: residuals ``(..., B, k)`` and flattened inputs ``(..., B, p)``.

        ``params`` may carry a leading client dimension matching ``x``'s.
        """
        if params.dim() == 2:
            xf = x.to(params.dtype).reshape(x.shape[0], x.shape[1], -1)
        else:
            xf = x.to(params.dtype).reshape(x.shape[0], -1)
        w, b = self._split(params)
        z = torch.matmul(xf, w.transpose(-1, -2)) + b.unsqueeze(-2)
        return self._residual(z, y), xf

    def per_sample_grads(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                         chunk_size: int | None = None) -> torch.Tensor:
        r, xf = self.residuals(params, x, y)
        gw = (r.unsqueeze(-1) * xf.unsqueeze(-2)).flatten(-2)
        return torch.cat([gw, r], dim=-1)

    def per_sample_grad_norms(self, params: torch.Tensor, x: torch.Tensor,
                              y: torch.Tensor) -> torch.Tensor:
        r, xf = self.residuals(params, x, y)
        return r.norm(dim=-1) * torch.sqrt((xf * xf).sum(-1) + 1.0)

    def clipped_sum(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                    clip: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Closed-form ``(sum of clipped per-example gradients, per-example norms)``.

        Works for one batch (``params`` ``(d,)``, ``x`` ``(B, ...)``) or for ``K`` clients at once
        (``params`` ``(K, d)``, ``x`` ``(K, B, ...)``).
        """
        r, xf = self.residuals(params, x, y)
        norms = r.norm(dim=-1) * torch.sqrt((xf * xf).sum(-1) + 1.0)
        scale = torch.clamp(clip / norms, max=1.0)  # norm 0 -> inf -> 1
        rs = r * scale.unsqueeze(-1)
        gw = torch.matmul(rs.transpose(-1, -2), xf).flatten(-2)
        return torch.cat([gw, rs.sum(-2)], dim=-1), norms


def _in_features(in_features: int | Sequence[int]) -> int:
    if isinstance(in_features, (tuple, list)):
        return check_int("in_features", int(np.prod(in_features)), minimum=1)
    return check_int("in_features", in_features, minimum=1)


def logistic_regression(in_features: int | Sequence[int],
                        num_classes: int = 2) -> GeneralizedLinearModel:
    r"""Logistic regression: a sigmoid logit for 2 classes, a softmax over ``num_classes`` else.

    Inputs of any shape are flattened.  Default initialisation is zeros.

    Parameters
    ----------
    in_features : int or tuple of int
        Number of input features (or the input shape).
    num_classes : int
        ``2`` gives binary logistic regression with :math:`d = p + 1` parameters; ``k >= 3`` gives
        multinomial (softmax) regression with :math:`d = k(p + 1)`.

    Examples
    --------
    >>> logistic_regression(64, 10).num_params
    650
    """
    p = _in_features(in_features)
    k = check_int("num_classes", num_classes, minimum=2)
    if k == 2:
        return GeneralizedLinearModel(p, 1, "bce", name="logistic_regression")
    return GeneralizedLinearModel(p, k, "cross_entropy", name="logistic_regression")


def linear_regression(in_features: int | Sequence[int]) -> GeneralizedLinearModel:
    r"""Linear regression :math:`\hat y = w^\top x + b` with loss :math:`\tfrac12(\hat y - y)^2`.

    Examples
    --------
    >>> linear_regression(5).num_params
    6
    """
    return GeneralizedLinearModel(_in_features(in_features), 1, "mse", name="linear_regression")


def _activation(name: str) -> nn.Module:
    name = check_choice("activation", name, ("relu", "tanh"))
    return nn.ReLU() if name == "relu" else nn.Tanh()


def mlp(in_features: int | Sequence[int], num_classes: int, hidden: Sequence[int] = (64,), *,
        activation: str = "relu") -> FunctionalModel:
    """Multi-layer perceptron (flattened input, fully connected layers, softmax output).

    Parameters
    ----------
    in_features : int or tuple of int
        Input size (or shape; flattened).
    num_classes : int
        Number of classes (>= 2).
    hidden : sequence of int
        Hidden layer widths.
    activation : {"relu", "tanh"}
        Hidden activation (tanh is common in DP training).

    Examples
    --------
    >>> mlp(64, 10, hidden=(128,)).num_params
    9610
    """
    p = _in_features(in_features)
    k = check_int("num_classes", num_classes, minimum=2)
    widths = [check_int("hidden", h, minimum=1) for h in hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    prev = p
    for h in widths:
        layers += [nn.Linear(prev, h), _activation(activation)]
        prev = h
    layers.append(nn.Linear(prev, k))
    return FunctionalModel(nn.Sequential(*layers), "cross_entropy", name="mlp")


def cnn(input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10,
        channels: Sequence[int] = (16, 32), hidden: int | None = 64, *,
        activation: str = "relu") -> FunctionalModel:
    """A small CNN: [3×3 conv → activation → 2×2 max-pool] per entry of ``channels``, then MLP head.

    No batch normalisation (it mixes examples, which per-example DP clipping forbids).  With the
    defaults it has about 14k parameters on 8×8 digits; ``input_shape=(1, 28, 28)`` gives about
    106k (MNIST).

    Parameters
    ----------
    input_shape : tuple (C, H, W)
        Shape of one image.
    num_classes : int
        Number of classes.
    channels : sequence of int
        Output channels of the convolution blocks.
    hidden : int or None
        Width of the hidden fully connected layer (``None``: none).
    activation : {"relu", "tanh"}
        Activation.

    Examples
    --------
    >>> cnn((1, 28, 28), 10).num_params
    105866
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    c, h, w = (check_int("input_shape", v, minimum=1) for v in input_shape)
    k = check_int("num_classes", num_classes, minimum=2)
    layers: list[nn.Module] = []
    prev = c
    for ch in channels:
        ch = check_int("channels", ch, minimum=1)
        layers += [nn.Conv2d(prev, ch, 3, padding=1), _activation(activation), nn.MaxPool2d(2)]
        prev = ch
        h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"input_shape {tuple(input_shape)} is too small for "
                             f"{len(channels)} pooling blocks")
    layers.append(nn.Flatten())
    feat = prev * h * w
    if hidden is not None:
        hidden = check_int("hidden", hidden, minimum=1)
        layers += [nn.Linear(feat, hidden), _activation(activation), nn.Linear(hidden, k)]
    else:
        layers.append(nn.Linear(feat, k))
    return FunctionalModel(nn.Sequential(*layers), "cross_entropy", name="cnn")


#: The models, by name (``logreg`` and ``linreg`` as in the configuration; the full names are
#: aliases).  Each declares ``convex``: whether its loss is convex in the parameters (then a
#: stationary point is a global minimiser, so ``distance_to_optimum`` on the synthetic tasks and
#: the gradient-norm bound :func:`fltheory.bounds.robust_dgd_bound` speak of the same optimum;
#: for the networks that bound holds at stationary points only).
REGISTRY = Registry("model", on_register=partial(declare_component, "model"))
REGISTRY.register("logreg", logistic_regression, aliases=("logistic_regression",), convex=True)
REGISTRY.register("linreg", linear_regression, aliases=("linear_regression",), convex=True)
REGISTRY.register("mlp", mlp, convex=False)
REGISTRY.register("cnn", cnn, convex=False)
_MODELS = REGISTRY              # the name of earlier releases


def available() -> list[str]:
    """Registered model names (aliases included).

    Examples
    --------
    >>> available()
    ['cnn', 'linear_regression', 'linreg', 'logistic_regression', 'logreg', 'mlp']
    """
    return REGISTRY.available(aliases=True)


def get(name: str, **kwargs: Any) -> FunctionalModel:
    """Build a model by name: ``logreg`` (``logistic_regression``), ``linreg``
    (``linear_regression``), ``mlp``, ``cnn``; keyword arguments go to the factory.

    Examples
    --------
    >>> get("mlp", in_features=4, num_classes=2, hidden=(3,)).num_params
    23
    """
    return REGISTRY.get(name, param="name")(**kwargs)


def for_dataset(dataset: Any, name: str = "logistic_regression", **kwargs: Any) -> FunctionalModel:
    """A model sized for a :class:`~fltheory.fl.data.FederatedDataset`.

    Regression datasets get :func:`linear_regression` whatever ``name`` says unless it is given
    explicitly as ``"linear_regression"``; a CNN needs image inputs ``(C, H, W)``.

    Examples
    --------
    >>> from fltheory.fl.data import digits
    >>> for_dataset(digits(num_clients=2), "mlp", hidden=(32,)).num_params
    2410
    """
    key = REGISTRY.canonical(name, param="name")
    if dataset.task == "regression":
        return linear_regression(dataset.num_features)
    if key == "linreg":
        raise ValueError("name must be a classifier for a classification dataset, got "
                         f"{name!r}")
    if key == "logreg":
        return logistic_regression(dataset.num_features, dataset.num_classes)
    if key == "mlp":
        return mlp(dataset.num_features, dataset.num_classes, **kwargs)
    if key != "cnn":      # a model registered by the user: its factory's arguments are its own
        raise ValueError(f"for_dataset sizes the built-in models (logreg, linreg, mlp, cnn); "
                         f"build {name!r} with models.get({name!r}, ...)")
    if len(dataset.input_shape) != 3:
        raise ValueError("name='cnn' needs image inputs (C, H, W), got input_shape "
                         f"{dataset.input_shape}; load the data with flatten=False")
    return cnn(dataset.input_shape, dataset.num_classes, **kwargs)


# DP-SGD building blocks: moved to fltheory.fl.release (one release mechanism)
# --------------------------------------------------------------------------------------------------
_MOVED = {"dp_noise_std", "clipped_grad_sum", "clipped_grad_sums"}


def __getattr__(name: str) -> Any:
    # ``models.clipped_grad_sum`` & co. keep working: the release step lives in ``release``.
    if name in _MOVED:
        from . import release

        return getattr(release, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
