"""A trial reports what it resolved; the driver reads it instead of resolving again.

The trial resolves its configuration once and puts its identity record (config_id, label,
regularizer, seed, epoch budget, the flattened configuration) into its first result
(``trainables.identity``). The driver's progress view, MLflow callback and tables read that
record; the driver resolves a configuration only for a trial that did not report one.
"""
from __future__ import annotations

import inspect
import json

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


@pytest.mark.ray
def test_the_driver_resolves_no_trial_configuration_during_a_real_sweep(tmp_path, monkeypatch):
    from sweeper.driver import launch

    calls: list[list[str]] = []
    real = identity.resolve

    def counting(base, overrides):
        calls.append([f.frame.f_globals.get("__name__", "") for f in inspect.stack()[1:]])
        return real(base, overrides)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(identity, "resolve", counting)
    identity._derive.cache_clear()
    result = launch.launch(spec_mod.from_dict(SPEC), num_cpus=2, out=tmp_path / "sweeps", verbose=1)

    trials = result.trials
    assert len(trials) == 4 and set(trials["status"]) == {"finished"}
    assert len(calls) <= len(trials)  # at most one driver-side resolution per trial ...
    assert calls == []  # ... and none at all when every trial reported its record
    assert not [c for c in calls if any(m.startswith("sweeper.driver.callbacks") for m in c)]
    # the tables carry what the trials reported
    for tdir in (result.sweep_dir / "tune").glob("trial_*"):
        first = json.loads((tdir / "result.json").read_text().splitlines()[0])
        record = trial_identity.read(first)
        row = trials[trials["trial_id"] == tdir.name.removeprefix("trial_")].iloc[0]
        assert (row["config_id"], row["config"], row["seed"]) == (record["config_id"], record["config"], record["seed"])
    # and so do the MLflow child runs (named and parametrised from the record)
    from sweeper.store.mlflow_runs import SweepTracker

    tracker = SweepTracker(result.sweep_dir.name, experiment="ident", run_name=result.sweep_dir.name)
    runs = tracker.trial_runs()
    assert len(runs) == 4
    one = tracker.client.get_run(next(iter(runs.values())))
    assert "regularizer.name" in one.data.params and "train.lr" in one.data.params and "seed=" in one.info.run_name
