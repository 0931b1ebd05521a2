"""Per-device budgets: heterogeneous clients and per-class calibration."""

import pytest

from fltheory.accounting import (calibrate_per_client, dp_fedavg, epsilon, local_dp_sgd,
                                 per_client_epsilon)

DELTA = 1e-5


def test_each_client_gets_its_own_guarantee():
    events = {"a": dp_fedavg(0.01, 1.0, 500), "b": dp_fedavg(0.05, 2.0, 200),
              "c": local_dp_sgd(0.1, 0.05, 1.0, 2, 100), "a2": dp_fedavg(0.01, 1.0, 500)}
    out = per_client_epsilon(events, DELTA)                  # its default rtol is 0.005
    for k, ev in events.items():
        assert out[k].epsilon == pytest.approx(epsilon(ev, DELTA, rtol=0.005).epsilon, rel=1e-12)
    assert out["a"] is out["a2"]                     # identical mechanisms computed once
    lst = per_client_epsilon([events["a"], events["b"]], DELTA)
    assert set(lst) == {0, 1}


def test_calibration_meets_each_target():
    rates = {"phone": 0.002, "laptop": 0.02}
    targets = {"phone": 1.0, "laptop": 4.0}
    z = calibrate_per_client(lambda c, z: dp_fedavg(rates[c], z, 500), targets, DELTA)
    for c in rates:
        g = epsilon(dp_fedavg(rates[c], z[c], 500), DELTA)
        assert g.epsilon <= targets[c] and g.epsilon >= 0.97 * targets[c]
    t = calibrate_per_client(lambda c, n: dp_fedavg(rates[c], 1.0, n), targets, DELTA,
                             solve_for="participations")
    for c in rates:
        assert epsilon(dp_fedavg(rates[c], 1.0, t[c]), DELTA).epsilon <= targets[c]
        assert epsilon(dp_fedavg(rates[c], 1.0, t[c] + 1), DELTA).epsilon_lower >= 0.99 * \
            epsilon(dp_fedavg(rates[c], 1.0, t[c]), DELTA).epsilon_lower


def test_bad_input():
    with pytest.raises(ValueError, match="events must be a mapping"):
        per_client_epsilon(3, DELTA)
    with pytest.raises(ValueError, match="solve_for must be one of"):
        calibrate_per_client(lambda c, x: dp_fedavg(0.1, x, 1), {"a": 1.0}, DELTA,
                             solve_for="magic")
    with pytest.raises(ValueError, match=r"targets\['a'\] must be > 0"):
        calibrate_per_client(lambda c, x: dp_fedavg(0.1, x, 1), {"a": -1.0}, DELTA)
