"""A sweep survives its faults (issue 16): real Ray, real Optuna, a real MLflow SQLite store.

- the driver lock: a second launch / resume / --overwrite of a sweep with a live driver is
  refused (exit 2, naming it); a stale lock (dead pid) is taken over; racing drivers: one wins;
- damaged sweep.json / spec.yaml: exit 2, no traceback; an edited spec: resume refuses, naming it;
  a read-only sweep folder or MLflow store is refused before anything is created;
- interruption, on one sweep (the ``signalled`` module fixture: four driver runs): SIGINT mid-launch
  and SIGTERM mid-resume exit 130 / 143, status "interrupted", MLflow KILLED; SIGINT twice
  mid-resume stops at once (exit 130, sweep.json interrupted, no process left); the last `resume`
  gives exactly one row and one MLflow run per trial, each epoch logged once;
- the tables come from the trial folders alone (a copy of that finished sweep): a deleted ledger
  or truncated trials.parquet loses nothing, and rebuilding while Tune-like rewrites hit the trial
  folders never mislabels a finished trial;
- a trial killed by Ray's memory monitor and a hung trial past search.trial_timeout_s are
  recorded as errors with their reasons, the sweep finishes, the timed-out trial is not retried
  (search.retry_timeouts false), and a plain resume runs neither again; with retry_timeouts true
  a timed-out trial is retried; a launch whose every trial fails exits 1, saying so;
- an exclusive lock on mlflow.db mid-sweep, longer than the live retry budget, is survived and
  MLflow catches up.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tests.support.cli import REPO, cli, env, invoke, ok, refused, refused_here, sweeper  # noqa: F401  (used here and by other tests)
from tests.support.misbehaving_trial import MISBEHAVING  # the trainable with the SWEEPER_TEST_* faults
from tests.support.specs import copy_sweep, write_spec


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
    st = invoke("status", "dm", cwd=tmp_path)  # in this process: the refusals below start no Ray
    assert st.exit_code == 0 and "interrupted" in st.stdout, st.output
    # edited spec.yaml in the sweep folder
    edited = {**spec_dict, "train": {**spec_dict["train"], "epochs": 7}}
    (sweep / "spec.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    refused_here(invoke("resume", "dm", cwd=tmp_path), "refusing to resume", "train.epochs: 2 -> 7")
    (sweep / "spec.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    # edited source spec
    raw = yaml.safe_load(src.read_text())
    raw["search"]["num_samples"] = 9
    src.write_text(yaml.safe_dump(raw, sort_keys=False))
    refused_here(invoke("resume", "dm", cwd=tmp_path), "search.num_samples: 2 -> 9")
    with pytest.raises(sweepdir.SpecChanged):
        sweepdir.check_spec_unchanged(sweep, meta, spec_dict)
    # damaged files
    (sweep / "sweep.json").write_text(json.dumps(meta)[:40])
    for cmd in (["status", "dm"], ["resume", "dm"]):
        refused_here(invoke(*cmd, cwd=tmp_path), "sweep.json is damaged")
    (sweep / "sweep.json").write_text(json.dumps(meta))
    (sweep / "spec.yaml").write_text("search: [unclosed\n")
    refused(sweeper(tmp_path, "status", "dm", timeout=600), "spec.yaml is damaged")  # the real program: no traceback
    assert not (sweep / "driver.lock").exists()


# ---------------------------------------------------------------------------------------------
# interruption: one sweep stopped three times (SIGINT, SIGTERM, SIGINT twice), then resumed to its
# end; its folders, copied, are also what the table-rebuilding tests read

SIG = "sig"  # the module's signalled sweep: 3 trials x 3 epochs, 2 at a time


def _session_procs(sid: int) -> list[int]:
    """Processes still in session ``sid`` (the launched driver's own session: it and its local Ray)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(ProcessLookupError, PermissionError, FileNotFoundError):  # it ended meanwhile
                if os.getsid(int(d.name)) == sid and "zombie" not in (d / "status").read_text().lower():
                    out.append(int(d.name))
    return out


def _rows(sweep: Path) -> dict[str, set[str]]:
    """The rows of each trial's result.json (Tune's copy in the sweep folder) that are whole JSON
    objects, by trial id (a file Tune is rewriting in place can end in a partial row)."""
    out = {}
    for d in (sweep / "tune").glob("trial_*"):
        lines = (d / "result.json").read_text().splitlines() if (d / "result.json").exists() else []
        out[d.name[6:]] = set()
        for line in lines:
            with contextlib.suppress(ValueError):  # a row Tune is rewriting in place
                json.loads(line)
                out[d.name[6:]].add(line)
    return out


def run_until_new_result(cwd: Path, sweep: Path, *args: str) -> subprocess.Popen:
    """`sweeper ARGS... --num-cpus 2 --quiet` (a launch or a resume) in its own session, 2 s pause
    after each epoch, returned once a trial has reported an epoch in this run (a row in a
    result.json that was not there before: a trial restarted by `resume` rewrites its file from
    its own first epoch, so a count of rows would miss its first epochs); the caller signals it and
    cleans it up."""
    before = _rows(sweep)
    proc = subprocess.Popen(cli(*args, "--num-cpus", "2", "--quiet"), cwd=cwd,
                            env=env(SWEEPER_TEST_EPOCH_DELAY_S="2", **MISBEHAVING), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 400
    while not any(rows - before.get(t, set()) for t, rows in _rows(sweep).items()):
        if proc.poll() is not None or time.monotonic() >= deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise AssertionError(f"{args}: no new result (rc {proc.returncode})\n{out[-2000:]}\n{err[-5000:]}")
        time.sleep(0.3)
    return proc


@dataclass
class Stop:
    """One signalled driver run of the module's sweep and the sweep's state right after it."""
    rc: int
    out: str
    err: str
    took: float  # seconds from the (last) signal to the driver's exit
    alive_between: bool  # SIGINT twice: the driver was still running 0.5 s after the first
    left: list[str]  # command lines of the driver's session still alive 30 s after it ended
    meta: dict  # sweep.json
    locked: bool  # driver.lock still there
    status: subprocess.CompletedProcess  # `sweeper status`
    parent: str  # the MLflow parent run's status
    kids: list[tuple[str, dict]]  # the child runs' statuses and tags


@dataclass
class Signalled:
    cwd: Path
    sweep: Path
    stops: dict[str, Stop]  # "SIGINT" (the launch), "SIGTERM" (a resume), "SIGINT twice" (the next resume)
    resumed: subprocess.CompletedProcess  # the last resume, run to the end


def _stop(cwd: Path, sweep: Path, args: tuple[str, ...], sig: signal.Signals, twice: bool = False) -> Stop:
    proc = run_until_new_result(cwd, sweep, *args)
    alive_between, left_cmd = True, []
    try:
        proc.send_signal(sig)
        if twice:
            time.sleep(0.5)
            alive_between = proc.poll() is None
            proc.send_signal(sig)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=300)
        took = time.monotonic() - sent
        left = _session_procs(proc.pid)
        for _ in range(60):  # the local Ray instance goes down with its driver
            if not left:
                break
            time.sleep(0.5)
            left = _session_procs(proc.pid)
        left_cmd = [Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:200] for p in left]
    finally:
        if proc.poll() is None or _session_procs(proc.pid):  # nothing of it may meet the next run
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _, par = parent(cwd, SIG)
    return Stop(proc.returncode, out, err, took, alive_between, left_cmd, json.loads((sweep / "sweep.json").read_text()),
                (sweep / "driver.lock").exists(), sweeper(cwd, "status", SIG, timeout=300), par.info.status,
                [(k.info.status, k.data.tags) for k in children(cwd, SIG)])


@pytest.fixture(scope="module")
def signalled(tmp_path_factory) -> Signalled:
    """The launch stopped by SIGINT, its resume by SIGTERM, the next resume by SIGINT twice (each
    signal once a trial has reported an epoch in that run), and a last resume run to the end: four
    driver runs instead of a launch and a resume per signal. An interrupted trial has no checkpoint
    (checkpoint_every_s is 30 s, a trial's 3 epochs take about 5 s), so each run starts it again
    from its first epoch and none gets through its 3 epochs (4 s of pauses) before the signal: the
    last resume runs every trial."""
    cwd = tmp_path_factory.mktemp("signalled")
    write_spec(cwd, SIG, samples=3, epochs=3, max_concurrent=2)
    sweep = cwd / "sweeps" / SIG
    stops = {"SIGINT": _stop(cwd, sweep, ("launch", f"{SIG}.yaml"), signal.SIGINT),
             "SIGTERM": _stop(cwd, sweep, ("resume", SIG), signal.SIGTERM),
             "SIGINT twice": _stop(cwd, sweep, ("resume", SIG), signal.SIGINT, twice=True)}
    return Signalled(cwd, sweep, stops, sweeper(cwd, "resume", SIG, "--num-cpus", "2", "--quiet"))


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT-mid-launch", "SIGTERM-mid-resume"])
def test_signal_mid_sweep_interrupts_it_cleanly(signalled, sig):
    s = signalled.stops[sig.name]
    assert s.rc == 128 + int(sig), f"{s.rc}\n{s.out[-2000:]}\n{s.err[-5000:]}"
    assert f"interrupted by {sig.name}" in s.err and f"sweeper resume {SIG}" in s.err, s.err[-3000:]
    assert "best configurations" not in s.out and "Traceback" not in s.err
    assert s.meta["status"] == "interrupted" and s.meta["interrupted_by"] == sig.name
    assert not s.locked
    st = ok(s.status).stdout
    assert "interrupted" in st and f"sweeper resume {SIG}" in st and "has finished" not in st, st
    assert s.parent == "KILLED"
    assert s.kids and any(status == "KILLED" for status, _ in s.kids), s.kids
    assert not any(status == "RUNNING" for status, _ in s.kids)


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_double_ctrl_c_stops_at_once(signalled):
    """Ctrl-C twice: the second one ends the driver at once (no tables, no MLflow), yet the sweep
    folder says interrupted and nothing keeps running."""
    s = signalled.stops["SIGINT twice"]
    assert s.alive_between, "the first Ctrl-C alone ended the driver before the second came"
    assert s.rc == 130, f"{s.rc}\n{s.out[-2000:]}\n{s.err[-5000:]}"
    assert s.took < 10, s.took  # "at once": no tables, no Ray shutdown (generous for a loaded machine)
    assert "SIGINT again: stopping at once" in s.err and f"sweeper resume {SIG}" in s.err, s.err[-3000:]
    assert "Traceback" not in s.err and "best configurations" not in s.out
    assert not s.left, f"processes of the stopped driver still alive: {s.left}"
    assert s.meta["status"] == "interrupted" and s.meta["interrupted_by"] == "SIGINT twice", s.meta
    st = ok(s.status).stdout
    assert "interrupted (SIGINT twice)" in st and f"sweeper resume {SIG}" in st and "has finished" not in st, st


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_resume_after_the_signals_finishes_every_trial_exactly_once(signalled):
    cwd, sweep = signalled.cwd, signalled.sweep
    ok(signalled.resumed)
    trials = pd.read_parquet(sweep / "trials.parquet")
    epochs = pd.read_parquet(sweep / "epochs.parquet")
    assert len(trials) == 3 and trials.trial_id.is_unique and (trials.status == "finished").all(), trials
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == 9
    client, par = parent(cwd, SIG)
    kids = children(cwd, SIG)
    assert sorted(k.data.tags["sweeper.trial_id"] for k in kids) == sorted(trials.trial_id)  # no duplicate runs
    assert all(k.info.status == "FINISHED" for k in kids)
    for k in kids:
        steps = [m.step for m in client.get_metric_history(k.info.run_id, "epoch")]
        assert sorted(steps) == [1, 2, 3], steps  # each epoch logged once
    assert par.info.status == "FINISHED" and par.data.metrics["trials_finished"] == 3
    assert par.data.metrics["trials_running"] == 0
    assert json.loads((sweep / "sweep.json").read_text())["status"] == "finished"
    assert "has finished" in ok(sweeper(cwd, "status", SIG, timeout=300)).stdout


def _copy(signalled: Signalled, tmp: Path) -> Path:
    """The finished signalled sweep, copied (the tests below change it); its folder in the copy."""
    ok(signalled.resumed)
    return copy_sweep(signalled.cwd, tmp / "c", SIG) / "sweeps" / SIG


# The two tests below read a copy of the signalled sweep, whose fixture sends real signals: `fault`.
@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_tables_rebuild_from_trial_folders_alone(signalled, tmp_path):
    sweep = _copy(signalled, tmp_path)
    cwd = sweep.parents[1]
    before = pd.read_parquet(sweep / "trials.parquet").sort_values("trial_id").reset_index(drop=True)
    assert len(before) == 3 and (before.status == "finished").all()
    (sweep / "ledger.json").unlink()
    data = (sweep / "trials.parquet").read_bytes()
    (sweep / "trials.parquet").write_bytes(data[: len(data) // 2])
    r = ok(sweeper(cwd, "report", SIG, timeout=300))
    assert "3 trials" in r.stdout and "Traceback" not in r.stderr
    after = pd.read_parquet(sweep / "trials.parquet").sort_values("trial_id").reset_index(drop=True)
    cols = ["trial_id", "status", "epochs", "val_error", "test_error", "retries"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    (sweep / "ledger.json").write_text('{"x": {"stat')  # truncated ledger
    st = ok(sweeper(cwd, "status", SIG, timeout=300)).stdout
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
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_rebuild_never_mislabels_during_tune_rewrites(signalled, tmp_path):
    from sweeper.spec import from_dict
    from sweeper.store import identity, sweepdir, tables

    sweep = _copy(signalled, tmp_path)
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
            assert all(t["epochs"] == 3 and t["test_error"] is not None for t in trials), trials
            seen += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and seen >= 10, (errors, seen)


# ---------------------------------------------------------------------------------------------
# poison trials


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_oom_killed_and_hung_trials_fail_with_reasons_and_sweep_finishes(tmp_path):
    """Seed 1 is killed by Ray's memory monitor, seed 2 hangs past search.trial_timeout_s; both are
    recorded as errors with their reasons and the sweep finishes. The timed-out trial is not retried
    (search.retry_timeouts is false), though max_failures would allow it; and a plain `resume` runs
    neither errored trial again (issue 26: Tune's last snapshot can list both RUNNING)."""
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
    reason = t.loc[2, "reason"]
    assert t.loc[2, "status"] == "error" and "exceeded search.trial_timeout_s = 25 s" in reason, reason
    assert "not retried (search.retry_timeouts is false)" in reason, reason
    # one timeout kill (without the fix: max_failures + 1 = 2 kills); counted from the driver's log
    # rather than `retries`, which a worker that fails to start on an overloaded machine also spends
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]
    assert "has reported nothing for" in r.stderr, r.stderr[-3000:]
    # Tune logs the killed trials' tracebacks (ActorDiedError, OutOfMemoryError); none may be the driver's
    assert "sweeper/cli/" not in r.stderr and "sweeper/driver/launch.py" not in r.stderr, r.stderr[-3000:]
    st = ok(sweeper(tmp_path, "status", "poison", timeout=300)).stdout
    assert "out of memory" in st and "exceeded search.trial_timeout_s" in st and "has finished" in st, st
    kids = {k.data.tags["sweeper.trial_id"]: k for k in children(tmp_path, "poison")}
    assert len(kids) == 3 and sorted(k.info.status for k in kids.values()) == ["FAILED", "FAILED", "FINISHED"]
    rows = result_rows(sweep)

    # the faults stay armed: a trial run again would hog or hang (and time out) again
    r = ok(sweeper(tmp_path, "resume", "poison", "--num-cpus", "3", "--quiet", **extra))
    assert "exceeded search.trial_timeout_s" not in r.stderr, r.stderr[-3000:]  # it did not run again
    assert result_rows(sweep) == rows
    t2 = pd.read_parquet(sweep / "trials.parquet").set_index("seed")
    assert list(t2.status) == list(t.status) and list(t2.trial_id) == list(t.trial_id), t2[["status", "reason"]]
    assert len(children(tmp_path, "poison")) == 3


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
    """launch into a folder it cannot write (sweep folder, Tune's --storage or the SQLite MLflow store) and resume of a
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
    r = invoke("launch", "ro.yaml", "--out", str(tmp_path / "out2"), "--storage", str(dest / "tune"), "--num-cpus", "1",
               "--quiet", cwd=tmp_path)  # Tune's storage there (in this process: refused before Ray)
    refused_here(r, f"--storage: cannot write to {dest} (where {dest / 'tune'} would be created)")
    assert not any(dest.iterdir()) and not (tmp_path / "out2").exists() and not (tmp_path / "mlflow.db").exists()

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
def test_timed_out_trial_is_retried_when_asked(tmp_path):
    """With search.retry_timeouts true, a trial past search.trial_timeout_s is one more failure,
    retried up to max_failures times (the default, not retried, is shown by the poison sweep above).
    Its only trial failing, the launch exits 1 with a message saying so."""
    write_spec(tmp_path, "to1", seeds=(0,), grid=True, epochs=3, trial_timeout_s=6, max_failures=1,
               retry_timeouts=True)
    r = sweeper(tmp_path, "launch", "to1.yaml", "--num-cpus", "1", "--quiet", SWEEPER_TEST_HANG_SEED="0",
                **MISBEHAVING)
    assert r.returncode == 1, f"{r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    # The last line is the driver's own message; a traceback above it can only be Tune's log of the killed
    # trial's actor (ActorDiedError), never one of the driver's.
    last = r.stderr.rstrip().splitlines()[-1]
    assert last.startswith("error: no trial of to1 finished"), r.stderr[-3000:]
    assert "sweeper/cli/" not in r.stderr and "sweeper/driver/launch.py" not in r.stderr, r.stderr[-3000:]
    t = pd.read_parquet(tmp_path / "sweeps" / "to1" / "trials.parquet")
    assert len(t) == 1 and t.status.iloc[0] == "error", t[["status", "reason"]]
    reason = t.reason.iloc[0]
    assert "exceeded search.trial_timeout_s = 6 s" in reason, reason
    assert "not retried (search.retry_timeouts is false)" not in reason, reason
    # one timeout kill per attempt: the first and its one retry; counted from the driver's log rather than
    # `retries`, which a worker that fails to start on an overloaded machine also spends
    assert r.stderr.count("exceeded search.trial_timeout_s") == 2, r.stderr[-3000:]


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
    assert "sweeper/cli/" not in r.stderr and "sweeper/driver/launch.py" not in r.stderr, r.stderr[-3000:]
    assert "trials: 2 error" in r.stdout, r.stdout[-2000:]
    t = pd.read_parquet(tmp_path / "sweeps" / "allbad" / "trials.parquet")
    assert len(t) == 2 and (t.status == "error").all() and t.reason.str.contains("non-numeric").all(), t.reason.tolist()
    assert json.loads((tmp_path / "sweeps" / "allbad" / "sweep.json").read_text())["status"] == "finished"
    kids = children(tmp_path, "allbad")
    assert len(kids) == 2 and all(k.info.status == "FAILED" for k in kids)
