"""The local Ray that ``sweeper launch`` starts listens on loopback only and keeps its token private.

A real local Ray node is started through ``sweeper.driver.local_ray.start_or_join`` (what ``launch`` calls without
``--address``), one task runs so a worker process exists, and every TCP socket in LISTEN state
owned by the node's process tree (driver, gcs_server, raylet, agents, workers) is read from
``/proc/<pid>/fd`` and ``/proc/net/tcp{,6}`` (what ``ss -ltnp`` shows). Without the fix these were
``*:port`` (all interfaces).
"""
from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
from pathlib import Path

import pytest

from sweeper.driver import local_ray


def _tree(root_pids: set[int]) -> set[int]:
    rows = [tuple(map(int, line.split())) for line in
            subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout.splitlines()]
    pids = set(root_pids)
    while True:
        more = {p for p, pp in rows if pp in pids} - pids
        if not more:
            return pids
        pids |= more


def _listen_addresses(pids: set[int]) -> list[str]:
    """Local addresses of the LISTEN TCP sockets owned by ``pids`` (from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:  # a process that exited meanwhile
            continue
    out = []
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A = LISTEN
                continue
            hex_ip, hex_port = f[1].split(":")
            raw = bytes.fromhex(hex_ip)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # per-32-bit-word byte order
            out.append(f"{ipaddress.ip_address(raw)}:{int(hex_port, 16)}")
    return out


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.rsplit(":", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.mark.ray
def test_local_ray_binds_loopback_and_its_token_file_is_private(tmp_path, monkeypatch):
    import ray
    from ray._private import ray_constants

    from sweeper.driver.local_ray import start_or_join

    if ray.is_initialized():
        ray.shutdown()
    token = tmp_path / "ray" / "auth_token"
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv(local_ray.SINGLE_MACHINE_ENV, raising=False)
    cluster_mode = ray_constants.ENABLE_RAY_CLUSTER
    assert start_or_join(None, 1)
    roots: set[int] = set()
    try:
        assert stat.S_IMODE(token.stat().st_mode) == 0o600 and stat.S_IMODE(token.parent.stat().st_mode) == 0o700
        assert len(token.read_text().strip()) == 64

        @ray.remote(num_cpus=1)
        def pid() -> int:
            return os.getpid()

        worker = ray.get(pid.remote())
        node = ray._private.worker._global_node
        assert node.node_ip_address == "127.0.0.1"
        # this node's processes and their descendants (workers), plus the driver itself; not the test
        # process's other children, which may be nodes of other tests' clusters still shutting down
        roots = {p.process.pid for infos in node.all_processes.values() for p in infos}
        pids = _tree(roots) | {os.getpid()}
        assert worker in pids
        addrs = _listen_addresses(pids)
        assert len(addrs) >= 3, addrs  # gcs_server, raylet, the driver's core worker at least
        assert all(_is_loopback(a) for a in addrs), f"the local Ray listens beyond loopback: {addrs}"
    finally:
        local_ray.shut_down()
    # every process of the node has ended with it (its autoscaler monitor killed, the others stopped)
    assert roots and not [p for p in roots if Path(f"/proc/{p}").exists()], roots
    # the switch was only for starting the node: a later ray.init(address=...) can join a cluster
    assert ray_constants.ENABLE_RAY_CLUSTER == cluster_mode and local_ray.SINGLE_MACHINE_ENV not in os.environ


@pytest.mark.ray
def test_an_existing_readable_token_file_is_tightened(tmp_path, monkeypatch):
    token = tmp_path / "auth_token"
    token.write_text("x" * 64)
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert local_ray.private_token_file() == token
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and token.read_text() == "x" * 64  # same token, kept
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert local_ray.private_token_file() is None


@pytest.mark.parametrize("addr, loop", [("127.0.0.1:5", True), ("::ffff:127.0.0.1:5", True), ("::1:5", True),
                                        ("0.0.0.0:5", False), ("::ffff:0.0.0.0:5", False), ("192.0.2.2:5", False)])
def test_loopback_classifier(addr, loop):
    assert _is_loopback(addr) is loop


@pytest.mark.ray
def test_a_second_local_ray_with_another_token_file_starts(tmp_path, monkeypatch):
    """Ray caches the first token of a process; a later local instance started from another token file
    must still authenticate (it failed with InvalidAuthToken before ``private_token_file`` reset the cache)."""
    import ray

    from sweeper.driver.local_ray import start_or_join

    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    for name in ("a", "b"):
        monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / name / "auth_token"))
        assert start_or_join(None, 1)
        try:
            assert ray.cluster_resources().get("CPU") == 1.0
        finally:
            local_ray.shut_down()
    assert (tmp_path / "a" / "auth_token").read_text() != (tmp_path / "b" / "auth_token").read_text()
