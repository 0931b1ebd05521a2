"""fltheory: theory-driven privacy accounting and robustness analysis for federated learning.

The sub-packages are

* :mod:`fltheory.accounting` -- privacy budgets (ε, δ) with certified upper and lower bounds;
* :mod:`fltheory.bounds` -- robustness, DP x Byzantine and compression bounds as sympy objects;
* :mod:`fltheory.fl` -- a small PyTorch FL engine used to check the theory (needs the ``fl`` extra).

The first two import without torch.  The top level re-exports the few accounting functions most
scripts need (imported lazily, so ``import fltheory`` stays cheap).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "PrivacyGuarantee": "fltheory.accounting",
    "dp_sgd": "fltheory.accounting",
    "epsilon": "fltheory.accounting",
    "delta": "fltheory.accounting",
    "calibrate_noise": "fltheory.accounting",
    "epsilon_curve": "fltheory.accounting",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fltheory' has no attribute {name!r}")
