"""Every amplification builder has a CLI scenario whose documented example runs."""

import json
import shlex

import pytest

from fltheory.accounting.scenarios import SCENARIOS
from fltheory.cli import main

BUILDERS = ["dp_fedavg", "local_dp_sgd", "shuffled", "coordinate_sampled_gaussian",
            "stochastic_quantizer", "sign_gaussian", "randomized_response", "binomial",
            "skellam", "distributed_discrete_gaussian", "discrete_gaussian", "mixup"]


def test_every_builder_is_a_scenario():
    assert set(BUILDERS) <= set(SCENARIOS)


@pytest.mark.parametrize("name", BUILDERS)
def test_scenario_example_runs(name, capsys):
    argv = shlex.split(SCENARIOS[name].example)[1:] + ["--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    g = out["guarantee"]
    assert out["scenario"] == name
    assert g["epsilon"] != "inf" and g["epsilon"] > 0


def test_replace_one_scenarios_explain_the_relation(capsys):
    argv = shlex.split(SCENARIOS["shuffled"].example)[1:]
    argv = [a for a in argv if a not in ("--neighboring", "replace_one")]
    # without --neighboring the scenario's own relation (replace-one) is used ...
    assert main(argv + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["guarantee"]["neighboring"] == "replace_one"
    # ... and asking for add/remove explicitly is refused with the reason
    assert main(argv + ["--neighboring", "add_remove"]) == 2
    assert "neighboring='replace_one'" in capsys.readouterr().err
