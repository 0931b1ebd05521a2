r"""Attribute inference in FL: a sensitive feature of a client's records from its messages.

Threat model: an honest-but-curious server knows, for each record of a target client, every
feature except a binary sensitive one :math:`s` (and the label), the architecture, the public
training recipe (learning rate, local steps, clipping) and the client's messages.  It infers
:math:`s` for every record.  The trivial baseline guesses the majority value of :math:`s`
(accuracy :math:`\max(\rho, 1-\rho)`, AUC 1/2).

Two attacks, following the taxonomy of Driouich, Xu, Neglia et al. (2022):

* **gradient-based** (:func:`gradient_attribute_inference`): relax :math:`s_i \in [0, 1]`
  (:math:`s_i = \mathrm{sigmoid}(u_i)`), simulate the client's local training from the global
  model on the candidate records (same recipe, clipping included, no noise) and choose :math:`u`
  to maximise the cosine similarity between the simulated and the observed messages over the
  observed rounds; predict :math:`\hat s_i = \mathbb 1[s_i > 1/2]`, score :math:`s_i`;
* **model-based** (:func:`model_attribute_inference`): given a model of the client (its last
  local model :math:`\theta_t + \Delta_k^t`, the global model, or a model reconstructed by an
  eavesdropper, :mod:`fltheory.audit.eavesdropper`), predict the value of :math:`s` that gives the
  record the smaller loss; score :math:`\ell(\theta; x, s{=}0, y) - \ell(\theta; x, s{=}1, y)`.

Driouich et al. report that the model-based attack on a good estimate of the client's *local*
model is the stronger one; here a task with client-specific effects of :math:`s`
(:func:`~fltheory.audit.transcript.sensitive_tabular` with ``client_specific=True``) makes the
global model useless for the attack while local models reveal :math:`s`.

What was implemented, and how it relates to the papers (this implementation follows public
sources other than the papers' full texts: the abstract of arXiv:2210.16205 and later public code of the same group,
``fedkit-learn``, were available): the model-based rule is the one in that code (the attribute
value with the lower loss; for a binary attribute encoded 0/1).  Their gradient-based attack
(after Lyu & Chen 2021) compares *one* gradient at :math:`\theta_t` with the update, with a
Gumbel-softmax relaxation; ours replays the client's :math:`E` local steps (clipping included),
which coincides with it for :math:`E = 1` up to the relaxation, and is more faithful to FedAvg
messages for :math:`E > 1`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_open_unit, check_positive
from . import stats as _stats
from .transcript import Transcript, _local_grad, glm_losses

__all__ = ["AttributeInferenceResult", "gradient_attribute_inference",
           "model_attribute_inference", "summarize_attribute_guesses"]


@dataclass(frozen=True)
class AttributeInferenceResult:
    """Accuracy (Clopper–Pearson interval) and AUC of attribute inference vs the majority guess.

    Attributes
    ----------
    accuracy : float
    ci : tuple of float
        Two-sided Clopper–Pearson interval of the accuracy.
    auc : float
        Area under the ROC curve of the attack's score (1/2 for a blind guess).
    baseline : float
        Majority-guess accuracy :math:`\\max(\\bar s, 1 - \\bar s)` on the attacked records.
    correct, trials : int
    method : str
    epsilon : float
        Record-level ε of the run (``inf`` without DP), for context.
    confidence : float
    """

    accuracy: float
    ci: tuple[float, float]
    auc: float
    baseline: float
    correct: int
    trials: int
    method: str
    epsilon: float
    confidence: float

    @property
    def beats_baseline(self) -> bool:
        """True when the whole accuracy interval lies above the majority baseline."""
        return self.ci[0] > self.baseline

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_attribute_guesses(scores: Any, truth: Any, *, method: str, epsilon: float = np.inf,
                                confidence: float = 0.95, threshold: float = 0.0
                                ) -> AttributeInferenceResult:
    """Attack scores (higher = more likely ``s = 1``) -> :class:`AttributeInferenceResult`.

    Examples
    --------
    >>> r = summarize_attribute_guesses([2.0, -1.0, 0.5, -3.0], [1, 0, 1, 0], method="toy")
    >>> r.accuracy, r.auc, r.baseline
    (1.0, 1.0, 0.5)
    """
    conf = check_open_unit("confidence", confidence)
    s = np.asarray(scores, dtype=float).ravel()
    t = np.asarray(truth, dtype=float).ravel().astype(bool)
    if s.shape != t.shape:
        raise ValueError(f"scores and truth must have the same size, got {s.size} and {t.size}")
    correct = int(((s > threshold) == t).sum())
    trials = int(t.size)
    lo, hi = _stats.clopper_pearson(correct, trials, conf)
    rate = float(t.mean())
    auc = _stats.roc_auc(s, t) if 0 < t.sum() < t.size else float("nan")
    return AttributeInferenceResult(correct / trials, (float(lo), float(hi)), auc,
                                    max(rate, 1.0 - rate), correct, trials, method,
                                    float(epsilon), conf)


def _with_s(x: torch.Tensor, index: int, value: Any) -> torch.Tensor:
    out = x.clone()
    out[..., index] = value
    return out


def model_attribute_inference(model: Any, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                              sensitive_index: int, *, epsilon: float = np.inf,
                              confidence: float = 0.95) -> AttributeInferenceResult:
    r"""Model-based attribute inference: the value of :math:`s` with the smaller loss.

    Parameters
    ----------
    model : GeneralizedLinearModel
    params : torch.Tensor
        ``(n, d)``: one model per client (e.g. ``transcript.local_models()[-1]`` or an
        eavesdropper's reconstruction), or ``(d,)``: one model for all.
    x, y : torch.Tensor
        Records ``(n, m, p)`` (the true ``s`` is read from column ``sensitive_index`` as ground
        truth and *replaced* by 0 and 1 for the attack) and labels ``(n, m)``.
    sensitive_index : int

    References
    ----------
    I. Driouich, C. Xu, G. Neglia, F. Giroire, E. Thomas (2022). A novel model-based attribute
    inference attack in federated learning. FL-NeurIPS'22 workshop.  Same authors, extended:
    Local model reconstruction attacks in federated learning and their uses, arXiv:2210.16205
    (abstract read; full text not checked).

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, local_optimum
    >>> task = sensitive_tabular(num_clients=4, samples_per_client=40, dim=3, seed=0)
    >>> opt = local_optimum(task.model(), task.x, task.y)
    >>> r = model_attribute_inference(task.model(), opt, task.x, task.y, task.sensitive_index)
    >>> r.beats_baseline
    True
    """
    idx = check_int("sensitive_index", sensitive_index, minimum=0, maximum=int(x.shape[-1]) - 1)
    p = params if params.dim() == 2 else params.expand(x.shape[0], -1)
    with torch.no_grad():
        l0 = glm_losses(model, p, _with_s(x, idx, 0.0), y)
        l1 = glm_losses(model, p, _with_s(x, idx, 1.0), y)
    return summarize_attribute_guesses((l0 - l1).numpy(), x[..., idx].numpy(), method="model",
                                       epsilon=epsilon, confidence=confidence)


def _simulate(model, theta, x, y, lr, steps, l2, clip):
    n, m = int(x.shape[0]), int(x.shape[1])
    local = theta.expand(n, -1).clone()
    mask = torch.ones(n, m, dtype=x.dtype)
    for _ in range(steps):
        g = _local_grad(model, local, x, y, mask, clip, l2)
        local = local - lr * (g / m + l2 * local)
    return local - theta


def gradient_attribute_inference(model: Any, transcript: Transcript, x: torch.Tensor,
                                 y: torch.Tensor, sensitive_index: int, *, rounds: Any = None,
                                 iterations: int = 150, step_size: float = 0.1,
                                 confidence: float = 0.95, seed: int = 0
                                 ) -> AttributeInferenceResult:
    r"""Gradient-based attribute inference by matching the clients' messages.

    Minimises :math:`\sum_{t}\bigl(1 - \cos(\hat\Delta_k^t(s), \Delta_k^t)\bigr)` over the relaxed
    :math:`s \in [0,1]^m` of every client (Adam, ``iterations`` steps), where
    :math:`\hat\Delta_k^t(s)` replays the client's local training (full batch, the recipe's
    clipping, no noise) from :math:`\theta_t`.

    Parameters
    ----------
    model : GeneralizedLinearModel
    transcript : Transcript
    x, y : torch.Tensor
        The clients' records ``(n, m, p)`` (column ``sensitive_index`` is the ground truth, hidden
        from the attack) and labels.
    sensitive_index : int
    rounds : sequence of int, optional
        Rounds used (default the first 3).
    iterations, step_size : int, float
        Adam iterations and learning rate on the logits of :math:`s`.
    seed : int
        Initialisation of the logits.

    References
    ----------
    I. Driouich, C. Xu, G. Neglia, F. Giroire, E. Thomas (2022). A novel model-based attribute
    inference attack in federated learning. FL-NeurIPS'22 workshop.  Same authors, extended:
    Local model reconstruction attacks in federated learning and their uses, arXiv:2210.16205
    (abstract read; full text not checked).
    L. Lyu, C. Chen (2021). A novel attribute reconstruction attack in federated learning.
    FTL-IJCAI'21 workshop.

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, run_fedavg
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=6, dim=10, seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=2)
    >>> r = gradient_attribute_inference(task.model(), tr, task.x, task.y, task.sensitive_index,
    ...                                  iterations=100)
    >>> r.accuracy > r.baseline
    True
    """
    idx = check_int("sensitive_index", sensitive_index, minimum=0, maximum=int(x.shape[-1]) - 1)
    its = check_int("iterations", iterations, minimum=1)
    lr_a = check_positive("step_size", step_size)
    rounds = list(range(min(3, transcript.rounds))) if rounds is None else list(rounds)
    if not rounds:
        raise ValueError("rounds must not be empty")
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    u = (0.01 * torch.randn(x.shape[:2], generator=gen, dtype=x.dtype)).requires_grad_(True)
    opt = torch.optim.Adam([u], lr=lr_a)
    observed = [transcript.messages[t] for t in rounds]
    thetas = [transcript.global_params[t] for t in rounds]
    for _ in range(its):
        opt.zero_grad()
        xs = x.clone()
        xs[..., idx] = torch.sigmoid(u)
        loss = 0.0
        for th, obs in zip(thetas, observed):
            sim = _simulate(model, th, xs, y, transcript.lr, transcript.local_steps,
                            transcript.l2, transcript.clip)
            loss = loss + (1 - torch.nn.functional.cosine_similarity(sim, obs, dim=-1)).sum()
        loss.backward()
        opt.step()
    score = torch.sigmoid(u).detach() - 0.5
    return summarize_attribute_guesses(score.numpy(), x[..., idx].numpy(), method="gradient",
                                       epsilon=transcript.epsilon, confidence=confidence)
