"""RobustStrategy with real Flower FitRes objects (flwr, extra ``flower``)."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

flwr = pytest.importorskip("flwr")

from flwr.common import (Code, FitRes, Status, ndarrays_to_parameters,  # noqa: E402
                         parameters_to_ndarrays)

from fltheory.integrations.flower import RobustStrategy  # noqa: E402


def _res(arrays, n=10):
    return (None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, {}))


def _model(rng, shift=0.0):
    return [rng.normal(size=(3, 2)) + shift, rng.normal(size=(2,)) + shift]


def _gaussian_exact_epsilon(z, rounds, delta):
    """Exact epsilon(delta) of T Gaussian mechanisms with noise multiplier z (mu = sqrt(T)/z),
    Balle & Wang (ICML 2018), Theorem 8."""
    mu = math.sqrt(rounds) / z

    def d(eps):
        return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2) - delta

    return brentq(d, 0.0, 100.0, xtol=1e-12)


def test_robust_rule_resists_byzantine_clients_and_rejects_nonfinite():
    rng = np.random.default_rng(0)
    honest = [_model(rng) for _ in range(7)]
    byz = [[np.full((3, 2), 1e6), np.full((2,), 1e6)] for _ in range(2)]
    nan = [[np.full((3, 2), np.nan), np.zeros(2)]]
    results = [_res(a) for a in honest + byz + nan]
    params, metrics = RobustStrategy(aggregator="cwmed", f=2).aggregate_fit(1, results, [])
    out = parameters_to_ndarrays(params)
    assert [a.shape for a in out] == [(3, 2), (2,)]
    assert metrics["rejected"] == 1 and metrics["clients"] == 10
    flat = np.concatenate([np.concatenate([a.ravel() for a in h]) for h in honest]).reshape(7, -1)
    ref = np.median(np.vstack([flat, np.full((2, 8), 1e6)]), axis=0)  # 9 finite rows
    np.testing.assert_allclose(np.concatenate([a.ravel() for a in out]), ref, rtol=1e-12)
    # FedAvg's weighted mean is destroyed by the same clients
    fedavg_out, _ = flwr.server.strategy.FedAvg().aggregate_fit(1, results[:9], [])
    assert np.abs(parameters_to_ndarrays(fedavg_out)[0]).max() > 1e5


def test_pipeline_with_pre_aggregator_and_updates_relative_to_global_model():
    rng = np.random.default_rng(1)
    w0 = _model(rng)
    s = RobustStrategy(aggregator="nnm+krum", f=1, initial_parameters=ndarrays_to_parameters(w0))
    clients = [[a + 0.01 * rng.normal(size=a.shape) for a in w0] for _ in range(5)]
    clients.append([a + 100.0 for a in w0])
    params, metrics = s.aggregate_fit(1, [_res(c) for c in clients], [])
    out = parameters_to_ndarrays(params)
    assert np.abs(out[0] - w0[0]).max() < 0.1  # the outlier is not selected
    assert metrics["rejected"] == 0


def test_client_level_dp_reports_certified_epsilon_per_round():
    rng = np.random.default_rng(2)
    w0 = [np.zeros(4)]
    s = RobustStrategy(aggregator="mean", clip_norm=1.0, noise_multiplier=2.0, delta=1e-5,
                       seed=0, initial_parameters=ndarrays_to_parameters(w0))
    eps = []
    for r in range(1, 4):
        clients = [[rng.normal(size=4) * 10] for _ in range(5)]
        params, metrics = s.aggregate_fit(r, [_res(c) for c in clients], [])
        exact = _gaussian_exact_epsilon(2.0, r, 1e-5)
        assert metrics["epsilon_lower"] <= exact <= metrics["epsilon"]
        assert metrics["epsilon"] <= exact * 1.01
        eps.append(metrics["epsilon"])
    assert eps == sorted(eps)
    # each update was clipped to norm 1: without noise, the step would be at most 1 in norm
    s0 = RobustStrategy(aggregator="mean", clip_norm=1.0, initial_parameters=ndarrays_to_parameters(w0))
    p, _ = s0.aggregate_fit(1, [_res([np.full(4, 50.0)]) for _ in range(3)], [])
    assert np.linalg.norm(parameters_to_ndarrays(p)[0]) == pytest.approx(1.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="clip_norm"):
        RobustStrategy(aggregator="mean", noise_multiplier=1.0)
    with pytest.raises(ValueError, match="aggregator must be 'mean'"):
        RobustStrategy(aggregator="krum", f=1, noise_multiplier=1.0, clip_norm=1.0)
    with pytest.raises(ValueError, match="noise_multiplier"):
        RobustStrategy(noise_multiplier=-1.0)


def test_a_few_rounds_with_numpy_clients():
    """Rounds driven in-process with Flower NumPyClients (Flower's simulation engine needs Ray)."""

    class Client(flwr.client.NumPyClient):
        def __init__(self, target, byzantine=False):
            self.target, self.byzantine = target, byzantine

        def fit(self, parameters, config):
            if self.byzantine:
                return [np.full_like(parameters[0], -1e3)], 1, {}
            w = parameters[0]
            return [w - 0.5 * (w - self.target)], 10, {}

    target = np.array([1.0, -2.0])
    clients = [Client(target + 0.01 * i) for i in range(6)] + [Client(target, True)]
    s = RobustStrategy(aggregator="cwtm", f=1,
                       initial_parameters=ndarrays_to_parameters([np.zeros(2)]))
    params = s.initial_parameters
    for r in range(1, 9):
        nd = parameters_to_ndarrays(params)
        results = [_res(c.fit(nd, {})[0]) for c in clients]
        params, _ = s.aggregate_fit(r, results, [])
    assert np.abs(parameters_to_ndarrays(params)[0] - target).max() < 0.05


@pytest.mark.slow
def test_flower_simulation_with_ray():
    """A Flower simulation (Ray backend, loopback only) of 4 rounds; one Byzantine client.
    Needs ``pip install ray`` (not in the dev extra: ~40 s here); run with ``-m slow``."""
    pytest.importorskip("ray")
    from flwr.client import ClientApp, NumPyClient
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.simulation import run_simulation

    target = np.array([1.0, -2.0])

    class Client(NumPyClient):
        def __init__(self, cid):
            self.cid = cid

        def fit(self, parameters, config):
            w = parameters[0]
            if self.cid == 0:
                return [np.full_like(w, -1e3)], 1, {}
            return [w - 0.5 * (w - target)], 10, {}

    def client_fn(context):
        return Client(int(context.node_config["partition-id"])).to_client()

    strategy = RobustStrategy(aggregator="cwtm", f=1, fraction_evaluate=0.0, min_fit_clients=5,
                              min_available_clients=5,
                              initial_parameters=ndarrays_to_parameters([np.zeros(2)]))

    def server_fn(context):
        return ServerAppComponents(strategy=strategy, config=ServerConfig(num_rounds=4))

    run_simulation(server_app=ServerApp(server_fn=server_fn),
                   client_app=ClientApp(client_fn=client_fn), num_supernodes=5,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"num_cpus": 2, "include_dashboard": False}})
    # the 4 honest clients halve the distance to the target each round; the Byzantine one is
    # trimmed: w_4 = (1 - 2^-4) * target exactly
    np.testing.assert_allclose(strategy._current[0], (1 - 2.0 ** -4) * target, rtol=1e-12)
