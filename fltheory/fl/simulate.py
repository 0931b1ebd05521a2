r"""Run an FL experiment described by an :class:`~fltheory.config.ExperimentConfig`.

:func:`simulate` executes the recipe a configuration describes -- the one the accountant reads
through :meth:`~fltheory.config.ExperimentConfig.accounting_event` -- and returns a
:class:`RunResult` whose ``accounting_event`` is built by that same method from what was actually
executed (rounds completed, client rate used).  What is analysed is what is run (DESIGN.md,
principle 1).

One round :math:`t`
-------------------

1. **Clients.**  All clients, a Poisson sample (each with probability ``training.client_rate``)
   or a fixed-size cohort (``training.cohort_size``, uniformly without replacement).
2. **Local steps** (all sampled clients at once, :mod:`fltheory.fl.training`), starting from the
   global model :math:`\theta_t`: ``training.local_steps`` SGD steps with learning rate
   ``training.lr`` on batches drawn by ``training.batch_sampling`` (``full``, ``poisson`` at
   ``privacy.batch_rate`` or ``batch_size / m_k``, ``fixed`` of ``batch_size``).
   ``fedavg`` sends the model difference :math:`\theta_k - \theta_t`, ``fedsgd`` (one step) the
   gradient estimate.
3. **Privacy**, exactly where the accounting event puts it:

   * ``privacy.level = "record"`` (:func:`~fltheory.accounting.local_dp_sgd`): every local step
     draws a Poisson batch at rate :math:`q_\ell` = ``privacy.batch_rate``, clips every
     per-example gradient to :math:`C` = ``privacy.clip``, adds :math:`\mathcal N(0, (zC)^2 I)`
     to the sum and divides by the expected batch size :math:`q_\ell m_k` (times
     :math:`\mathbb E\lambda = 1/2` under mixup, where every clipped gradient enters the sum
     with its own weight :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`, see
     :mod:`fltheory.fl.mixup`).
   * ``privacy.level = "client"`` (:func:`~fltheory.accounting.dp_fedavg`): the server clips
     every received update to :math:`C`, adds :math:`\mathcal N(0, (zC)^2 I)` to their sum and
     divides by the expected number of participants :math:`q_c n` -- the released aggregate
     *is* the noisy sum, so the aggregation rule must be ``mean``.

4. **Compression** (``compression.stage = "update"``): after the local noise for record-level
   DP (post-processing); for client-level DP before the server's clipping (the decoded message
   is clipped, so the sensitivity stays :math:`C` whatever the compressor does -- rand-k's
   :math:`d/k` scaling included).  ``compression.stage = "mechanism"`` puts a random coordinate
   mask inside the mechanism instead: secret masks (one per client, noise on every coordinate;
   amplification accounted with client-level DP, Poisson masks and every client taking part) or a
   shared mask (one per round from a public seed, noise on the kept coordinates only, no
   amplification).
5. **Byzantine clients** (``byzantine.num_byzantine`` fixed ids drawn from the seed): data attacks
   (``label_flip``, ``backdoor``) poison their data once, before training (a backdoor client
   also scales its update by :math:`\gamma`); update attacks replace their updates using the
   honest ones of the round (and the server's rule, for the optimised attacks).
6. **Aggregation** by ``byzantine.aggregator`` (with ``pre_aggregators``); the server applies
   ``training.server_lr`` times the aggregate (heavy-ball ``training.momentum`` on it).

   *The rule's f in a round.*  The rule is built for :math:`f` = ``byzantine.num_byzantine``
   out of the clients of a round; :math:`f` larger than the rule admits with all
   ``data.num_clients`` clients (or ``training.cohort_size``) is refused before training.  When
   client sampling leaves fewer clients :math:`m` in a round (Poisson sampling) or non-finite
   updates are rejected, a rule that admits fewer than :math:`f` out of :math:`m` (e.g.
   :math:`f \le (m-1)/2` for the median and trimmed mean) runs with the largest :math:`f` it
   admits.  The :math:`f` used is recorded per round (metric ``f_effective``; ``None`` where no
   rule ran), the rounds where it is below the configured :math:`f` in
   ``RunResult.info["f_lowered_rounds"]``.  The :math:`(f, \kappa)`-robustness guarantee of a
   round holds when at most ``f_effective`` of its clients are Byzantine (metric
   ``byzantine``); the rounds where more took part are listed in
   ``RunResult.info["f_exceeded_rounds"]`` and :func:`simulate` warns (``RuntimeWarning``).

Randomness: every round draws from independent streams (clients, batches, noise, mixup,
compression, masks, attack, aggregation) seeded by ``(seed, round, stream)``.  Two runs with the
same configuration produce identical metrics (wall time aside), whichever rule aggregates, and a
run resumed from a checkpoint equals the uninterrupted one.

Metrics of each round (``RunResult.metrics``): ``round``, ``loss`` and ``accuracy`` of the
global model on the test split (``None`` between evaluations, see ``run.eval_every``),
``distance_to_optimum`` for synthetic tasks, ``epsilon`` spent so far at ``privacy.delta``
(:func:`~fltheory.accounting.epsilon_curve`, one call for the whole run; ``inf`` without DP),
``bits`` sent this round and ``bits_total``, ``clients`` and ``byzantine`` taking part,
``rejected`` (non-finite updates), ``f_effective`` (the f the rule ran with, see step 6),
``agg_error`` :math:`\lVert F(x) - \bar x_H\rVert^2`,
``honest_variance`` :math:`\frac1{|H|}\sum_{i\in H}\lVert x_i - \bar x_H\rVert^2` and their ratio
``kappa_empirical`` (compare with :func:`fltheory.bounds.kappa`), ``backdoor_success`` under a
backdoor attack, and ``wall_time`` (seconds since the start, resumed runs included).

Examples
--------
>>> from fltheory.config import ExperimentConfig
>>> from fltheory.fl import simulate
>>> cfg = ExperimentConfig.from_dict({
...     "data": {"name": "synthetic_logistic", "num_clients": 5, "samples_per_client": 40,
...              "dim": 5},
...     "training": {"rounds": 3, "batch_sampling": "poisson"},
...     "privacy": {"level": "record", "batch_rate": 0.25, "noise_multiplier": 1.0},
...     "run": {"progress": False}})
>>> run = simulate(cfg)
>>> [m["round"] for m in run.metrics]
[1, 2, 3]
>>> run.accounting_event == cfg.accounting_event()
True
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from . import aggregators as _aggregators
from . import attacks as _attacks
from . import compressors as _compressors
from . import data as _data
from . import models as _models
from .compressors import _position_bits
from .release import Release

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike, ExperimentConfig
from .mixup import MEAN_WEIGHT, mix_batch, record_weights
from .per_client import PerClient as _PerClient
from .training import (ClientStack, compact, fixed_batches, gather, poisson_batches,
                       soft_targets, weighted_grads)

__all__ = ["simulate", "RunResult", "MessageLog", "build_dataset", "build_model",
           "build_compressor", "release_of", "CHECKPOINT", "RESULT", "PARAMS"]

#: File names written in ``out_dir``.
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
PARAMS = "params.pt"

_STREAMS = {"clients": 1, "batches": 2, "noise": 3, "mixup": 4, "compress": 5, "attack": 6,
            "aggregate": 7, "mask": 8, "setup": 9}
_FLOAT_BITS = 32
_CHUNK_PARAMS = 1 << 20          # clients x parameters processed at once by the local steps
_SEED_BITS = 64
_RUN_KEYS_IGNORED_ON_RESUME = ("progress", "checkpoint_every")


# --------------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------------
def _stream_seed(seed: int, round_: int, stream: str) -> int:
    ss = np.random.SeedSequence([int(seed), int(round_), _STREAMS[stream]])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class _RoundRng:
    """Independent generators of one round, one per stream, created on first use."""

    def __init__(self, seed: int, round_: int) -> None:
        self.seed, self.round = seed, round_
        self._t: dict[str, torch.Generator] = {}
        self._n: dict[str, np.random.Generator] = {}

    def torch(self, stream: str) -> torch.Generator:
        if stream not in self._t:
            g = torch.Generator()
            g.manual_seed(_stream_seed(self.seed, self.round, stream))
            self._t[stream] = g
        return self._t[stream]

    def numpy(self, stream: str) -> np.random.Generator:
        if stream not in self._n:
            self._n[stream] = np.random.default_rng(
                _stream_seed(self.seed, self.round, stream) ^ 0x5DEECE66D)
        return self._n[stream]


# --------------------------------------------------------------------------------------------------
# Building blocks from the configuration
# --------------------------------------------------------------------------------------------------
def build_dataset(config: ConfigLike) -> _data.FederatedDataset:
    """The :class:`~fltheory.fl.data.FederatedDataset` of ``config.data`` (seeded by ``seed``).

    Images stay ``(C, H, W)`` for ``model.name = "cnn"`` and are flattened otherwise.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> build_dataset(ExperimentConfig.from_dict({"data": {"num_clients": 4}})).num_clients
    4
    """
    from fltheory.config import load_config

    cfg = load_config(config)
    build = _data.REGISTRY.meta(cfg.data.name)["from_config"]
    return build(cfg.data, cfg.seed, cfg.model.name != "cnn")


def build_model(config: ConfigLike, dataset: _data.FederatedDataset) -> _models.FunctionalModel:
    """The model of ``config.model`` sized for ``dataset``.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> from fltheory.fl import data
    >>> cfg = ExperimentConfig.from_dict({"model": {"name": "mlp", "hidden": 16}})
    >>> build_model(cfg, data.digits(num_clients=2)).num_params
    1210
    """
    from fltheory.config import load_config

    cfg = load_config(config)
    name = _models.REGISTRY.canonical(cfg.model.name, param="model.name")
    if name == "mlp":
        return _models.for_dataset(dataset, "mlp", hidden=(cfg.model.hidden,))
    if name == "cnn":
        return _models.for_dataset(dataset, "cnn", hidden=cfg.model.hidden)
    if dataset.task == "regression":
        return _models.linear_regression(dataset.num_features)
    return _models.for_dataset(dataset, name)


def release_of(config: ExperimentConfig, d: int, *, noise_scale: float = 1.0,
               bug: str | None = None) -> Release | None:
    """The :class:`~fltheory.fl.release.Release` a configuration's DP runs with (``d``
    parameters); ``None`` without DP.

    Masks inside the mechanism (``compression.stage = "mechanism"``): ``mask`` secret or
    shared, Poisson at ``compression.ratio`` (``prune``) or rand-k (``randk``: ``k``, or
    ``ratio * d`` rounded).

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({"privacy": {"level": "client"},
    ...     "compression": {"name": "prune", "ratio": 0.1, "stage": "mechanism",
    ...                     "mask": "secret"}})
    >>> rel = release_of(cfg, 100)
    >>> rel.mask, rel.mask_rate, rel.noise_std
    ('secret', 0.1, 1.0)
    """
    pv, cp = config.privacy, config.compression
    if pv.level == "none":
        return None
    mask, rate, k = "none", None, None
    if cp.stage == "mechanism":
        mask = cp.mask
        if cp.name == "randk":
            k = min(cp.k if cp.k is not None else max(1, int(round(cp.ratio * d))), d)
        else:
            rate = cp.ratio
    return Release(pv.clip, pv.noise_multiplier, mask=mask, mask_rate=rate, mask_k=k, bug=bug,
                   noise_scale=noise_scale)


def build_compressor(c: Any, d: int):
    """The update compressor of ``config.compression`` for ``d`` parameters (``None`` for
    ``name = "none"`` or masks inside the mechanism, see :func:`release_of`).

    Examples
    --------
    >>> from fltheory.config import CompressionConfig
    >>> build_compressor(CompressionConfig(name="topk", k=3), 10).k
    3
    """
    if c.stage != "update" or c.name == "none":
        return None
    k = c.k if c.k is not None else (max(1, int(round(c.ratio * d))) if c.ratio else None)
    kw = dict(c.params)
    if c.name == "topk":
        comp = _compressors.TopK(k, **kw)
    elif c.name == "magnitude_prune":
        comp = _compressors.MagnitudePrune(1.0 - c.ratio, **kw)
    elif c.name == "randk":
        comp = _compressors.RandK(k, mask=c.mask, **kw)
    elif c.name == "qsgd":
        comp = _compressors.QSGD(c.levels or 1, **kw)
    elif c.name == "sign":
        comp = _compressors.Sign(**kw)
    elif c.name == "scaled_sign":
        comp = _compressors.ScaledSign(**kw)
    elif c.name == "one_bit":
        comp = _compressors.StochasticOneBit(**kw)
    else:  # prune
        keep = c.ratio if c.ratio is not None else min(1.0, k / d)
        comp = _compressors.BernoulliMask(keep, mask=c.mask, **kw)
    return _compressors.ErrorFeedback(comp) if c.error_feedback else comp


_build_compressor = build_compressor      # the name of earlier releases


def _infer_image_shape(dataset: _data.FederatedDataset) -> tuple[int, int] | None:
    shape = dataset.input_shape
    if len(shape) >= 2:
        return None
    side = int(round(math.sqrt(shape[0])))
    return (side, side) if side * side == shape[0] else None


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MessageLog:
    r"""What the server received in every round of a :func:`simulate` run.

    Recorded with ``simulate(..., record_messages=True)``; the input of the leakage attacks
    (:meth:`fltheory.audit.transcript.Transcript.from_run`).

    Attributes
    ----------
    global_params : torch.Tensor, shape (T + 1, d)
        :math:`\theta_0, \dots, \theta_T` (the model each round started from, and the final one).
    client_ids : list of torch.Tensor
        The clients of round :math:`t` (sampled ones; Byzantine ones included).
    messages : list of torch.Tensor
        Round :math:`t`'s messages ``(len(client_ids[t]), d)`` in the order of ``client_ids[t]``,
        as they reached the server: after clipping / noise / compression on the client and after
        update attacks, before aggregation.  FedAvg sends the model difference
        :math:`\Delta_k^t`; FedSGD sends the gradient (see ``algorithm``).  Under client-level
        DP the server-side noise is added to the aggregate, not to these messages.
    algorithm : str
        ``"fedavg"`` or ``"fedsgd"``.
    lr : float
        The clients' learning rate (FedSGD's local model is :math:`\theta_t - \eta g`).
    positions : list of torch.Tensor or None
        Kept positions of secret masks transmitted with the messages (record level) or the
        released aggregate (client level) -- ``None``: the correct mechanism never sends them;
        only the planted bug ``positions_sent`` fills this.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> run = simulate(ExperimentConfig.from_dict({"data": {"num_clients": 3},
    ...                "training": {"rounds": 2}, "run": {"progress": False}}),
    ...                record_messages=True)
    >>> run.messages.rounds, tuple(run.messages.dense().shape)
    (2, (2, 3, 650))
    """

    global_params: torch.Tensor
    client_ids: list
    messages: list
    algorithm: str
    lr: float
    positions: list | None = None

    @property
    def rounds(self) -> int:
        return len(self.messages)

    def dense(self) -> torch.Tensor:
        r"""``(T, n, d)`` model differences, when every round had the same clients in order.

        FedSGD gradients are turned into the local step :math:`-\eta g`.  Raises ``ValueError``
        when client sets differ between rounds (client sampling): use ``client_ids`` and
        ``messages`` directly then.
        """
        if not self.messages:
            raise ValueError("the log has no rounds")
        first = self.client_ids[0]
        for t, ids in enumerate(self.client_ids):
            if ids.shape != first.shape or not bool((ids == first).all()):
                raise ValueError(f"round {t + 1} had other clients than round 1 (client "
                                 "sampling); dense() needs training.client_sampling = 'all'")
        out = torch.stack(self.messages)
        return -self.lr * out if self.algorithm == "fedsgd" else out


@dataclass
class RunResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    config : ExperimentConfig
        The configuration that was run.
    metrics : list of dict
        One dictionary per round (see the module documentation for the keys).
    params : torch.Tensor
        Final global model parameters (flat, on the CPU).
    accounting_event : dp_accounting.DpEvent
        ``config.accounting_event(rounds_completed, client_rate=rate_used)``: the mechanism
        that was executed, in dp-accounting's language.
    guarantee : PrivacyGuarantee or None
        ``fltheory.accounting.epsilon`` of that event at ``privacy.delta`` (``None`` without DP).
    byzantine_ids : list of int
        The Byzantine clients.
    info : dict
        Dataset, model, aggregator (``kappa_name``, ``nnm``), accounting method, device, timing;
        with per-client settings also ``client_bits_total``, ``client_rounds`` (participations)
        and ``client_group`` per client.
    client_events, client_guarantees : dict or None
        With per-client settings (``config.clients``): each client's executed event
        (``config.client_accounting_event(i, rounds_completed)``) and its guarantee at its own
        δ; ``accounting_event`` / ``guarantee`` are then the weakest client's.

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> from fltheory.fl import simulate
    >>> run = simulate(ExperimentConfig.from_dict({
    ...     "data": {"num_clients": 4}, "training": {"rounds": 2}, "run": {"progress": False}}))
    >>> run.metric("round").tolist(), run.final["round"]
    ([1.0, 2.0], 2)
    """

    config: ExperimentConfig
    metrics: list[dict]
    params: torch.Tensor
    accounting_event: Any
    guarantee: Any = None
    byzantine_ids: list[int] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    messages: MessageLog | None = None
    client_events: dict | None = None
    client_guarantees: dict | None = None

    @property
    def final(self) -> dict:
        """Metrics of the last round."""
        return self.metrics[-1] if self.metrics else {}

    @property
    def rounds(self) -> int:
        """Rounds completed."""
        return len(self.metrics)

    def metric(self, name: str) -> np.ndarray:
        """One metric over the rounds as a float array (``nan`` where it was not measured)."""
        vals = [m.get(name) for m in self.metrics]
        return np.array([np.nan if v is None else float(v) for v in vals], dtype=float)

    def last(self, name: str) -> float | None:
        """The last measured value of a metric (``None`` if never measured)."""
        for m in reversed(self.metrics):
            if m.get(name) is not None:
                return m[name]
        return None

    def to_dict(self) -> dict:
        """JSON-ready dictionary (everything except the parameters)."""
        g = self.guarantee
        acc = {"event": repr(self.accounting_event),
               "delta": self.config.privacy.delta,
               "level": self.config.privacy.level,
               "method": self.info.get("accounting_method"),
               "neighboring": self.config.privacy.neighboring}
        if g is not None:
            acc.update(epsilon=g.epsilon, epsilon_lower=g.epsilon_lower, method=g.method,
                       reference=g.reference, notes=list(g.notes))
        else:
            acc.update(epsilon=math.inf, epsilon_lower=None)
        return {
            "name": self.config.name,
            "config": self.config.to_dict(),
            "rounds": self.rounds,
            "summary": {k: self.last(k) for k in ("loss", "accuracy", "distance_to_optimum",
                                                   "epsilon", "bits_total", "wall_time",
                                                   "backdoor_success")
                        if any(k in m for m in self.metrics)},
            "accounting": acc,
            "byzantine_ids": list(self.byzantine_ids),
            "info": self.info,
            "metrics": self.metrics,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` content as JSON text (infinities as ``"inf"``)."""
        import json

        from fltheory._io import jsonable

        return json.dumps(jsonable(self.to_dict()), indent=indent)

    def save(self, out_dir: Any) -> dict[str, str]:
        """Write ``result.json`` and ``params.pt`` into ``out_dir`` atomically; return the paths."""
        from fltheory._io import write_json_atomic

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res = write_json_atomic(out / RESULT, self.to_dict())
        par = _torch_save_atomic({"params": self.params.detach().cpu(),
                                  "model": self.info.get("model")}, out / PARAMS)
        return {"result": res, "params": par}


# --------------------------------------------------------------------------------------------------
# Checkpoints and progress
# --------------------------------------------------------------------------------------------------
def _torch_save_atomic(obj: Any, path: Path) -> str:
    from fltheory._io import atomic_write

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _comparable(cfg_dict: dict) -> dict:
    d = {k: v for k, v in cfg_dict.items()}
    d["run"] = {k: v for k, v in d.get("run", {}).items()
                if k not in _RUN_KEYS_IGNORED_ON_RESUME}
    return d


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            diff = _first_difference(va, vb, f"{prefix}{key}.")
            if diff:
                return diff
        elif va != vb:
            return f"{prefix}{key}"
    return None


class _Progress:
    """The rounds' bar on stderr (tqdm: rate, elapsed, ETA), drawn once the run has lasted
    ``delay`` seconds; shows accuracy (or loss) and epsilon of the latest evaluated round."""

    def __init__(self, total: int, enabled: bool, delay: float = 0.0, start: int = 0) -> None:
        from fltheory._progress import bar

        self.total = total
        self._bar = bar(total, "rounds", unit="round", enabled=enabled, delay=delay)
        self._bar.update(start)

    def update(self, done: int, m: dict) -> None:
        parts = []
        if m.get("accuracy") is not None:
            parts.append(f"acc {m['accuracy']:.3f}")
        elif m.get("loss") is not None:
            parts.append(f"loss {m['loss']:.4g}")
        if m.get("epsilon") is not None and math.isfinite(m["epsilon"]):
            parts.append(f"eps {m['epsilon']:.3g}")
        if parts:
            self._bar.set_postfix_str(", ".join(parts), refresh=False)
        self._bar.update(done - self._bar.n)
        if done >= self.total:
            self.close()

    def close(self) -> None:
        self._bar.close()


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------
class _Engine:
    def __init__(self, cfg: ExperimentConfig, dataset: _data.FederatedDataset | None, *,
                 noise_scale: float = 1.0, bug: str | None = None,
                 compressor: Any = None) -> None:
        self.cfg = cfg
        tr, bz, cp = cfg.training, cfg.byzantine, cfg.compression
        self.device = torch.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device must be 'cpu' when no CUDA device is available, "
                             f"got {cfg.device!r}")
        ds = build_dataset(cfg) if dataset is None else dataset
        if ds.num_clients != cfg.data.num_clients:
            raise ValueError(f"dataset must have data.num_clients={cfg.data.num_clients} "
                             f"clients, got {ds.num_clients}")
        self.n = ds.num_clients
        setup = np.random.default_rng(_stream_seed(cfg.seed, 0, "setup"))
        self.byz = sorted(int(i) for i in setup.choice(self.n, bz.num_byzantine, replace=False))
        self.is_byz = torch.zeros(self.n, dtype=torch.bool)
        self.is_byz[self.byz] = True
        self.attack = self._build_attack(ds)
        if self.attack is not None and self.attack.kind == "data" and self.byz:
            gen = torch.Generator().manual_seed(_stream_seed(cfg.seed, 0, "attack"))
            xs, ys = list(ds.x), list(ds.y)
            for i in self.byz:
                xs[i], ys[i] = self.attack.poison(xs[i], ys[i], generator=gen)
            ds = _data.FederatedDataset(xs, ys, ds.x_test, ds.y_test, task=ds.task,
                                        num_classes=ds.num_classes, name=ds.name,
                                        optimum=ds.optimum, l2=ds.l2, info=dict(ds.info))
        self.dataset = ds
        self.model = build_model(cfg, ds)
        self.d = self.model.num_params
        self.stack = ClientStack.from_dataset(ds, self.device)
        self.targets = soft_targets(self.model, self.stack.y)
        self.x_test = ds.x_test.to(self.device)
        self.y_test = ds.y_test.to(self.device)
        self.optimum = None
        if ds.optimum is not None and ds.optimum.numel() == self.d:
            self.optimum = ds.optimum.to(self.device)
        try:
            self.rule = _aggregators.get(bz.aggregator, f=bz.num_byzantine,
                                         pre=bz.pre_aggregators, **bz.aggregator_params)
        except ValueError as exc:   # name the configuration key
            raise ValueError(f"byzantine.aggregator: {exc}") from None
        self._rules: dict[int, Any] = {bz.num_byzantine: self.rule}
        tr = self.cfg.training
        cohort = tr.cohort_size if tr.client_sampling == "fixed" else self.n
        f_max = self.rule._max_f_pipeline(cohort)
        if bz.num_byzantine > f_max:   # refused before training, never capped silently
            raise ValueError(f"byzantine.num_byzantine must be <= {f_max} for aggregator "
                             f"{bz.aggregator!r} with {cohort} clients per round, got "
                             f"{bz.num_byzantine}")
        if compressor is not None:
            if cp.stage != "update" or cp.name != "none":
                raise ValueError("compressor= replaces compression.name='none' only (got "
                                 f"compression.name={cp.name!r}, stage={cp.stage!r})")
            if hasattr(compressor, "reset"):
                compressor.reset()
        self.compressor = compressor if compressor is not None else build_compressor(cp, self.d)
        self.mech_mask = cp.stage == "mechanism"
        # the one DP release mechanism (clip, masks, sum, noise) of this run
        self.release = release_of(cfg, self.d, noise_scale=noise_scale, bug=bug)
        if bug is not None and self.release is None:
            raise ValueError(f"bug={bug!r} plants a bug in the DP release, but "
                             "privacy.level='none' releases nothing")
        self.client_rate = tr.effective_client_rate
        # per-client settings (config.clients): groups of clients with identical settings
        self.per_client = _PerClient(cfg) if cfg.clients.enabled else None
        self.client_bits = np.zeros(self.n, dtype=np.int64)
        self.client_rounds = np.zeros(self.n, dtype=np.int64)
        self.mixup = cfg.mixup.enabled
        self.fedsgd = tr.algorithm == "fedsgd"
        self.record: list | None = None

    # -- setup helpers ------------------------------------------------------------------------
    def _build_attack(self, ds: _data.FederatedDataset):
        bz = self.cfg.byzantine
        if bz.attack == "none" or bz.num_byzantine == 0:
            return None
        params = dict(bz.attack_params)
        name = bz.attack.strip().lower()
        if name == "label_flip":
            if ds.task != "classification":
                raise ValueError("byzantine.attack='label_flip' needs a classification dataset")
            params.setdefault("num_classes", ds.num_classes)
        elif name == "backdoor":
            if ds.task != "classification":
                raise ValueError("byzantine.attack='backdoor' needs a classification dataset")
            if "image_shape" not in params and _infer_image_shape(ds) is not None:
                params["image_shape"] = _infer_image_shape(ds)
            expected = max(1, int(round(self.cfg.training.effective_client_rate * self.n)))
            if self.cfg.training.client_sampling == "fixed":
                expected = self.cfg.training.cohort_size
            params.setdefault("num_clients", expected)
            params.setdefault("server_lr", self.cfg.training.server_lr)
        if "image_shape" in params and params["image_shape"] is not None:
            params["image_shape"] = tuple(params["image_shape"])
        try:
            return _attacks.get(name, **params)
        except ValueError as exc:   # name the configuration key
            raise ValueError(f"byzantine.attack: {exc}") from None

    def rule_for(self, m: int):
        f = self.cfg.byzantine.num_byzantine
        f_ok = min(f, self.rule._max_f_pipeline(m)) if m > 0 else 0
        if f_ok not in self._rules:
            bz = self.cfg.byzantine
            self._rules[f_ok] = _aggregators.get(bz.aggregator, f=f_ok, pre=bz.pre_aggregators,
                                                 **bz.aggregator_params)
        return self._rules[f_ok]

    # -- masks ----------------------------------------------------------------------------------
    def _mask_bits(self, kept: torch.Tensor, secret: bool) -> int:
        kept = [int(k) for k in kept.reshape(-1).tolist()]
        if secret:
            return sum(_FLOAT_BITS * k + _position_bits(k, self.d) for k in kept)
        return sum(_FLOAT_BITS * k + _SEED_BITS for k in kept)

    # -- local training --------------------------------------------------------------------------
    def local(self, params: torch.Tensor, ids: torch.Tensor, rng: _RoundRng,
              shared_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Local steps of the clients ``ids``: their messages ``(len(ids), d)`` and the kept
        positions they transmit (``(len(ids), steps, d)``; ``None`` unless the planted bug
        ``positions_sent`` is on).

        Clients are processed in chunks of about 2^20 parameters (all at once for small
        models): the per-client tensors then stay in the CPU caches.  The chunking depends on
        the model size only, so the random draws are the same on every run.
        """
        k = int(ids.numel())
        chunk = max(1, min(k, _CHUNK_PARAMS // self.d))
        out = params.new_empty((k, self.d))
        if self.per_client is not None:     # one pass per group of identical settings
            for g, rows in self.per_client.split(ids):
                part = self.local_group(params, ids[rows], rng, self.round_masks[g],
                                        self.per_client.groups[g])
                out[rows.to(out.device)] = part
            return out, None
        pos = [self._local_chunk(params, ids[a:a + chunk], rng, shared_mask, out[a:a + chunk])
               for a in range(0, k, chunk)]
        return out, (torch.cat(pos) if pos and pos[0] is not None else None)

    def local_group(self, params: torch.Tensor, ids: torch.Tensor, rng: _RoundRng,
                    mask: torch.Tensor | None, s: Any) -> torch.Tensor:
        """Local steps of one group of clients with per-client settings ``s``."""
        from dataclasses import replace

        release = (None if self.release is None
                   else replace(self.release, noise_multiplier=s.noise_multiplier))
        k = int(ids.numel())
        chunk = max(1, min(k, _CHUNK_PARAMS // self.d))
        out = params.new_empty((k, self.d))
        for a in range(0, k, chunk):
            self._local_chunk(params, ids[a:a + chunk], rng, mask, out[a:a + chunk],
                              batch_rate=s.batch_rate, release=release,
                              local_steps=s.local_steps)
        return out

    def _local_chunk(self, params: torch.Tensor, ids: torch.Tensor, rng: _RoundRng,
                     shared_mask: torch.Tensor | None, p: torch.Tensor, *,
                     batch_rate: float | None = None, release: Release | None = None,
                     local_steps: int | None = None) -> torch.Tensor | None:
        """Local steps of ``ids``, their messages written into ``p`` (a row block).

        ``batch_rate``, ``release`` (the noise multiplier) and ``local_steps`` override the
        configuration's values (per-client settings, one group at a time).
        """
        cfg, tr, pv = self.cfg, self.cfg.training, self.cfg.privacy
        batch_rate = pv.batch_rate if batch_rate is None else batch_rate
        release = self.release if release is None else release
        local_steps = tr.local_steps if local_steps is None else local_steps
        k = int(ids.numel())
        dev_ids = ids.to(self.device)
        sub = self.stack.select(dev_ids)
        targets = self.targets[dev_ids]
        sizes = sub.sizes.to(params.dtype)
        p.copy_(params.unsqueeze(0).expand(k, -1))
        dp_record = pv.level == "record"
        first_grad = None
        full = tr.batch_sampling == "full" and not dp_record
        wd = tr.weight_decay      # ridge term of the local objective (data-independent)
        positions = []
        if dp_record:
            # step = lr * (clipped sum + noise) / (expected batch size [x E lambda])
            denom = batch_rate * sizes * (MEAN_WEIGHT if self.mixup else 1.0)
            step_scale = (tr.lr / denom).unsqueeze(1)
        for _ in range(local_steps):
            if full:
                xb, tb, w = sub.x, targets, sub.valid.to(params.dtype)
            else:
                if dp_record:
                    mask = poisson_batches(sub.valid, batch_rate, rng.torch("batches"))
                elif tr.batch_sampling == "poisson":
                    rate = (torch.full((k,), batch_rate) if batch_rate is not None
                            else torch.clamp(tr.batch_size / sizes.cpu(), max=1.0))
                    mask = poisson_batches(sub.valid, rate, rng.torch("batches"))
                else:
                    mask = fixed_batches(sub.valid, tr.batch_size, rng.torch("batches"))
                idx, w = compact(mask)
                xb, tb = gather(sub.x, idx), gather(targets, idx)
                w = w.to(params.dtype)
            if dp_record:
                if self.mixup:
                    w = record_weights(w, cfg.mixup.alpha, rng.numpy("mixup"))
                out = release.record_sums(self.model, p, xb, tb, w,
                                               generator=rng.torch("noise"),
                                               mask_generator=rng.torch("mask"),
                                               shared_mask=shared_mask)
                if out.positions is not None:
                    positions.append(out.positions.any(1).cpu())
                g = out.value.mul_(step_scale)           # lr * g
                if wd:
                    g.add_(p, alpha=tr.lr * wd)           # + lr * weight_decay * theta
                if self.fedsgd and first_grad is None:
                    first_grad = g / tr.lr
                p.sub_(g)
            else:
                if self.mixup:
                    xb, tb = mix_batch(xb, tb, w, cfg.mixup.alpha, rng.numpy("mixup"),
                                       rng.torch("mixup"))
                g = weighted_grads(self.model, p, xb, tb, w)
                g.mul_((tr.lr / w.sum(1).clamp_min(1.0)).unsqueeze(1))
                if wd:
                    g.add_(p, alpha=tr.lr * wd)
                if self.fedsgd and first_grad is None:
                    first_grad = g / tr.lr
                p.sub_(g)
        if self.fedsgd:
            p.copy_(first_grad)
        else:
            p.sub_(params)
        return torch.stack(positions, 1) if positions else None

    # -- one round -------------------------------------------------------------------------------
    def round(self, t: int, params: torch.Tensor, momentum: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        cfg, tr, pv = self.cfg, self.cfg.training, self.cfg.privacy
        rng = _RoundRng(cfg.seed, t)
        # 1. clients
        if self.per_client is not None and cfg.clients.client_rate is not None:
            ids = self.per_client.sample(rng.torch("clients"))
        elif tr.client_sampling == "all":
            ids = torch.arange(self.n)
        elif tr.client_sampling == "poisson":
            ids = (torch.rand(self.n, generator=rng.torch("clients")) < tr.client_rate
                   ).nonzero().flatten()
        else:
            ids = torch.sort(torch.randperm(self.n, generator=rng.torch("clients"))
                             [: tr.cohort_size]).values
        byz_mask = self.is_byz[ids]
        update_attack = self.attack is not None and self.attack.kind == "update"
        train_ids = ids[~byz_mask] if update_attack else ids
        honest_sel = ~byz_mask[~byz_mask] if update_attack else ~byz_mask
        num_byz = int(byz_mask.sum())
        # shared masks (one per round, public seed)
        shared_mask = None
        if self.mech_mask and cfg.compression.mask == "shared":
            shared_mask = self.release.draw_masks(1, self.d, rng.torch("mask"),
                                                  device=self.device)[0].to(params.dtype)
        if self.per_client is not None:   # public per-group masks of this round
            self.round_masks = self.per_client.masks(self.d, rng.torch("mask"), self.device,
                                                     params.dtype)
        # 2. local training (honest clients, and data-poisoning Byzantine clients)
        positions = None
        if train_ids.numel():
            msgs, positions = self.local(params, train_ids, rng,
                                         shared_mask if pv.level == "record" else None)
        else:
            msgs = params.new_zeros((0, self.d))
        trained_byz = byz_mask[torch.isin(ids, train_ids)] if train_ids.numel() else \
            torch.zeros(0, dtype=torch.bool)
        if self.attack is not None and self.attack.name == "backdoor" and bool(trained_byz.any()):
            msgs = msgs.clone()
            msgs[trained_byz.to(msgs.device)] = self.attack.scale_update(
                msgs[trained_byz.to(msgs.device)])
        # 3. client-side processing: compression (the mechanism's masks are in the release)
        bits = 0
        if pv.level == "client" and self.mech_mask:
            pass                          # counted with the release, step 5
        elif pv.level == "record" and shared_mask is not None:
            bits += self._mask_bits(shared_mask.sum().expand(msgs.shape[0]), False)
        elif pv.level == "record" and self.mech_mask:
            # secret per-record masks: a dense message (noise on every coordinate), the kept
            # positions stay with the client -- unless the planted bug sends them
            bits += _FLOAT_BITS * self.d * int(msgs.shape[0])
            if positions is not None:
                bits += int(positions.numel())
        elif self.per_client is not None:
            msgs, row_bits = self.per_client.finish(msgs, train_ids, self.round_masks,
                                                    rng.torch("compress"))
            bits += int(row_bits.sum())
            np.add.at(self.client_bits, train_ids.numpy(), row_bits)
            np.add.at(self.client_rounds, train_ids.numpy(), 1)
        elif self.compressor is not None and msgs.shape[0]:
            gen = rng.torch("compress")
            if isinstance(self.compressor, _compressors.ErrorFeedback):
                msgs, b = self.compressor(msgs, gen, client_ids=train_ids.tolist())
            else:
                msgs, b = self.compressor(msgs, gen)
            bits += int(b)
        else:
            bits += _FLOAT_BITS * self.d * int(msgs.shape[0])
        # 4. update attacks
        honest = _rows(msgs, honest_sel)
        rule = self.rule_for(int(ids.numel()))
        if update_attack and num_byz:
            if honest.shape[0]:
                byz_msgs = self.attack(honest, num_byz, aggregator=rule,
                                       generator=rng.torch("attack"))
            else:
                byz_msgs = params.new_zeros((num_byz, self.d))
            bits += num_byz * self._message_bits()
            full = params.new_zeros((int(ids.numel()), self.d))
            full[(~byz_mask).to(full.device)] = msgs
            full[byz_mask.to(full.device)] = byz_msgs.to(full.dtype)
            msgs = full
        # 5. aggregation
        info_rejected = 0
        f_eff = None
        if pv.level == "client":
            # the server's release (DP-FedAvg): clip, mask, sum, noise, divide
            out = self.release.aggregate(msgs, generator=rng.torch("noise"),
                                         mask_generator=rng.torch("mask"),
                                         shared_mask=shared_mask)
            agg = out.value / (self.client_rate * self.n)
            info_rejected = out.rejected
            honest_seen = _rows(out.clipped, ~byz_mask)
            if self.mech_mask:
                kept = (out.kept if out.kept is not None
                        else shared_mask.sum().expand(msgs.shape[0]))
                bits += self._mask_bits(_rows(kept, ~byz_mask.to(kept.device)),
                                        cfg.compression.mask == "secret")
            positions = out.positions
        else:
            honest_seen = _rows(msgs, ~byz_mask)
            if msgs.shape[0]:
                agg, info = rule(msgs, generator=rng.torch("aggregate"))
                info_rejected = info.rejected
                f_eff = int(info.f)
            else:
                agg = params.new_zeros(self.d)
        if self.record is not None:
            self.record.append((ids.cpu().clone(), msgs.detach().cpu().clone(),
                                params.detach().cpu().clone(),
                                None if positions is None else positions.cpu().clone()))
        # 6. robustness diagnostics
        agg_error = honest_var = kappa_emp = None
        if honest_seen.shape[0]:
            hm = honest_seen.mean(0)
            agg_error = float(torch.linalg.vector_norm(agg - hm).double() ** 2)
            honest_var = float((torch.linalg.vector_norm(honest_seen - hm, dim=1).double()
                                ** 2).mean())
            if honest_var > 0 and math.isfinite(agg_error):
                kappa_emp = agg_error / honest_var
        # 7. server step
        step = -tr.lr * agg if self.fedsgd else agg
        if tr.momentum > 0:
            momentum = step if momentum is None else tr.momentum * momentum + step
            step = momentum
        new_params = params + tr.server_lr * step
        metrics = {"round": t, "clients": int(ids.numel()), "byzantine": num_byz,
                   "bits": int(bits), "rejected": int(info_rejected), "agg_error": agg_error,
                   "honest_variance": honest_var, "kappa_empirical": kappa_emp,
                   "f_effective": f_eff}
        return new_params, momentum, metrics

    def _message_bits(self) -> int:
        if self.compressor is None:
            return _FLOAT_BITS * self.d
        b = self.compressor.bits(self.d)
        return int(b) if b is not None else _FLOAT_BITS * self.d

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, params: torch.Tensor) -> dict:
        res = self.model.evaluate(params, self.x_test, self.y_test)
        out = {"loss": res["loss"], "accuracy": res.get("accuracy")}
        if self.optimum is not None:
            out["distance_to_optimum"] = float((params - self.optimum).norm())
        if self.attack is not None and self.attack.name == "backdoor":
            out["backdoor_success"] = self.attack.success_rate(self.model, params, self.x_test,
                                                               self.y_test)
        return out


def _rows(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``x[keep]`` without a copy when every row is kept."""
    if x.shape[0] == 0 or bool(keep.all()):
        return x
    return x[keep.to(x.device)]


# --------------------------------------------------------------------------------------------------
# Accounting of the run
# --------------------------------------------------------------------------------------------------
def _accounting_method(event: Any) -> str:
    from fltheory.accounting import supports

    return "pld" if supports(event, "pld") else "rdp"


def _epsilon_curve(cfg: ExperimentConfig, rounds: int, client_rate: float) -> tuple[np.ndarray, str]:
    from fltheory.accounting import epsilon_curve

    if cfg.privacy.level == "none":
        return np.full(rounds, np.inf), "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # issued once, by the final guarantee
        method = _accounting_method(cfg.accounting_event(1, client_rate=client_rate))
        eps = epsilon_curve(lambda t: cfg.accounting_event(int(t), client_rate=client_rate),
                            np.arange(1, rounds + 1), cfg.privacy.delta, method=method,
                            neighboring=cfg.privacy.neighboring)
    return np.asarray(eps, float), method


# --------------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------------
def simulate(config: ConfigLike, *, out_dir: Any = None, resume: bool = False,
             progress: bool | None = None,
             callback: Callable[[int, dict], None] | None = None,
             dataset: _data.FederatedDataset | None = None,
             noise_scale: float = 1.0, record_messages: bool = False,
             bug: str | None = None, compressor: Any = None) -> RunResult:
    r"""Run the FL experiment ``config`` describes; return its metrics and accounting event.

    Parameters
    ----------
    config : ExperimentConfig, dict or path
        The recipe (a TOML path, a nested dict, or an
        :class:`~fltheory.config.ExperimentConfig`).
    out_dir : str or path, optional
        Directory for checkpoints (every ``run.checkpoint_every`` rounds, ``checkpoint.pt``) and
        the results (``result.json`` and ``params.pt``, written atomically at the end).  Without
        it nothing is written.
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` if it exists (written for the same
        configuration; ``run.progress`` and ``run.checkpoint_every`` may differ).  The resumed
        run equals the uninterrupted one.
    progress : bool, optional
        Show a progress bar on stderr.  Default: when ``run.progress`` is true, stderr is a
        terminal and the run lasts more than a second.
    callback : callable, optional
        ``callback(round, metrics)`` after every round (an exception it raises interrupts the
        run; checkpoints already written stay).
    dataset : FederatedDataset, optional
        Data to use instead of building ``config.data`` (same number of clients).  The
        accounting does not depend on the data, only on the recipe.
    noise_scale : float
        Multiplies the DP noise standard deviation (default 1).  Only for planting a bug on
        purpose in validation tests (``0.5``: half the noise the accountant assumes); the
        accounting event stays that of the configuration, so audits must flag the run.
    compressor : Compressor, optional
        An update compressor object (:mod:`fltheory.fl.compressors`) applied to every message
        after the local steps, in place of ``compression`` (which must then be ``"none"``):
        post-processing, so the accounting event is unchanged.  The leakage sweeps use it for
        compressors without a configuration name (e.g. magnitude pruning).
    bug : str, optional
        A planted bug of the release mechanism (:data:`fltheory.fl.release.BUGS`:
        ``"half_noise"``, ``"double_clip"``, ``"noise_before_clip"``, ``"positions_sent"``),
        for validation tests only; the accounting event is unchanged.
    record_messages : bool
        Keep every message the server received (:class:`MessageLog`, ``RunResult.messages``)
        for the leakage attacks of :mod:`fltheory.audit`.  Memory: ``rounds x clients x d``
        floats.  Not with a resumed run (the messages before the checkpoint are not stored).

    Returns
    -------
    RunResult
        Per-round metrics, final parameters, and ``accounting_event =
        config.accounting_event(rounds_completed, client_rate=rate_used)``.

    Raises
    ------
    ValueError
        For a configuration the engine cannot run faithfully (e.g. a robust aggregator with
        client-level DP, ``device="cuda"`` without a GPU, a checkpoint of another
        configuration).

    References
    ----------
    H. B. McMahan, E. Moore, D. Ramage, S. Hampson and B. Agüera y Arcas (2017).
    Communication-efficient learning of deep networks from decentralized data. AISTATS (FedAvg,
    FedSGD).  M. Abadi et al. (2016). Deep learning with differential privacy. CCS (DP-SGD).
    H. B. McMahan, D. Ramage, K. Talwar and L. Zhang (2018). Learning differentially private
    recurrent language models. ICLR (DP-FedAvg).

    Examples
    --------
    >>> from fltheory.config import ExperimentConfig
    >>> cfg = ExperimentConfig.from_dict({
    ...     "data": {"num_clients": 10}, "training": {"rounds": 5, "lr": 0.5},
    ...     "byzantine": {"num_byzantine": 2, "attack": "sign_flip", "aggregator": "cwtm"},
    ...     "run": {"progress": False}})
    >>> run = simulate(cfg)
    >>> run.final["accuracy"] > 0.8, run.final["byzantine"]
    (True, 2)
    """
    from .registries import validate_config

    cfg = validate_config(config)              # every component name, before any work
    t_start = time.perf_counter()
    from fltheory._checks import check_positive

    engine = _Engine(cfg, dataset, noise_scale=check_positive("noise_scale", noise_scale),
                     bug=bug, compressor=compressor)
    total = cfg.training.rounds
    out = Path(out_dir) if out_dir is not None else None
    ckpt_every = cfg.run.checkpoint_every if out is not None else 0
    params = engine.model.init(seed=cfg.seed, device=engine.device)
    momentum = None
    metrics: list[dict] = []
    start, elapsed0 = 0, 0.0
    if resume:
        if out is None:
            raise ValueError("resume=True needs out_dir (where the checkpoint is)")
        path = out / CHECKPOINT
        if path.is_file():
            state = torch.load(path, map_location="cpu", weights_only=True)
            diff = _first_difference(_comparable(state["config"]), _comparable(cfg.to_dict()))
            if diff:
                raise ValueError(f"the checkpoint in {str(out)!r} was written for another "
                                 f"configuration ({diff!r} differs); run without --resume or "
                                 "use another output directory")
            start = int(state["round"])
            params = state["params"].to(engine.device)
            momentum = None if state["momentum"] is None else state["momentum"].to(engine.device)
            metrics = list(state["metrics"])
            elapsed0 = float(state["elapsed"])
            if isinstance(engine.compressor, _compressors.ErrorFeedback):
                engine.compressor.memory = {int(k): v.to(engine.device)
                                            for k, v in state["ef_memory"].items()}
            if "client_bits" in state:    # per-client counters (config.clients)
                engine.client_bits[:] = np.asarray(state["client_bits"], dtype=np.int64)
                engine.client_rounds[:] = np.asarray(state["client_rounds"], dtype=np.int64)
    if record_messages:
        if start:
            raise ValueError("record_messages=True cannot resume from a checkpoint (the "
                             f"messages of rounds 1..{start} were not stored); run without "
                             "resume or use another output directory")
        engine.record = []
    eps_curve, method = _epsilon_curve(cfg, total, engine.client_rate)
    if progress is None:   # default: long runs on a terminal, unless --quiet
        from fltheory._progress import enabled as _progress_on

        bar = _Progress(total, cfg.run.progress and _progress_on(), delay=1.0, start=start)
    else:
        bar = _Progress(total, bool(progress), start=start)
    t_loop = time.perf_counter() - (elapsed0 + (time.perf_counter() - t_start))
    with torch.no_grad():
        for t in range(start + 1, total + 1):
            params, momentum, m = engine.round(t, params, momentum)
            if t % cfg.run.eval_every == 0 or t == total:
                m.update(engine.evaluate(params))
            else:
                m.update({"loss": None, "accuracy": None})
            m["epsilon"] = float(eps_curve[t - 1])
            m["bits_total"] = (metrics[-1]["bits_total"] if metrics else 0) + m["bits"]
            m["wall_time"] = time.perf_counter() - t_loop
            metrics.append(m)
            if ckpt_every and t % ckpt_every == 0 and t < total:
                ef = (engine.compressor.memory
                      if isinstance(engine.compressor, _compressors.ErrorFeedback) else {})
                _torch_save_atomic({
                    "version": 1, "round": t, "params": params.detach().cpu(),
                    "momentum": None if momentum is None else momentum.detach().cpu(),
                    "ef_memory": {int(k): v.detach().cpu() for k, v in ef.items()},
                    "metrics": metrics, "elapsed": m["wall_time"],
                    "client_bits": engine.client_bits.tolist(),
                    "client_rounds": engine.client_rounds.tolist(),
                    "config": cfg.to_dict()}, out / CHECKPOINT)
            bar.update(t, m)
            if callback is not None:
                callback(t, m)
    f_cfg = cfg.byzantine.num_byzantine
    lowered = [m["round"] for m in metrics
               if m.get("f_effective") is not None and m["f_effective"] < f_cfg]
    exceeded = [m["round"] for m in metrics
                if m.get("f_effective") is not None and m["byzantine"] > m["f_effective"]]
    if exceeded:
        warnings.warn(
            f"in {len(exceeded)} round(s) (first: round {exceeded[0]}) more Byzantine clients "
            f"took part than the aggregation rule tolerated with the clients of that round "
            f"(metrics 'byzantine' > 'f_effective'; byzantine.num_byzantine={f_cfg}): the "
            "(f, kappa)-robustness guarantee does not cover those rounds", RuntimeWarning,
            stacklevel=2)
    event = cfg.accounting_event(len(metrics), client_rate=engine.client_rate)
    guarantee = None
    if cfg.privacy.level != "none":
        from fltheory.accounting import epsilon

        guarantee = epsilon(event, cfg.privacy.delta, method=method,
                            neighboring=cfg.privacy.neighboring)
    info = {"dataset": repr(engine.dataset), "model": engine.model.name,
            "num_params": engine.d, "aggregator": engine.rule.name,
            "kappa_name": engine.rule.kappa_name, "nnm": bool(engine.rule.nnm),
            "attack": None if engine.attack is None else engine.attack.name,
            "compressor": None if engine.compressor is None else repr(engine.compressor),
            "client_rate": engine.client_rate, "accounting_method": method,
            "device": str(engine.device), "torch": torch.__version__,
            "resumed_from": start if resume and start else None,
            "f_lowered_rounds": lowered, "f_exceeded_rounds": exceeded}
    client_events = client_guarantees = None
    if engine.per_client is not None:
        # per-client settings: each client's own executed mechanism and guarantee at its δ
        from fltheory.accounting import per_client_epsilon

        client_events = {i: cfg.client_accounting_event(i, len(metrics))
                         for i in range(engine.n)}
        client_guarantees = {}
        for dl in sorted({cfg.client_delta(i) for i in range(engine.n)}):
            ids_ = [i for i in range(engine.n) if cfg.client_delta(i) == dl]
            client_guarantees.update(per_client_epsilon({i: client_events[i] for i in ids_}, dl,
                                                        neighboring=cfg.privacy.neighboring))
        info.update(client_bits_total=engine.client_bits.tolist(),
                    client_rounds=engine.client_rounds.tolist(),
                    client_group=engine.per_client.group_of.tolist())
    log = None
    if engine.record is not None:
        gp = torch.stack([r[2] for r in engine.record] + [params.detach().cpu()])
        pos = [r[3] for r in engine.record]
        log = MessageLog(gp, [r[0] for r in engine.record], [r[1] for r in engine.record],
                         cfg.training.algorithm, float(cfg.training.lr),
                         pos if any(p is not None for p in pos) else None)
    result = RunResult(config=cfg, metrics=metrics, params=params.detach().cpu(),
                       accounting_event=event, guarantee=guarantee,
                       byzantine_ids=list(engine.byz), info=info, messages=log,
                       client_events=client_events, client_guarantees=client_guarantees)
    if out is not None:
        result.save(out)
    return result
