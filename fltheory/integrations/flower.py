r"""A Flower strategy with fltheory's robust aggregation rules and certified client-level DP.

:class:`RobustStrategy` is a Flower ``FedAvg`` whose ``aggregate_fit`` replaces the weighted
average by any fltheory rule (:func:`fltheory.fl.aggregators.get`: ``"cwtm"``, ``"krum"``,
``"nnm+cwtm"``, ...)::

    from fltheory.integrations.flower import RobustStrategy

    strategy = RobustStrategy(aggregator="nnm+cwtm", f=2, initial_parameters=params)
    # or client-level DP-FedAvg with the certified epsilon of what ran:
    strategy = RobustStrategy(aggregator="mean", clip_norm=1.0, noise_multiplier=1.0,
                              delta=1e-5, initial_parameters=params)

Each round it

1. flattens every client's parameters into one vector (clients whose parameter shapes differ
   from the first client's are rejected) and, when the current global model is known
   (``initial_parameters`` or a previous round), works on the updates
   :math:`\Delta_i = w_i - w` (for translation-equivariant rules the result is the same);
2. rejects non-finite updates (NaN/±Inf), counted in the metric ``"rejected"``;
3. without DP: aggregates with the rule (weights ``num_examples`` are not used: a Byzantine
   client could claim any number);
4. with ``noise_multiplier > 0``: clips every update to norm ``clip_norm`` :math:`C` (a rejected
   update counts as the zero vector), adds :math:`\mathcal N(0, z^2C^2 I)` to the sum and
   divides by the number of clients that were sent work (``m``, public), i.e. DP-FedAvg's
   noisy mean

   .. math::

       w \leftarrow w + \frac{1}{m}\Bigl(\sum_{i=1}^m \mathrm{clip}_C(\Delta_i)
       + \mathcal N(0, z^2 C^2 I)\Bigr).

   Adding or removing one client's data moves the clipped sum by at most :math:`C`, so each such
   round is a Gaussian mechanism with noise multiplier :math:`z`; the executed rounds compose to
   ``SelfComposedDpEvent(GaussianDpEvent(z), T)`` (``strategy.event()``), whose certified ε at
   ``delta`` (:func:`fltheory.accounting.epsilon`, PLD upper bound; lower bound alongside) is
   reported in the round's metrics as ``"epsilon"`` and ``"epsilon_lower"``.  No amplification
   by client sampling is claimed: Flower samples fixed-size cohorts that the server sees, so the
   bound is the one of a client that takes part in every round.

A robust rule and DP noise are not combined: the noise is calibrated to the sum, whose
sensitivity is :math:`C`; a robust rule's output has another sensitivity.  ``aggregator`` must
be ``"mean"`` when ``noise_multiplier > 0``.

References
----------
.. [1] McMahan, Ramage, Talwar, Zhang. "Learning Differentially Private Recurrent Language
   Models." ICLR 2018, Alg. 1 (DP-FedAvg, client-level DP).
.. [2] Beutel et al. "Flower: A Friendly Federated Learning Research Framework."
   arXiv:2007.14390, 2020 (the Strategy interface).

Examples
--------
>>> import numpy as np
>>> from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
>>> from fltheory.integrations.flower import RobustStrategy
>>> def res(v):
...     return (None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters([np.array(v)]), 10, {}))
>>> strategy = RobustStrategy(aggregator="cwmed", f=1)
>>> params, metrics = strategy.aggregate_fit(1, [res([1.0]), res([2.0]), res([np.nan])], [])
>>> from flwr.common import parameters_to_ndarrays
>>> parameters_to_ndarrays(params), metrics["rejected"]
([array([1.5])], 1)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import dp_accounting
import numpy as np
import torch
from flwr.common import (FitRes, Parameters, Scalar, ndarrays_to_parameters,
                         parameters_to_ndarrays)
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg

from fltheory._checks import check_nonnegative, check_open_unit, check_positive
from fltheory.accounting import epsilon
from fltheory.fl import aggregators as _agg

__all__ = ["RobustStrategy"]


def _flatten(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


class RobustStrategy(FedAvg):
    """Flower ``FedAvg`` with an fltheory aggregation rule and optional client-level DP noise.

    Parameters
    ----------
    aggregator : str or fltheory.fl.aggregators.Aggregator
        A rule name for :func:`fltheory.fl.aggregators.get` (pre-aggregators joined with ``+``)
        or a built rule.
    f : int
        Byzantine clients tolerated (passed to :func:`~fltheory.fl.aggregators.get`).
    aggregator_kwargs : dict, optional
        Keyword arguments of the rule.
    clip_norm : float, optional
        :math:`C > 0`: clip each update to this norm (required with DP; optional otherwise).
    noise_multiplier : float
        :math:`z \\ge 0`; with :math:`z > 0` the round releases the noisy clipped mean.
    delta : float
        δ at which ε is reported.
    seed : int, optional
        Seed of the noise generator (``None``: fresh entropy).
    **kwargs
        Flower ``FedAvg`` arguments (``fraction_fit``, ``min_fit_clients``,
        ``initial_parameters``, ``evaluate_fn``, ...).
    """

    def __init__(self, *, aggregator: Any = "cwtm", f: int = 0,
                 aggregator_kwargs: dict | None = None, clip_norm: float | None = None,
                 noise_multiplier: float = 0.0, delta: float = 1e-5, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(aggregator, _agg.Aggregator):
            self.rule = aggregator
        else:
            self.rule = _agg.get(aggregator, f=f, **(aggregator_kwargs or {}))
        self.noise_multiplier = check_nonnegative("noise_multiplier", noise_multiplier)
        self.clip_norm = None if clip_norm is None else check_positive("clip_norm", clip_norm)
        self.delta = check_open_unit("delta", delta)
        if self.noise_multiplier > 0:
            if self.clip_norm is None:
                raise ValueError("clip_norm must be set when noise_multiplier > 0 (the noise is "
                                 "calibrated to the clipped sum)")
            if self.rule.name != "mean":
                raise ValueError(f"aggregator must be 'mean' when noise_multiplier > 0, got "
                                 f"{self.rule.name!r}: the noise is calibrated to the sum of "
                                 "clipped updates, not to a robust rule's output")
        self._rng = np.random.default_rng(seed)
        self._current: list[np.ndarray] | None = None
        if kwargs.get("initial_parameters") is not None:
            self._current = parameters_to_ndarrays(kwargs["initial_parameters"])
        self.dp_rounds = 0
        self.epsilons: list[dict] = []

    def __repr__(self) -> str:
        return (f"RobustStrategy(rule={self.rule!r}, clip_norm={self.clip_norm}, "
                f"noise_multiplier={self.noise_multiplier})")

    # ------------------------------------------------------------------------------------------
    def initialize_parameters(self, client_manager) -> Parameters | None:
        params = super().initialize_parameters(client_manager)
        if params is not None:
            self._current = parameters_to_ndarrays(params)
        return params

    def event(self) -> dp_accounting.DpEvent:
        """The dp-accounting event of the noisy rounds executed so far."""
        if self.dp_rounds == 0:
            return dp_accounting.NoOpDpEvent()
        return dp_accounting.SelfComposedDpEvent(
            dp_accounting.GaussianDpEvent(self.noise_multiplier), self.dp_rounds)

    def guarantee(self):
        """The certified :class:`~fltheory.accounting.PrivacyGuarantee` of :meth:`event`."""
        return epsilon(self.event(), self.delta)

    def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                      failures: list[tuple[ClientProxy, FitRes] | BaseException],
                      ) -> tuple[Parameters | None, dict[str, Scalar]]:
        """Aggregate the clients' parameters with the rule (see the module docs)."""
        if not results:
            return None, {}
        if not self.accept_failures and failures:
            return None, {}
        arrays = [parameters_to_ndarrays(res.parameters) for _, res in results]
        shapes = [a.shape for a in arrays[0]]
        ref = self._current
        if ref is not None and [a.shape for a in ref] != shapes:
            ref = None  # the model changed shape: aggregate the parameters themselves
        kept, mismatched = [], 0
        for arrs in arrays:
            if [a.shape for a in arrs] != shapes:
                mismatched += 1
                continue
            kept.append(_flatten(arrs))
        x = np.stack(kept)
        base = _flatten(ref) if ref is not None else None
        updates = x - base if base is not None else x
        finite = np.isfinite(updates).all(axis=1)
        rejected = int((~finite).sum()) + mismatched
        metrics: dict[str, Scalar] = {"clients": len(results), "rejected": rejected}
        if self.clip_norm is not None:
            norms = np.linalg.norm(np.where(finite[:, None], updates, 0.0), axis=1)
            scale = np.minimum(1.0, self.clip_norm / np.maximum(norms, 1e-300))
            updates = np.where(finite[:, None], updates * scale[:, None], np.nan)
        if self.noise_multiplier > 0:
            total = np.where(finite[:, None], updates, 0.0).sum(axis=0)
            total = total + self._rng.normal(0.0, self.noise_multiplier * self.clip_norm,
                                             size=total.shape)
            agg = total / len(results)
            self.dp_rounds += 1
            g = self.guarantee()
            metrics["epsilon"] = float(g.epsilon)
            metrics["epsilon_lower"] = (float(g.epsilon_lower) if g.epsilon_lower is not None
                                        else float("nan"))
            metrics["delta"] = self.delta
            self.epsilons.append({"round": server_round, "epsilon": g.epsilon,
                                  "epsilon_lower": g.epsilon_lower})
        else:
            value, info = self.rule(torch.from_numpy(updates))
            agg = value.numpy()
            metrics["rejected"] = info.rejected + mismatched
            if info.selected is not None:
                metrics["selected"] = ",".join(str(i) for i in info.selected)
        new = agg + base if base is not None else agg
        out, pos = [], 0
        for a in arrays[0]:
            size = a.size
            out.append(new[pos:pos + size].reshape(a.shape).astype(a.dtype, copy=False))
            pos += size
        self._current = out
        if self.fit_metrics_aggregation_fn:
            metrics.update(self.fit_metrics_aggregation_fn(
                [(res.num_examples, res.metrics) for _, res in results]))
        return ndarrays_to_parameters(out), metrics

