"""Shared settings for the fltheory.audit tests: one torch thread (the CI machine has 2 cores)."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    try:
        import torch
    except ImportError:  # pragma: no cover - the stats tests run without torch
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
