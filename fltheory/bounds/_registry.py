"""Every :class:`~fltheory.bounds.Bound` the package defines, by name (docs, CLI, tests)."""

from __future__ import annotations

import warnings

from ._core import Bound

__all__ = ["all_bounds", "get_bound"]

# bound names of earlier releases: the scaled sign was called "sign"
_RENAMED = {"contraction_sign": "contraction_scaled_sign"}


def all_bounds() -> dict[str, Bound]:
    """All bounds, keyed by :attr:`Bound.name`.

    Examples
    --------
    >>> b = all_bounds()
    >>> "kappa_cwtm" in b and "min_batch_size" in b
    True
    """
    from . import compression as cm
    from . import cost as co
    from . import dp_byzantine as dp
    from . import robustness as rb

    out: list[Bound] = []
    for name in rb.AGGREGATORS:
        out.append(rb.kappa_bound(name))
        out.append(rb.kappa_bound(name, nnm=True))
    out += [rb.kappa_lower_bound_bound(), rb.nnm_bound(), rb.robust_dgd_bound(),
            rb.robust_lower_bound(), rb.breakdown_point_bound(), rb.stochastic_floor_bound()]
    for name in ("krum", "bulyan", "cwmed", "mda"):
        out.append(rb.vn_threshold_bound(name, "vn"))
    for name in ("cwtm", "gm"):
        out.append(rb.vn_threshold_bound(name, "kappa"))
    out += [dp.classical_noise_multiplier_bound(), dp.vn_ratio_bound(),
            dp.min_batch_size_bound(), dp.min_batch_size_bound(constants=False),
            dp.secret_mask_min_batch_bound(),
            dp.naive_composition_error_bound(), dp.smea_error_order_bound()]
    for kind in cm.VARIANCE_KINDS:
        out.append(cm.compressor_variance_bound(kind))
    for kind in ("none", "qsgd", "l2", "scaled_sign", "sign"):
        out.append(cm._bits_bound(kind))
    for coding in ("indices", "bitmap", "seed"):
        out.append(cm.bits_per_round_bound("randk", coding))
    out += [cm.noise_energy_bound(), cm.byzantine_compression_floor_bound()]
    for name in co.COST_AGGREGATORS:
        for what in ("flops", "memory"):
            out.append(co.aggregation_cost_bound(name, what))
    out.append(co.aggregation_cost_bound("smea", "flops", "dense"))
    out.append(co.aggregation_cost_bound("smea", "memory", "dense"))
    return {b.name: b for b in out}


def get_bound(name: str) -> Bound:
    """The bound called ``name`` (see :func:`all_bounds`).

    Examples
    --------
    >>> get_bound("kappa_lower").evaluate(n=10, f=2)
    0.3333333333333333
    """
    bounds = all_bounds()
    if name in _RENAMED:
        warnings.warn(f"bound name {name!r} is deprecated; use {_RENAMED[name]!r}",
                      DeprecationWarning, stacklevel=2)
        name = _RENAMED[name]
    if name == "bits_sign":
        warnings.warn("bound 'bits_sign' is the plain sign (d bits); before this release it "
                      "was the scaled sign's d + w bits, now 'bits_scaled_sign'", FutureWarning,
                      stacklevel=2)
    if name not in bounds:
        raise ValueError(f"name must be one of {', '.join(sorted(bounds))}, got {name!r}")
    return bounds[name]
