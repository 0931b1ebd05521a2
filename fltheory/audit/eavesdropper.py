r"""Local model reconstruction by an eavesdropper, and attribute inference with it.

Threat model: a passive eavesdropper on one client's link (or a curious server) records the
pairs :math:`(\theta_t, \Delta_k^t)` of every round: the global model it received and the message
it sent.  It knows the learning rate and the number of local steps (public recipe) but none of
the client's data.  It wants the client's *local* model :math:`\theta_k^\star =
\arg\min F_k` -- the model the client would train alone, which reveals far more about its data
than the global model (Xu & Neglia, 2021).

Reconstruction (what is implemented).  One local step of size :math:`\eta` gives
:math:`\Delta_k^t = -\eta\nabla F_k(\theta_t)`; with :math:`E` steps,
:math:`-\Delta_k^t / (\eta E)` approximates the gradient.  Near its minimiser :math:`F_k` is
quadratic, :math:`\nabla F_k(\theta) \approx H_k(\theta - \theta_k^\star)`, so the eavesdropper
fits the affine map :math:`g \approx A\theta + c` by ridge least squares on the observed pairs
(last ``window`` rounds), symmetrises :math:`A` and returns the zero of the fitted map,
:math:`\hat\theta_k = -A^{-1}c`, with :math:`A` shrunk (ridge, weight ``ridge``) toward
:math:`aI`, :math:`a` the secant (Barzilai–Borwein) curvature of the pairs, so that directions the
global trajectory never explored fall back to a gradient step of length :math:`1/a`.
Metrics: the distance
:math:`\lVert\hat\theta_k - \theta_k^\star\rVert` against the trivial estimate (the last global
model) and the accuracy of :math:`\hat\theta_k` on the client's data; then
:func:`~fltheory.audit.attribute_inference.model_attribute_inference` on :math:`\hat\theta_k`.

Relation to the papers.  This follows public sources other than Xu & Neglia (2021)'s
text: the later public code of the same group (``fedkit-learn``, AAAI'25) fits an affine map from the global model to
the client's pseudo-gradient by least squares and returns its zero -- the core of the method
above.  Two choices are ours: symmetrising :math:`A` (exact for gradient steps on a quadratic,
where the :math:`E`-step map is a polynomial in :math:`H_k`) and the shrinkage toward
:math:`aI` (their linear-model script instead picks the best-conditioned :math:`d + 1` rounds);
the shrinkage biases the zero when the trajectory explores few directions, and makes the fit
usable when it explores fewer than :math:`d + 1`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_nonnegative, check_open_unit
from . import stats as _stats
from .transcript import Transcript, glm_correct

__all__ = ["ReconstructionResult", "reconstruct_local_models", "eavesdropper_attack"]


@dataclass(frozen=True)
class ReconstructionResult:
    """Quality of the eavesdropper's reconstructed local models, next to the trivial estimate.

    Attributes
    ----------
    distance : float
        Mean over clients of :math:`\\lVert\\hat\\theta_k - \\theta_k^\\star\\rVert_2`.
    baseline_distance : float
        Same for the trivial estimate, the last global model.
    accuracy : float
        Accuracy of :math:`\\hat\\theta_k` on client :math:`k`'s records, pooled over clients.
    ci : tuple of float
        Clopper–Pearson interval of ``accuracy``.
    baseline_accuracy : float
        Accuracy of the last global model on the same records.
    optimum_accuracy : float
        Accuracy of the true local models :math:`\\theta_k^\\star` (the attack's ceiling).
    trials : int
    epsilon : float
        Record-level ε of the run (``inf`` without DP), for context.
    confidence : float
    """

    distance: float
    baseline_distance: float
    accuracy: float
    ci: tuple[float, float]
    baseline_accuracy: float
    optimum_accuracy: float
    trials: int
    epsilon: float
    confidence: float

    @property
    def closer_than_baseline(self) -> bool:
        return self.distance < self.baseline_distance

    def to_dict(self) -> dict:
        return asdict(self)


def reconstruct_local_models(transcript: Transcript, *, window: int | None = None,
                             ridge: float = 1e-3) -> torch.Tensor:
    r"""Reconstruct every client's local optimum from its messages: ``(n, d)``.

    Parameters
    ----------
    transcript : Transcript
        Pairs :math:`(\theta_t, \Delta_k^t)` and the public ``lr``, ``local_steps``.
    window : int, optional
        Number of last rounds used (default all).
    ridge : float
        Weight of the shrinkage of :math:`A` toward :math:`aI` (relative to the spread of the
        observed global models); larger trusts the secant curvature more.

    References
    ----------
    C. Xu, G. Neglia (2021). What else is leaked when eavesdropping federated learning?
    PPML workshop at CCS 2021.
    I. Driouich, C. Xu, G. Neglia, F. Giroire, E. Thomas (2022). A novel model-based attribute
    inference attack in federated learning. FL-NeurIPS'22 workshop.  Same authors, extended:
    Local model reconstruction attacks in federated learning and their uses, arXiv:2210.16205
    (abstract read; full text not checked).

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, run_fedavg, local_optimum
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=40, dim=3, seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=30, lr=0.5)
    >>> rec = reconstruct_local_models(tr)
    >>> opt = local_optimum(task.model(), task.x, task.y)
    >>> bool((rec - opt).norm(dim=1).mean() < (tr.final - opt).norm(dim=1).mean())
    True
    """
    T = transcript.rounds
    w = T if window is None else check_int("window", window, minimum=2, maximum=T)
    lam = check_nonnegative("ridge", ridge)
    theta = transcript.global_params[T - w:T].double()                    # (w, d)
    g = (-transcript.messages[T - w:T] / (transcript.lr * transcript.local_steps)).double()
    w_, d = theta.shape
    center = theta.mean(0)
    tc = theta - center
    X = torch.cat([tc, torch.ones(w_, 1, dtype=theta.dtype)], dim=1)          # (w, d+1)
    scale = float((tc ** 2).sum() / w_) + 1e-12
    reg = lam * scale * torch.eye(d + 1, dtype=X.dtype) * w_
    reg[d, d] = 0.0
    XtX = X.T @ X + reg
    dth = tc[1:] - tc[:-1]
    out = []
    for k in range(transcript.num_clients):
        gk = g[:, k, :]
        # scalar curvature (secant / Barzilai-Borwein) as the shrinkage target of A
        dg = gk[1:] - gk[:-1]
        a = float((dth * dg).sum() / (dth * dth).sum().clamp(min=1e-12))
        a = a if np.isfinite(a) and a > 0 else 1.0 / transcript.lr
        coef = torch.linalg.solve(XtX, X.T @ (gk - a * tc))    # (d+1, d): rows B^T, c
        A = a * torch.eye(d, dtype=X.dtype) + 0.5 * (coef[:d] + coef[:d].T)
        c = coef[d]
        # g(theta) = A (theta - center) + c = 0  ->  theta = center - A^{-1} c
        est = center - torch.linalg.lstsq(A, c.unsqueeze(-1)).solution.squeeze(-1)
        if not bool(torch.isfinite(est).all()):
            est = transcript.final.double()
        out.append(est)
    return torch.stack(out).to(transcript.global_params.dtype)


def eavesdropper_attack(model: Any, transcript: Transcript, x: torch.Tensor, y: torch.Tensor,
                        optimum: torch.Tensor, *, window: int | None = None, ridge: float = 1e-3,
                        confidence: float = 0.95) -> tuple[ReconstructionResult, torch.Tensor]:
    r"""Reconstruct the local models and score them against the true local optima.

    Parameters
    ----------
    model : GeneralizedLinearModel
    transcript : Transcript
    x, y : torch.Tensor
        The clients' records ``(n, m, p)`` and labels (used only to *evaluate* the attack).
    optimum : torch.Tensor
        ``(n, d)`` true local optima (:func:`fltheory.audit.transcript.local_optimum`).
    window, ridge
        See :func:`reconstruct_local_models`.

    Returns
    -------
    (ReconstructionResult, torch.Tensor)
        The metrics and the reconstructed models ``(n, d)`` (feed them to
        :func:`~fltheory.audit.attribute_inference.model_attribute_inference`).

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, run_fedavg, local_optimum
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=40, dim=3, seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=30, lr=0.5)
    >>> opt = local_optimum(task.model(), task.x, task.y)
    >>> res, rec = eavesdropper_attack(task.model(), tr, task.x, task.y, opt)
    >>> res.closer_than_baseline
    True
    """
    conf = check_open_unit("confidence", confidence)
    rec = reconstruct_local_models(transcript, window=window, ridge=ridge)
    trials = int(y.numel())
    correct = glm_correct(model, rec, x, y)
    lo, hi = _stats.clopper_pearson(correct, trials, conf)
    res = ReconstructionResult(
        float((rec - optimum).norm(dim=1).mean()),
        float((transcript.final - optimum).norm(dim=1).mean()),
        correct / trials, (float(lo), float(hi)),
        glm_correct(model, transcript.final, x, y) / trials,
        glm_correct(model, optimum, x, y) / trials, trials, transcript.epsilon, conf)
    return res, rec
