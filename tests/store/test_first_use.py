"""Sweeps started at the same moment on a new MLflow store (issue 26).

MLflow creates the schema of a new ``mlflow.db`` on first use; two processes doing it at once
failed (``table _alembic_tmp_latest_metrics already exists``), and the launch that failed left a
``spec.yaml`` without ``sweep.json`` that blocked the same command afterwards.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from tests.driver.test_faults import children
from tests.support.cli import env, ok, sweeper
from tests.support.specs import write_spec

OPEN_TRACKER = """
import sys, time
from pathlib import Path
from sweeper.store import mlflow_runs
go = Path(sys.argv[2])
(go.parent / f"ready-{sys.argv[1]}").touch()  # MLflow and sweeper imported
while not go.exists():
    time.sleep(0.001)
mlflow_runs.SweepTracker(sys.argv[1], experiment=sys.argv[1], run_name=sys.argv[1], fresh=True)
print("OK", flush=True)
"""


@pytest.mark.cli
def test_trackers_opening_a_new_store_at_once_all_succeed(tmp_path):
    """Four drivers open their parent runs on a store that does not exist yet, released together."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_TRACKER, f"s{i}", str(go)], cwd=tmp_path,
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    deadline = time.monotonic() + 240
    while not all((tmp_path / f"ready-s{i}").exists() for i in range(4)):  # each has imported MLflow, waits for `go`
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.poll() for p in procs]
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    failed = [err[-1500:] for p, (out, err) in zip(procs, outs) if p.returncode != 0 or "OK" not in out]
    assert not failed, failed
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for i in range(4):
        exp = client.get_experiment_by_name(f"s{i}")
        runs = client.search_runs([exp.experiment_id])
        assert [r.data.tags["sweeper.sweep_id"] for r in runs] == [f"s{i}"]


@pytest.mark.cli
def test_launch_failing_before_sweep_json_leaves_nothing(tmp_path):
    """The MLflow store cannot be opened (a damaged mlflow.db): the launch fails, and no sweep folder is
    left behind, so the same command works once the store is fixed (no 'not a sweep folder' refusal)."""
    write_spec(tmp_path, "bad", grid=True, epochs=1)
    (tmp_path / "mlflow.db").write_bytes(b"this is not a database" * 100)
    r = sweeper(tmp_path, "launch", "bad.yaml", "--num-cpus", "1", "--quiet", timeout=600)
    assert r.returncode != 0, r.stdout[-2000:]
    assert not (tmp_path / "sweeps" / "bad").exists(), sorted(p.name for p in (tmp_path / "sweeps" / "bad").iterdir())


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1800)
def test_two_launches_at_once_on_a_fresh_store(tmp_path):
    """Two real `sweeper launch` of different sweeps, started together in a folder without mlflow.db:
    both finish, each with its parent run and its trials' runs."""
    for name in ("a", "b"):
        write_spec(tmp_path, name, grid=True, epochs=1)
    procs = [subprocess.Popen([sys.executable, "-m", "sweeper.cli", "launch", f"{n}.yaml", "--num-cpus", "1", "--quiet"],
                              cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=900)
        ok(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    for name in ("a", "b"):
        assert json.loads((tmp_path / "sweeps" / name / "sweep.json").read_text())["status"] == "finished"
        assert len(children(tmp_path, name)) == 1
