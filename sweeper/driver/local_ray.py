"""Hardening for the Ray instance ``sweeper launch`` starts on this machine (no ``--address``).

Loopback only. Ray 2.60 on Linux turns a ``127.0.0.1`` node address into the machine's
routable IP (``services.resolve_ip_for_localhost`` -> ``get_node_ip_address``), and its GCS,
raylet, object manager and core workers then listen on every interface (``*:port``; checked
with ``ss -ltnp``). Ray keeps a single-machine mode for laptops (macOS/Windows): with
``ray_constants.ENABLE_RAY_CLUSTER`` false the node address is ``127.0.0.1`` and every gRPC
server binds loopback only. ``loopback_only()`` switches that mode on for the ``ray.init`` that
starts the node (the constant in this process, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in the
environment the node's processes inherit) and restores both afterwards, so a later
``ray.init(address=...)`` in the same process can still join a cluster. Measured with
``ss -ltnp`` on the node's process tree: before, ``*:port`` for gcs_server, raylet, the driver
and workers; after, ``127.0.0.1`` / ``[::ffff:127.0.0.1]`` only (tests/driver/test_local_ray.py).

Token file. Ray 2.60 enables token authentication for a new local instance and, when no
token exists, writes ``~/.ray/auth_token`` with the default umask (0644: readable by every
user of the machine, who could then connect to the instance and run code as you).
``private_token_file()`` creates the file first, mode 0600 in a 0700 folder, or tightens an
existing one to 0600, at the path Ray reads (``RAY_AUTH_TOKEN_PATH``, else
``~/.ray/auth_token``). Nothing is done when the token comes inline (``RAY_AUTH_TOKEN``) or
token authentication is switched off (``RAY_AUTH_MODE=disabled``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import stat
from pathlib import Path
from typing import Iterator

import ray
from ray._private import ray_constants  # Ray's own switch; read by services.get_node_ip_address
from ray._private import worker as ray_worker  # the node this process started (shut_down)
from ray._raylet import AuthenticationTokenLoader  # Ray's own token cache (ray/_private/authentication)

from sweeper.driver import process_setup
from sweeper.driver.preflight import PreflightError

log = logging.getLogger("sweeper")
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def token_path() -> Path:
    """The token file Ray reads: ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()


def private_token_file() -> Path | None:
    """Create the token file 0600 (folder 0700) if absent, else make it 0600; its path, or None if unused."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return None
    path = token_path()
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))  # 64 hex characters, like `ray get-auth-token --generate`
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    _forget_cached_token()
    return path


def _forget_cached_token() -> None:
    """Make this process read the token file again. Ray caches the token of the first ``ray.init`` of a
    process (``AuthenticationTokenLoader``); a later local instance started from another token file
    (another ``RAY_AUTH_TOKEN_PATH``, a new file) would then start its GCS with one token while this
    driver presents the old one, and fail with InvalidAuthToken."""
    AuthenticationTokenLoader.instance().reset_cache()


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within this context a new local Ray node takes 127.0.0.1 as its address and binds loopback only."""
    old_const, old_env = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(SINGLE_MACHINE_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[SINGLE_MACHINE_ENV] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = old_const
        if old_env is None:
            os.environ.pop(SINGLE_MACHINE_ENV, None)
        else:
            os.environ[SINGLE_MACHINE_ENV] = old_env


class RayStartError(RuntimeError):
    """The local Ray instance did not start (the CLI: one message, exit 1)."""


START_ATTEMPTS = 2  # Ray 2.60 waits a fixed 30 s for its raylet to register (ray/_private/node.py)
START_TIMEOUT_TEXT = "timed out during startup"


def start_or_join(address: str | None, num_cpus: int | None, num_gpus: float | None = None) -> bool:
    """Start a local Ray instance (loopback only, private token) or join ``address``; True when this
    call started Ray (the caller shuts it down), False when Ray was already initialised here."""
    if ray.is_initialized():
        return False
    env = {"env_vars": {"PYTHONWARNINGS": "ignore::DeprecationWarning"}}
    if address:
        process_setup.ray_token_auth()  # an explicit ip:port against a token cluster needs RAY_AUTH_MODE=token
        try:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        except ConnectionError as e:  # `auto` (or RAY_ADDRESS) with no cluster: Ray's own resolution found none
            raise PreflightError(f"--address {address}: {e} Start the head with `ray start --head`, or give its "
                                 "HOST:PORT (nothing was created)") from None
        return True
    private_token_file()  # Ray would write ~/.ray/auth_token world-readable
    _start_local(num_cpus, num_gpus, env)
    return True


def shut_down() -> None:
    """``ray.shutdown()``, with the autoscaler monitor of a node this process started killed first.

    Ray stops a node's processes one after another, giving each 1 s after SIGTERM; the autoscaler
    monitor answers SIGTERM by reporting its end to the GCS, stopped just before it, and uses the
    whole second (Ray 2.60, ``ray/autoscaler/_private/monitor.py``). A node started by ``ray.init``
    has no autoscaler configuration, so its monitor has nothing to save: it is killed at once
    (SIGKILL) and the shutdown takes ~0.35 s instead of ~1.35 s. A process that joined a cluster
    (``--address``) has no node of its own there: only ``ray.shutdown()``, which disconnects."""
    node = ray_worker._global_node
    if node is not None and node.is_head():
        node._kill_process_type(ray_constants.PROCESS_TYPE_MONITOR, check_alive=False, allow_graceful=False,
                                wait=True)
    ray.shutdown()


def _start_local(num_cpus: int | None, num_gpus: float | None, env: dict) -> None:
    """``ray.init`` of a new local node, tried ``START_ATTEMPTS`` times when Ray's start times out.

    Ray gives its raylet a fixed 30 s to register with the GCS (not configurable in 2.60); on a
    machine loaded to ~20 that is sometimes not enough. A start that timed out leaves the node's
    processes running: they are killed (``_kill_ray_children``) before the next attempt, and after the
    last one :class:`RayStartError` says what happened; nothing of the sweep has been written then."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            with loopback_only():  # every server of the local node binds 127.0.0.1 only
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus, include_dashboard=False,
                         runtime_env=env, log_to_driver=False)
            return
        except Exception as e:  # noqa: BLE001 - only Ray's start-up timeout is handled here
            if START_TIMEOUT_TEXT not in str(e):
                raise
            ray.shutdown()
            _kill_ray_children()
            if attempt == START_ATTEMPTS:
                raise RayStartError(
                    f"the local Ray instance did not start: its raylet did not register within Ray's 30 s, "
                    f"{START_ATTEMPTS} times (the machine is probably overloaded: load average "
                    f"{os.getloadavg()[0]:.0f} on {os.cpu_count()} CPUs); nothing was started or written. "
                    f"Try again when the machine is less busy, or with fewer --num-cpus") from None
            log.warning("Ray's start timed out (raylet not registered within 30 s; load average %.0f): "
                        "trying once more", os.getloadavg()[0])


def _kill_ray_children() -> None:
    """SIGKILL this process's descendants that run Ray's code (GCS, raylet, workers, agents)."""
    me, parents, cmd = os.getpid(), {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    for pid in parents:
        p = pid
        while p in parents and p not in (me, 0, 1):
            p = parents[p]
        if p == me and pid != me and ("/ray/" in cmd.get(pid, "") or cmd.get(pid, "").startswith("ray::")):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
