"""Shared pytest configuration: a hypothesis profile that keeps the suite fast and reproducible."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fltheory",
    max_examples=int(os.environ.get("FLTHEORY_HYPOTHESIS_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("fltheory")
