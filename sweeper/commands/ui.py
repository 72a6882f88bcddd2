"""``sweeper ui``: the MLflow UI on the tracking store, on 127.0.0.1, as a child process group we own.

- The server binds ``127.0.0.1`` only (share it through an SSH tunnel, or behind authentication:
  see docs/how-to/mlflow-server.md).
- Few processes: ``--workers 1`` (one uvicorn worker instead of 4) and
  ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` (MLflow 3 otherwise starts a job runner with
  seven huey consumer processes, for server-side GenAI jobs that viewing runs never uses).
  Measured on the 2-core machine with ``--workers 1`` alone: 10 processes (CLI, uvicorn, job
  runner, 7 huey consumers; the issue counted ~12 with the default 4 workers); with both, the
  ``mlflow`` CLI and its uvicorn (tests/commands/test_ui.py asserts at most 3 and no job runner).
- Prompt stop: the server runs in its own session/process group; SIGTERM or SIGINT to
  ``sweeper ui`` is forwarded to that whole group, which gets ``GRACE_S`` seconds before
  SIGKILL. (``os.execvp`` left the signals to MLflow's CLI, whose children outlived it.)
- Checked first, each a clear error (exit 2, no traceback): ``mlflow`` not on PATH, a port
  outside 1-65535 (click), a port already in use on 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

HOST = "127.0.0.1"
GRACE_S = 10.0


class UIError(RuntimeError):
    """Something ``sweeper ui`` cannot start with (the CLI prints it and exits 2)."""


def command(port: int, uri: str) -> list[str]:
    exe = shutil.which("mlflow")
    if exe is None:
        raise UIError("the `mlflow` command is not on PATH; install MLflow (`pip install mlflow`) or activate the "
                      "environment that has it")
    return [exe, "ui", "--backend-store-uri", uri, "--host", HOST, "--port", str(port), "--workers", "1"]


def check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as e:
            raise UIError(f"port {port} on {HOST} is not free ({e.strerror}); pick another with --port") from None


def runs_url(server: str, experiment_id: str) -> str:
    """The experiment's runs table in the MLflow UI at ``server``. MLflow 3.17 opens an experiment on
    its GenAI overview whatever its ``mlflow.experimentKind`` tag; this route opens the runs table."""
    return f"{server.rstrip('/')}/#/experiments/{experiment_id}/runs"


def runs_links(port: int, uri: str, limit: int = 20) -> list[str]:
    """One line per experiment of the store (newest first, at most ``limit``): its runs-table URL
    (``runs_url``; MLflow 3.17 would open the GenAI overview). Empty for a SQLite store
    that does not exist yet."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not Path(uri[len(prefix):]).exists():
        return []
    from mlflow import MlflowClient

    exps = [e for e in MlflowClient(uri).search_experiments(max_results=limit, order_by=["creation_time DESC"])
            if e.name != "Default"]
    return [f"{e.name}: {runs_url(f'http://{HOST}:{port}', e.experiment_id)}" for e in exps]


def serve(port: int, uri: str) -> int:
    """Run the UI until it exits or this process gets SIGTERM/SIGINT; the exit code to return."""
    cmd = command(port, uri)
    check_port(port)
    return supervise(cmd, {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})


def supervise(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` in its own process group until it exits, or until this process gets SIGTERM/SIGINT
    (forwarded to the whole group, SIGKILL after ``GRACE_S``); the exit code to return."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # its own process group: pgid == pid
    received: list[int] = []

    def forward(signum, _frame) -> None:
        received.append(signum)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not received:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left (workers that ignored TERM)
        except ProcessLookupError:
            pass
        proc.wait()
        return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
