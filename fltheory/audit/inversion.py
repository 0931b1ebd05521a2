r"""Gradient inversion: what a server can reconstruct from one client's update.

A client that sends the gradient of a single example sends the example.  Two attacks:

* **Analytic first-dense-layer reconstruction.**  For a first layer :math:`z = Wx + b` and any
  loss, :math:`\partial L/\partial W_i = (\partial L/\partial b_i)\,x^\top` for every row
  :math:`i`, so :math:`x = \frac{\partial L/\partial W_i}{\partial L/\partial b_i}` exactly,
  whatever follows the layer (Phong et al. 2018; Geiping et al. 2020, Prop. D.1).  With noise
  the least-squares combination of all rows is used,

  .. math::

      \hat x_j = \frac{\sum_i (\partial L/\partial b_i)(\partial L/\partial W_{ij})}
                      {\sum_i (\partial L/\partial b_i)^2},

  summing only over the pairs the client actually transmitted (compression).
* **DLG / iDLG** (Zhu et al. 2019; Zhao et al. 2020): optimise a dummy input (and, for DLG, a
  dummy soft label) so that its gradient matches the observed one,
  :math:`\min_{\hat x,\hat y}\lVert\nabla_\theta L(\hat x,\hat y) - g\rVert^2` (L-BFGS); iDLG
  first reads the label off the last layer's bias gradient, negative exactly at the true class for
  softmax cross-entropy.  For clipped or rescaled gradients the cosine distance (Geiping et al.
  2020) replaces the squared distance.

Defences: the client's gradient goes through the engine's DP building block
:class:`fltheory.fl.release.Release` (clipping to :math:`C` and Gaussian noise
:math:`zC`) and/or a compressor of :mod:`fltheory.fl.compressors` before the attacker sees it.
Clipping alone does not protect (the ratio above is scale-free); noise and sparsification do.

Reconstructions are scored by MSE and PSNR :math:`= 10\log_{10}(1/\mathrm{MSE})` on inputs in
[0, 1] (the reconstruction is clamped to [0, 1] first), and drawn by
:func:`fltheory.plots.inversion.save_reconstruction_grid`.

Examples
--------
>>> import torch
>>> from fltheory.fl import models
>>> from fltheory.audit.inversion import invert_gradient
>>> model = models.mlp(16, 3, hidden=(8,))
>>> x = torch.rand(16); res = invert_gradient(model, model.init(seed=0), x, 1, method="analytic")
>>> res.mse < 1e-10
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fltheory._checks import check_choice, check_int, check_nonnegative, check_positive
from fltheory.fl import models as _models
from fltheory.fl.release import Release

__all__ = ["InversionResult", "mse", "psnr", "observed_gradient", "first_layer",
           "analytic_reconstruction", "infer_label", "gradient_matching", "invert_gradient",
           "inversion_experiment"]

METHODS = ("analytic", "dlg", "idlg")
_DATA_INDEPENDENT_MASKS = ("randk", "bernoulli_mask")
_REFS = {
    "analytic": ("L. T. Phong, Y. Aono, T. Hayashi, L. Wang and S. Moriai (2018). Privacy-"
                 "preserving deep learning via additively homomorphic encryption. IEEE TIFS, "
                 "Sec. III; J. Geiping, H. Bauermeister, H. Droge and M. Moeller (2020). "
                 "Inverting gradients. NeurIPS, Prop. D.1"),
    "dlg": ("L. Zhu, Z. Liu and S. Han (2019). Deep leakage from gradients. NeurIPS, "
            "Algorithm 1"),
    "idlg": ("B. Zhao, K. R. Mopuri and H. Bilen (2020). iDLG: improved deep leakage from "
             "gradients. arXiv:2001.02610, Sec. 3"),
}


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------
def mse(reference: Any, reconstruction: Any) -> float:
    """Mean squared error.

    Examples
    --------
    >>> mse([0.0, 1.0], [0.0, 0.5])
    0.125
    """
    a = np.asarray(reference, dtype=float).ravel()
    b = np.asarray(reconstruction, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    return float(np.mean((a - b) ** 2))


def psnr(reference: Any, reconstruction: Any, data_range: float = 1.0) -> float:
    r"""Peak signal-to-noise ratio :math:`10\log_{10}(R^2/\mathrm{MSE})` in dB.

    ``inf`` for a perfect reconstruction (the mathematical answer).

    Examples
    --------
    >>> round(psnr([0.0, 1.0], [0.0, 0.9]), 2)
    23.01
    """
    r = check_positive("data_range", data_range)
    e = mse(reference, reconstruction)
    return math.inf if e == 0 else 10.0 * math.log10(r * r / e)


# --------------------------------------------------------------------------------------------------
# What the attacker observes
# --------------------------------------------------------------------------------------------------
def observed_gradient(model: _models.FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                      y: torch.Tensor, *, clip: float | None = None,
                      noise_multiplier: float = 0.0, compressor: Any = None, seed: int = 0
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The update a client sends for the batch ``(x, y)``, and the mask of sent coordinates.

    No ``clip``: the mean-loss gradient.  With ``clip``: the DP-SGD release
    :class:`fltheory.fl.release.Release` (clipped per example, noise
    :math:`\mathcal N(0, z^2C^2 I)`), divided by the batch size.  ``compressor`` (an object of
    :mod:`fltheory.fl.compressors`) is applied last; the mask marks its non-zero coordinates
    (positions are part of a sparse message; for rand-k and Bernoulli masks the drawn mask itself,
    including coordinates whose value happens to be 0).

    Examples
    --------
    >>> from fltheory.fl import models, compressors
    >>> m = models.logistic_regression(4)
    >>> g, mask = observed_gradient(m, torch.zeros(5), torch.ones(1, 4), torch.tensor([1]),
    ...                             compressor=compressors.get("topk", k=2))
    >>> int(mask.sum())
    2
    """
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    b = x.shape[0]
    if clip is None:
        if noise_multiplier:
            raise ValueError(f"noise_multiplier={noise_multiplier} needs clip (the DP release "
                             "clips before it adds noise)")
        g = model.grad(params, x, y).detach()
    else:
        g = Release(clip, noise_multiplier).release_batch(model, params, x, y, gen).value / b
    mask = torch.ones_like(g, dtype=torch.bool)
    if compressor is not None:
        state = gen.get_state()
        g = compressor(g, generator=gen).value
        mask = g != 0
        if getattr(compressor, "name", "") in _DATA_INDEPENDENT_MASKS:
            # the positions are sent: replay the mask draw on a vector of ones (same generator
            # state) so that coordinates that happen to be zero still count as sent
            gen.set_state(state)
            mask = compressor(torch.ones_like(g), generator=gen).value != 0
    return g, mask


def first_layer(model: _models.FunctionalModel) -> tuple[slice, slice, tuple[int, int]]:
    """Slices of the flat parameters holding the first dense layer's weight and bias, and the
    weight's shape ``(out, in)``.

    Raises ``ValueError`` when the first parametrised layer is not dense with a bias (e.g. a
    convolution).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> first_layer(models.mlp(4, 2, hidden=(3,)))
    (slice(0, 12, None), slice(12, 15, None), (3, 4))
    """
    offset = 0
    spec = model.spec
    for i, (name, shape) in enumerate(spec):
        size = math.prod(shape)
        if name.endswith("weight"):
            if len(shape) != 2:
                raise ValueError(f"the first parametrised layer of {model.name!r} is not dense "
                                 f"(weight shape {shape}); the analytic attack needs a dense "
                                 "first layer with a bias")
            bias = name[: -len("weight")] + "bias"
            if i + 1 >= len(spec) or spec[i + 1][0] != bias:
                raise ValueError(f"the first dense layer of {model.name!r} has no bias")
            return (slice(offset, offset + size), slice(offset + size, offset + size + shape[0]),
                    (int(shape[0]), int(shape[1])))
        offset += size
    raise ValueError(f"model {model.name!r} has no dense layer")


def analytic_reconstruction(model: _models.FunctionalModel, gradient: torch.Tensor,
                            mask: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    r"""Input reconstruction from a dense first layer's gradient (least squares over rows).

    .. math::

        \hat x_j = \frac{\sum_i m_{ij}\, g^b_i\, g^W_{ij}}{\sum_i m_{ij}\,(g^b_i)^2},
        \qquad m_{ij} = 1[\text{both } g^W_{ij} \text{ and } g^b_i \text{ were sent}],

    exact for the gradient of one example (:math:`g^W = g^b x^\top`).  Pixels with no sent pair
    are set to 0.

    Returns
    -------
    (x_hat, recovered) : (torch.Tensor of shape (in,), float)
        The reconstruction (flattened input) and the fraction of pixels that had a sent pair.

    References
    ----------
    L. T. Phong et al. (2018). IEEE TIFS, Sec. III; J. Geiping et al. (2020). Inverting
    gradients. NeurIPS, Proposition D.1.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(3, num_classes=3)
    >>> x = torch.tensor([[0.2, 0.5, 0.9]])
    >>> g = m.grad(m.init(), x, torch.tensor([2]))
    >>> xh, frac = analytic_reconstruction(m, g)
    >>> xh
    tensor([0.2000, 0.5000, 0.9000])
    """
    ws, bs, shape = first_layer(model)
    g = gradient.detach().double()
    gw = g[ws].reshape(shape)
    gb = g[bs]
    if mask is None:
        mw = torch.ones(shape, dtype=torch.double)
    else:
        mw = (mask[ws].reshape(shape) & mask[bs].unsqueeze(1)).double()
    num = (mw * gb.unsqueeze(1) * gw).sum(0)
    den = (mw * (gb * gb).unsqueeze(1)).sum(0)
    ok = den > 0
    xh = torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(den))
    return xh.float(), float(ok.double().mean())


def infer_label(model: _models.FunctionalModel, gradient: torch.Tensor,
                mask: torch.Tensor | None = None) -> int | None:
    r"""iDLG's label: the class whose last-layer bias gradient is negative (the smallest).

    For softmax cross-entropy :math:`\partial L/\partial b_j = p_j - 1[j = y]`, negative only at
    :math:`j = y`; for one logit :math:`\sigma(z) - y` is negative iff :math:`y = 1`.  ``None``
    when the last bias coordinates were not all sent.

    References
    ----------
    B. Zhao, K. R. Mopuri and H. Bilen (2020). iDLG. arXiv:2001.02610, Sec. 3.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(2, num_classes=4)
    >>> infer_label(m, m.grad(m.init(), torch.ones(1, 2), torch.tensor([3])))
    3
    """
    name, shape = model.spec[-1]
    if not name.endswith("bias"):
        return None
    k = math.prod(shape)
    gb = gradient.detach()[-k:]
    if mask is not None and not bool(mask[-k:].all()):
        return None
    if k == 1:
        return int(float(gb[0]) < 0)
    return int(torch.argmin(gb))


def _soft_loss(model, params, x, target):
    out = model.forward(params, x)
    if model.loss_name == "bce":
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), target[:, 1])
    return -(target * torch.log_softmax(out, dim=-1)).sum(-1).mean()


def gradient_matching(model: _models.FunctionalModel, params: torch.Tensor,
                      gradient: torch.Tensor, input_shape: Sequence[int], *,
                      label: int | None = None, mask: torch.Tensor | None = None,
                      distance: str = "l2", scale: float = 1.0, steps: int = 50,
                      lr: float = 1.0, seed: int = 0) -> tuple[torch.Tensor, int, float, int]:
    r"""DLG / iDLG: L-BFGS on a dummy input (and soft label when ``label`` is ``None``).

    Minimises :math:`\lVert m \odot (s\,\nabla_\theta L(\hat x, \hat y) - g)\rVert^2` (``"l2"``,
    Zhu et al.) or :math:`1 - \cos(m \odot \nabla_\theta L, m \odot g)` (``"cosine"``, Geiping et
    al.), with :math:`m` the mask of sent coordinates and :math:`s` a known rescaling of the
    message (e.g. :math:`d/k` of rand-k).  The dummy input starts from :math:`\mathcal N(0, 1)`;
    a dummy label (DLG) is a vector of logits passed through a softmax.

    Returns
    -------
    (x_hat, label, final_distance, iterations)

    References
    ----------
    L. Zhu, Z. Liu and S. Han (2019). Deep leakage from gradients. NeurIPS; B. Zhao, K. R. Mopuri
    and H. Bilen (2020). iDLG. arXiv:2001.02610; J. Geiping et al. (2020). Inverting gradients.
    NeurIPS (cosine distance).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(4, num_classes=3)
    >>> x = torch.rand(1, 4); p = m.init(seed=0, scheme="uniform")
    >>> g = m.grad(p, x, torch.tensor([1]))
    >>> xh, lab, dist, it = gradient_matching(m, p, g, (4,), label=1, steps=20)
    >>> bool(((xh - x[0]) ** 2).mean() < 1e-6)
    True
    """
    if model.loss_name == "mse":
        raise ValueError("gradient matching supports classification models (cross-entropy or "
                         "logistic loss), got a regression model")
    distance = check_choice("distance", distance, ("l2", "cosine"))
    steps = check_int("steps", steps, minimum=1)
    lr = check_positive("lr", lr)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    target = gradient.detach().double()
    m = torch.ones_like(target, dtype=torch.bool) if mask is None else mask
    mt = target[m]
    p = params.detach().double().requires_grad_(True)
    xh = torch.randn((1, *input_shape), generator=gen, dtype=torch.double).requires_grad_(True)
    k = model.spec[-1][1][0] if model.loss_name == "cross_entropy" else 2
    variables = [xh]
    if label is None:
        yh = torch.randn((1, k), generator=gen, dtype=torch.double).requires_grad_(True)
        variables.append(yh)
    else:
        fixed = F.one_hot(torch.tensor([label]), k).double()
    opt = torch.optim.LBFGS(variables, lr=lr, max_iter=20, history_size=50,
                            line_search_fn="strong_wolfe")
    count = [0]

    def objective():
        tgt = torch.softmax(yh, dim=-1) if label is None else fixed
        loss = _soft_loss(model, p, xh, tgt)
        g = torch.autograd.grad(loss, p, create_graph=True)[0][m] * scale
        if distance == "l2":
            return ((g - mt) ** 2).sum()
        return 1.0 - (g * mt).sum() / (g.norm() * mt.norm() + 1e-30)

    def closure():
        opt.zero_grad()
        val = objective()
        val.backward()
        count[0] += 1
        return val

    for _ in range(steps):
        opt.step(closure)
    final = float(objective().detach())
    lab = label if label is not None else int(torch.argmax(yh.detach()))
    return xh.detach()[0].float(), lab, final, count[0]


# --------------------------------------------------------------------------------------------------
# One attack
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InversionResult:
    """One reconstruction and its error.

    Attributes
    ----------
    method : str
        ``"analytic"``, ``"dlg"`` or ``"idlg"``.
    defence : str
        What the client did to its gradient (``"none"``, ``"dp(C=1, z=0.1)"``, ``"topk(k=...)"``).
    x_true, x_rec : numpy.ndarray
        Original and reconstruction (input shape; the reconstruction clamped to [0, 1]).
    label_true : int
    label_rec : int or None
    mse, psnr : float
        Error of ``x_rec`` (PSNR in dB, ``inf`` for an exact reconstruction).
    reference : str
    details : dict
        Iterations, final matching distance, recovered pixel fraction, ...
    """

    method: str
    defence: str
    x_true: np.ndarray = field(repr=False)
    x_rec: np.ndarray = field(repr=False)
    label_true: int
    label_rec: int | None
    mse: float
    psnr: float
    reference: str = ""
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (images omitted)."""
        return {"method": self.method, "defence": self.defence, "label_true": self.label_true,
                "label_rec": self.label_rec, "mse": self.mse,
                "psnr": self.psnr if math.isfinite(self.psnr) else "inf",
                "details": dict(self.details)}


def _defence_name(clip, noise_multiplier, compressor) -> str:
    parts = []
    if clip is not None:
        parts.append(f"dp(C={clip:g}, z={noise_multiplier:g})")
    if compressor is not None:
        k = getattr(compressor, "k", None)
        parts.append(f"{compressor.name}(k={k})" if k is not None else compressor.name)
    return " + ".join(parts) if parts else "none"


def invert_gradient(model: _models.FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                    y: Any, *, method: str = "analytic", clip: float | None = None,
                    noise_multiplier: float = 0.0, compressor: Any = None,
                    distance: str = "auto", steps: int = 50, seed: int = 0) -> InversionResult:
    r"""Attack the update of one example ``(x, y)`` and score the reconstruction.

    Parameters
    ----------
    model : FunctionalModel
        The shared model (the attacker knows it and ``params``).
    params : torch.Tensor, shape (d,)
        The global model the client differentiates at.
    x : torch.Tensor
        One input, shaped like one record of the dataset (no batch dimension).
    y : int
        Its label.
    method : {"analytic", "dlg", "idlg"}
        Attack.
    clip, noise_multiplier :
        DP release of the update (:func:`observed_gradient`).
    compressor : Compressor, optional
        Applied after the DP release.
    distance : {"auto", "l2", "cosine"}
        Gradient-matching distance; ``"auto"`` is cosine when the update is clipped or rescaled
        (rand-k), squared distance otherwise.
    steps : int
        L-BFGS outer iterations (20 inner each) for DLG/iDLG.
    seed : int
        Noise, masks and the dummy initialisation.

    Returns
    -------
    InversionResult

    Examples
    --------
    >>> from fltheory.fl import models, compressors
    >>> m = models.mlp(16, 3, hidden=(8,)); p = m.init(seed=0); x = torch.rand(16, generator=torch.Generator().manual_seed(0))
    >>> noisy = invert_gradient(m, p, x, 0, clip=1.0, noise_multiplier=1.0)
    >>> clean = invert_gradient(m, p, x, 0, clip=1.0)
    >>> clean.mse < 1e-10 < noisy.mse
    True
    """
    method = check_choice("method", method, METHODS)
    distance = check_choice("distance", distance, ("auto", "l2", "cosine"))
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    if clip is not None:
        clip = check_positive("clip", clip)
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        raise ValueError(f"x must be one input tensor (no batch dimension), got {x!r}")
    xb = x.unsqueeze(0).float()
    yb = torch.as_tensor([int(y)])
    g, mask = observed_gradient(model, params, xb, yb, clip=clip, noise_multiplier=z,
                                compressor=compressor, seed=seed)
    details: dict = {"sent_fraction": float(mask.double().mean())}
    if method == "analytic":
        xh, frac = analytic_reconstruction(model, g, mask)
        xh = xh.reshape(xb.shape[1:])
        lab = infer_label(model, g, mask)
        details["recovered_fraction"] = frac
    else:
        scale = 1.0
        if compressor is not None and getattr(compressor, "name", "") == "randk" and \
                getattr(compressor, "scale", False):
            scale = g.numel() / min(compressor.k, g.numel())
        dist = distance
        if dist == "auto":
            dist = "cosine" if (clip is not None or scale != 1.0) else "l2"
        label = None
        if method == "idlg":
            label = infer_label(model, g, mask)
            details["label_inferred"] = label is not None
        xh, lab, final, it = gradient_matching(model, params, g, tuple(xb.shape[1:]),
                                               label=label, mask=mask, distance=dist,
                                               scale=scale, steps=steps, seed=seed)
        details.update({"distance": dist, "final_distance": final, "iterations": it})
    xr = xh.clamp(0.0, 1.0).numpy()
    xt = xb[0].numpy()
    e = mse(xt, xr)
    return InversionResult(method, _defence_name(clip, z, compressor), xt, xr, int(y),
                           lab, e, psnr(xt, xr), _REFS[method], details)


def inversion_experiment(*, model: str = "mlp", hidden: int = 32, examples: Sequence[int] = (0,),
                         methods: Sequence[str] = ("analytic", "idlg"),
                         defences: Sequence[dict] | None = None, steps: int = 30,
                         seed: int = 0) -> list[InversionResult]:
    """Every method against every defence on digits images (8×8, [0, 1]).

    ``defences`` is a list of keyword dicts for :func:`invert_gradient` (``clip``,
    ``noise_multiplier``, ``compressor`` as ``("topk", {"k": 200})``); the default is none,
    DP with C = 1 and z ∈ {0.01, 0.1}, top-k and rand-k keeping 10 % of the coordinates.

    Examples
    --------
    >>> res = inversion_experiment(methods=("analytic",), defences=[{}], steps=1)
    >>> res[0].defence, res[0].mse < 1e-10
    ('none', True)
    """
    from fltheory.fl import compressors, data

    model = check_choice("model", model, ("mlp", "logreg"))
    ds = data.digits(num_clients=1, seed=seed)
    net = (_models.mlp(64, 10, hidden=(hidden,), activation="tanh") if model == "mlp"
           else _models.logistic_regression(64, 10))
    params = net.init(seed=seed, scheme="uniform")
    d = net.num_params
    if defences is None:
        k = max(1, d // 10)
        defences = [{}, {"clip": 1.0, "noise_multiplier": 0.01},
                    {"clip": 1.0, "noise_multiplier": 0.1},
                    {"compressor": ("topk", {"k": k})}, {"compressor": ("randk", {"k": k})}]
    out = []
    for i in examples:
        x, y = ds.x_test[int(i)], int(ds.y_test[int(i)])
        for dfn in defences:
            kw = dict(dfn)
            if isinstance(kw.get("compressor"), tuple):
                name, ckw = kw["compressor"]
                kw["compressor"] = compressors.get(name, **ckw)
            for meth in methods:
                r = invert_gradient(net, params, x, y, method=meth, steps=steps, seed=seed, **kw)
                r.details["example"] = int(i)
                out.append(r)
    return out
