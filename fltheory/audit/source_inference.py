r"""Source inference in FL: which client holds a record known to be in training.

Threat model: an honest-but-curious server (or an eavesdropper on every link) sees each client's
message :math:`\Delta_k^t` of every round and hence the local model
:math:`\theta_k^t = \theta_t + \Delta_k^t`.  It is given a record :math:`z` that it knows was used
in training and asks *whose* it is.  Following the Bayesian view of Hu et al. (2021), with a
uniform prior over the :math:`n` clients and the likelihood of :math:`z` under a local model
modelled as :math:`\exp(-\ell(\theta_k^t; z))`, the posterior of round :math:`t` is

.. math::

    P_t(k \mid z) = \frac{\exp(-\ell(\theta_k^t; z))}{\sum_j \exp(-\ell(\theta_j^t; z))},

and the attack sums the log-posteriors over the observed rounds and predicts
:math:`\hat k = \arg\max_k \sum_t \log P_t(k\mid z)` (equivalently the client with the smallest
total loss).  The trivial baseline is a uniform guess, accuracy :math:`1/n`.

What was implemented, and how it relates to the paper.  It follows public sources other than
the paper's full text (its abstract: "Bayesian perspective", "the prediction loss of local
models").  The
authors' public code (``HongshengHu/source-inference-FL``) decides *per round*: the client whose
uploaded local model gives the record the smallest loss -- the same decision as the posterior
above for one round -- and reports the best round in hindsight.  This module returns both: the
combined rule over all observed rounds (``accuracy``, our extension: summing the per-round
log-posteriors is the Bayes rule if the rounds' likelihoods are treated as independent) and the
one-round accuracies (``per_round_accuracy``, ``best_round_accuracy``, ``last_round_accuracy``),
so numbers can be compared with the paper's protocol.  For reference, the journal extension
reports 67.1 % against a 10 % baseline on its own tasks (Hu et al., IEEE TDSC 2023, abstract);
the tasks here are smaller and not comparable number for number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .._checks import check_int, check_open_unit
from . import stats as _stats
from .transcript import Transcript, glm_losses

__all__ = ["SourceInferenceResult", "source_inference", "source_posteriors"]


@dataclass(frozen=True)
class SourceInferenceResult:
    """Accuracy of source inference with its Clopper–Pearson interval, next to :math:`1/n`.

    Attributes
    ----------
    accuracy : float
        Fraction of records attributed to the right client.
    ci : tuple of float
        Two-sided Clopper–Pearson interval at ``confidence``.
    baseline : float
        :math:`1/n`.
    correct, trials : int
    confidence : float
    epsilon : float
        Record-level ε of the run (``inf`` without DP) -- a certified bound on a *different*
        question (membership), reported for context.
    per_round_accuracy : tuple of float
        Accuracy of the one-round rule (the authors' code: in round :math:`t` alone, the client
        whose local model has the smallest loss) for every observed round.  Its maximum,
        :attr:`best_round_accuracy`, is the figure the authors' code reports; it picks the round
        with the ground truth, so it is optimistic.
    """

    accuracy: float
    ci: tuple[float, float]
    baseline: float
    correct: int
    trials: int
    confidence: float
    epsilon: float
    per_round_accuracy: tuple[float, ...] = ()

    @property
    def best_round_accuracy(self) -> float:
        """Max over rounds of the one-round accuracy (optimistic: chosen with the truth)."""
        return max(self.per_round_accuracy) if self.per_round_accuracy else float("nan")

    @property
    def last_round_accuracy(self) -> float:
        """One-round accuracy in the last observed round."""
        return self.per_round_accuracy[-1] if self.per_round_accuracy else float("nan")

    @property
    def beats_baseline(self) -> bool:
        """True when the whole interval lies above the baseline."""
        return self.ci[0] > self.baseline

    def to_dict(self) -> dict:
        return asdict(self)


def source_posteriors(model: Any, transcript: Transcript, x: torch.Tensor, y: torch.Tensor, *,
                      rounds: Any = None) -> torch.Tensor:
    r"""Posterior :math:`P(k \mid z)` of each record over the clients, ``(B, n)``.

    Parameters
    ----------
    model : GeneralizedLinearModel
    transcript : Transcript
    x, y : torch.Tensor
        Target records ``(B, p)`` and labels ``(B,)``.
    rounds : slice or sequence of int, optional
        Rounds used (default all).

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, run_fedavg
    >>> task = sensitive_tabular(num_clients=3, samples_per_client=5, dim=4, seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=2)
    >>> post = source_posteriors(task.model(), tr, task.x[0], task.y[0])
    >>> tuple(post.shape), bool(torch.allclose(post.sum(1), torch.ones(5)))
    ((5, 3), True)
    """
    return _posterior(_round_losses(model, transcript, x, y, rounds))


def _round_losses(model: Any, transcript: Transcript, x: torch.Tensor, y: torch.Tensor,
                  rounds: Any) -> torch.Tensor:
    """``(T, n, B)``: loss of every record under every client's local model of every round."""
    local = transcript.local_models()                          # (T, n, d)
    if rounds is not None:
        local = local[rounds]
    return glm_losses(model, local, x, y)


def _posterior(losses: torch.Tensor) -> torch.Tensor:
    """``(B, n)`` posterior from per-round losses: log-posteriors summed over the rounds."""
    logpost = torch.log_softmax(-losses, dim=1).sum(0)        # (n, B)
    return torch.softmax(logpost, dim=0).T


def source_inference(model: Any, transcript: Transcript, x: torch.Tensor, y: torch.Tensor, *,
                     targets: int | None = None, rounds: Any = None, confidence: float = 0.95,
                     seed: int = 0) -> SourceInferenceResult:
    r"""Source inference attack (Hu et al. 2021) on a recorded FedAvg run.

    Parameters
    ----------
    model : GeneralizedLinearModel
        The architecture (public).
    transcript : Transcript
        Messages of the run (:func:`fltheory.audit.transcript.run_fedavg`).
    x, y : torch.Tensor
        The clients' training records ``(n, m, p)`` and labels ``(n, m)``; every record is a
        target whose source is ``k``.
    targets : int, optional
        Number of target records drawn uniformly (seeded) from all ``n m``; default all.
    rounds : slice or sequence of int, optional
        Rounds observed (default all).
    confidence : float
        Of the Clopper–Pearson interval.
    seed : int

    Returns
    -------
    SourceInferenceResult

    References
    ----------
    H. Hu, Z. Salcic, L. Sun, G. Dobbie, X. Zhang (2021). Source inference attacks in federated
    learning. IEEE ICDM 2021, pp. 1102-1107.

    Examples
    --------
    >>> from fltheory.audit.transcript import sensitive_tabular, run_fedavg
    >>> task = sensitive_tabular(num_clients=4, samples_per_client=8, dim=20, label_noise=0.2,
    ...                          seed=0)
    >>> tr = run_fedavg(task.model(), task.x, task.y, rounds=5, local_steps=10, lr=1.0)
    >>> res = source_inference(task.model(), tr, task.x, task.y)
    >>> res.baseline, res.beats_baseline
    (0.25, True)
    """
    conf = check_open_unit("confidence", confidence)
    n, m = int(x.shape[0]), int(x.shape[1])
    if transcript.num_clients != n:
        raise ValueError(f"x must hold the transcript's {transcript.num_clients} clients, got {n}")
    flat_x, flat_y = x.reshape(n * m, -1), y.reshape(n * m)
    source = torch.arange(n).repeat_interleave(m)
    if targets is not None:
        b = check_int("targets", targets, minimum=1, maximum=n * m)
        idx = torch.as_tensor(np.random.default_rng(check_int("seed", seed, minimum=0))
                              .choice(n * m, size=b, replace=False))
        flat_x, flat_y, source = flat_x[idx], flat_y[idx], source[idx]
    with torch.no_grad():
        losses = _round_losses(model, transcript, flat_x, flat_y, rounds)   # (T, n, B)
    correct = int((_posterior(losses).argmax(1) == source).sum())
    per_round = losses.argmin(1) == source                                  # (T, B)
    per_round_acc = tuple(float(a) for a in per_round.double().mean(1))
    trials = int(source.numel())
    lo, hi = _stats.clopper_pearson(correct, trials, conf)
    return SourceInferenceResult(correct / trials, (float(lo), float(hi)), 1.0 / n, correct,
                                 trials, conf, transcript.epsilon, per_round_acc)
