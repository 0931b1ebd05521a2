"""Robustness, convergence, DP x Byzantine and compression bounds as symbolic objects.

Every bound is a :class:`Bound`: a sympy expression over the shared symbols (``n, f, d, b, k,
epsilon, delta, C, G, B, L, ...``), with its assumptions, its reference and a short description.
It evaluates vectorised over NumPy arrays, prints LaTeX, and solves for one parameter::

    >>> from fltheory.bounds import kappa_bound, kappa, kappa_lower_bound, min_batch_size
    >>> kappa_bound("cwtm").evaluate(n=20, f=4)
    0.3333333333333333
    >>> kappa_lower_bound(n=20, f=4)
    0.3333333333333333
    >>> min_batch_size(d=25_000_000, epsilon=1.0, delta=1e-5, constants=False)
    5000.0

This package imports without torch, and without sympy until a symbolic name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # the names below are imported on first use (sympy takes about a second)
    from ._core import SYMBOLS, STATUSES, KINDS, Assumption, Bound, symbol
    from .robustness import (
        AGGREGATORS,
        breakdown_point,
        breakdown_point_bound,
        canonical_aggregator,
        kappa,
        kappa_bound,
        kappa_lower_bound,
        kappa_lower_bound_bound,
        nnm_bound,
        robust_dgd_bound,
        robust_error_floor,
        robust_lower_bound,
        stochastic_floor_bound,
        vn_threshold,
        vn_threshold_bound,
    )
    from .dp_byzantine import (
        analytic_noise_multiplier,
        classical_noise_multiplier,
        classical_noise_multiplier_bound,
        gaussian_delta,
        gaussian_epsilon,
        min_batch_size,
        min_batch_size_bound,
        naive_composition_error_bound,
        noise_multiplier,
        per_worker_noise,
        secret_mask_min_batch_bound,
        smea_error_order_bound,
        trilemma_errors,
        vn_ratio_bound,
    )
    from .compression import (
        COMPRESSORS,
        bits_per_round,
        bits_per_round_bound,
        byzantine_compression_floor_bound,
        compressor_variance,
        compressor_variance_bound,
        is_unbiased,
        noise_energy,
        noise_energy_bound,
    )
    from .cost import COST_AGGREGATORS, aggregation_cost, aggregation_cost_bound
    from .probes import ProbeResult, empirical_kappa
    from ._registry import all_bounds, get_bound

#: submodule -> the public names it provides
_LAZY = {
    "._core": ("SYMBOLS", "STATUSES", "KINDS", "Assumption", "Bound", "symbol"),
    ".robustness": ("AGGREGATORS", "breakdown_point", "breakdown_point_bound",
                    "canonical_aggregator", "kappa", "kappa_bound", "kappa_lower_bound",
                    "kappa_lower_bound_bound", "nnm_bound", "robust_dgd_bound",
                    "robust_error_floor", "robust_lower_bound", "stochastic_floor_bound",
                    "vn_threshold", "vn_threshold_bound"),
    ".dp_byzantine": ("analytic_noise_multiplier", "classical_noise_multiplier",
                      "classical_noise_multiplier_bound", "gaussian_delta", "gaussian_epsilon",
                      "min_batch_size", "min_batch_size_bound", "naive_composition_error_bound",
                      "noise_multiplier", "per_worker_noise", "secret_mask_min_batch_bound",
                      "smea_error_order_bound", "trilemma_errors", "vn_ratio_bound"),
    ".compression": ("COMPRESSORS", "bits_per_round", "bits_per_round_bound",
                     "byzantine_compression_floor_bound", "compressor_variance",
                     "compressor_variance_bound", "is_unbiased", "noise_energy",
                     "noise_energy_bound"),
    ".cost": ("COST_AGGREGATORS", "aggregation_cost", "aggregation_cost_bound"),
    ".probes": ("ProbeResult", "empirical_kappa"),
    "._registry": ("all_bounds", "get_bound"),
}
_WHERE = {name: mod for mod, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use (PEP 562)."""
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "SYMBOLS", "STATUSES", "KINDS", "Assumption", "Bound", "symbol",
    "AGGREGATORS", "kappa_bound", "kappa", "kappa_lower_bound", "kappa_lower_bound_bound",
    "nnm_bound", "vn_threshold_bound", "vn_threshold", "robust_dgd_bound", "robust_lower_bound",
    "breakdown_point_bound", "breakdown_point", "stochastic_floor_bound", "robust_error_floor",
    "canonical_aggregator",
    "classical_noise_multiplier_bound", "classical_noise_multiplier", "analytic_noise_multiplier",
    "gaussian_delta", "gaussian_epsilon", "noise_multiplier", "per_worker_noise", "vn_ratio_bound",
    "min_batch_size_bound", "min_batch_size", "secret_mask_min_batch_bound",
    "naive_composition_error_bound",
    "smea_error_order_bound", "trilemma_errors",
    "COMPRESSORS", "compressor_variance_bound", "compressor_variance", "is_unbiased",
    "bits_per_round_bound", "bits_per_round", "noise_energy_bound", "noise_energy",
    "byzantine_compression_floor_bound",
    "COST_AGGREGATORS", "aggregation_cost_bound", "aggregation_cost",
    "ProbeResult", "empirical_kappa",
    "all_bounds", "get_bound",
]
