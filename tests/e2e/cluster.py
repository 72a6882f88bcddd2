"""A real multi-node Ray cluster on one machine, for the distributed tests.

Every node is a separate ``ray start --block`` subprocess (its own GCS client,
raylet, object store, dashboard agent and worker processes) joined to one head
through the head's GCS address: the same processes a cloud cluster runs, only
sharing one host. Nothing is mocked.

Isolation from other Ray instances on the same machine (other tests, other
users): every node gets its own ``--temp-dir`` under one private root, explicit
free ports for every fixed-port service (GCS, dashboard agent, runtime-env
agent, metrics), random worker ports, and a small object store.
Teardown never uses ``ray stop`` (which stops *every* Ray on the machine).
Each ``ray start --block`` runs in its own session; its raylet, GCS and agents
share that process group, while core workers (trial actors) put themselves in
groups of their own but stay children of their raylet. A node's processes are
therefore its process group plus the leader's descendants (``Node.pids``);
teardown signals exactly those, then kills any leftover process whose command
line or environment names the cluster's private root. Each ``ray start`` also
gets SIGTERM from the kernel if the test process dies without cleaning up
(``PR_SET_PDEATHSIG``), which stops its node.

Authentication: Ray 2.60 enables token authentication by default for local
``ray.init()`` clusters; ``ray start --head`` enables it when a token already
exists (``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN[_PATH]``), and a driver given
an explicit address only authenticates when ``RAY_AUTH_MODE=token`` is set
(ray/_private/authentication/authentication_token_setup.py,
ray/_private/worker.py). Left to those defaults, whether this cluster had auth
would depend on whether *some other process* had written ``~/.ray/auth_token``.
So the cluster always runs in token mode with its own token: a fresh
``secrets.token_hex(32)`` (Ray's own generator) written to a 0600 file, passed
to every node and driver as ``RAY_AUTH_MODE=token`` + ``RAY_AUTH_TOKEN_PATH``
(see :attr:`LocalCluster.env`). ``~/.ray/auth_token`` is never read or written.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RAY_BIN = str(Path(sys.executable).with_name("ray"))
HOST = "127.0.0.1"
MB = 1024 * 1024


def free_port() -> int:
    """A TCP port that is free now on HOST (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _fate_share() -> None:
    """In the child before exec: own session, and SIGTERM when the parent dies.

    If the test process is killed outright (no atexit), each ``ray start --block``
    still gets SIGTERM from the kernel and stops its node's processes.
    """
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line or environment names ``text``."""
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        found = False
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{name}", "rb") as f:
                    if text.encode() in f.read():
                        found = True
                        break
            except OSError:
                break
        if found and _alive(int(entry)):
            out.append(int(entry))
    return out


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) for every live, non-zombie process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def _node_pids(leader: int) -> list[int]:
    """Every live process of one node: its ``ray start`` process group plus all
    descendants of the leader (core workers put themselves in their own process
    group, but stay children of their raylet)."""
    table = _proc_table()
    pids = {pid for pid, (_, pgid) in table.items() if pgid == leader}
    if leader in table:
        pids.add(leader)
    grew = True
    while grew:
        new = {pid for pid, (ppid, _) in table.items() if ppid in pids} - pids
        pids |= new
        grew = bool(new)
    return sorted(pids)


@dataclass
class Node:
    """One Ray node: the ``ray start --block`` process and its settings."""

    name: str
    proc: subprocess.Popen
    temp_dir: Path
    log: Path
    num_cpus: float
    num_gpus: float | None
    resources: dict[str, float]
    node_id: str | None = None
    killed: bool = False

    def pids(self) -> list[int]:
        """Live PIDs of every process of this node (group + descendants)."""
        return _node_pids(self.proc.pid)


@dataclass
class LocalCluster:
    """Head + worker nodes as separate Ray nodes on this machine.

    Use as a context manager; ``shutdown()`` is idempotent and also runs at
    interpreter exit, so a failing test cannot leave Ray processes behind.
    """

    object_store_mb: int = 100
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="swc", dir="/tmp")))
    nodes: dict[str, Node] = field(default_factory=dict)
    gcs_port: int = 0
    gcs_address: str = ""
    health_check_period_ms: int = 1000
    extra_env: dict[str, str] = field(default_factory=dict)  # for every node and driver
    head_port: int = 0  # the head's GCS port when it must be known beforehand (0: a free one at start)
    head_args: list[str] = field(default_factory=list)  # extra `ray start --head` arguments

    def __post_init__(self) -> None:
        # Short root: Ray's unix sockets live under <temp-dir>/session_*/sockets
        # and must stay under the 107-byte AF_UNIX path limit.
        self.token_path = self.root / "auth_token"
        self.token_path.write_text(secrets.token_hex(32))
        self.token_path.chmod(0o600)
        atexit.register(self.shutdown)

    # ------------------------------------------------------------------ env
    @property
    def address(self) -> str:
        """The head's GCS address, as Ray reports it (``ip:port``)."""
        return self.gcs_address or f"{HOST}:{self.gcs_port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a node or a driver of this cluster (auth + address)."""
        env = dict(os.environ)
        for k in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):
            env.pop(k, None)
        env.update(
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(self.token_path),
            RAY_USAGE_STATS_ENABLED="0",
            # Keep a 2-core machine responsive: no dashboard metrics export.
            RAY_enable_metrics_collection="0",
            # The GCS declares a node dead after `threshold` failed health checks
            # `period` apart (defaults take ~15 s); a killed node shows as dead in ~5 s.
            RAY_health_check_period_ms=str(self.health_check_period_ms),
            RAY_health_check_failure_threshold="5",
        )
        env.update(self.extra_env)
        if self.gcs_port:
            env["RAY_ADDRESS"] = self.address
        return env

    # ---------------------------------------------------------------- nodes
    def _spawn(self, name: str, head: bool, num_cpus: float, num_gpus: float | None,
               resources: dict[str, float] | None) -> Node:
        if name in self.nodes:
            raise ValueError(f"node name {name!r} already used")
        temp_dir = self.root / name
        temp_dir.mkdir()
        log = self.root / f"{name}.log"
        cmd = [
            RAY_BIN, "start", "--block", "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
            f"--node-ip-address={HOST}",
            f"--node-name={name}",
            f"--num-cpus={num_cpus:g}",
            f"--object-store-memory={self.object_store_mb * MB}",
            "--min-worker-port=0", "--max-worker-port=0",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            "--include-log-monitor=false",  # no worker-log streaming to drivers: less load
        ]
        if num_gpus is not None:
            cmd.append(f"--num-gpus={num_gpus:g}")
        if resources:
            cmd.append(f"--resources={json.dumps(resources)}")
        if head:
            self.gcs_port = self.head_port or free_port()
            cmd += [*self.head_args,
                "--head", f"--port={self.gcs_port}",
                # Ray 2.60 still starts a minimal dashboard process on the head
                # (state API); give it a free port so it cannot collide with 8265.
                "--include-dashboard=false", "--dashboard-host=127.0.0.1",
                f"--dashboard-port={free_port()}",
            ]
        else:
            cmd.append(f"--address={self.address}")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, preexec_fn=_fate_share,
            )
        node = Node(name, proc, temp_dir, log, num_cpus, num_gpus, dict(resources or {}))
        self.nodes[name] = node
        return node

    def start_head(self, num_cpus: float = 0, num_gpus: float | None = None,
                   resources: dict[str, float] | None = None, timeout: float = 90) -> Node:
        """Start the head node and wait for it. ``num_cpus=0`` keeps trials off the head."""
        if self.gcs_port:
            raise RuntimeError("head already started")
        node = self._spawn("head", True, num_cpus, num_gpus, resources)
        self._wait_started(node, timeout)
        return node

    def add_workers(self, specs: dict[str, dict[str, Any]], timeout: float = 120) -> dict[str, str]:
        """Start worker nodes concurrently; wait until all are alive in the GCS.

        ``specs`` maps a node name to ``add_worker`` keyword arguments
        (``num_cpus``, ``num_gpus``, ``resources``). Returns name -> node id for
        every alive node, head included, and records each node's id.
        """
        if not self.gcs_port:
            raise RuntimeError("start the head first")
        started = [self._spawn(name, False, kw.get("num_cpus", 1), kw.get("num_gpus"),
                               kw.get("resources")) for name, kw in specs.items()]
        for node in started:
            self._wait_started(node, timeout)
        return self.wait_for_nodes(timeout=timeout)

    def add_worker(self, name: str, num_cpus: float = 1, num_gpus: float | None = None,
                   resources: dict[str, float] | None = None, timeout: float = 120) -> Node:
        """Start one worker node that joins the head, and wait until it is alive."""
        self.add_workers({name: dict(num_cpus=num_cpus, num_gpus=num_gpus,
                                     resources=resources)}, timeout)
        return self.nodes[name]

    def wait_for_nodes(self, timeout: float = 120) -> dict[str, str]:
        """Wait until every started, not-killed node is alive in the GCS node table."""
        want = {n.name for n in self.nodes.values() if not n.killed}
        deadline = time.monotonic() + timeout
        while True:
            ids = self.node_ids()
            if want <= ids.keys():
                for name in want:
                    self.nodes[name].node_id = ids[name]
                return ids
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes {sorted(want - ids.keys())} not alive after "
                                   f"{timeout}s\n{self.logs()}")
            time.sleep(0.5)

    def _wait_started(self, node: Node, timeout: float) -> None:
        """Wait until ``ray start`` says the node is up (its raylet registered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = node.log.read_text(errors="replace") if node.log.exists() else ""
            if "Ray runtime started" in text:
                m = re.search(r"ray start --address='([^']+)'", text)
                if m and node.name == "head":
                    # Ray resolves 127.0.0.1 to the machine's address; use its own answer.
                    self.gcs_address = m.group(1)
                return
            if node.proc.poll() is not None:
                raise RuntimeError(
                    f"ray node {node.name} exited with {node.proc.returncode}:\n" + text[-4000:])
            time.sleep(0.2)
        raise TimeoutError(
            f"ray node {node.name} did not start in {timeout}s:\n"
            + node.log.read_text(errors="replace")[-4000:])

    def run_driver(self, code: str, timeout: float = 120,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
        """Run ``code`` as a separate driver process connected to this cluster.

        The code must ``print('RESULT=' + json.dumps(...))`` once; that object is
        returned. The driver is its own process (as ``sweeper launch`` would be),
        so this test process never joins the cluster or changes its Ray state.
        """
        res = subprocess.run([sys.executable, "-c", code], env=env or self.env,
                             capture_output=True, text=True, timeout=timeout)
        for line in reversed(res.stdout.splitlines()):
            if line.startswith("RESULT="):
                return json.loads(line[len("RESULT="):])
        raise RuntimeError(f"driver exited {res.returncode} without a result:\n"
                           f"{res.stdout[-3000:]}\n{res.stderr[-5000:]}")

    def alive_nodes(self) -> list[dict[str, Any]]:
        """The GCS node table (id, name, alive, resources) read by a short driver."""
        return self.run_driver(
            "import json, ray; ray.init(address=None, logging_level='ERROR', log_to_driver=False);"
            "print('RESULT=' + json.dumps([{k: n[k] for k in ('NodeID', 'NodeName', 'Alive',"
            " 'Resources')} for n in ray.nodes()]))")

    def node_ids(self) -> dict[str, str]:
        """Node name -> node id of the *alive* nodes (names given with --node-name)."""
        return {n["NodeName"]: n["NodeID"] for n in self.alive_nodes() if n["Alive"]}

    # --------------------------------------------------------------- faults
    def kill_node(self, name: str, timeout: float = 30) -> None:
        """SIGKILL every process of one node at once (raylet, agents, trial workers).

        This is what a node's machine dying looks like to the rest of the cluster:
        no graceful drain, no goodbye to the GCS; the GCS notices through missed
        health checks and marks the node dead.
        """
        node = self.nodes[name]
        if name == "head":
            raise ValueError("kill_node is for worker nodes; killing the head ends the cluster")
        # Snapshot the whole tree first: once the raylet dies its workers are
        # re-parented and could no longer be found as its descendants.
        victims = node.pids()
        try:
            os.killpg(node.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node.proc.wait(timeout=timeout)
        node.killed = True
        deadline = time.monotonic() + timeout
        while [p for p in victims if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in victims if _alive(p)]
        if left:
            raise RuntimeError(f"processes of node {name} survived SIGKILL: {left}")

    # ------------------------------------------------------------- teardown
    def shutdown(self, grace: float = 3) -> None:
        """Stop every process this cluster started; idempotent.

        SIGTERM to each node's process group, then SIGKILL to whatever is left
        after ``grace`` seconds (a head's graceful stop can take ~30 s; a test
        cluster has nothing worth saving, its directories are deleted anyway).
        """
        nodes = list(self.nodes.values())
        # Workers first, head last, so workers do not spin on a dead GCS.
        nodes.sort(key=lambda n: n.name == "head")
        for node in nodes:
            if node.proc.poll() is None:
                try:
                    os.killpg(node.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for node in nodes:
            try:
                node.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for node in nodes:
            # Current members only (no stale PID list: a PID could be reused);
            # orphaned workers are found below through their environment.
            for pid in node.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if node.proc.poll() is None:
                node.proc.kill()
                node.proc.wait(timeout=10)
        # Anything that escaped its group but still names our private root.
        stray = _pids_mentioning(str(self.root))
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in stray) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.nodes.clear()
        self.gcs_port = 0
        self.gcs_address = ""
        if self.root.exists() and not os.environ.get("SWEEPER_KEEP_CLUSTER_LOGS"):
            shutil.rmtree(self.root, ignore_errors=True)

    def leftover_pids(self) -> list[int]:
        """PIDs of live processes that still name this cluster's root (should be [])."""
        return _pids_mentioning(str(self.root))

    def logs(self) -> str:
        """Tail of every node's ``ray start`` output, for assertion messages."""
        parts = []
        for node in self.nodes.values():
            if node.log.exists():
                parts.append(f"--- {node.name}\n{node.log.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
