"""The autoscaling cluster path on one machine: Ray's real autoscaler, node types from ``cluster.yaml``.

The head (no CPUs: no trial ever runs there) runs Ray's autoscaler with the fake multi-node provider
(``tests/support/autoscaling.py``): its worker node types are generated from ``cluster.yaml``'s
``available_node_types`` (GPU counts as declared, ``min_workers: 0``, one CPU each, at most three
workers, ``idle_timeout_minutes: 0.25``), so the cluster starts with no worker at all. The real
``sweeper launch --address ... --gpus-per-trial 1`` then shows, on this machine:

- worker nodes are launched for the sweep's pending trials (none exist before it);
- its trials run on them, holding the declared (fake) GPU; without CUDA here each trial runs on the
  CPU and says so (a warning in its log; ``device: cpu`` with ``gpus_assigned`` in its provenance);
- every live worker SIGKILLed mid-sweep (its raylet and everything under it) is marked dead by the GCS
  and the autoscaler launches new workers for the pending trials; a killed trial resumes from its checkpoint
  (all live workers die at once, so the rest of the sweep can only run on replacements: with one victim
  the autoscaler may already have a spare worker up, since Tune asks for the next trial's resources early);
- once the sweep is over, idle workers are removed after the idle timeout.

What it cannot show (only a real cloud run can): instance start-up times, spot interruptions, real
GPUs, S3 storage, the docker images, ``setup_commands`` and the network rules of ``cluster.yaml``.

Wall time: 91 s measured on the shared 2-core machine at load 0.1 (head start, five node launches, a 6-trial
sweep of 4 two-second epochs, a 15 s idle timeout).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.autoscaling import HEAD_TYPE, fake_config
from tests.support.misbehaving_trial import MISBEHAVING

REPO = Path(__file__).resolve().parents[2]

CLUSTER_YAML = REPO / "cluster.yaml"
EPOCHS = 4
EPOCH_DELAY_S = 2.0  # after each epoch's report: a trial is mid-run long enough to be killed
IDLE_TIMEOUT_MIN = 0.25
HEAD_ID_SUFFIX = "00000"  # the fake provider's node ids: fff...00000 (head), fff...00001, ... (workers)


def test_fake_config_mirrors_cluster_yaml():
    """Every worker node type of cluster.yaml, with its GPUs, scaled to this machine; the head as declared."""
    src = yaml.safe_load(CLUSTER_YAML.read_text())
    cfg = fake_config(CLUSTER_YAML, "127.0.0.1:1", cpus_per_worker=1, max_workers=2, idle_timeout_minutes=0.25)
    types = cfg["available_node_types"]
    workers = {n: t for n, t in src["available_node_types"].items() if n != src["head_node_type"]}
    assert set(types) == {HEAD_TYPE, *workers}
    assert types[HEAD_TYPE]["resources"] == src["available_node_types"][src["head_node_type"]]["resources"]
    for name, t in workers.items():
        res = dict(types[name]["resources"])
        assert res.pop("CPU") == 1 and res.pop("object_store_memory") > 0
        assert res == {k: v for k, v in t["resources"].items() if k != "CPU"}  # GPU as declared
        assert types[name]["min_workers"] == 0 and 1 <= types[name]["max_workers"] <= 2
    assert any(t["resources"].get("GPU", 0) >= 1 for t in types.values())
    assert cfg["provider"]["type"] == "fake_multinode" and cfg["idle_timeout_minutes"] == 0.25
    assert cfg["upscaling_speed"] == src["upscaling_speed"]


def _spec(folder: Path, name: str, n: int) -> None:
    spec = {
        "name": name, "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"}, "train": {"epochs": EPOCHS, "batch_size": 128},
        "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True}},
        "seeds": [0],
        "search": {"sampler": "random", "num_samples": n, "sampler_seed": 0, "max_concurrent": 2, "max_failures": 2,
                   "checkpoint_every_s": 1, "snapshot_every_s": 1},
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


WATCH = """
import json, sys, time, ray
ray.init(logging_level="ERROR", log_to_driver=False)
while True:
    nodes = [dict(id=n["NodeID"], alive=n["Alive"], resources=n["Resources"]) for n in ray.nodes()]
    print(json.dumps(dict(t=time.time(), nodes=nodes)), flush=True)
    time.sleep(1)
"""


class NodeWatch:
    """The GCS node table once a second, from one driver process connected to the cluster: every
    worker ever seen, with its resources, when it was first seen alive and first seen dead (wall clock)."""

    def __init__(self, cluster, log: Path) -> None:
        self.log = log
        with open(log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-c", WATCH], env=cluster.env, stdout=out,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        self.seen: dict[str, dict] = {}

    def read(self) -> list[str]:
        """Worker node ids alive in the latest table; updates ``seen``."""
        alive: list[str] = []
        for line in self.log.read_text().splitlines():
            try:  # Ray's own messages to the driver (a node marked dead) share stdout; a last line may be partial
                snap = json.loads(line) if line.startswith('{"t"') else None
            except json.JSONDecodeError:
                snap = None
            if snap is None:
                continue
            alive = []
            for n in snap["nodes"]:
                if n["id"].endswith(HEAD_ID_SUFFIX):
                    continue
                rec = self.seen.setdefault(n["id"], {"resources": n["resources"], "up": snap["t"], "down": None})
                if n["alive"]:
                    alive.append(n["id"])
                elif rec["down"] is None:
                    rec["down"] = snap["t"]
        return alive

    def started(self, timeout: float = 120) -> None:
        _wait(lambda: self.log.stat().st_size > 0, timeout, "the node watcher's first table")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


def _wait(cond, timeout: float, what: str, proc=None, poll: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"sweeper exited {proc.returncode} while waiting for {what}\n{out[-2000:]}\n{err[-5000:]}")
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _rows(sweep: Path) -> dict[str, list[dict]]:
    """Tune's per-report records (result.json) by trial id; a line being written is skipped."""
    out = {}
    for d in sorted((sweep / "tune").glob("trial_*")):
        rows = []
        f = d / "result.json"
        for line in (f.read_text().splitlines() if f.exists() else []):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        out[d.name.removeprefix("trial_")] = rows
    return out


def _gpu_fallback_logged(cluster) -> bool:
    from trainables.trial import GPU_FALLBACK

    text = GPU_FALLBACK.split("{ids}")[1].strip()
    return any(text in p.read_text(errors="replace") for p in cluster.root.glob("head/session_*/logs/worker-*"))


@pytest.mark.ray
@pytest.mark.cluster
@pytest.mark.fault
@pytest.mark.cli
@pytest.mark.timeout(900)
def test_autoscaler_launches_replaces_and_removes_gpu_workers(tmp_path):
    from tests.support.autoscaling import autoscaling_cluster, kill_fake_node

    t0 = time.monotonic()
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    # max_workers 3 > max_concurrent 2: Tune may ask for a third trial's resources before a finished trial frees
    # its own, so two or three workers can be up when every live one is killed
    cluster = autoscaling_cluster(CLUSTER_YAML, max_workers=3, idle_timeout_minutes=IDLE_TIMEOUT_MIN,
                                  extra_env={"SWEEPER_TEST_EPOCH_DELAY_S": str(EPOCH_DELAY_S),
                                             "PYTHONPATH": pythonpath, **MISBEHAVING})
    proc = watch = None
    n, name = 6, "auto"
    sweep = tmp_path / "sweeps" / name
    try:
        cluster.start_head(num_cpus=0)
        watch = NodeWatch(cluster, tmp_path / "nodes.jsonl")
        watch.started()
        assert watch.read() == []  # min_workers 0: nothing but the head before the sweep

        _spec(tmp_path, name, n)
        env = cluster.env
        env.pop("MLFLOW_TRACKING_URI", None)
        with open(tmp_path / "launch.out", "w") as out, open(tmp_path / "launch.err", "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sweeper.cli", "launch", f"{name}.yaml", "--address", cluster.address,
                 "--quiet", "--gpus-per-trial", "1", "--cpus-per-trial", "1"],
                cwd=tmp_path, env=env, stdout=out, stderr=err, start_new_session=True)

        def mid_run_with_checkpoint():
            alive = set(watch.read())
            for tid, rows in _rows(sweep).items():
                node = rows[-1].get("node_id") if rows else None
                if node in alive and rows[-1]["epoch"] < EPOCHS - 1 \
                        and any((sweep / "tune" / f"trial_{tid}").glob("checkpoint_*")):
                    return tid, node
            return None

        tid, victim = _wait(mid_run_with_checkpoint, 400, "a trial mid-run on a launched worker", proc)
        alive = watch.read()  # a worker that comes up after this read is a replacement, not in seen yet
        launched_before_kill = set(watch.seen)
        killed = [victim, *(node for node in alive if node != victim)]
        for node in killed:
            kill_fake_node(node)
        t_kill = time.monotonic()
        _wait(lambda: proc.poll() is not None, 500, "the end of the sweep", poll=2.0)
        assert proc.returncode == 0, (tmp_path / "launch.out").read_text()[-3000:] + \
            (tmp_path / "launch.err").read_text()[-5000:]
        t_end = time.monotonic()
        _wait(lambda: not watch.read(), 180, "the idle workers' removal", poll=2.0)
        fallback_logged = _gpu_fallback_logged(cluster)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        if watch is not None:
            watch.stop()
        root = cluster.root
        cluster.shutdown()
    assert cluster.leftover_pids() == [], f"Ray processes of {root} survived shutdown"
    check_outcome(sweep, n, watch.seen, launched_before_kill, tid, killed, fallback_logged)
    print(f"autoscaler test: {time.monotonic() - t0:.0f} s in all; kill -> sweep end {t_end - t_kill:.0f} s; "
          f"workers launched: {len(watch.seen)}")


def check_outcome(sweep: Path, n: int, seen: dict[str, dict], launched_before_kill: set[str], tid: str,
                  killed: list[str], fallback_logged: bool) -> None:
    """What the sweep's tables, Tune's records and the node table show (see the module docstring);
    ``killed[0]`` ran trial ``tid`` when every worker in ``killed`` was SIGKILLed."""
    victim = killed[0]
    import pandas as pd

    trials = pd.read_parquet(sweep / "trials.parquet")
    epochs = pd.read_parquet(sweep / "epochs.parquet")
    assert len(trials) == n and (trials.status == "finished").all(), trials[["trial_id", "status"]]
    assert (trials.epochs == EPOCHS).all() and not epochs.duplicated(["trial_id", "epoch"]).any()

    # Launched for the sweep: every trial ran on workers the autoscaler started, of cluster.yaml's GPU types.
    types = fake_config(CLUSTER_YAML, "x:1")["available_node_types"]
    gpu_counts = {t["resources"]["GPU"] for t in types.values() if t["resources"].get("GPU")}
    assert set(epochs.node_id) <= set(seen), (set(epochs.node_id), seen)
    for node in seen.values():
        assert node["resources"]["GPU"] in gpu_counts and node["resources"]["CPU"] == 1, node

    # Held a declared GPU on a machine without CUDA: ran on the CPU and said so.
    for p in trials.provenance:
        hw = json.loads(p)["hardware"]
        assert hw["device"] == "cpu" and len(hw["gpus_assigned"]) == 1, hw
    assert fallback_logged

    # The killed workers were replaced; the victim's trial resumed from its checkpoint on a replacement.
    replacements = set(seen) - launched_before_kill
    assert replacements and all(seen[node]["down"] is not None for node in killed), (replacements, seen)
    hit = trials.set_index("trial_id").loc[tid]
    assert hit.retries >= 1 and hit.node_id != victim
    rows = _rows(sweep)[tid]
    resumed_from = [r["epoch"] - 1 for r in rows[1:] if r["iterations_since_restore"] == 1]
    assert resumed_from and resumed_from[0] >= 1, rows  # continued from a checkpoint, not from scratch
    e = epochs[epochs.trial_id == tid].set_index("epoch").node_id
    assert (e.loc[: resumed_from[0]] == victim).all() and set(e.loc[resumed_from[0] + 1:]) <= replacements, e

    # Idle workers removed after the idle timeout, not before: each surviving worker went down at least
    # idle_timeout after its last report (Tune's whole-second timestamps and 1 s polling: 3 s margin).
    last_report = {}
    for rows in _rows(sweep).values():
        for r in rows:
            last_report[r["node_id"]] = max(last_report.get(r["node_id"], 0), r["timestamp"])
    for node, rec in seen.items():
        assert rec["down"] is not None, (node, rec)
        if node not in killed and node in last_report:
            assert rec["down"] - last_report[node] >= IDLE_TIMEOUT_MIN * 60 - 3, (node, rec, last_report[node])
