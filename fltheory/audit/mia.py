r"""Membership inference: the loss-threshold attack and LiRA with shadow models.

A membership-inference attack (MIA) gets a trained model and a record and decides whether the
record was in the training set.  It is the black-box counterpart of the canary audits: its ROC
curve is what an adversary without access to gradients achieves, and (with the records' membership
drawn by independent fair coins) its guesses feed the one-run bound of
:func:`fltheory.audit.stats.one_run_lower_bound` -- an ε lower bound that must stay below the
accountant's ε when the target is trained with DP.

* **Loss threshold** (Yeom et al. 2018): member iff the loss is small; score :math:`-\ell(x, y)`.
* **LiRA** (Carlini et al. 2022): train shadow models on random halves of a population; for each
  record collect the logit-scaled confidence
  :math:`\phi = \log\frac{p_y}{1 - p_y} = z_y - \log\sum_{j\ne y} e^{z_j}` of the models that
  saw it (IN) and did not (OUT), fit a Gaussian to each, and score the target's
  :math:`\phi` by the likelihood ratio (*online*)

  .. math::

      \Lambda = \log\mathcal N(\phi;\mu_{\mathrm{in}},\sigma_{\mathrm{in}}^2)
              - \log\mathcal N(\phi;\mu_{\mathrm{out}},\sigma_{\mathrm{out}}^2),

  or by the one-sided test against OUT alone (*offline*),
  :math:`\log\Phi((\phi - \mu_{\mathrm{out}})/\sigma_{\mathrm{out}})`.  With few shadow models the
  variances are pooled over records (the paper's "global variance").

Metrics: AUC and TPR at low FPR (with a Clopper–Pearson interval of the TPR at the chosen
threshold; :func:`fltheory.audit.stats.tpr_at_fpr`).

The models and data are the small ones of :mod:`fltheory.fl` (digits or synthetic tasks;
logistic regression, MLP); :func:`train` / :func:`train_many` are a minimal centralized
full-batch (DP-)GD loop -- the shadow models of one experiment are trained together by one
``vmap`` over their parameters.

Examples
--------
>>> from fltheory.audit.mia import membership_inference
>>> res = membership_inference(pool=200, num_shadow=4, steps=60, hidden=32, seed=0)
>>> sorted(res.attacks)
['lira_offline', 'lira_online', 'loss']
>>> 0.0 <= res.attacks["loss"].auc <= 1.0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from scipy import stats as sps

from fltheory._checks import (check_choice, check_int, check_nonnegative, check_open_unit,
                              check_positive)
from fltheory.audit import stats as _stats
from fltheory.fl import models as _models
from fltheory.fl.release import Release, clipped_grad_sums

__all__ = ["AttackMetrics", "MIAResult", "train", "train_many", "loss_scores",
           "logit_confidence", "lira_scores", "evaluate_attack", "membership_inference"]

_REF_LOSS = ("S. Yeom, I. Giacomelli, M. Fredrikson and S. Jha (2018). Privacy risk in machine "
             "learning: analyzing the connection to overfitting. IEEE CSF")
_REF_LIRA = ("N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis and F. Tramer (2022). Membership "
             "inference attacks from first principles. IEEE S&P, Sec. IV (LiRA, online/offline, "
             "global variance)")


# --------------------------------------------------------------------------------------------------
# Training helpers
# --------------------------------------------------------------------------------------------------
def train(model: _models.FunctionalModel, x: torch.Tensor, y: torch.Tensor, *, steps: int = 200,
          lr: float = 0.5, seed: int = 0, params: torch.Tensor | None = None,
          clip: float | None = None, noise_multiplier: float = 0.0) -> torch.Tensor:
    r"""Full-batch gradient descent (or DP-GD) on ``(x, y)``; returns the flat parameters.

    Without ``clip``: :math:`\theta \leftarrow \theta - \eta\nabla L(\theta)` (mean loss).  With
    ``clip``: :math:`\theta \leftarrow \theta - \frac{\eta}{n}\bigl(\sum_i \mathrm{clip}_C(g_i)
    + \mathcal N(0, z^2C^2 I)\bigr)` through :class:`fltheory.fl.release.Release` -- DP-SGD
    with :math:`q = 1`, accounted by ``dp_sgd(1.0, z, steps)``.

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(2)
    >>> x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]); y = torch.tensor([1, 0])
    >>> p = train(m, x, y, steps=50, lr=1.0)
    >>> m.evaluate(p, x, y)["accuracy"]
    1.0
    """
    steps = check_int("steps", steps, minimum=0)
    lr = check_positive("lr", lr)
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    theta = model.init(seed=seed) if params is None else params.detach().clone()
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    n = x.shape[0]
    for _ in range(steps):
        if clip is None:
            g = model.grad(theta, x, y)
        else:
            g = Release(clip, z).release_batch(model, theta, x, y, gen).value / n
        theta = (theta - lr * g).detach()
    return theta


def train_many(model: _models.FunctionalModel, xs: torch.Tensor, ys: torch.Tensor, *,
               steps: int = 200, lr: float = 0.5, seed: int = 0, clip: float | None = None,
               noise_multiplier: float = 0.0) -> torch.Tensor:
    """:func:`train` for ``S`` models at once on ``xs`` ``(S, n, ...)``, ``ys`` ``(S, n)``.

    Every model starts from ``model.init(seed=seed + s)``.  Returns ``(S, d)`` parameters.  The
    non-private path is one ``vmap`` over the models' parameters per step
    (:meth:`~fltheory.fl.models.FunctionalModel.client_grads`); the DP path uses
    :func:`~fltheory.fl.release.clipped_grad_sums` (the one release mechanism).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(2)
    >>> xs = torch.randn(3, 10, 2); ys = (xs[..., 0] > 0).long()
    >>> train_many(m, xs, ys, steps=5).shape
    torch.Size([3, 3])
    """
    steps = check_int("steps", steps, minimum=0)
    lr = check_positive("lr", lr)
    z = check_nonnegative("noise_multiplier", noise_multiplier)
    seed = check_int("seed", seed, minimum=0)
    s = xs.shape[0]
    theta = torch.stack([model.init(seed=seed + i) for i in range(s)])
    gen = torch.Generator().manual_seed(seed)
    n = xs.shape[1]
    for _ in range(steps):
        if clip is None:
            g = model.client_grads(theta, xs, ys)
        else:
            g = clipped_grad_sums(model, theta, xs, ys, clip, z, gen) / n
        theta = (theta - lr * g).detach()
    return theta


# --------------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------------
def loss_scores(model: _models.FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                y: torch.Tensor) -> np.ndarray:
    """Loss-threshold attack scores :math:`-\\ell(x_i, y_i)` (higher = more likely a member).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(2)
    >>> loss_scores(m, torch.zeros(3), torch.zeros(2, 2), torch.tensor([0, 1])).round(4)
    array([-0.6931, -0.6931])
    """
    with torch.no_grad():
        return (-model.per_sample_loss(params, x, y)).double().numpy()


def logit_confidence(model: _models.FunctionalModel, params: torch.Tensor, x: torch.Tensor,
                     y: torch.Tensor) -> np.ndarray:
    r"""LiRA's logit-scaled confidence :math:`\phi = \log\frac{p_y}{1-p_y}`, computed stably as
    :math:`z_y - \log\sum_{j \ne y} e^{z_j}` (softmax) or :math:`\pm z` (one logit).

    ``params`` may be ``(d,)`` or ``(S, d)`` (one row per model, result ``(S, n)``).

    Examples
    --------
    >>> from fltheory.fl import models
    >>> m = models.logistic_regression(2, num_classes=3)
    >>> logit_confidence(m, torch.zeros(9), torch.zeros(1, 2), torch.tensor([0])).round(4)
    array([-0.6931])
    """
    def one(p):
        with torch.no_grad():
            z = model.forward(p, x).double()
        if z.shape[-1] == 1:
            z1 = z[:, 0]
            return torch.where(y.bool(), z1, -z1)
        zy = z.gather(1, y.long().view(-1, 1))[:, 0]
        others = z.scatter(1, y.long().view(-1, 1), float("-inf"))
        return zy - torch.logsumexp(others, dim=1)

    if params.dim() == 2:
        return torch.stack([one(p) for p in params]).numpy()
    return one(params).numpy()


def lira_scores(target: Any, shadow: Any, shadow_in: Any, *, online: bool = True,
                global_variance: bool = True) -> np.ndarray:
    r"""LiRA scores of the target's confidences given shadow confidences.

    Parameters
    ----------
    target : array_like, shape (n,)
        :math:`\phi` of the target model on each record.
    shadow : array_like, shape (S, n)
        :math:`\phi` of each shadow model on each record.
    shadow_in : array_like of bool, shape (S, n)
        Whether shadow model ``s`` trained on record ``i``.
    online : bool
        Likelihood ratio IN vs OUT (needs IN models); ``False``: one-sided test against OUT.
    global_variance : bool
        Pool the IN and OUT variances over records (recommended with fewer than ~64 shadows).

    Returns
    -------
    numpy.ndarray, shape (n,)
        Higher = more likely a member.  Records without OUT (or, online, IN) shadow models get the
        score of the pooled means.

    References
    ----------
    N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis and F. Tramèr (2022). Membership inference
    attacks from first principles. IEEE S&P, Algorithm 1 and Sec. IV-C.

    Examples
    --------
    >>> sh = np.array([[3.0, 0.0], [0.0, 3.0], [3.2, 0.2], [0.2, 3.2]])
    >>> inn = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=bool)
    >>> s = lira_scores([3.1, 0.1], sh, inn)
    >>> bool(s[0] > 0 > s[1])
    True
    """
    t = np.asarray(target, dtype=float)
    sh = np.asarray(shadow, dtype=float)
    inn = np.asarray(shadow_in).astype(bool)
    if sh.ndim != 2 or sh.shape[1] != t.size or inn.shape != sh.shape:
        raise ValueError(f"shadow and shadow_in must have shape (S, {t.size}), got {sh.shape} "
                         f"and {inn.shape}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(sh))):
        raise ValueError("confidences must be finite")

    def stats(mask):
        cnt = mask.sum(0)
        mu = np.where(cnt > 0, (sh * mask).sum(0) / np.maximum(cnt, 1), np.nan)
        fallback = sh[mask].mean() if mask.any() else 0.0
        mu = np.where(np.isnan(mu), fallback, mu)
        resid = (sh - mu[None, :]) * mask
        var_g = (resid ** 2).sum() / max(1, mask.sum() - 1)
        if global_variance:
            var = np.full(t.size, var_g)
        else:
            var = np.where(cnt >= 2, (resid ** 2).sum(0) / np.maximum(cnt - 1, 1), var_g)
        return mu, np.sqrt(np.maximum(var, 1e-12))

    mu_out, sd_out = stats(~inn)
    if not online:
        return sps.norm.logcdf((t - mu_out) / sd_out)
    mu_in, sd_in = stats(inn)
    return sps.norm.logpdf(t, mu_in, sd_in) - sps.norm.logpdf(t, mu_out, sd_out)


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttackMetrics:
    """ROC summary of one attack.

    Attributes
    ----------
    attack : str
        ``"loss"``, ``"lira_online"`` or ``"lira_offline"``.
    auc : float
        Area under the ROC curve (0.5: no better than guessing).
    tpr_at_fpr : dict
        For each target FPR: ``tpr``, attained ``fpr``, ``threshold`` and a Clopper–Pearson
        interval ``tpr_lower``/``tpr_upper`` (:func:`fltheory.audit.stats.tpr_at_fpr`).
    members, non_members : int
        Evaluated records.
    one_run : EpsilonLowerBound or None
        One-run ε lower bound from this attack's guesses (membership by fair coins).
    reference : str

    Examples
    --------
    >>> m = evaluate_attack("loss", [0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
    >>> m.auc
    0.75
    """

    attack: str
    auc: float
    tpr_at_fpr: dict
    members: int
    non_members: int
    one_run: Any = None
    reference: str = ""

    def __str__(self) -> str:
        low = ", ".join(f"TPR@{k:g}={v['tpr']:.3f}" for k, v in self.tpr_at_fpr.items())
        return f"{self.attack}: AUC={self.auc:.3f}, {low}"


def evaluate_attack(attack: str, scores: Any, membership: Any, *,
                    fprs: Sequence[float] = (0.01, 0.001), confidence: float = 0.95,
                    one_run_delta: float | None = None, guesses: Sequence[int] | None = None
                    ) -> AttackMetrics:
    """AUC, TPR at each FPR in ``fprs`` and (with ``one_run_delta``) the one-run ε lower bound.

    The one-run bound is valid when each record's membership was drawn by an independent fair
    coin before training; guess counts ``guesses`` (default ``m // 20, // 10, // 5, // 2``) are
    Bonferroni-corrected.

    Examples
    --------
    >>> evaluate_attack("x", [3, 2, 1, 0], [1, 1, 0, 0]).tpr_at_fpr[0.01]["tpr"]
    1.0
    """
    s = np.asarray(scores, dtype=float)
    mem = np.asarray(membership).astype(int)
    conf = check_open_unit("confidence", confidence)
    auc = _stats.roc_auc(s, mem)
    low = {float(f): _stats.tpr_at_fpr(s, mem, f, confidence=conf) for f in fprs}
    bound = None
    if one_run_delta is not None:
        m = s.size
        ks = guesses or sorted({max(1, m // 20), max(1, m // 10), max(1, m // 5), max(1, m // 2)})
        best = None
        for k in ks:
            r, v = _stats.one_run_guesses(s, mem.astype(bool), k)
            b = _stats.one_run_lower_bound(m, r, v, delta=one_run_delta,
                                           confidence=1.0 - (1.0 - conf) / len(ks))
            if best is None or b.epsilon > best.epsilon:
                best = b
        bound = best
    ref = _REF_LOSS if attack == "loss" else _REF_LIRA
    return AttackMetrics(attack, auc, low, int(mem.sum()), int((1 - mem).sum()), bound, ref)


@dataclass(frozen=True)
class MIAResult:
    """A membership-inference experiment: the attacks' metrics and what was attacked.

    Attributes
    ----------
    attacks : dict of str to AttackMetrics
    train_accuracy, test_accuracy : float
        Target model on its members / non-members (the generalisation gap drives the attacks).
    epsilon_theory : float or None
        Accountant's ε of the target's training when it used DP (``dp_sgd(1, z, steps)``).
    setting : dict
        Data, model, pool size, shadows, steps, learning rate, clipping, noise, seed.
    scores : dict of str to numpy.ndarray
        Every attack's score per record.
    membership : numpy.ndarray of bool
        Ground truth.
    """

    attacks: dict
    train_accuracy: float
    test_accuracy: float
    epsilon_theory: float | None
    setting: dict
    scores: dict = field(repr=False, default_factory=dict)
    membership: Any = field(repr=False, default=None)

    def to_dict(self) -> dict:
        """JSON-ready summary (scores omitted)."""
        att = {}
        for k, m in self.attacks.items():
            att[k] = {"auc": m.auc, "tpr_at_fpr": {str(f): v for f, v in m.tpr_at_fpr.items()},
                      "members": m.members, "non_members": m.non_members,
                      "one_run_epsilon_lower": None if m.one_run is None else m.one_run.epsilon}
        return {"attacks": att, "train_accuracy": self.train_accuracy,
                "test_accuracy": self.test_accuracy, "epsilon_theory": self.epsilon_theory,
                "setting": dict(self.setting)}

    def __str__(self) -> str:
        lines = [f"target: train acc {self.train_accuracy:.3f}, non-member acc "
                 f"{self.test_accuracy:.3f}"]
        lines += [str(m) for m in self.attacks.values()]
        return "\n".join(lines)


def _population(dataset: str, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    from fltheory.fl import data as _data

    if dataset == "digits":
        ds = _data.digits(num_clients=1, test_fraction=0.2, seed=seed)
        x = torch.cat([ds.x[0], ds.x_test])
        y = torch.cat([ds.y[0], ds.y_test])
        return x, y, 10
    ds = _data.synthetic_logistic(num_clients=1, samples_per_client=2000, dim=20, seed=seed)
    return ds.x[0], ds.y[0], 2


def membership_inference(dataset: str = "digits", model: str = "mlp", *, pool: int = 500,
                         num_shadow: int = 8, steps: int = 300, lr: float = 0.5,
                         hidden: int = 64, clip: float | None = None,
                         noise_multiplier: float = 0.0, delta: float = 1e-5,
                         fprs: Sequence[float] = (0.01, 0.1), seed: int = 0) -> MIAResult:
    r"""Loss-threshold and LiRA attacks against a small model trained on half of a pool.

    ``pool`` records are drawn from the population (digits: all 1,797 images; or 2,000 synthetic
    logistic-regression records).  The target trains on the records whose fair coin came up
    heads (membership is i.i.d., so the one-run bound applies); shadow models come in pairs
    trained on a random half and its complement, so every record is IN for exactly half of them.
    All models share the architecture, the full-batch (DP-)GD recipe and the number of steps.

    Parameters
    ----------
    dataset : {"digits", "synthetic_logistic"}
        Population.
    model : {"mlp", "logreg"}
        Architecture (MLP with one hidden layer of width ``hidden``).
    pool : int
        Records attacked (even, >= 8).
    num_shadow : int
        Shadow models (even, >= 2).
    steps, lr :
        Full-batch gradient steps and step size.
    clip, noise_multiplier :
        DP-GD of every model (target and shadows) when ``clip`` is given; the target's
        accountant ε is then ``dp_sgd(1, noise_multiplier, steps)`` at ``delta``.
    delta : float
        δ of the one-run bounds and of the accountant.
    fprs : sequence of float
        FPRs at which the TPR is reported.
    seed : int
        Pool, membership, initialisations and noise.

    Returns
    -------
    MIAResult

    References
    ----------
    S. Yeom et al. (2018). IEEE CSF; N. Carlini et al. (2022). Membership inference attacks from
    first principles. IEEE S&P; T. Steinke, M. Nasr and M. Jagielski (2023). NeurIPS, Theorem 3.

    Examples
    --------
    >>> r = membership_inference(pool=100, num_shadow=2, steps=20, hidden=16, seed=1)
    >>> r.membership.shape
    (100,)
    """
    dataset = check_choice("dataset", dataset, ("digits", "synthetic_logistic"))
    model_name = check_choice("model", model, ("mlp", "logreg"))
    pool = check_int("pool", pool, minimum=8)
    if pool % 2:
        raise ValueError(f"pool must be even, got {pool}")
    num_shadow = check_int("num_shadow", num_shadow, minimum=2)
    if num_shadow % 2:
        raise ValueError(f"num_shadow must be even (complementary pairs), got {num_shadow}")
    seed = check_int("seed", seed, minimum=0)
    delta = check_open_unit("delta", delta)
    if clip is not None:
        clip = check_positive("clip", clip)
    if check_nonnegative("noise_multiplier", noise_multiplier) > 0 and clip is None:
        raise ValueError(f"noise_multiplier={noise_multiplier} needs clip (DP-GD clips each "
                         "example's gradient before adding noise)")
    x_all, y_all, k = _population(dataset, seed)
    if pool > x_all.shape[0]:
        raise ValueError(f"pool must be <= {x_all.shape[0]} for dataset={dataset!r}, got {pool}")
    rng = np.random.default_rng(seed)
    idx = torch.as_tensor(rng.choice(x_all.shape[0], pool, replace=False))
    x, y = x_all[idx], y_all[idx]
    nf = int(np.prod(x.shape[1:]))
    net = (_models.mlp(nf, k, hidden=(check_int("hidden", hidden, minimum=1),))
           if model_name == "mlp" else _models.logistic_regression(nf, k))
    member = rng.random(pool) < 0.5
    if member.all() or not member.any():
        member[0] = not member[0]
    mt = torch.as_tensor(member)
    theta = train(net, x[mt], y[mt], steps=steps, lr=lr, seed=seed, clip=clip,
                  noise_multiplier=noise_multiplier)
    half = pool // 2
    shadow_in = np.zeros((num_shadow, pool), dtype=bool)
    for s in range(0, num_shadow, 2):
        perm = rng.permutation(pool)
        shadow_in[s, perm[:half]] = True
        shadow_in[s + 1, perm[half:]] = True
    sel = [np.nonzero(row)[0] for row in shadow_in]
    xs = torch.stack([x[torch.as_tensor(i)] for i in sel])
    ys = torch.stack([y[torch.as_tensor(i)] for i in sel])
    shadows = train_many(net, xs, ys, steps=steps, lr=lr, seed=seed + 1, clip=clip,
                         noise_multiplier=noise_multiplier)
    phi_t = logit_confidence(net, theta, x, y)
    phi_s = logit_confidence(net, shadows, x, y)
    scores = {"loss": loss_scores(net, theta, x, y),
              "lira_online": lira_scores(phi_t, phi_s, shadow_in, online=True),
              "lira_offline": lira_scores(phi_t, phi_s, shadow_in, online=False)}
    attacks = {name: evaluate_attack(name, sc, member, fprs=fprs, one_run_delta=delta)
               for name, sc in scores.items()}
    pred = net.predict(theta, x)
    acc_in = float((pred[mt] == y[mt]).float().mean())
    acc_out = float((pred[~mt] == y[~mt]).float().mean())
    eps = None
    if clip is not None:
        from fltheory.accounting import dp_sgd, epsilon

        if noise_multiplier == 0:
            eps = math.inf
        else:
            eps = float(epsilon(dp_sgd(1.0, noise_multiplier, steps), delta).epsilon) \
                if steps > 0 else 0.0
    setting = {"dataset": dataset, "model": model_name, "hidden": hidden, "pool": pool,
               "num_shadow": num_shadow, "steps": steps, "lr": lr, "clip": clip,
               "noise_multiplier": noise_multiplier, "delta": delta, "seed": seed,
               "members": int(member.sum())}
    return MIAResult(attacks, acc_in, acc_out, eps, setting, scores, member)
