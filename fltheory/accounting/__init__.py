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
from fltheory.accounting._steps import normalize_neighboring
from fltheory.accounting.support import supports

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
    "supports",
    "normalize_neighboring",
]

from fltheory.accounting import scenarios  # noqa: E402,F401  (registers the built-in scenarios)

# --- amplification sources (issue 3): FL sampling, shuffling, compression, discrete noise,
#     mixup, per-device budgets.  Importing the modules registers their events and scenarios.
from fltheory.accounting._warn import (AmplificationWarning, NoAmplificationWarning,  # noqa: E402
                                       NotAGuaranteeWarning)
from fltheory.accounting.fl_sampling import (TwoLevelSampledDpEvent, dp_fedavg,  # noqa: E402
                                             local_dp_sgd)
from fltheory.accounting.shuffling import (ShuffledDpEvent, random_checkins,  # noqa: E402
                                           shuffled, shuffling_closed_form)
from fltheory.accounting.compression import (  # noqa: E402
    CoordinateSampledGaussianDpEvent, FiniteMechanismDpEvent, SignGaussianDpEvent,
    StochasticQuantizerDpEvent, coordinate_sampled_gaussian, finite_mechanism, pure_epsilon,
    randomized_response, sign_gaussian, stochastic_quantizer, stochastic_rounding)
from fltheory.accounting.discrete import (  # noqa: E402
    BinomialDpEvent, DiscreteGaussianDpEvent, DistributedDiscreteGaussianDpEvent,
    SkellamDpEvent, binomial, cpsgd_epsilon, discrete_gaussian, distributed_discrete_gaussian,
    skellam)
from fltheory.accounting.mixup import MixupDpEvent, mixup  # noqa: E402
from fltheory.accounting.per_client import calibrate_per_client, per_client_epsilon  # noqa: E402

__all__ += [
    "AmplificationWarning", "NoAmplificationWarning", "NotAGuaranteeWarning",
    "dp_fedavg", "local_dp_sgd", "TwoLevelSampledDpEvent",
    "shuffled", "shuffling_closed_form", "random_checkins", "ShuffledDpEvent",
    "coordinate_sampled_gaussian", "stochastic_quantizer", "stochastic_rounding",
    "sign_gaussian", "finite_mechanism", "randomized_response", "pure_epsilon",
    "CoordinateSampledGaussianDpEvent", "StochasticQuantizerDpEvent", "SignGaussianDpEvent",
    "FiniteMechanismDpEvent",
    "binomial", "cpsgd_epsilon", "skellam", "distributed_discrete_gaussian",
    "discrete_gaussian", "BinomialDpEvent", "SkellamDpEvent",
    "DistributedDiscreteGaussianDpEvent", "DiscreteGaussianDpEvent",
    "mixup", "MixupDpEvent",
    "per_client_epsilon", "calibrate_per_client",
]
