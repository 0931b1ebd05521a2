"""A small PyTorch federated-learning engine used to check fltheory's guarantees.

This sub-package is the only place (with :mod:`fltheory.audit` and :mod:`fltheory.validation`)
that imports torch.  Its modules are building blocks a training loop calls once per round, on
tensors:

* :mod:`fltheory.fl.data` -- federated datasets: synthetic tasks with a known optimum,
  scikit-learn's digits, loaders for MNIST IDX files and ``.npz`` arrays, IID / Dirichlet /
  shard partitions;
* :mod:`fltheory.fl.models` -- logistic/linear regression, MLP and a small CNN in functional form
  (flat parameter vectors), per-sample gradients, clipped-and-noised gradient sums;
* :mod:`fltheory.fl.compressors` -- top-k, rand-k, QSGD, sign, 1-bit stochastic quantizer, pruning
  masks, error feedback; each reports the bits it sends;
* :mod:`fltheory.fl.attacks` -- Byzantine attacks (sign flip, IPM, ALIE, optimal ALIE/IPM, Mimic,
  Gaussian, non-finite, label flipping, backdoor);
* :mod:`fltheory.fl.aggregators` -- robust aggregation rules and pre-aggregators sharing one Gram
  matrix per round;
* :mod:`fltheory.fl.training` -- vectorised local steps of many clients (per-example clipping,
  Poisson batches, one kernel for all clients);
* :mod:`fltheory.fl.mixup` -- mixup of client data, weights drawn as the accountant assumes;
* :mod:`fltheory.fl.simulate` -- :func:`simulate` runs an
  :class:`~fltheory.config.ExperimentConfig` and returns a :class:`RunResult` whose
  ``accounting_event`` is the one the accountant builds from the same configuration.

Examples
--------
>>> import torch
>>> from fltheory.fl import aggregators
>>> agg = aggregators.get("cwmed", f=1)
>>> value, info = agg(torch.tensor([[0.0], [1.0], [2.0], [100.0]]))
>>> value
tensor([1.5000])
"""

from __future__ import annotations

try:  # pragma: no cover - exercised only where torch is missing
    import torch as _torch  # noqa: F401
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "fltheory.fl needs PyTorch and scikit-learn: pip install 'fltheory[fl]'"
    ) from exc

import importlib  # noqa: E402
from typing import Any  # noqa: E402

_SUBMODULES = ("aggregators", "attacks", "compressors", "data", "models", "training", "mixup",
               "registries")
_LAZY = {"FederatedDataset": "data", "FunctionalModel": "models", "clipped_grad_sum": "models",
         "validate_config": "registries", "REGISTRIES": "registries"}

# ``simulate`` is both a sub-module and its main function: import it now so that
# ``fltheory.fl.simulate`` is the function whatever is imported first (the sub-modules cost
# ~60 ms next to torch's ~1.5 s).
from .simulate import MessageLog, RunResult, simulate  # noqa: E402

__all__ = [*_SUBMODULES, *_LAZY, "simulate", "RunResult", "MessageLog"]


def __getattr__(name: str) -> Any:
    # Sub-modules load on first use so that importing one does not import them all.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
