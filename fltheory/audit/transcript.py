r"""Transcripts of FedAvg runs for the leakage attacks, and a tabular task with a planted attribute.

The leakage attacks
(:mod:`~fltheory.audit.source_inference`, :mod:`~fltheory.audit.attribute_inference`,
:mod:`~fltheory.audit.eavesdropper`, :mod:`~fltheory.audit.passive_mia`) need what an honest-but-
curious server or an eavesdropper *sees*: the global model of every round and every client's
message.  :class:`Transcript` is that view, read from an engine run (:func:`fltheory.fl.simulate` with
``record_messages=True``; :meth:`Transcript.from_run`); :func:`run_fedavg` runs the engine on a
tabular task, all clients every round, full-batch or Poisson local batches, optional
record-level DP-SGD inside the clients through the one release mechanism (the mechanism of
:func:`fltheory.accounting.local_dp_sgd`) and an optional compressor on the message.

The local objective is :math:`F_k(\theta) = \frac1{m}\sum_{i}\ell(\theta; z_i) +
\frac{\lambda}{2}\lVert\theta\rVert^2`; the ridge term keeps the local optimum finite on separable
data, which the eavesdropper's reconstruction targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._checks import (check_int, check_nonnegative, check_open_unit, check_positive,
                       check_probability)
from ..fl import models as _models

__all__ = ["SensitiveTabular", "sensitive_tabular", "Transcript", "run_fedavg", "local_optimum",
           "glm_logits", "glm_correct", "glm_losses"]


@dataclass(frozen=True)
class SensitiveTabular:
    """A federated binary-classification task whose last feature is a planted sensitive bit.

    Attributes
    ----------
    x, y : torch.Tensor
        Training records ``(n, m, p)`` and labels ``(n, m)``; ``x[..., sensitive_index]`` is the
        sensitive attribute ``s`` in ``{0, 1}``.
    x_out, y_out : torch.Tensor
        Held-out records of the same clients' distributions ``(n, m_out, p)`` (non-members).
    sensitive_index : int
        Column of ``s``.
    effect : torch.Tensor
        Per-client effect :math:`\\beta_k` of ``s`` on the label logit (ground truth).
    seed : int
    """

    x: torch.Tensor
    y: torch.Tensor
    x_out: torch.Tensor
    y_out: torch.Tensor
    sensitive_index: int
    effect: torch.Tensor
    seed: int

    @property
    def num_clients(self) -> int:
        return int(self.x.shape[0])

    @property
    def sensitive(self) -> torch.Tensor:
        return self.x[..., self.sensitive_index]

    def model(self) -> _models.GeneralizedLinearModel:
        """Binary logistic regression over all ``p`` features (``s`` included)."""
        return _models.logistic_regression(int(self.x.shape[-1]), 2)


def sensitive_tabular(num_clients: int = 10, samples_per_client: int = 20, dim: int = 8, *,
                      held_out: int | None = None, sensitive_rate: float = 0.4,
                      sensitive_effect: float = 3.0, client_specific: bool = True,
                      client_shift: float = 1.0, label_noise: float = 0.0,
                      signal: float = 1.0, seed: int = 0) -> SensitiveTabular:
    r"""Synthetic tabular FL task with a planted binary sensitive attribute.

    Client :math:`k` draws :math:`x \sim \mathcal N(\mu_k, I_{dim})` with
    :math:`\mu_k \sim \mathcal N(0, \text{client\_shift}^2 I)`, :math:`s \sim
    \mathrm{Bernoulli}(\text{sensitive\_rate})` and :math:`y \sim \mathrm{Bernoulli}(\sigma(w^\top x
    + \beta_k (2s - 1)))` with a shared :math:`w \sim \mathcal N(0, \text{signal}^2 I/dim)` and
    :math:`\beta_k = \pm\,\text{sensitive\_effect}` (a random sign per client if
    ``client_specific``, else ``+``); a fraction ``label_noise`` of labels is then flipped.  The
    model input is ``[x, s]`` (``p = dim + 1``).

    Examples
    --------
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=5, dim=4, seed=1)
    >>> tuple(task.x.shape), task.sensitive_index
    ((3, 5, 5), 4)
    >>> bool(((task.sensitive == 0) | (task.sensitive == 1)).all())
    True
    """
    n = check_int("num_clients", num_clients, minimum=2)
    m = check_int("samples_per_client", samples_per_client, minimum=2)
    d = check_int("dim", dim, minimum=1)
    m_out = m if held_out is None else check_int("held_out", held_out, minimum=1)
    rho = check_open_unit("sensitive_rate", sensitive_rate)
    beta = check_nonnegative("sensitive_effect", sensitive_effect)
    shift = check_nonnegative("client_shift", client_shift)
    noise = check_nonnegative("label_noise", label_noise)
    sig = check_nonnegative("signal", signal)
    if noise >= 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5), got {label_noise}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    w = rng.normal(0.0, 1.0 / math.sqrt(d), size=d) * sig
    mu = rng.normal(0.0, shift, size=(n, 1, d)) if shift > 0 else np.zeros((n, 1, d))
    sign = rng.choice([-1.0, 1.0], size=n) if client_specific else np.ones(n)
    if client_specific and n >= 2:  # both signs present, so no global model can invert s
        sign[0], sign[1] = 1.0, -1.0
    eff = beta * sign

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        x = mu + rng.normal(size=(n, count, d))
        s = (rng.random((n, count)) < rho).astype(float)
        logit = x @ w + eff[:, None] * (2 * s - 1)
        y = (rng.random((n, count)) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
        flip = rng.random((n, count)) < noise
        y = np.where(flip, 1.0 - y, y)
        return np.concatenate([x, s[..., None]], axis=-1), y

    x, y = draw(m)
    xo, yo = draw(m_out)
    f = torch.get_default_dtype()
    return SensitiveTabular(torch.tensor(x, dtype=f), torch.tensor(y, dtype=f),
                            torch.tensor(xo, dtype=f), torch.tensor(yo, dtype=f), d,
                            torch.tensor(eff, dtype=f), int(seed))


@dataclass(frozen=True)
class Transcript:
    """What a curious server (or an eavesdropper on every client) saw during a FedAvg run.

    Attributes
    ----------
    global_params : torch.Tensor, shape (T + 1, d)
        :math:`\\theta_0, \\dots, \\theta_T`.
    messages : torch.Tensor, shape (T, n, d)
        Client :math:`k`'s message of round :math:`t`, the (noised, compressed) model difference
        :math:`\\Delta_k^t`; its local model is :math:`\\theta_t + \\Delta_k^t`.
    lr, local_steps, l2, clip, noise_multiplier, batch_rate : training recipe (public).
    epsilon : float
        Record-level ε of the run at ``delta`` (:func:`fltheory.accounting.local_dp_sgd`);
        ``inf`` without noise.
    delta : float
    defense : str
        Compressor applied to the messages and mixup, if any (``"none"`` if neither).
    seed : int
    """

    global_params: torch.Tensor
    messages: torch.Tensor
    lr: float
    local_steps: int
    l2: float
    clip: float | None
    noise_multiplier: float
    batch_rate: float
    epsilon: float
    delta: float
    defense: str
    seed: int

    @property
    def rounds(self) -> int:
        return int(self.messages.shape[0])

    @property
    def num_clients(self) -> int:
        return int(self.messages.shape[1])

    @classmethod
    def from_run(cls, run: Any) -> "Transcript":
        r"""The transcript of an engine run (``simulate(config, record_messages=True)``).

        Needs every client in every round (``training.client_sampling = "all"``).  The public
        recipe is read from the configuration: learning rate, local steps, batch sampling rate
        (``privacy.batch_rate``, 1 for full batches), record-level clipping and noise
        multiplier, and the ridge term ``training.weight_decay``.  ε is the run's guarantee
        (``inf`` without DP).  The attacks that replay local training (gradient attribute
        inference) replay full-batch steps, so their replay is approximate for mini-batch runs.

        Examples
        --------
        >>> from fltheory.fl import simulate
        >>> run = simulate({"data": {"name": "synthetic_logistic", "num_clients": 3,
        ...                 "samples_per_client": 20, "dim": 4}, "model": {"name": "logreg"},
        ...                 "training": {"rounds": 3}, "run": {"progress": False}},
        ...                record_messages=True)
        >>> tr = Transcript.from_run(run)
        >>> tr.rounds, tr.num_clients, tr.local_models().shape[-1]
        (3, 3, 5)
        """
        log = getattr(run, "messages", None)
        if log is None:
            raise ValueError("run has no message log: call simulate(config, "
                             "record_messages=True)")
        cfg = run.config
        tr, pv = cfg.training, cfg.privacy
        rec = pv.level == "record"
        q = 1.0 if tr.batch_sampling == "full" or pv.batch_rate is None else float(pv.batch_rate)
        g = run.guarantee
        return cls(log.global_params, log.dense(), float(tr.lr), int(tr.local_steps),
                   float(tr.weight_decay),
                   float(pv.clip) if rec else None, float(pv.noise_multiplier) if rec else 0.0,
                   q, math.inf if g is None else float(g.epsilon), float(pv.delta),
                   str(run.info.get("compressor") or "none"), int(cfg.seed))

    def local_models(self) -> torch.Tensor:
        """``(T, n, d)``: :math:`\\theta_t + \\Delta_k^t`, the local models the server rebuilds."""
        return self.global_params[:-1, None, :] + self.messages

    @property
    def final(self) -> torch.Tensor:
        return self.global_params[-1]


def glm_logits(model: _models.GeneralizedLinearModel, params: torch.Tensor,
               x: torch.Tensor) -> torch.Tensor:
    """Logits ``(..., B)`` of a one-logit GLM; ``params`` ``(..., d)`` broadcasts against ``x``."""
    w, b = model._split(params)
    return (torch.matmul(x.to(params.dtype), w.transpose(-1, -2)) + b.unsqueeze(-2)).squeeze(-1)


def glm_correct(model: _models.GeneralizedLinearModel, params: torch.Tensor, x: torch.Tensor,
                y: torch.Tensor) -> int:
    """Number of records ``x`` ``(..., B, p)`` whose label ``y`` the sign of the logit predicts.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(1, 2)
    >>> glm_correct(m, torch.tensor([1.0, 0.0]), torch.tensor([[2.0], [-1.0], [3.0]]),
    ...             torch.tensor([1.0, 0.0, 0.0]))
    2
    """
    with torch.no_grad():
        return int(((glm_logits(model, params, x) > 0).to(y.dtype) == y).sum())


def glm_losses(model: _models.GeneralizedLinearModel, params: torch.Tensor, x: torch.Tensor,
               y: torch.Tensor) -> torch.Tensor:
    """Per-record losses; ``params`` ``(..., d)`` broadcasts against ``x`` ``(..., B, p)``."""
    z = glm_logits(model, params, x)
    if model.loss_name == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(
            z, y.to(z.dtype).expand_as(z), reduction="none")
    raise ValueError(f"model must be binary logistic regression, got loss {model.loss_name!r}")


def _local_grad(model, params, x, y, mask, clip, l2):
    """Sum of (clipped when ``clip``) per-record gradients of the masked records, per client.

    ``params`` ``(n, d)``, ``x`` ``(n, m, p)``, ``mask`` ``(n, m)``; the ridge term is not included.
    """
    r, xf = model.residuals(params, x, y)                        # (n, m, 1), (n, m, p)
    r = r * mask.unsqueeze(-1)
    if clip is not None:
        # sqrt(.. + tiny): finite derivative at r = 0 (the gradient attack differentiates this)
        norms = torch.sqrt((r * r).sum(-1) + 1e-30) * torch.sqrt((xf * xf).sum(-1) + 1.0)
        r = r * torch.clamp(clip / norms, max=1.0).unsqueeze(-1)
    gw = torch.matmul(r.transpose(-1, -2), xf).flatten(-2)
    g = torch.cat([gw, r.sum(-2)], dim=-1)
    return g


def run_fedavg(model: _models.GeneralizedLinearModel, x: torch.Tensor, y: torch.Tensor, *,
               rounds: int = 30, local_steps: int = 1, lr: float = 0.5, l2: float = 1e-2,
               batch_rate: float = 1.0, clip: float | None = None, noise_multiplier: float = 0.0,
               compressor: Any = None, mixup: float = 0.0, delta: float = 1e-5,
               seed: int = 0) -> Transcript:
    r"""FedAvg over all clients on the engine (:func:`fltheory.fl.simulate`), every message
    recorded (see :class:`Transcript`).

    The recipe, as an :class:`~fltheory.config.ExperimentConfig` run on the data ``(x, y)``:
    every client, every round, starts from :math:`\theta_t` and runs ``local_steps`` gradient
    steps on :math:`F_k` (ridge ``l2`` = ``training.weight_decay``; Poisson batches at
    ``batch_rate``); with ``noise_multiplier > 0`` each step is record-level DP-SGD through the
    one release mechanism (:class:`fltheory.fl.release.Release`: per-record clipping to
    ``clip``, :math:`\mathcal N(0, (zC)^2 I)` on the sum, division by the expected batch size
    :math:`q m`).  The message :math:`\Delta_k^t` is compressed by ``compressor`` if given (after
    the noise: post-processing; an :class:`~fltheory.fl.compressors.ErrorFeedback` compressor
    keeps one residual per client).  The server averages.

    With ``mixup = α > 0`` (no noise) every local step trains on mixed records (the engine's
    mixup, :func:`fltheory.fl.mixup.mix_batch`).  ``model`` must be the binary logistic
    regression of the data (:meth:`SensitiveTabular.model`).

    Examples
    --------
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=10, dim=3, seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=4, seed=0)
    >>> tuple(tr.messages.shape), tr.epsilon
    ((4, 3, 5), inf)
    """
    from ..config import ExperimentConfig
    from ..fl import data as _data
    from ..fl import simulate

    T = check_int("rounds", rounds, minimum=1)
    E = check_int("local_steps", local_steps, minimum=1)
    lr = check_positive("lr", lr)
    l2 = check_nonnegative("l2", l2)
    q = check_probability("batch_rate", batch_rate)
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    delta = check_open_unit("delta", delta)
    seed = check_int("seed", seed, minimum=0)
    alpha = check_nonnegative("mixup", mixup)
    if alpha > 0 and z > 0:
        raise ValueError("mixup must be 0 when noise_multiplier > 0 (the transcript's epsilon "
                         f"would not describe the mixed mechanism), got mixup={mixup}")
    if z > 0 and clip is None:
        raise ValueError("clip must be given (> 0) when noise_multiplier > 0, got None")
    if z == 0 and clip is not None:
        raise ValueError(f"clip={clip} needs noise_multiplier > 0: clipping belongs to the DP "
                         "release (per-record clipping, then noise)")
    if x.dim() != 3 or y.shape != x.shape[:2]:
        raise ValueError(f"x must be (n, m, p) and y (n, m), got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if not isinstance(model, _models.GeneralizedLinearModel) or model.loss_name != "bce":
        raise ValueError(f"model must be binary logistic regression, got {model!r}")
    n, m, p = (int(s) for s in x.shape)
    privacy = ({"level": "record", "batch_rate": q, "clip": check_positive("clip", clip),
                "noise_multiplier": z, "delta": delta} if z > 0 else
               {"level": "none", "batch_rate": q, "delta": delta})
    cfg = ExperimentConfig.from_dict({
        "name": "fedavg-transcript", "seed": seed,
        "data": {"name": "synthetic_logistic", "num_clients": n, "samples_per_client": m,
                 "dim": p},
        "model": {"name": "logreg"},
        "training": {"rounds": T, "local_steps": E, "lr": lr, "weight_decay": l2,
                     "batch_sampling": "poisson" if (q < 1.0 or z > 0) else "full"},
        "privacy": privacy,
        "mixup": {"enabled": alpha > 0, "alpha": alpha if alpha > 0 else 0.4},
        "run": {"progress": False, "eval_every": T}})
    ds = _data.FederatedDataset(list(x), list(y.long()), x.reshape(n * m, p),
                                y.reshape(n * m).long(), task="classification", num_classes=2,
                                name="transcript")
    run = simulate(cfg, dataset=ds, record_messages=True, compressor=compressor)
    tr = Transcript.from_run(run)
    return Transcript(tr.global_params, tr.messages, lr, E, l2, tr.clip, z, q, tr.epsilon,
                      delta, _defense_label(compressor, alpha), seed)


def _defense_label(compressor: Any, alpha: float) -> str:
    parts = ([] if compressor is None else [repr(compressor)]) + (
        [f"mixup(alpha={alpha:g})"] if alpha > 0 else [])
    return " + ".join(parts) or "none"



def local_optimum(model: _models.GeneralizedLinearModel, x: torch.Tensor, y: torch.Tensor, *,
                  l2: float = 1e-2, steps: int = 200) -> torch.Tensor:
    r"""Minimiser of every client's :math:`F_k` (Newton's method, batched): ``(n, d)``.

    Examples
    --------
    >>> task = sensitive_tabular(num_clients=2, samples_per_client=10, dim=2, seed=0)
    >>> local_optimum(task.model(), task.x, task.y).shape
    torch.Size([2, 4])
    """
    l2 = check_positive("l2", l2)
    n, m, p = x.shape
    xa = torch.cat([x, torch.ones(n, m, 1, dtype=x.dtype)], dim=-1)   # (n, m, d)
    theta = torch.zeros(n, p + 1, dtype=x.dtype)
    eye = torch.eye(p + 1, dtype=x.dtype)
    for _ in range(steps):
        pr = torch.sigmoid(torch.einsum("nmd,nd->nm", xa, theta))
        g = torch.einsum("nm,nmd->nd", pr - y, xa) / m + l2 * theta
        w = pr * (1 - pr)
        H = torch.einsum("nm,nmd,nme->nde", w, xa, xa) / m + l2 * eye
        step = torch.linalg.solve(H, g.unsqueeze(-1)).squeeze(-1)
        theta = theta - step
        if float(step.abs().max()) < 1e-10:
            break
    return theta
