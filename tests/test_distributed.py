"""Distributed and fault-tolerance paths on a real multi-node Ray cluster.

One machine, several real Ray nodes (tests/cluster.py): a head with no CPUs
for trials and worker nodes with one logical CPU each, so anything that needs
a CPU must run on a worker node, and two concurrent tasks must use two nodes.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cluster import LocalCluster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

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


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    try:
        c.start_head(num_cpus=0)
        c.add_workers({"w1": dict(num_cpus=1), "w2": dict(num_cpus=1)})
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


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_tasks_land_on_several_nodes(cluster):
    ids = {name: node.node_id for name, node in cluster.nodes.items()}
    assert len(set(ids.values())) == 3, ids
    where = cluster.run_driver(SPREAD)
    assert len(where) == 4
    # Head has 0 CPUs: every 1-CPU task ran on a worker, and with one CPU per
    # worker and four overlapping 1 s tasks both workers were used.
    assert set(where) == {ids["w1"], ids["w2"]}, (where, ids)


@pytest.mark.slow
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


@pytest.mark.slow
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
