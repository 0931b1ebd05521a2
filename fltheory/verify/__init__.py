"""Exact-ε verifier: the project's own check that every certified number is a guarantee.

For tiny instances (1-3 coordinates, small n and b, T <= 3) of every mechanism fltheory accounts
for, :mod:`fltheory.verify.mechanisms` writes down the mechanism *as the engine implements it*
(per-record secret masks applied before the sum, per-client masks over a client's mean, hidden
mixup weights, shuffled binary randomized response, integer noises, ...), enumerates its random
choices (masks, subsets, counts, weights) and integrates the Gaussian noise with certified
quadrature (:mod:`fltheory.verify._exact`), over a grid of neighbouring datasets that contains
the adversarial ones of issue 11.  :func:`~fltheory.verify.harness.check` then requires

.. math::

    \\varepsilon_{\\mathrm{lower}} \\;\\le\\; \\varepsilon_{\\mathrm{exact}} \\;\\le\\;
    \\varepsilon_{\\mathrm{upper}}

for the library's :func:`~fltheory.accounting.epsilon`, with the exact ε bracketed rigorously.
:mod:`fltheory.verify.robustness` probes the proved (f, κ) constants by exhaustive enumeration of
placements in one dimension.

Pure NumPy/SciPy (theory layer, no torch).

Examples
--------
>>> from fltheory.verify import mechanisms as M
>>> from fltheory.verify.harness import check
>>> c = check(M.dp_fedavg(0.2, 1.2, 1))
>>> c.ok and c.epsilon_lower <= c.exact_upper and c.exact_lower <= c.epsilon
True
"""

from .harness import Check, SuiteResult, check, default_suite, run_suite, slow_suite
from .robustness import KappaSearch, exact_kappa_1d

__all__ = ["Check", "SuiteResult", "check", "default_suite", "slow_suite", "run_suite",
           "KappaSearch", "exact_kappa_1d"]
