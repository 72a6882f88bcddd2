"""A sweep survives its faults (issue 16): real Ray, real Optuna, a real MLflow SQLite store.

- the driver lock: a second launch / resume / --overwrite of a sweep with a live driver is
  refused (exit 2, naming it); a stale lock (dead pid) is taken over; racing drivers: one wins;
- damaged sweep.json / spec.yaml: exit 2, no traceback; an edited spec: resume refuses, naming it;
- the tables come from the trial folders alone: a deleted ledger or truncated trials.parquet
  loses nothing, and rebuilding while Tune-like rewrites hit the trial folders never
  mislabels a finished trial (a stress test on the folders of a real sweep);
- SIGINT / SIGTERM mid-sweep: exit 130 / 143, status "interrupted", MLflow KILLED, then
  `resume` gives exactly one row and one MLflow run per trial;
- a trial killed by Ray's memory monitor and a hung trial past search.trial_timeout_s are
  recorded as errors with their reasons, the sweep finishes, and resume does not re-crash;
- an exclusive lock on mlflow.db mid-sweep, longer than the live retry budget, is survived and
  MLflow catches up.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tests.support.cli import REPO, cli, env, ok, refused, sweeper  # noqa: F401  (used here and by other tests)
from tests.support.misbehaving_trial import MISBEHAVING  # the trainable with the SWEEPER_TEST_* faults
from tests.support.specs import write_spec


def result_rows(sweep: Path) -> dict[str, int]:
    out = {}
    for d in (sweep / "tune").glob("trial_*"):
        f = d / "result.json"
        out[d.name[6:]] = len(f.read_text().splitlines()) if f.exists() else 0
    return out


def children(cwd: Path, experiment: str) -> list:
    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return [r for r in client.search_runs([exp.experiment_id], max_results=1000) if "sweeper.trial_id" in r.data.tags]


def parent(cwd: Path, experiment: str):
    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = [r for r in client.search_runs([exp.experiment_id], max_results=1000) if "sweeper.sweep_id" in r.data.tags]
    assert len(runs) == 1, runs
    return client, runs[0]


# ---------------------------------------------------------------------------------------------
# the lock and damaged files (no Ray)


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield p
    p.kill()
    p.wait()


def _hold_lock(sweep: Path, pid: int) -> None:
    from sweeper.store import sweepdir

    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "driver.lock").write_text(json.dumps(
        {"host": __import__("socket").gethostname(), "pid": pid, "start": sweepdir._proc_start(pid), "time": time.time()}))


@pytest.mark.cli
@pytest.mark.fault
def test_live_lock_refuses_launch_resume_overwrite(tmp_path, sleeper):
    write_spec(tmp_path, "lk")
    sweep = tmp_path / "sweeps" / "lk"
    _hold_lock(sweep, sleeper.pid)
    r = sweeper(tmp_path, "launch", "lk.yaml", "--quiet", timeout=600)
    refused(r, f"pid {sleeper.pid}", "another driver")
    assert sorted(p.name for p in sweep.iterdir()) == ["driver.lock"] and not (tmp_path / "mlflow.db").exists()
    (sweep / "sweep.json").write_text(json.dumps({"sweep_id": "lk", "status": "running"}))
    from sweeper import spec as spec_mod

    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec_mod.load(str(tmp_path / "lk.yaml")).to_dict()))
    refused(sweeper(tmp_path, "launch", "lk.yaml", "--overwrite", "--quiet", timeout=600), f"pid {sleeper.pid}")
    refused(sweeper(tmp_path, "resume", "lk", "--quiet", timeout=600), f"pid {sleeper.pid}")
    assert json.loads((sweep / "sweep.json").read_text()) == {"sweep_id": "lk", "status": "running"}
    st = ok(sweeper(tmp_path, "status", "lk", timeout=600)).stdout
    assert f"running: driver pid {sleeper.pid}" in st, st


@pytest.mark.fault
def test_stale_lock_is_taken_over_and_racing_drivers_get_one_lock(tmp_path):
    from sweeper.store import sweepdir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sweep = tmp_path / "s"
    _hold_lock(sweep, dead.pid)
    with sweepdir.DriverLock(sweep) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not (sweep / "driver.lock").exists()
    # 6 processes race for one stale lock: exactly one gets it.
    _hold_lock(sweep, dead.pid)
    code = ("import sys, time; sys.path.insert(0, %r); from sweeper.store import sweepdir\n"
            "try:\n    sweepdir.DriverLock(sys.argv[1]).acquire(); print('WON', flush=True); time.sleep(3)\n"
            "except sweepdir.SweepLocked: print('LOST')") % str(REPO)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(sweep)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs.count("WON") == 1 and outs.count("LOST") == 5, outs


@pytest.mark.cli
def test_damaged_sweep_files_and_edited_spec_exit_2(tmp_path):
    from sweeper import spec as spec_mod
    from sweeper.driver import wrapup
    from sweeper.store import sweepdir

    src = write_spec(tmp_path, "dm")
    s = spec_mod.load(str(src))
    sweep = tmp_path / "sweeps" / "dm"
    sweep.mkdir(parents=True)
    spec_dict = s.to_dict()
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    meta = {"sweep_id": "dm", "status": "interrupted", "mlflow_uri": "sqlite:///mlflow.db", "mlflow_experiment": "dm",
            "storage": str(sweep), "spec_source": str(src), **wrapup.spec_fingerprint(str(src), spec_dict)}
    (sweep / "sweep.json").write_text(json.dumps(meta))
    assert "interrupted" in ok(sweeper(tmp_path, "status", "dm", timeout=600)).stdout
    # edited spec.yaml in the sweep folder
    edited = {**spec_dict, "train": {**spec_dict["train"], "epochs": 7}}
    (sweep / "spec.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    refused(sweeper(tmp_path, "resume", "dm", timeout=600), "refusing to resume", "train.epochs: 2 -> 7")
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    # edited source spec
    raw = yaml.safe_load(src.read_text())
    raw["search"]["num_samples"] = 9
    src.write_text(yaml.safe_dump(raw, sort_keys=False))
    refused(sweeper(tmp_path, "resume", "dm", timeout=600), "search.num_samples: 2 -> 9")
    with pytest.raises(sweepdir.SpecChanged):
        sweepdir.check_spec_unchanged(sweep, meta, spec_dict)
    # damaged files
    (sweep / "sweep.json").write_text(json.dumps(meta)[:40])
    for cmd in (["status", "dm"], ["resume", "dm"]):
        refused(sweeper(tmp_path, *cmd, timeout=600), "sweep.json is damaged")
    (sweep / "sweep.json").write_text(json.dumps(meta))
    (sweep / "spec.yaml").write_text("search: [unclosed\n")
    refused(sweeper(tmp_path, "status", "dm", timeout=600), "spec.yaml is damaged")
    assert not (sweep / "driver.lock").exists()


# ---------------------------------------------------------------------------------------------
# one real sweep; its folders are copied by the tests below


@pytest.fixture(scope="module")
def done_sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("done")
    write_spec(cwd, "ok", samples=3, epochs=2, max_concurrent=2)
    ok(sweeper(cwd, "launch", "ok.yaml", "--num-cpus", "2", "--quiet"))
    return cwd


def _copy(done: Path, tmp: Path) -> Path:
    shutil.copytree(done, tmp / "c", symlinks=True)
    meta = json.loads((tmp / "c" / "sweeps" / "ok" / "sweep.json").read_text())
    meta["storage"] = str(tmp / "c" / "sweeps" / "ok")
    (tmp / "c" / "sweeps" / "ok" / "sweep.json").write_text(json.dumps(meta))
    return tmp / "c"


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1800)
def test_tables_rebuild_from_trial_folders_alone(done_sweep, tmp_path):
    cwd = _copy(done_sweep, tmp_path)
    sweep = cwd / "sweeps" / "ok"
    before = pd.read_parquet(sweep / "trials.parquet").sort_values("trial_id").reset_index(drop=True)
    assert len(before) == 3 and (before.status == "finished").all()
    (sweep / "ledger.json").unlink()
    data = (sweep / "trials.parquet").read_bytes()
    (sweep / "trials.parquet").write_bytes(data[: len(data) // 2])
    r = ok(sweeper(cwd, "report", "ok", timeout=300))
    assert "3 trials" in r.stdout and "Traceback" not in r.stderr
    after = pd.read_parquet(sweep / "trials.parquet").sort_values("trial_id").reset_index(drop=True)
    cols = ["trial_id", "status", "epochs", "val_error", "test_error", "retries"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    (sweep / "ledger.json").write_text('{"x": {"stat')  # truncated ledger
    st = ok(sweeper(cwd, "status", "ok", timeout=300)).stdout
    assert "3/3 trials done (3 finished)" in st and "the sweep has finished" in st, st


def _tune_like_rewrite(path: Path, stop: threading.Event, errors: list) -> None:
    """Rewrite ``path`` in place like Tune's sync does (truncate, then write in pieces), 20 times
    a second (Tune: about once a second)."""
    data = path.read_bytes()
    try:
        while not stop.is_set():
            with open(path, "wb") as f:
                for i in range(0, len(data), max(1, len(data) // 4)):
                    f.write(data[i : i + max(1, len(data) // 4)])
                    f.flush()
                    time.sleep(0.002)
            time.sleep(0.05)
    except Exception as e:  # noqa: BLE001
        errors.append(e)
    finally:
        path.write_bytes(data)


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1800)
def test_rebuild_never_mislabels_during_tune_rewrites(done_sweep, tmp_path):
    from sweeper.spec import from_dict
    from sweeper.store import identity, sweepdir, tables

    cwd = _copy(done_sweep, tmp_path)
    sweep = cwd / "sweeps" / "ok"
    (sweep / "ledger.json").unlink()  # the truth must come from Tune's state and the results
    spec_dict = sweepdir.read_spec(sweep)
    targets = [p for d in (sweep / "tune").glob("trial_*") for p in (d / "params.json", d / "result.json")]
    targets += sorted((sweep / "tune").glob("experiment_state-*.json"))[-1:]
    stop, errors = threading.Event(), []
    threads = [threading.Thread(target=_tune_like_rewrite, args=(p, stop, errors)) for p in targets]
    for t in threads:
        t.start()
    seen = 0
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            trials, epochs = tables.collect(sweep, identity.trial_base(from_dict(spec_dict)))
            assert len(trials) == 3, [t["trial_id"] for t in trials]
            bad = [(t["trial_id"], t["status"], t["reason"][:200]) for t in trials if t["status"] != "finished"]
            assert not bad, bad
            assert all(t["epochs"] == 2 and t["test_error"] is not None for t in trials), trials
            seen += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and seen >= 10, (errors, seen)


# ---------------------------------------------------------------------------------------------
# interruption


def launch_until_first_result(tmp_path: Path, name: str, sweep: Path) -> subprocess.Popen:
    """`sweeper launch NAME.yaml` in its own session (2 s pause after each epoch), returned once a
    trial has reported its first epoch; the caller signals it and cleans it up."""
    proc = subprocess.Popen(cli("launch", f"{name}.yaml", "--num-cpus", "2", "--quiet"), cwd=tmp_path,
                            env=env(SWEEPER_TEST_EPOCH_DELAY_S="2", **MISBEHAVING), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 400
    while not any(n >= 1 for n in (result_rows(sweep).values() if (sweep / "tune").exists() else [])):
        if proc.poll() is not None or time.monotonic() >= deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise AssertionError(f"no first result (rc {proc.returncode})\n{out[-2000:]}\n{err[-5000:]}")
        time.sleep(0.3)
    return proc


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_sweep_then_resume(tmp_path, sig):
    name = f"sig{int(sig)}"
    write_spec(tmp_path, name, samples=3, epochs=3, max_concurrent=2)
    sweep = tmp_path / "sweeps" / name
    proc = launch_until_first_result(tmp_path, name, sweep)
    try:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + int(sig), f"{proc.returncode}\n{out[-2000:]}\n{err[-5000:]}"
    assert f"interrupted by {sig.name}" in err and f"sweeper resume {name}" in err, err[-3000:]
    assert "best configurations" not in out and "Traceback" not in err
    meta = json.loads((sweep / "sweep.json").read_text())
    assert meta["status"] == "interrupted" and meta["interrupted_by"] == sig.name
    assert not (sweep / "driver.lock").exists()
    st = ok(sweeper(tmp_path, "status", name, timeout=300)).stdout
    assert "interrupted" in st and f"sweeper resume {name}" in st and "has finished" not in st, st
    client, par = parent(tmp_path, name)
    assert par.info.status == "KILLED"
    kids = children(tmp_path, name)
    assert kids and any(k.info.status == "KILLED" for k in kids), [(k.info.status, k.data.tags) for k in kids]
    assert not any(k.info.status == "RUNNING" for k in kids)

    ok(sweeper(tmp_path, "resume", name, "--num-cpus", "2", "--quiet"))
    trials = pd.read_parquet(sweep / "trials.parquet")
    epochs = pd.read_parquet(sweep / "epochs.parquet")
    assert len(trials) == 3 and trials.trial_id.is_unique and (trials.status == "finished").all(), trials
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == 9
    kids = children(tmp_path, name)
    assert sorted(k.data.tags["sweeper.trial_id"] for k in kids) == sorted(trials.trial_id)
    assert all(k.info.status == "FINISHED" for k in kids)
    for k in kids:
        steps = [m.step for m in client.get_metric_history(k.info.run_id, "epoch")]
        assert sorted(set(steps)) == [1, 2, 3], steps
    client, par = parent(tmp_path, name)
    assert par.info.status == "FINISHED" and par.data.metrics["trials_finished"] == 3
    assert par.data.metrics["trials_running"] == 0
    assert json.loads((sweep / "sweep.json").read_text())["status"] == "finished"
    assert "has finished" in ok(sweeper(tmp_path, "status", name, timeout=300)).stdout


# ---------------------------------------------------------------------------------------------
# poison trials


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_oom_killed_and_hung_trials_fail_with_reasons_and_sweep_finishes(tmp_path):
    import ray._private.utils as ru

    total, used = ru.get_system_memory(), ru.get_used_memory()
    # Ray kills a worker when the node's memory use passes this fraction: now + Ray and one running
    # trial (~2.5 GB) + 3 GB. The hog grows until it is killed (or 1 GiB is left: the test fails), so
    # other processes freeing memory meanwhile on a shared machine only make it grow further.
    threshold = min(0.9, (used + 5.5 * 2**30) / total)
    hog_mb = int(total / 2**20)
    # One trial at a time (only the hog can be the memory monitor's victim); one retry each, so a
    # trial killed by other processes' memory on a shared machine still finishes.
    write_spec(tmp_path, "poison", seeds=(0, 1, 2), grid=True, epochs=2, trial_timeout_s=25, max_concurrent=1,
               max_failures=1)
    extra = dict(SWEEPER_TEST_HOG=f"1:{hog_mb}", SWEEPER_TEST_HANG_SEED="2", **MISBEHAVING,
                 RAY_memory_usage_threshold=f"{threshold:.3f}", RAY_memory_monitor_refresh_ms="100")
    r = ok(sweeper(tmp_path, "launch", "poison.yaml", "--num-cpus", "3", "--quiet", **extra))
    sweep = tmp_path / "sweeps" / "poison"
    t = pd.read_parquet(sweep / "trials.parquet").set_index("seed")
    assert t.loc[0, "status"] == "finished", t[["status", "reason"]]
    assert t.loc[1, "status"] == "error" and t.loc[1, "reason"].startswith("out of memory"), t.loc[1, "reason"]
    assert t.loc[2, "status"] == "error" and "exceeded search.trial_timeout_s = 25 s" in t.loc[2, "reason"]
    assert "has reported nothing for" in r.stderr, r.stderr[-3000:]
    st = ok(sweeper(tmp_path, "status", "poison", timeout=300)).stdout
    assert "out of memory" in st and "exceeded search.trial_timeout_s" in st and "has finished" in st, st
    kids = {k.data.tags["sweeper.trial_id"]: k for k in children(tmp_path, "poison")}
    assert len(kids) == 3 and sorted(k.info.status for k in kids.values()) == ["FAILED", "FAILED", "FINISHED"]
    ok(sweeper(tmp_path, "resume", "poison", "--num-cpus", "3", "--quiet", **extra))
    t2 = pd.read_parquet(sweep / "trials.parquet").set_index("seed")
    assert list(t2.status) == list(t.status) and len(children(tmp_path, "poison")) == 3


# ---------------------------------------------------------------------------------------------
# transient tracking failure


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_mlflow_store_locked_past_the_live_retry_budget_is_survived(tmp_path):
    """An exclusive lock on mlflow.db held 5 s longer than the live callback's retry budget
    (``LIVE_BUDGET_S``): the callback gives up on those results, the sweep goes on, and the end of the
    sweep logs what the lock kept out."""
    from sweeper.store.mlflow_runs import LIVE_BUDGET_S

    lock_s = LIVE_BUDGET_S + 5
    write_spec(tmp_path, "lockdb", samples=2, epochs=4, max_concurrent=2)
    sweep = tmp_path / "sweeps" / "lockdb"
    proc = subprocess.Popen(cli("launch", "lockdb.yaml", "--num-cpus", "2", "--quiet"), cwd=tmp_path,
                            env=env(SWEEPER_TEST_EPOCH_DELAY_S="1.5", **MISBEHAVING), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while not any(n >= 1 for n in (result_rows(sweep).values() if (sweep / "tune").exists() else [])):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.3)
        con = sqlite3.connect(tmp_path / "mlflow.db", timeout=60, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held = time.monotonic()
        time.sleep(lock_s)
        locked_rows = result_rows(sweep)
        con.execute("COMMIT")
        con.close()
        held = time.monotonic() - held
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, f"{out[-2000:]}\n{err[-5000:]}"
    assert held >= lock_s and sum(locked_rows.values()) >= 2
    trials = pd.read_parquet(sweep / "trials.parquet")
    assert len(trials) == 2 and (trials.status == "finished").all(), trials[["status", "reason"]]
    client, par = parent(tmp_path, "lockdb")
    assert par.info.status == "FINISHED"
    kids = children(tmp_path, "lockdb")
    assert sorted(k.data.tags["sweeper.trial_id"] for k in kids) == sorted(trials.trial_id)
    for k in kids:
        assert k.info.status == "FINISHED"
        steps = sorted({m.step for m in client.get_metric_history(k.info.run_id, "epoch")})
        assert steps == [1, 2, 3, 4], steps  # what the lock kept out was logged afterwards


def test_trial_timeout_is_validated(tmp_path):
    from sweeper import spec as spec_mod

    for bad, msg in ((0, "must be a number of seconds > 0"), ("ten", "expected a number")):
        p = write_spec(tmp_path, "to", trial_timeout_s=bad)
        with pytest.raises(spec_mod.SpecError) as e:
            spec_mod.load(str(p))
        assert "search.trial_timeout_s" in str(e.value) and msg in str(e.value), str(e.value)
    assert spec_mod.load(str(write_spec(tmp_path, "to", trial_timeout_s=30))).search.trial_timeout_s == 30
    assert spec_mod.load(str(write_spec(tmp_path, "to"))).search.trial_timeout_s is None
    assert spec_mod.load(str(write_spec(tmp_path, "to"))).search.retry_timeouts is False
    assert spec_mod.load(str(write_spec(tmp_path, "to", retry_timeouts=True))).to_dict()["search"]["retry_timeouts"] is True
    with pytest.raises(spec_mod.SpecError) as e:
        spec_mod.load(str(write_spec(tmp_path, "to", retry_timeouts="yes")))
    assert "search.retry_timeouts: expected true or false" in str(e.value), str(e.value)


def test_reconcile_names_a_recreated_run_like_the_live_callback(tmp_path, monkeypatch):
    """A child run that reconcile() has to create (the live callback never reached MLflow) gets the
    same readable name, tags and resolved params as one the callback creates."""
    from sweeper.spec import labels
    from sweeper.store import mlflow_runs as tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracker = tracking.SweepTracker("rc", experiment="rc", run_name="rc", fresh=True)
    cfg = "regularizer.tau=0.5, train.lr=0.001"
    row = {"trial_id": "t_00000", "status": "finished", "reason": "", "regularizer": "dropmax", "config": cfg,
           "config_id": "c0ffee0123", "seed": 1,
           # the row's configuration columns, under the spec's names (sweeper.store.tables)
           "regularizer.name": "dropmax", "regularizer.tau": 0.5, "train.lr": 0.001}
    epochs = [{"trial_id": "t_00000", "epoch": e, "seed": 1, "val_error": 0.5 / e} for e in (1, 2)]
    assert tracker.reconcile([row], epochs, stopped=True) == 1
    (run,) = children(tmp_path, "rc")
    assert run.info.run_name == labels.run_name("dropmax", cfg, 1) == "dropmax tau=0.5 lr=0.001 seed=1"
    name, tags = tracking.child_run("rc", tracker.parent_id, "t_00000",
                                    {"regularizer": "dropmax", "config": cfg, "config_id": "c0ffee0123", "seed": 1})
    assert run.info.run_name == name and {k: run.data.tags.get(k) for k in tags} == tags
    assert tags["configuration"] == "dropmax tau=0.5 lr=0.001" and tags["config_id"] == "c0ffee0123"
    assert run.data.params["train.lr"] == "0.001" and run.data.params["regularizer.tau"] == "0.5"
    assert not any(k.startswith("regularizer.params.") for k in run.data.params)  # one name per parameter
    assert run.info.status == "FINISHED" and run.data.tags["sweeper.status"] == "finished"
    steps = [m.step for m in tracker.client.get_metric_history(run.info.run_id, "val_error")]
    assert sorted(steps) == [1, 2]
    assert tracker.reconcile([row], epochs, stopped=True) == 0 and len(children(tmp_path, "rc")) == 1


def _session_procs(sid: int) -> list[int]:
    """Processes still in session ``sid`` (the launched driver's own session: it and its local Ray)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.getsid(int(d.name)) == sid and "zombie" not in (d / "status").read_text().lower():
                    out.append(int(d.name))
            except (ProcessLookupError, PermissionError, FileNotFoundError):
                pass
    return out


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(900)
def test_double_ctrl_c_stops_at_once_and_resume_finishes(tmp_path):
    """Ctrl-C twice: the second one ends the driver at once (no tables, no MLflow), yet the sweep
    folder says interrupted, nothing keeps running, and `resume` finishes every trial exactly once."""
    name = "twice"
    write_spec(tmp_path, name, samples=2, epochs=3, max_concurrent=2)
    sweep = tmp_path / "sweeps" / name
    proc = launch_until_first_result(tmp_path, name, sweep)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None, "the first Ctrl-C alone ended the driver before the second came"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - sent
        left = _session_procs(proc.pid)
        for _ in range(60):  # the local Ray instance goes down with its driver
            if not left:
                break
            time.sleep(0.5)
            left = _session_procs(proc.pid)
        left_cmd = [Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:200] for p in left]
    finally:
        if proc.poll() is None or _session_procs(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, f"{proc.returncode}\n{out[-2000:]}\n{err[-5000:]}"
    assert took < 10, took  # "at once": no tables, no Ray shutdown (generous for a loaded machine)
    assert "SIGINT again: stopping at once" in err and f"sweeper resume {name}" in err, err[-3000:]
    assert "Traceback" not in err and "best configurations" not in out
    assert not left, f"processes of the stopped driver still alive: {left_cmd}"
    meta = json.loads((sweep / "sweep.json").read_text())
    assert meta["status"] == "interrupted" and meta["interrupted_by"] == "SIGINT twice", meta
    st = ok(sweeper(tmp_path, "status", name, timeout=300)).stdout
    assert "interrupted (SIGINT twice)" in st and f"sweeper resume {name}" in st and "has finished" not in st, st

    ok(sweeper(tmp_path, "resume", name, "--num-cpus", "2", "--quiet"))
    trials = pd.read_parquet(sweep / "trials.parquet")
    epochs = pd.read_parquet(sweep / "epochs.parquet")
    assert len(trials) == 2 and trials.trial_id.is_unique and (trials.status == "finished").all(), trials
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == 6
    client, par = parent(tmp_path, name)
    kids = children(tmp_path, name)
    assert sorted(k.data.tags["sweeper.trial_id"] for k in kids) == sorted(trials.trial_id)  # no duplicate runs
    assert all(k.info.status == "FINISHED" for k in kids)
    for k in kids:
        steps = [m.step for m in client.get_metric_history(k.info.run_id, "epoch")]
        assert sorted(steps) == [1, 2, 3], steps  # each epoch logged once
    assert par.info.status == "FINISHED" and json.loads((sweep / "sweep.json").read_text())["status"] == "finished"


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("x")
        probe.unlink()
        return True
    except OSError:
        return False


@pytest.fixture
def read_only():
    """``read_only(folder)`` makes a folder refuse new files for real, also as root (which ignores
    permission bits): chmod 555, and where that is not enough the immutable attribute (chattr +i,
    needs CAP_LINUX_IMMUTABLE, which root has); undone afterwards. Skips when neither works."""
    done: list[tuple[Path, bool]] = []

    def make(folder: Path) -> Path:
        folder.chmod(0o555)
        immutable = False
        if _writable(folder) and shutil.which("chattr"):
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        done.append((folder, immutable))
        if _writable(folder):
            pytest.skip("cannot make a folder read-only here (neither chmod nor chattr +i blocks writes)")
        return folder

    yield make
    for folder, immutable in done:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.cli
def test_read_only_folders_are_refused_before_anything_is_created(tmp_path, read_only):
    """launch into a folder it cannot write (sweep folder or the SQLite MLflow store) and resume of a
    read-only sweep folder: exit 2, one message naming the folder, nothing created or changed."""
    from sweeper import spec as spec_mod
    from sweeper.driver import wrapup

    write_spec(tmp_path, "ro")
    dest = tmp_path / "dest"
    dest.mkdir()
    read_only(dest)
    r = sweeper(tmp_path, "launch", "ro.yaml", "--out", str(dest / "sweeps"), "--num-cpus", "1", "--quiet", timeout=300)
    refused(r, f"the sweep folder: cannot write to {dest} (where {dest / 'sweeps' / 'ro'} would be created)")
    assert not any(dest.iterdir()) and not (tmp_path / "mlflow.db").exists()

    here = tmp_path / "here"  # the default MLflow store, ./mlflow.db, in a read-only current folder
    write_spec(here, "ro")
    read_only(here)
    r = sweeper(here, "launch", "ro.yaml", "--out", str(tmp_path / "out"), "--num-cpus", "1", "--quiet", timeout=300)
    refused(r, f"the MLflow store {here / 'mlflow.db'}", f"cannot write to {here}")
    assert not (tmp_path / "out").exists()

    src = write_spec(tmp_path / "rs", "rr")  # a sweep (interrupted) whose folder became read-only
    spec_dict = spec_mod.load(str(src)).to_dict()
    sweep = tmp_path / "rs" / "sweeps" / "rr"
    sweep.mkdir(parents=True)
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    meta = {"sweep_id": "rr", "status": "interrupted", "mlflow_uri": f"sqlite:///{tmp_path / 'rs' / 'mlflow.db'}",
            "mlflow_experiment": "rr", "storage": str(sweep), "spec_source": str(src),
            **wrapup.spec_fingerprint(str(src), spec_dict)}
    (sweep / "sweep.json").write_text(json.dumps(meta))
    before = sorted(p.name for p in sweep.iterdir())
    read_only(sweep)
    r = sweeper(tmp_path / "rs", "resume", "rr", "--num-cpus", "1", "--quiet", timeout=300)
    refused(r, f"resume rr: cannot write to {sweep}", "make it writable, then resume again")
    assert sorted(p.name for p in sweep.iterdir()) == before and json.loads((sweep / "sweep.json").read_text()) == meta


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(900)
@pytest.mark.parametrize("retry_timeouts,max_failures,retries", [(False, 2, 0), (True, 1, 1)],
                         ids=["timeout-not-retried", "retry_timeouts-true"])
def test_timed_out_trial_is_not_retried_unless_asked(tmp_path, retry_timeouts, max_failures, retries):
    """A trial past search.trial_timeout_s is recorded as error at once (not max_failures + 1 times,
    each costing the time limit) unless search.retry_timeouts is true. Its only trial failing, the
    launch exits 1 with a message saying so."""
    name = f"to{int(retry_timeouts)}"
    write_spec(tmp_path, name, seeds=(0,), grid=True, epochs=3, trial_timeout_s=6, max_failures=max_failures,
               retry_timeouts=retry_timeouts)
    r = sweeper(tmp_path, "launch", f"{name}.yaml", "--num-cpus", "1", "--quiet", SWEEPER_TEST_HANG_SEED="0",
                **MISBEHAVING)
    assert r.returncode == 1, f"{r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    # The last line is the driver's own message; a traceback above it can only be Tune's log of the killed
    # trial's actor (ActorDiedError), never one of the driver's.
    last = r.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"error: no trial of {name} finished"), r.stderr[-3000:]
    assert "sweeper/cli.py" not in r.stderr and "sweeper/driver/launch.py" not in r.stderr, r.stderr[-3000:]
    t = pd.read_parquet(tmp_path / "sweeps" / name / "trials.parquet")
    assert len(t) == 1 and t.status.iloc[0] == "error", t[["status", "reason"]]
    reason = t.reason.iloc[0]
    assert "exceeded search.trial_timeout_s = 6 s" in reason, reason
    assert ("not retried (search.retry_timeouts is false)" in reason) != retry_timeouts, reason
    # one timeout kill per attempt (without the fix: max_failures + 1 = 3 kills); counted from the driver's
    # log rather than `retries`, which a worker that fails to start on an overloaded machine also spends
    assert r.stderr.count("exceeded search.trial_timeout_s") == retries + 1, r.stderr[-3000:]


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(900)
def test_launch_exits_1_when_every_trial_raises(tmp_path):
    """No trial finished (each raises: a table the trial cannot load): the sweep still ends
    normally (tables, MLflow, status 'finished' with its failures), and launch exits 1 saying so."""
    (tmp_path / "bad.csv").write_text("label,colour\n" + "0,red\n1,blue\n" * 10)
    p = write_spec(tmp_path, "allbad", seeds=(0, 1), grid=True, epochs=2)
    raw = yaml.safe_load(p.read_text())
    raw["dataset"] = {"name": "tabular", "params": {"path": str(tmp_path / "bad.csv"), "label_column": "label"}}
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    r = sweeper(tmp_path, "launch", "allbad.yaml", "--num-cpus", "2", "--quiet")
    assert r.returncode == 1, f"{r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert "error: no trial of allbad finished; see `sweeper status allbad`" in r.stderr, r.stderr[-3000:]
    # Tune logs each failed trial's traceback; none may come from the driver itself, whose message is last
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: no trial of allbad finished"), r.stderr[-3000:]
    assert "sweeper/cli.py" not in r.stderr and "sweeper/driver/launch.py" not in r.stderr, r.stderr[-3000:]
    assert "trials: 2 error" in r.stdout, r.stdout[-2000:]
    t = pd.read_parquet(tmp_path / "sweeps" / "allbad" / "trials.parquet")
    assert len(t) == 2 and (t.status == "error").all() and t.reason.str.contains("non-numeric").all(), t.reason.tolist()
    assert json.loads((tmp_path / "sweeps" / "allbad" / "sweep.json").read_text())["status"] == "finished"
    kids = children(tmp_path, "allbad")
    assert len(kids) == 2 and all(k.info.status == "FAILED" for k in kids)
