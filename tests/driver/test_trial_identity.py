"""A trial reports what it resolved; the driver reads it instead of resolving again.

The trial resolves its configuration once and puts its identity record (config_id, label,
regularizer, seed, epoch budget, the flattened configuration) into its first result
(``trainables.identity``). The driver's progress view, MLflow callback and tables read that
record; the driver resolves a configuration only for a trial that did not report one.

Here: the record a trial reports equals what the driver would derive (no Ray). The check during a
real sweep (the driver resolves no trial configuration; the tables and MLflow child runs carry the
reported records) rides on the ASHA sweep of tests/e2e/test_e2e.py
(``test_asha_stops_trials_early_and_the_driver_resolves_no_trial_configuration``), which saves a
sweep of its own.
"""
from __future__ import annotations

import pytest

from sweeper import spec as spec_mod
from sweeper.store import identity
from trainables import identity as trial_identity
from trainables.config import flatten
from trainables.overrides import tune_overrides
from trainables.resolve import resolve

SPEC = {
    "name": "ident", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"}, "train": {"epochs": 2, "batch_size": 64},
    "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]},
              "train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True}},
    "seeds": [0, 1],
    "search": {"sampler": "random", "num_samples": 2, "per_method": False, "max_concurrent": 2},
}


def test_the_record_a_trial_reports_equals_what_the_driver_would_derive():
    spec = spec_mod.from_dict(SPEC)
    base = identity.trial_base(spec)
    config = {"regularizer.name": "dropout", "train.lr": 0.004, "__trial_index__": 1}
    overrides = tune_overrides(config, base["seeds"])
    cfg = resolve(base, overrides)  # what trainables.trial.run_trial does
    reported = trial_identity.read({trial_identity.REPORT_KEY: trial_identity.encode(
        trial_identity.identity(overrides, flatten(cfg), cfg.train.epochs))})
    assert reported == identity.derive(base, config)
    assert reported["seed"] == 1 and reported["regularizer"] == "dropout" and reported["epochs"] == 2
    assert reported["config"] == "regularizer.name=dropout, train.lr=0.004"
    assert reported["params"]["regularizer.keep"] == pytest.approx(0.5)  # every default filled in
    assert trial_identity.read({"val_error": 0.1}) is None and trial_identity.read({trial_identity.REPORT_KEY: "{"}) is None
