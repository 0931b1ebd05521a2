"""Small engine recipes shared by the validation and release tests (full batch, every client:
the mechanism is sqrt(T)/z-GDP and the audit of check (a) is the GDP audit)."""

FULL_BATCH_RECORD = {
    "name": "full-batch-record", "data": {"name": "synthetic_logistic", "num_clients": 4,
                                          "samples_per_client": 40, "dim": 5},
    "training": {"rounds": 4, "batch_sampling": "poisson", "lr": 0.5},
    "privacy": {"level": "record", "noise_multiplier": 2.0, "batch_rate": 1.0}}
FULL_CLIENT = {
    "name": "full-client", "data": {"name": "synthetic_logistic", "num_clients": 6,
                                    "samples_per_client": 30, "dim": 30},
    "training": {"rounds": 4, "lr": 0.5},
    "privacy": {"level": "client", "noise_multiplier": 2.0, "clip": 0.5}}
