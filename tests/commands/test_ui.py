"""``sweeper ui``: clear errors (exit 2, no traceback), few processes, prompt stop on SIGTERM/SIGINT.

Real ``sweeper`` CLI and real MLflow server in subprocesses (a SQLite store under tmp_path).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "sweeper.cli", "ui"]


def _run(args, **kw):
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=300, **kw)


@pytest.mark.cli
def test_mlflow_missing_from_path_is_one_clear_error(tmp_path):
    r = _run([], env={**os.environ, "PATH": str(tmp_path)})
    assert r.returncode == 2 and "mlflow" in r.stderr and "not on PATH" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.cli
@pytest.mark.parametrize("port", ["99999", "http"])
def test_an_impossible_port_is_refused(port):
    r = _run(["--port", port])
    assert r.returncode == 2 and "--port" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.cli
def test_a_busy_port_is_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _run(["--port", str(s.getsockname()[1])])
    assert r.returncode == 2 and "not free" in r.stderr and "Traceback" not in r.stderr


def _group(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.cli
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ui_runs_few_processes_and_stops_promptly(tmp_path, sig):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    p = subprocess.Popen(CLI + ["--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        deadline = time.time() + 240  # the server's own start (imports) is slow on a loaded 2-core machine
        group: list[str] = []
        while time.time() < deadline and p.poll() is None:
            kids = _children(p.pid)
            group = _group(kids[0]) if kids else []
            if any("uvicorn" in g for g in group):
                break
            time.sleep(1)
        assert any("uvicorn" in g for g in group), (group, p.poll())
        time.sleep(2)
        group = _group(kids[0])
        assert len(group) <= 3, group  # the mlflow CLI and one uvicorn (no job runner, no huey consumers)
        assert not any("huey" in g or "_job_runner" in g for g in group), group
        t0 = time.time()
        p.send_signal(sig)
        p.wait(timeout=30)
        stopped = time.time() - t0
        assert p.returncode == 0, p.stdout.read()
        assert stopped < 15, stopped
        assert _group(kids[0]) == [], "a process of the MLflow server outlived sweeper ui"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
