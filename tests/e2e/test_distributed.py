"""Distributed and fault-tolerance paths on a real multi-node Ray cluster.

One machine, several real Ray nodes (tests/cluster.py): a head with no CPUs
and worker nodes with one logical CPU each (one also declaring one GPU), so
anything that needs a CPU runs on a worker node and concurrent work spreads
over nodes. Drivers are separate processes: short Ray scripts, and the real
``sweeper`` CLI for the sweep-level tests (4 x 0.25 GPU; worker node SIGKILLed
mid-sweep, whose sweep also checks that a sweep's trials spread over several
nodes; driver SIGKILLed then ``sweeper resume``, twice): five sweeper runs.
Set SWEEPER_FAULT_REPORT=<file> to get what the fault tests observed as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.e2e.cluster import LocalCluster  # noqa: E402
from tests.support.misbehaving_trial import MISBEHAVING  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
E_REPORT: dict = {}  # what the fault tests observed (written to $SWEEPER_FAULT_REPORT)


@pytest.fixture(scope="module", autouse=True)
def _report_fault_outcomes():
    yield
    if E_REPORT and os.environ.get("SWEEPER_FAULT_REPORT"):
        Path(os.environ["SWEEPER_FAULT_REPORT"]).write_text(json.dumps(E_REPORT, indent=1, default=str))


def test_cluster_yaml_is_a_valid_launcher_config():
    """cluster.yaml passes the installed Ray's cluster-launcher schema and the
    launcher's own checks (what `ray up` runs before it touches AWS)."""
    import copy
    import subprocess

    import jsonschema
    import ray.autoscaler
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = yaml.safe_load((REPO / "cluster.yaml").read_text())
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(cfg, schema)
    validate_config(prepare_config(copy.deepcopy(cfg)))

    types = cfg["available_node_types"]
    assert cfg["provider"]["type"] == "aws"
    assert types[cfg["head_node_type"]]["resources"] == {"CPU": 0}
    gpu_types = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu_types and all(t["max_workers"] >= 1 and "min_workers" in t for t in gpu_types)
    cmds = [c for k in ("setup_commands", "head_setup_commands", "head_start_ray_commands",
                        "worker_start_ray_commands") for c in cfg[k]]
    for c in cmds:
        assert subprocess.run(["bash", "-n", "-c", c]).returncode == 0, c
    text = (REPO / "cluster.yaml").read_text()
    assert "0.0.0.0" not in text
    head = " ".join(cfg["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "--host 127.0.0.1" in head
    assert "--serve-artifacts" in head and "--artifacts-destination" in head
    assert "export RAY_AUTH_MODE=token" in cfg["setup_commands"][0]
    for c in cfg["head_start_ray_commands"][1:] + cfg["worker_start_ray_commands"][1:]:
        assert c.startswith("source ~/sweeper.env;"), c
    assert cfg["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"


EPOCH_DELAY_S = 2.0  # test-only pause after each epoch's report: trials can be caught mid-run


@pytest.fixture(scope="module")
def cluster():
    # head: no CPUs (never runs trials); w1, w2: one CPU each; g: one CPU and one
    # GPU (declared; there is no CUDA here, so trials on it still compute on the CPU).
    # every node runs the misbehaving trainable (tests/support/), importable from the repository root
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    c = LocalCluster(extra_env={"SWEEPER_TEST_EPOCH_DELAY_S": str(EPOCH_DELAY_S), "PYTHONPATH": pythonpath,
                                **MISBEHAVING})
    try:
        c.start_head(num_cpus=0)
        c.add_workers({"w1": dict(num_cpus=1), "w2": dict(num_cpus=1),
                       "g": dict(num_cpus=1, num_gpus=1)})
        yield c
    finally:
        root = c.root
        c.shutdown()
        assert c.leftover_pids() == [], f"Ray processes of {root} survived shutdown"


SPREAD = textwrap.dedent("""
    import json, time, ray
    ray.init(logging_level="ERROR", log_to_driver=False)

    @ray.remote(num_cpus=1)
    def where(i):
        time.sleep(1.0)
        return ray.get_runtime_context().get_node_id()

    print("RESULT=" + json.dumps(ray.get([where.remote(i) for i in range(4)])))
""")


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.timeout(600)
def test_tasks_land_on_several_nodes(cluster):
    ids = {name: node.node_id for name, node in cluster.nodes.items()}
    assert len(set(ids.values())) == 4, ids
    where = cluster.run_driver(SPREAD)
    assert len(where) == 4
    # Head has 0 CPUs: every 1-CPU task ran on a worker, and with one CPU per
    # worker, four overlapping 1 s tasks needed at least two workers.
    assert ids["head"] not in where
    assert set(where) <= {ids["w1"], ids["w2"], ids["g"]} and len(set(where)) >= 2, (where, ids)


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.timeout(600)
def test_driver_without_the_cluster_token_is_refused(cluster):
    """The cluster really runs in token mode: a wrong token cannot connect."""
    env = cluster.env
    env["RAY_AUTH_TOKEN"] = "0" * 64  # highest-precedence token source, and wrong
    env["RAY_gcs_server_port_wait_time_s"] = "1"  # one connect attempt, not ~20
    code = textwrap.dedent("""
        import json, ray
        try:
            ray.init(logging_level="ERROR", log_to_driver=False)
            print("RESULT=" + json.dumps("connected"))
        except Exception as e:
            cause = e.__cause__
            print("RESULT=" + json.dumps(f"{type(e).__name__} <- {type(cause).__name__}: {cause}"))
    """)
    out = cluster.run_driver(code, env=env, timeout=120)
    assert out.startswith("ConnectionError <- "), out
    assert "AuthenticationError: RPC error: InvalidAuthToken" in out, out


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(600)
def test_killed_worker_node_is_dead_and_its_task_retried_elsewhere(cluster):
    """SIGKILL a whole node mid-task: the GCS marks it dead, the task reruns."""
    victim = cluster.add_worker("victim", num_cpus=1)
    code = textwrap.dedent(f"""
        import json, time, ray
        ray.init(logging_level="ERROR", log_to_driver=False)

        @ray.remote(num_cpus=1, max_retries=2)
        def work(marker):
            import os, pathlib
            p = pathlib.Path(marker)
            attempt = len(p.read_text()) if p.exists() else 0
            p.write_text("x" * (attempt + 1))
            if attempt == 0:
                time.sleep(120)  # first attempt: on the victim, killed meanwhile
            return ray.get_runtime_context().get_node_id(), attempt

        # Soft node affinity: the first attempt runs on the victim; the retry
        # may go elsewhere once the victim is dead.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        strat = NodeAffinitySchedulingStrategy("{victim.node_id}", soft=True)
        ref = work.options(scheduling_strategy=strat).remote("{cluster.root}/marker")
        print("STARTED", flush=True)
        node, attempt = ray.get(ref, timeout=240)
        print("RESULT=" + json.dumps(dict(node=node, attempt=attempt,
              nodes={{n["NodeID"]: n["Alive"] for n in ray.nodes()}})))
    """)
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-c", code], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        marker = cluster.root / "marker"
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the task never started"
        titles = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
                  for pid in victim.pids()]
        assert b"ray::work" in titles, titles  # the task's worker is one of the node's
        cluster.kill_node("victim")
        assert victim.pids() == []
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = [x for x in out.splitlines() if x.startswith("RESULT=")]
    assert line, err[-4000:]
    res = json.loads(line[0][len("RESULT="):])
    assert res["nodes"][victim.node_id] is False  # the GCS sees the node dead
    assert res["attempt"] == 1  # the retry, not the first attempt, returned
    assert res["node"] in {cluster.nodes["w1"].node_id, cluster.nodes["w2"].node_id}
    assert marker.read_text() == "xx"
    alive = {n["NodeName"]: n["Alive"] for n in cluster.alive_nodes()}
    assert alive["victim"] is False and alive["w1"] and alive["w2"] and alive["head"]


# ---------------------------------------------------------------------------
# Sweep-level tests: the real `sweeper` CLI as the driver, on the cluster above.

EPOCHS = 4


def write_spec(folder: Path, name: str, num_samples: int, max_concurrent: int,
               sampler: str = "random") -> Path:
    import yaml

    spec = {
        "name": name,
        "dataset": {"name": "digits"},
        "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"},
        "train": {"epochs": EPOCHS, "batch_size": 128},
        "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True}},
        "seeds": [0],
        "search": {"sampler": sampler, "num_samples": num_samples, "sampler_seed": 0,
                   "max_concurrent": max_concurrent, "max_failures": 2,
                   "checkpoint_every_s": 1,  # < EPOCH_DELAY_S: a checkpoint after every epoch, by the time rule
                   "snapshot_every_s": 1},  # the tests watch Tune's snapshot mid-sweep (the driver-kill test waits on it)
        "resources": {"cpu": 1},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "sweeper.cli", *args]


def run_cli(cluster: LocalCluster, cwd: Path, *args: str, timeout: float = 420):
    import subprocess

    env = cluster.env
    env.pop("MLFLOW_TRACKING_URI", None)  # sqlite:///mlflow.db in cwd
    r = subprocess.run(cli_args(*args), cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"sweeper {' '.join(args)} -> {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r


def tune_rows(sweep_dir: Path) -> dict[str, list[dict]]:
    """Tune's own per-report record of every trial (result.json), by trial id."""
    out = {}
    for d in sorted((sweep_dir / "tune").glob("trial_*")):
        f = d / "result.json"
        rows = []
        if f.exists():
            for line in f.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a line being written right now
                    break
        out[d.name.removeprefix("trial_")] = rows
    return out


def _snapshot(sweep_dir: Path) -> list[tuple[str, str]]:
    snaps = sorted((sweep_dir / "tune").glob("experiment_state-*.json"), key=lambda p: p.name)
    return json.loads(snaps[-1].read_text())["trial_data"] if snaps else []


def snapshot_status(sweep_dir: Path) -> dict[str, str]:
    """Trial statuses in Tune's newest experiment snapshot (what `Tuner.restore` resumes from)."""
    return {(t := json.loads(s))["trial_id"]: t["status"] for s, _ in _snapshot(sweep_dir)}


def snapshot_checkpointed(sweep_dir: Path) -> set[str]:
    """Trials whose checkpoint is recorded in Tune's newest snapshot: only those can
    resume mid-run. (Checkpoints go by time, so a trial's first epochs may have none,
    and a checkpoint reported in the last second may not be in the snapshot yet.)"""
    from ray.tune.trainable.metadata import _TrainingRunMetadata  # Tune's own reader of the snapshot

    out = set()
    for state, meta in _snapshot(sweep_dir):
        manager = _TrainingRunMetadata.from_json_state(meta).checkpoint_manager
        if manager is not None and manager.latest_checkpoint_result is not None:
            out.add(json.loads(state)["trial_id"])
    return out


def _try(fn, *a):
    try:
        return fn(*a)
    except (json.JSONDecodeError, OSError):
        return None


def restores(rows: list[dict]) -> list[int]:
    """Epochs a trial continued from after being restored: a report with
    ``iterations_since_restore == 1`` but a later epoch means Tune restarted the
    trial from the checkpoint of the epoch before it."""
    return [r["epoch"] - 1 for r in rows[1:] if r["iterations_since_restore"] == 1]


def mlflow_children(cwd: Path, experiment: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if "sweeper.trial_id" in r.data.tags]


def check_tables(cwd: Path, sweep_dir: Path, name: str, n: int):
    """Every trial finished, exactly one Parquet row per trial and per (trial, epoch),
    exactly one MLflow child run per trial; returns (trials, epochs)."""
    import pandas as pd

    trials = pd.read_parquet(sweep_dir / "trials.parquet")
    epochs = pd.read_parquet(sweep_dir / "epochs.parquet")
    assert len(trials) == n and trials.trial_id.is_unique, trials[["trial_id", "status"]]
    assert (trials.status == "finished").all(), trials[["trial_id", "status", "reason"]]
    assert (trials.epochs == EPOCHS).all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for tid, g in epochs.groupby("trial_id"):
        assert sorted(g.epoch) == list(range(1, EPOCHS + 1)), (tid, list(g.epoch))
    assert set(epochs.trial_id) == set(trials.trial_id)
    runs = mlflow_children(cwd, name)
    tags = [r.data.tags["sweeper.trial_id"] for r in runs]
    assert sorted(tags) == sorted(trials.trial_id), (tags, list(trials.trial_id))
    return trials, epochs


def wait_for(cond, timeout: float, what: str, proc=None, poll: float = 0.5):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"driver exited {proc.returncode} while waiting for {what}\n"
                                 f"{out[-2000:]}\n{err[-4000:]}")
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.timeout(600)
def test_four_quarter_gpu_trials_share_one_gpu_concurrently(cluster, tmp_path):
    write_spec(tmp_path, "gpu", num_samples=4, max_concurrent=4)
    run_cli(cluster, tmp_path, "launch", "gpu.yaml", "--address", cluster.address, "--quiet",
            "--gpus-per-trial", "0.25", "--cpus-per-trial", "0.25")
    sweep = tmp_path / "sweeps" / "gpu"
    trials, _ = check_tables(tmp_path, sweep, "gpu", 4)
    # Only g declares a GPU: all four trials ran there.
    assert set(trials.node_id) == {cluster.nodes["g"].node_id}
    spans = {}
    for tid, rows in tune_rows(sweep).items():
        start = rows[0]["timestamp"] - rows[0]["time_total_s"]  # trainable start
        spans[tid] = (start, rows[-1]["timestamp"])
    # All four ran at the same time: the latest start precedes the earliest end
    # (timestamps are whole seconds, hence the 1 s margin).
    assert max(s for s, _ in spans.values()) + 1 < min(e for _, e in spans.values()), spans


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.fault
@pytest.mark.timeout(600)
def test_worker_node_killed_mid_sweep_and_trials_land_on_several_nodes(cluster, tmp_path):
    """SIGKILL a whole worker node while one of its trials is mid-run: the sweep
    completes; that trial is retried from its last checkpoint on another node.

    The same sweep checks what a sweep on several nodes must do (once a test of its own, with a
    sweep of its own): its trials ran on worker nodes only (never the 0-CPU head), on at least two
    of them, and no trial but the victim's was retried."""
    import subprocess

    victim = cluster.add_worker("victim2", num_cpus=1)
    n = 4  # = worker CPUs (w1, w2, g, victim2): one trial per node, one on the victim
    write_spec(tmp_path, "nodekill", num_samples=n, max_concurrent=n)
    sweep = tmp_path / "sweeps" / "nodekill"
    env = cluster.env
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(cli_args("launch", "nodekill.yaml", "--address", cluster.address, "--quiet"),
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        def trial_on_victim_with_checkpoint():
            for tid, rows in tune_rows(sweep).items():
                if rows and rows[-1].get("node_id") == victim.node_id and rows[-1]["epoch"] < EPOCHS \
                        and any((sweep / "tune" / f"trial_{tid}").glob("checkpoint_*")):
                    return tid, rows[-1]["epoch"]
            return None

        tid, epoch_at_kill = wait_for(trial_on_victim_with_checkpoint, 300, "a trial mid-run on the victim", proc)
        cluster.kill_node("victim2")
        out, err = proc.communicate(timeout=420)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 0, out[-3000:] + err[-5000:]
    trials, epochs = check_tables(tmp_path, sweep, "nodekill", n)
    hit = trials.set_index("trial_id").loc[tid]
    assert hit.retries >= 1
    assert hit.node_id != victim.node_id  # it finished elsewhere
    rows = tune_rows(sweep)[tid]
    resumed_from = restores(rows)
    assert resumed_from and resumed_from[0] >= 1, rows  # continued from a checkpoint, not from scratch
    e = epochs[epochs.trial_id == tid].set_index("epoch").node_id
    assert (e.loc[: resumed_from[0]] == victim.node_id).all() and (e.loc[resumed_from[0] + 1:] != victim.node_id).all(), e
    assert (trials.drop(index=trials.index[trials.trial_id == tid]).retries == 0).all()
    # a multi-node sweep: trials on the worker nodes still alive (the victim's trial finished elsewhere), spread
    workers = {cluster.nodes[n].node_id for n in ("w1", "w2", "g")}
    assert set(trials.node_id) <= workers
    assert trials.node_id.nunique() >= 2, trials[["trial_id", "node_id"]]
    E_REPORT["worker_kill"] = dict(trial=tid, epoch_seen_at_kill=epoch_at_kill, resumed_from=resumed_from,
                                   retries=int(hit.retries), rows=len(trials), epoch_rows=len(epochs),
                                   mlflow_children=len(mlflow_children(tmp_path, "nodekill")))


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.fault
@pytest.mark.timeout(900)
def test_driver_sigkill_then_resume(cluster, tmp_path):
    """SIGKILL the driver mid-sweep, `sweeper status`, `sweeper resume` (twice)."""
    import signal
    import subprocess

    import pandas as pd

    n = 5
    write_spec(tmp_path, "drvkill", num_samples=n, max_concurrent=3, sampler="tpe")
    sweep = tmp_path / "sweeps" / "drvkill"
    env = cluster.env
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(cli_args("launch", "drvkill.yaml", "--address", cluster.address, "--quiet"),
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        def finished_and_midrun():
            try:
                snap, ckpt = snapshot_status(sweep), snapshot_checkpointed(sweep)
            except (json.JSONDecodeError, OSError):  # being rewritten right now
                return None
            rows = tune_rows(sweep)
            done = {t for t, s in snap.items() if s == "TERMINATED"}
            mid = {t for t, s in snap.items()
                   if s == "RUNNING" and t in ckpt and rows.get(t) and rows[t][-1]["epoch"] < EPOCHS}
            return (done, mid) if done and mid else None

        wait_for(finished_and_midrun, 400, "a finished and a mid-run trial in Tune's snapshot", proc, poll=0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = tune_rows(sweep)
    snap = wait_for(lambda: _try(snapshot_status, sweep), 10, "a readable snapshot")
    ckpt = snapshot_checkpointed(sweep)
    # "Finished" = finished in the snapshot Tune resumes from. Tune snapshots at most every
    # TUNE_GLOBAL_CHECKPOINT_S (launch sets 1 s), so a trial that completed in the last
    # second before the kill is still RUNNING there and may redo its last epoch(s);
    # the tables stay exact anyway (checked below).
    finished_before = {t: len(before[t]) for t, s in snap.items() if s == "TERMINATED"}
    midrun_before = {t: before[t][-1]["epoch"] for t, s in snap.items()  # mid-run, with a checkpoint to resume from
                     if s != "TERMINATED" and t in ckpt and before.get(t) and before[t][-1]["epoch"] < EPOCHS}
    orphans = sorted(set(before) - set(snap))  # created after the last snapshot
    assert finished_before and midrun_before, (snap, {t: len(r) for t, r in before.items()})

    st = run_cli(cluster, tmp_path, "status", "drvkill", timeout=120).stdout
    assert "sweeper resume drvkill" in st, st  # it noticed the dead driver

    run_cli(cluster, tmp_path, "resume", "drvkill", "--address", cluster.address, "--quiet")
    trials, epochs = check_tables(tmp_path, sweep, "drvkill", n)
    after = tune_rows(sweep)
    for t, k in finished_before.items():  # completed trials were not rerun
        assert len(after[t]) == k, (t, k, after[t])
    continued = {t: restores(after[t]) for t in midrun_before}
    assert any(r and r[0] >= 1 for r in continued.values()), continued  # from checkpoints
    # The Optuna study lives on in the sweep's study database (optuna.db): after the resume it holds
    # one complete trial per configuration run, numbered without gaps.
    import optuna

    storage = f"sqlite:///{sweep / 'optuna.db'}"
    trials_all = [t for name in optuna.study.get_all_study_names(storage)
                  for t in optuna.load_study(study_name=name, storage=storage).trials]
    complete = [t for t in trials_all if t.state.name == "COMPLETE"]
    assert len(complete) == n, [t.state.name for t in trials_all]
    for name in optuna.study.get_all_study_names(storage):
        numbers = sorted(t.number for t in optuna.load_study(study_name=name, storage=storage).trials)
        assert numbers == list(range(len(numbers)))

    # Resuming a finished sweep again changes nothing.
    t1 = pd.read_parquet(sweep / "trials.parquet")
    run_cli(cluster, tmp_path, "resume", "drvkill", "--address", cluster.address, "--quiet")
    trials2, _ = check_tables(tmp_path, sweep, "drvkill", n)
    cols = ["trial_id", "status", "epochs", "val_error", "test_error", "retries"]
    pd.testing.assert_frame_equal(t1[cols].sort_values("trial_id").reset_index(drop=True),
                                  trials2[cols].sort_values("trial_id").reset_index(drop=True))
    assert tune_rows(sweep) == after
    E_REPORT["driver_kill"] = dict(snapshot_at_kill=snap, orphans=orphans,
                                   finished_before=len(finished_before), midrun_before=midrun_before,
                                   continued_from=continued, rows=len(trials), epoch_rows=len(epochs),
                                   mlflow_children=len(mlflow_children(tmp_path, "drvkill")),
                                   optuna_complete=len(complete))
