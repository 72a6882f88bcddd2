"""An autoscaling Ray cluster on one machine, its node types generated from ``cluster.yaml``.

Ray's fake multi-node provider (``provider: type: fake_multinode``,
ray/autoscaler/_private/fake_multi_node/node_provider.py) runs the real autoscaler (the head's
monitor process, StandardAutoscaler v1) and, where a cloud provider would start a VM, starts a Ray
node on this machine (``ray._private.node.Node``: its own raylet, agents and workers) with the node
type's resources; terminating a node kills its processes. Ray's own wrapper
(``ray.cluster_utils.AutoscalingCluster``) runs ``ray stop --force``, which stops every Ray instance
on the machine, and reads an ``example.yaml`` that the Ray 2.60 wheel does not ship; so the head is
started here by ``tests/cluster.py``'s ``LocalCluster`` (private temp dir, free ports, token auth,
teardown of exactly its own processes) with ``--autoscaling-config`` pointing at a config built by
:func:`fake_config`.

The config mirrors ``cluster.yaml`` so the two cannot drift: the head node type's resources, and
every worker node type with its resources as declared there (GPU included), except
``CPU`` -> ``cpus_per_worker`` (a 2-core machine cannot host 4- or 48-CPU nodes), ``min_workers`` -> 0,
``max_workers`` -> min(declared, ``max_workers``), and a small object store. The cluster-wide
``upscaling_speed`` is kept; ``idle_timeout_minutes`` is the test's.

Worker nodes get ids ``fff...00001``, ``fff...00002``, ... in launch order (the provider's
``RAY_OVERRIDE_NODE_ID_FOR_TESTING``, set in each raylet's environment), the head ``fff...00000``.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.cluster import HOST, MB, LocalCluster, _alive, _node_pids, free_port

HEAD_TYPE = "ray.head.default"  # the fake provider's name for the head node type
NODE_ID_ENV = "RAY_OVERRIDE_NODE_ID_FOR_TESTING"
WORKER_OBJECT_STORE_MB = 80


def fake_config(cluster_yaml: Path, gcs_address: str, *, cpus_per_worker: float = 1, max_workers: int = 2,
                idle_timeout_minutes: float = 0.25) -> dict[str, Any]:
    """The fake-provider autoscaling config mirroring ``cluster_yaml`` (see the module docstring)."""
    src = yaml.safe_load(cluster_yaml.read_text())
    head = src["head_node_type"]
    types: dict[str, Any] = {HEAD_TYPE: {"resources": dict(src["available_node_types"][head]["resources"]),
                                         "node_config": {}, "max_workers": 0}}
    for name, t in src["available_node_types"].items():
        if name == head:
            continue
        res = {**t["resources"], "CPU": cpus_per_worker, "object_store_memory": WORKER_OBJECT_STORE_MB * MB}
        types[name] = {"resources": res, "node_config": {}, "min_workers": 0,
                       "max_workers": min(int(t["max_workers"]), max_workers)}
    return {
        "cluster_name": f"{src['cluster_name']}-fake",
        "max_workers": min(int(src["max_workers"]), max_workers),
        "upscaling_speed": src.get("upscaling_speed", 1.0),
        "idle_timeout_minutes": idle_timeout_minutes,
        "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                     "disable_launch_config_check": True, "gcs_address": gcs_address},
        "auth": {}, "docker": {},
        "head_node_type": HEAD_TYPE, "available_node_types": types,
        "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
        "rsync_exclude": [], "rsync_filter": [], "initialization_commands": [], "setup_commands": [],
        "head_setup_commands": [], "worker_setup_commands": [], "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


def autoscaling_cluster(cluster_yaml: Path, *, heartbeat_timeout_s: int = 8, extra_env: dict[str, str] | None = None,
                        **config: Any) -> LocalCluster:
    """A ``LocalCluster`` whose head runs the autoscaler on :func:`fake_config` (call ``start_head()``).

    The monitor updates every second (``AUTOSCALER_UPDATE_INTERVAL_S``) and terminates a worker whose
    raylet sent no heartbeat for ``heartbeat_timeout_s`` (``AUTOSCALER_HEARTBEAT_TIMEOUT_S``, 30 s by
    default), after which it launches a replacement for whatever is still pending."""
    port = free_port()
    cluster = LocalCluster(head_port=port, extra_env={
        "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1",
        "AUTOSCALER_HEARTBEAT_TIMEOUT_S": str(heartbeat_timeout_s), **(extra_env or {})})
    path = cluster.root / "autoscaling.json"
    path.write_text(json.dumps(fake_config(cluster_yaml, f"{HOST}:{port}", **config), indent=1))
    cluster.head_args = [f"--autoscaling-config={path}"]
    return cluster


def _raylet_of(node_id: str) -> int | None:
    """PID of the live raylet started for fake node ``node_id`` (its environment names the id)."""
    needle = f"{NODE_ID_ENV}={node_id}\0".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
            exe = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if needle in env and exe.endswith(b"raylet") and _alive(int(entry)):
            return int(entry)
    return None


def kill_fake_node(node_id: str, timeout: float = 30) -> list[int]:
    """SIGKILL a fake worker node's raylet and everything under it (agents, trial workers) at once:
    the machine dying, as the GCS and the autoscaler see it. Returns the PIDs killed."""
    raylet = _raylet_of(node_id)
    if raylet is None:
        raise RuntimeError(f"no live raylet for node {node_id}")
    table_pids = _node_pids(raylet)  # snapshot first: once the raylet dies its workers are re-parented
    for pid in table_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while [p for p in table_pids if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in table_pids if _alive(p)]
    if left:
        raise RuntimeError(f"processes of node {node_id} survived SIGKILL: {left}")
    return table_pids

