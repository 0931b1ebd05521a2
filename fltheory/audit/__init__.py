"""Empirical privacy: canary audits, membership inference and gradient inversion.

The accountant (:mod:`fltheory.accounting`) certifies an *upper* bound on ε; this package measures
what an adversary actually achieves against the mechanism that ran, and turns it into a
*lower* bound with a stated confidence.  A lower bound above the certified upper bound proves a bug.

* :mod:`fltheory.audit.stats` -- Clopper–Pearson bounds, the hypothesis-test, Gaussian-DP and
  one-run ε lower bounds, ROC utilities (NumPy/SciPy only: imports without torch);
* :mod:`fltheory.audit.canary` -- white-box gradient canaries for DP-SGD and canary clients for
  DP-FedAvg, run through the engine's noise code, each returning an :class:`AuditResult`;
* :mod:`fltheory.audit.mia` -- loss-threshold and LiRA membership inference with shadow models;
* :mod:`fltheory.audit.inversion` -- analytic first-layer reconstruction and DLG / iDLG, with and
  without DP noise and compression.

Sub-modules load on first use, so ``fltheory.audit.stats`` needs neither torch nor the FL engine.

Examples
--------
>>> from fltheory.audit import stats
>>> round(stats.gdp_epsilon(1.0, 1e-5), 3)
4.377
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("stats", "canary", "mia", "inversion", "source_inference", "attribute_inference",
               "eavesdropper", "passive_mia", "sweeps")
_LAZY = {
    "SourceInferenceResult": "source_inference",
    "AttributeInferenceResult": "attribute_inference",
    "gradient_attribute_inference": "attribute_inference",
    "model_attribute_inference": "attribute_inference",
    "ReconstructionResult": "eavesdropper",
    "reconstruct_local_models": "eavesdropper",
    "eavesdropper_attack": "eavesdropper",
    "PassiveMIAResult": "passive_mia",
    "defense_sweep": "sweeps",
    "epsilon_equivalent": "sweeps",
    "AuditResult": "canary",
    "canary_audit": "canary",
    "gradient_canary_audit": "canary",
    "client_canary_audit": "canary",
    "EpsilonLowerBound": "stats",
    "MIAResult": "mia",
    "AttackMetrics": "mia",
    "membership_inference": "mia",
    "InversionResult": "inversion",
    "invert_gradient": "inversion",
}

__all__ = [*_SUBMODULES, *_LAZY]


def _load(sub: str):
    try:
        return importlib.import_module(f"{__name__}.{sub}")
    except ImportError as exc:
        if sub != "stats" and getattr(exc, "name", None) in ("torch", "sklearn"):
            raise ImportError(f"fltheory.audit.{sub} needs PyTorch and scikit-learn: pip install "
                              "'fltheory[fl]' (fltheory.audit.stats works without them)") from exc
        raise


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return _load(name)
    if name in _LAZY:
        return getattr(_load(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
