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
and workers; after, ``127.0.0.1`` / ``[::ffff:127.0.0.1]`` only (tests/test_local_ray.py).

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
import os
import secrets
import stat
from pathlib import Path
from typing import Iterator

import ray
from ray._private import ray_constants  # Ray's own switch; read by services.get_node_ip_address
from ray._raylet import AuthenticationTokenLoader  # Ray's own token cache (ray/_private/authentication)

from sweeper.driver import process_setup

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


def start_or_join(address: str | None, num_cpus: int | None, num_gpus: float | None = None) -> bool:
    """Start a local Ray instance (loopback only, private token) or join ``address``; True when this
    call started Ray (the caller shuts it down), False when Ray was already initialised here."""
    if ray.is_initialized():
        return False
    env = {"env_vars": {"PYTHONWARNINGS": "ignore::DeprecationWarning"}}
    if address:
        process_setup.ray_token_auth()  # an explicit ip:port against a token cluster needs RAY_AUTH_MODE=token
        ray.init(address=address, runtime_env=env, log_to_driver=False)
        return True
    private_token_file()  # Ray would write ~/.ray/auth_token world-readable
    with loopback_only():  # every server of the local node binds 127.0.0.1 only
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus, include_dashboard=False,
                 runtime_env=env, log_to_driver=False)
    return True
