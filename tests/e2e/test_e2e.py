"""A real end-to-end sweep through the `sweeper` CLI: a real local Ray instance, real Optuna,
a real MLflow SQLite store and real Parquet files, all checked after the run.

The sweep holds a configuration that finishes, one that diverges (SGD with a huge
learning rate) and one that raises (a dataset with no files): the sweep must
finish, record each with its status and reason, and never stop early.

A second sweep, through the Python API, runs ASHA with Tune storage behind a file:// URI and checks
trial identity on the way (the driver resolves no trial configuration; what were two sweeps, ASHA
here and trial identity in tests/driver/test_trial_identity.py, is one).
"""
from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from mlflow import MlflowClient

from tests.support.cli import sweeper

SPEC = {
    "name": "e2e",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [32]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 3, "batch_size": 64, "optimizer": "sgd"},
    "space": {
        "train.lr": {"type": "categorical", "choices": [0.05, 1.0e12]},
        "regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"], "when": {"train.lr": 0.05}},
        # a dataset whose file exists (launch checks that) but that the trial cannot load: it raises
        "dataset.name": {"value": "tabular", "when": {"regularizer.name": "dropout"}},
        "dataset.path": {"value": "BAD_PLACEHOLDER.csv", "when": {"regularizer.name": "dropout"}},
    },
    "seeds": [0, 1],
    "search": {"sampler": "grid", "max_failures": 1},
}


@pytest.mark.cli
def test_bad_spec_exits_2_without_traceback_and_starts_nothing(tmp_path):
    bad = {**SPEC, "train": {"epochs": "three", "lr": "1e-3"}, "regularizer": {"name": "dropmaxx"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    for cmd in ("validate", "launch"):
        r = sweeper(tmp_path, cmd, "bad.yaml")
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        assert "train.epochs: expected an integer, got str 'three'" in r.stderr
        assert "train.lr: expected a number, got str '1e-3'" in r.stderr
        assert "unknown regularizer 'dropmaxx'" in r.stderr and "did you mean 'dropmax'" in r.stderr
    assert not (tmp_path / "sweeps").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.cli
@pytest.mark.ray
def test_end_to_end_sweep(tmp_path):
    (tmp_path / "bad.csv").write_text("label,colour\n" + "0,red\n1,blue\n" * 10)
    spec = yaml.safe_dump(SPEC, sort_keys=False).replace("BAD_PLACEHOLDER.csv", str(tmp_path / "bad.csv"))
    (tmp_path / "e2e.yaml").write_text(spec)
    r = sweeper(tmp_path, "launch", "e2e.yaml", "--num-cpus", "2", "--quiet")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "best configurations by val_error" in r.stdout

    sweep = tmp_path / "sweeps" / "e2e"
    trials = pd.read_parquet(sweep / "trials.parquet")
    epochs = pd.read_parquet(sweep / "epochs.parquet")
    assert len(trials) == 6 and trials.trial_id.is_unique
    by_status = trials.groupby("status").size().to_dict()
    assert by_status == {"finished": 2, "diverged": 2, "error": 2}, trials[["config", "status", "reason"]]
    assert (trials.loc[trials.status == "finished", "regularizer"] == "softmax").all()
    assert trials.loc[trials.status == "error", "reason"].str.contains("non-numeric feature columns").all()
    # max_failures: 1: the seed that failed first is retried once; the other seed, failing with the same error,
    # is not retried (sweeper/driver/callbacks/not_retried.py)
    errored = trials[trials.status == "error"].sort_values("retries")
    assert list(errored.retries) == [0, 1], errored[["seed", "retries", "reason"]]
    assert errored.reason.iloc[0].startswith("not retried: seed "), errored.reason.iloc[0]
    assert trials.loc[trials.status == "diverged", "reason"].str.contains("non-finite training loss").all()
    fin = trials[trials.status == "finished"]
    assert fin.test_error.between(0, 0.5).all() and fin.val_error.notna().all()
    assert set(fin.seed) == {0, 1} and fin.config_id.nunique() == 1
    assert (epochs[epochs.trial_id.isin(fin.trial_id)].groupby("trial_id").size() == 3).all()
    meta = pq.read_schema(sweep / "trials.parquet").metadata
    assert b"sweeper.spec" in meta and b"torch" in meta[b"sweeper.versions"]

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("e2e")
    runs = client.search_runs([exp.experiment_id])
    parents = [x for x in runs if x.data.tags.get("sweeper.sweep_id") == "e2e"]
    children = [x for x in runs if x.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1 and len(children) == 6
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert sorted(c.info.status for c in children) == ["FAILED"] * 4 + ["FINISHED"] * 2
    assert {c.data.tags["sweeper.trial_id"] for c in children} == set(trials.trial_id)
    done = [c for c in children if c.info.status == "FINISHED"]
    assert all(len(client.get_metric_history(c.info.run_id, "val_error")) == 3 for c in done)
    assert all(c.data.params["regularizer.name"] == "softmax" for c in done)
    assert {"spec.yaml", "provenance.json", "report"} <= {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert "report/report.md" in {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    assert "seeds: " in (sweep / "report" / "report.md").read_text()  # 2 finished seeds: values, no interval
    top = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert "figures" not in top  # sweep figures live once, in the report folder
    assert "report/figures" in {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}

    rep = sweeper(tmp_path, "report", "e2e")
    assert rep.returncode == 0 and "regularizer.name=softmax, train.lr=0.05 | 2/2 |" in rep.stdout
    st = sweeper(tmp_path, "status", "e2e")
    assert st.returncode == 0 and "6/6 trials done (2 finished, 2 diverged, 2 error)" in st.stdout

    before = (sweep / "trials.parquet").stat().st_mtime_ns
    again = sweeper(tmp_path, "launch", "e2e.yaml")
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert (sweep / "trials.parquet").stat().st_mtime_ns == before


@pytest.mark.ray
def test_asha_stops_trials_early_and_the_driver_resolves_no_trial_configuration(tmp_path, monkeypatch):
    """Random search + ASHA through the Python API, with Tune storage behind a file:// URI: some
    trials are stopped early (recorded as `stopped` with fewer epochs), the rest finish.

    The same sweep checks trial identity (tests/driver/test_trial_identity.py): with the progress view on
    (``verbose=1``), the driver resolves no trial's configuration (``identity.resolve`` is counted), and the
    tables and MLflow child runs carry the identity record each trial reported in its first result."""
    import inspect
    import json

    from sweeper import spec
    from sweeper.driver import launch
    from sweeper.store import identity
    from sweeper.store.mlflow_runs import SweepTracker
    from trainables import identity as trial_identity

    calls: list[list[str]] = []
    real = identity.resolve

    def counting(base, overrides):
        calls.append([f.frame.f_globals.get("__name__", "") for f in inspect.stack()[1:]])
        return real(base, overrides)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setattr(identity, "resolve", counting)
    identity._derive.cache_clear()
    s = spec.from_dict({
        "name": "asha", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"}, "train": {"epochs": 4, "batch_size": 64},
        "space": {"train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True}},
        "seeds": [0],
        "search": {"sampler": "random", "num_samples": 4, "scheduler": "asha", "grace_period": 1,
                   "reduction_factor": 2, "max_concurrent": 2},
    })
    # Tune storage elsewhere, through a URI (as --storage s3://... on a cluster): the tables must
    # still be built from the trial folders there.
    remote = tmp_path / "remote"
    res = launch.launch(s, num_cpus=2, out=tmp_path / "sweeps", storage=f"file://{remote}", verbose=1)
    assert (remote / "tune").is_dir() and not (res.sweep_dir / "tune").exists()
    t = res.trials
    assert len(t) == 4 and set(t.status) <= {"finished", "stopped"}
    assert (t.status == "stopped").any() and (t.status == "finished").any()
    assert (t.loc[t.status == "stopped", "epochs"] < 4).all() and (t.loc[t.status == "finished", "epochs"] == 4).all()
    assert t.val_error.notna().all()

    # trial identity: no driver-side resolution, the tables and MLflow read what the trials reported
    assert len(calls) <= len(t)  # at most one driver-side resolution per trial ...
    assert calls == []  # ... and none at all when every trial reported its record
    assert not [c for c in calls if any(m.startswith("sweeper.driver.callbacks") for m in c)]
    tdirs = sorted((remote / "tune").glob("trial_*"))
    assert len(tdirs) == 4
    for tdir in tdirs:  # the tables carry what the trials reported
        first = json.loads((tdir / "result.json").read_text().splitlines()[0])
        record = trial_identity.read(first)
        row = t[t["trial_id"] == tdir.name.removeprefix("trial_")].iloc[0]
        assert (row["config_id"], row["config"], row["seed"]) == (record["config_id"], record["config"], record["seed"])
    # and so do the MLflow child runs (named and parametrised from the record)
    tracker = SweepTracker(res.sweep_dir.name, experiment="asha", run_name=res.sweep_dir.name)
    runs = tracker.trial_runs()
    assert len(runs) == 4
    one = tracker.client.get_run(next(iter(runs.values())))
    assert "regularizer.name" in one.data.params and "train.lr" in one.data.params and "seed=" in one.info.run_name
