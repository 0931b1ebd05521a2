"""The "fltheory" accountant in a real Opacus PrivacyEngine (opacus==1.6.0, extra ``opacus``)."""

import math

import dp_accounting
import numpy as np
import pytest
import torch

opacus = pytest.importorskip("opacus")
pytestmark = pytest.mark.filterwarnings("ignore:Secure RNG turned off", "ignore:Full backward hook")

from opacus import PrivacyEngine  # noqa: E402
from opacus.accountants import RDPAccountant, create_accountant  # noqa: E402

from fltheory.accounting import dp_sgd, epsilon  # noqa: E402
from fltheory.integrations.opacus import FlTheoryAccountant  # noqa: E402

DELTA = 1e-5


def _train(engine, steps_plan, seed=0):
    """Train a tiny logistic model with Poisson sampling; ``steps_plan`` = [(noise, steps), ...]."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 5, generator=g)
    y = (x[:, 0] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=20)
    model = torch.nn.Linear(5, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model, opt, loader = engine.make_private(module=model, optimizer=opt, data_loader=loader,
                                             noise_multiplier=steps_plan[0][0], max_grad_norm=1.0,
                                             poisson_sampling=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    it = iter(loader)
    for noise, steps in steps_plan:
        opt.noise_multiplier = noise
        for _ in range(steps):
            try:
                xb, yb = next(it)
            except StopIteration:
                it = iter(loader)
                xb, yb = next(it)
            opt.zero_grad()
            if len(xb):
                loss_fn(model(xb), yb).backward()
            opt.step()
    return model, opt, loader


def test_registered_and_created_by_name():
    acc = create_accountant("fltheory")
    assert isinstance(acc, FlTheoryAccountant) and acc.mechanism() == "fltheory"


def test_privacy_engine_trains_and_reports_certified_epsilon():
    engine = PrivacyEngine(accountant="fltheory")
    _train(engine, [(1.0, 6), (2.0, 4)])
    acc = engine.accountant
    assert acc.history == [(1.0, 0.1, 6), (2.0, 0.1, 4)]
    eps = engine.get_epsilon(DELTA)
    # the same history, built independently as a dp-accounting composition of dp_sgd events
    ev = dp_accounting.ComposedDpEvent([dp_sgd(0.1, 1.0, 6), dp_sgd(0.1, 2.0, 4)])
    g = epsilon(ev, DELTA)
    assert eps == g.epsilon
    assert acc.get_epsilon_lower(DELTA) == g.epsilon_lower <= eps
    # independent references: dp-accounting's PLD accountant (pessimistic) and Opacus's RDP
    pld = dp_accounting.pld.PLDAccountant(value_discretization_interval=1e-4)
    pld.compose(ev)
    ref = pld.get_epsilon(DELTA)
    assert g.epsilon_lower - 1e-9 <= ref <= eps * 1.01
    rdp = RDPAccountant()
    rdp.history = list(acc.history)
    assert eps < rdp.get_epsilon(DELTA)  # RDP's conversion is looser than the PLD bounds


def test_state_dict_round_trip_through_checkpoint(tmp_path):
    engine = PrivacyEngine(accountant="fltheory")
    model, opt, _ = _train(engine, [(1.5, 3)])
    path = tmp_path / "ckpt.pt"
    engine.save_checkpoint(path=path, module=model, optimizer=opt)
    engine2 = PrivacyEngine(accountant="fltheory")
    model2, opt2, _ = _train(engine2, [(1.5, 1)], seed=1)
    engine2.load_checkpoint(path=path, module=model2, optimizer=opt2)
    assert engine2.accountant.history == engine.accountant.history == [(1.5, 0.1, 3)]
    assert engine2.get_epsilon(DELTA) == engine.get_epsilon(DELTA)
    with pytest.raises(ValueError, match="cannot be loaded"):
        RDPAccountant().load_state_dict(engine.accountant.state_dict())


def test_step_validation_and_edge_cases():
    acc = FlTheoryAccountant()
    assert acc.get_epsilon(DELTA) == 0.0 and len(acc) == 0
    with pytest.raises(ValueError, match="sample_rate"):
        acc.step(noise_multiplier=1.0, sample_rate=1.5)
    with pytest.raises(ValueError, match="noise_multiplier"):
        acc.step(noise_multiplier=float("nan"), sample_rate=0.1)
    acc.step(noise_multiplier=0.0, sample_rate=0.1)
    assert math.isinf(acc.get_epsilon(DELTA))


def test_monotone_in_steps_and_noise():
    def eps(z, steps):
        acc = FlTheoryAccountant()
        for _ in range(steps):
            acc.step(noise_multiplier=z, sample_rate=0.05)
        return acc.get_epsilon(DELTA)

    vals = [eps(1.0, t) for t in (10, 20, 40)]
    assert vals == sorted(vals) and len(set(vals)) == 3
    assert eps(2.0, 20) < eps(1.0, 20)
    assert np.isfinite(vals).all()


def test_docs_example_numbers():
    # docs/integrations.rst states the guarantee of the history [(1.0, 0.05, 60), (1.5, 0.05, 40)]
    # through fltheory's accountant and Opacus's own RDP accountant (the external reference)
    acc = FlTheoryAccountant()
    acc.history = [(1.0, 0.05, 60), (1.5, 0.05, 40)]
    g = acc.get_guarantee(DELTA)
    assert f"{acc.get_epsilon(DELTA):.4f}" == "3.0151" and f"{g.epsilon_lower:.4f}" == "3.0129"
    rdp = RDPAccountant()
    rdp.history = list(acc.history)
    assert f"{rdp.get_epsilon(DELTA):.4f}" == "3.5226"
    assert g.epsilon_lower <= acc.get_epsilon(DELTA) < rdp.get_epsilon(DELTA)
