"""ExperimentConfig: validation with the key named, TOML round trip, the accounting event."""

from __future__ import annotations

import warnings

import dp_accounting
import pytest
from scipy import stats

from fltheory.accounting import (coordinate_sampled_gaussian, dp_fedavg,
                                 local_dp_sgd, mixup)
from fltheory.config import ExperimentConfig, load_config

RECORD = {"training": {"batch_sampling": "poisson", "local_steps": 3, "rounds": 10},
          "privacy": {"level": "record", "batch_rate": 0.1, "noise_multiplier": 1.2}}


def make(*updates):
    d: dict = {}
    for u in updates:
        for k, v in u.items():
            if isinstance(v, dict):
                d.setdefault(k, {}).update(v)
            else:
                d[k] = v
    return ExperimentConfig.from_dict(d)


def test_defaults_and_round_trip(tmp_path):
    cfg = make(RECORD, {"compression": {"name": "one_bit", "params": {"c": 1.0, "B": 2.0}},
                        "byzantine": {"num_byzantine": 2, "attack": "alie",
                                      "attack_params": {"z_rule": "paper"}}})
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    again = ExperimentConfig.from_toml(path)
    assert again == cfg and load_config(str(path)) == cfg
    assert again.compression.params == {"c": 1.0, "B": 2.0}
    assert again.compression.stage == "update"


@pytest.mark.parametrize("update,needle", [
    ({"training": {"rouns": 3}}, "unknown key 'training.rouns'"),
    ({"compression": {"stage": "later"}}, "compression.stage must be one of"),
    ({"compression": {"name": "qsgd", "stage": "mechanism"}}, "needs a random coordinate mask"),
    ({"compression": {"name": "prune", "k": 5, "stage": "mechanism"},
      "privacy": {"level": "client"}}, "compression.ratio"),
    ({"compression": {"name": "prune", "ratio": 0.5, "stage": "mechanism"}},
     "needs privacy.level='record' or 'client'"),
    ({"compression": {"name": "prune", "ratio": 0.5, "stage": "mechanism",
                      "error_feedback": True}, "privacy": {"level": "client"}},
     "error_feedback is not available"),
    ({"compression": {"params": 3}}, "compression.params must be a table"),
    ({"mixup": {"enabled": "yes"}}, "mixup.enabled must be true or false"),
    ({"privacy": {"level": "record", "batch_rate": 0.1}}, "batch_sampling='poisson'"),
])
def test_invalid_keys_are_named(update, needle):
    with pytest.raises(ValueError) as exc:
        make(update)
    assert needle in str(exc.value)


def test_record_level_mechanism_masks_claim_no_amplification():
    # issue 12: the engine now runs per-record secret masks (fltheory.fl.release); the masked
    # clipped gradient still has norm <= clip, and no amplification is claimed for them
    cfg = make(RECORD, {"compression": {"name": "prune", "ratio": 0.5, "stage": "mechanism",
                                        "mask": "secret"}})
    assert cfg.accounting_event() == local_dp_sgd(1.0, 0.1, 1.2, 3, 10)
    # shared masks are fine (no amplification claimed: the event is unchanged)
    cfg = make(RECORD, {"compression": {"name": "prune", "ratio": 0.5, "stage": "mechanism",
                                        "mask": "shared"}})
    assert cfg.accounting_event() == local_dp_sgd(1.0, 0.1, 1.2, 3, 10)


def test_record_level_events():
    assert make(RECORD).accounting_event() == local_dp_sgd(1.0, 0.1, 1.2, 3, 10)
    pois = make(RECORD, {"training": {"client_sampling": "poisson", "client_rate": 0.2}})
    assert pois.accounting_event(4) == local_dp_sgd(0.2, 0.1, 1.2, 3, 4)
    assert pois.accounting_event(4, client_rate=0.5) == local_dp_sgd(0.5, 0.1, 1.2, 3, 4)
    assert isinstance(pois.accounting_event(0), dp_accounting.NoOpDpEvent)


def test_fixed_cohort_claims_no_client_sampling_amplification():
    cfg = make(RECORD, {"training": {"client_sampling": "fixed", "cohort_size": 5,
                                     "client_rate": 0.05}, "data": {"num_clients": 20}})
    assert cfg.training.effective_client_rate == 1.0
    assert cfg.accounting_event() == local_dp_sgd(1.0, 0.1, 1.2, 3, 10)


def test_client_level_events_and_coordinate_masks():
    base = {"privacy": {"level": "client", "noise_multiplier": 0.9}, "training": {"rounds": 7}}
    assert make(base).accounting_event() == dp_fedavg(1.0, 0.9, 7)
    masks = {"compression": {"name": "prune", "ratio": 0.2, "stage": "mechanism",
                             "mask": "secret"}}
    assert make(base, masks).accounting_event() == coordinate_sampled_gaussian(0.2, 0.9, 7,
                                                                                mask_unit="client")
    # with client sampling the masks give no amplification in this account
    pois = make(base, masks, {"training": {"client_sampling": "poisson", "client_rate": 0.3}})
    assert pois.accounting_event() == dp_fedavg(0.3, 0.9, 7)
    # neither do shared masks, nor fixed-size rand-k masks
    shared = make(base, {"compression": {"name": "prune", "ratio": 0.2, "stage": "mechanism",
                                         "mask": "shared"}})
    assert shared.accounting_event() == dp_fedavg(1.0, 0.9, 7)
    randk = make(base, {"compression": {"name": "randk", "k": 10, "stage": "mechanism",
                                        "mask": "secret"}})
    assert randk.accounting_event() == dp_fedavg(1.0, 0.9, 7)


def test_mixup_event_uses_the_weight_law_of_the_engine():
    cfg = make(RECORD, {"mixup": {"enabled": True, "alpha": 0.3}})
    assert cfg.accounting_event() == mixup(0.1, 1.2, 30, stats.beta(0.3, 0.3))
    # client sampling is not used for amplification with mixup (every round counted)
    pois = make(RECORD, {"mixup": {"enabled": True, "alpha": 0.3},
                         "training": {"client_sampling": "poisson", "client_rate": 0.2}})
    assert pois.accounting_event() == cfg.accounting_event()
    # the engine's weights are hidden (record-level mixup): the default; revealed on request
    revealed = make(RECORD, {"mixup": {"enabled": True, "reveal_weights": True}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = revealed.accounting_event()
    assert ev == mixup(0.1, 1.2, 30, stats.beta(0.4, 0.4), reveal_weights=True)


def test_mixup_without_record_dp_does_not_change_the_event():
    cfg = make({"privacy": {"level": "client"}, "mixup": {"enabled": True}})
    assert cfg.accounting_event() == dp_fedavg(1.0, 1.0, 30)
    assert isinstance(make({"mixup": {"enabled": True}}).accounting_event(),
                      dp_accounting.NonPrivateDpEvent)


def test_replace_and_validation_of_cross_fields():
    cfg = make(RECORD)
    assert cfg.replace(training__rounds=3).training.rounds == 3
    with pytest.raises(ValueError, match="num_byzantine must be < data.num_clients"):
        cfg.replace(byzantine__num_byzantine=20, byzantine__attack="sign_flip")
    with pytest.raises(ValueError, match="no tight client-level"):
        make({"privacy": {"level": "client"},
              "training": {"client_sampling": "fixed", "cohort_size": 3}})


def test_config_errors_are_typed_and_empty_files_refused(tmp_path):
    from fltheory.errors import ConfigError

    with pytest.raises(ConfigError, match="training.rouns"):
        make({"training": {"rouns": 3}})
    with pytest.raises(ConfigError, match="rounds"):
        make({"training": {"rounds": 0}})
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty.toml: no recipe"):
        ExperimentConfig.from_toml(empty)
    only_name = tmp_path / "name.toml"
    only_name.write_text('name = "x"\n')
    with pytest.raises(ConfigError, match="name.toml: no recipe"):
        ExperimentConfig.from_toml(only_name)


def test_deprecated_compressor_name_is_normalised():
    # issue 12: one name per component across config, fl and bounds ("one_bit")
    with pytest.warns(DeprecationWarning, match="one_bit"):
        cfg = make({"compression": {"name": "onebit"}})
    assert cfg.compression.name == "one_bit"
