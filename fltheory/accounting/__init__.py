"""Privacy accounting: events, certified ε/δ, curves, grids and calibration.

Imports without torch.  Every builder returns a ``dp_accounting.DpEvent``; every accounting
function accepts them (and hand-built dp-accounting events) and returns a
:class:`PrivacyGuarantee` that carries a certified upper bound, a certified lower bound where the
method allows one, the method, the neighbouring relation and the reference.
"""

from fltheory.accounting._guarantee import PrivacyGuarantee
from fltheory.accounting.builders import dp_sgd
from fltheory.accounting.core import (calibrate_noise, calibrate_sampling_rate, calibrate_steps,
                                      delta, epsilon, epsilon_curve, epsilon_grid)

__all__ = [
    "PrivacyGuarantee",
    "dp_sgd",
    "epsilon",
    "delta",
    "epsilon_curve",
    "epsilon_grid",
    "calibrate_noise",
    "calibrate_steps",
    "calibrate_sampling_rate",
]

from fltheory.accounting import scenarios  # noqa: E402,F401  (registers the built-in scenarios)
