"""Running the ``sweeper`` CLI from tests: as a real subprocess (:func:`sweeper`, the driver's own
process, Ray and MLflow included) or in-process through click's runner (:func:`invoke`, for the
validation-only cases: bad specs, exit 2, the message text), plus the checks on a result and a free
TCP port for servers the tests start."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.misbehaving_trial import MISBEHAVING

REPO = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict:
    """The environment of a CLI subprocess: this checkout first on ``PYTHONPATH`` (the driver and Ray
    workers import it), no inherited ``MLFLOW_TRACKING_URI`` (the store is ``./mlflow.db`` of the
    test's folder); a test fault (``SWEEPER_TEST_*``) brings the trainable that reads it
    (tests/support/misbehaving_trial.py)."""
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    if any(k.startswith("SWEEPER_TEST_") for k in extra):
        e.update(MISBEHAVING)
    e.update(extra)
    return e


def cli(*args: str) -> list[str]:
    """The argv of ``sweeper ARGS...`` run by this interpreter."""
    return [sys.executable, "-m", "sweeper.cli", *args]


def sweeper(cwd: Path, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    """``sweeper ARGS...`` in a subprocess in ``cwd``, output captured; ``extra`` is added to its
    environment (:func:`env`)."""
    return subprocess.run(cli(*args), cwd=cwd, env=env(**extra), capture_output=True, text=True, timeout=timeout)


def invoke(*args: str, cwd: Path | None = None):
    """``sweeper ARGS...`` in this process through ``click.testing.CliRunner`` (no subprocess, no Ray
    start): the result has ``exit_code``, ``stdout``, ``stderr`` and ``exception``."""
    from click.testing import CliRunner

    from sweeper import cli as sweeper_cli

    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(sweeper_cli.main, list(args))
    finally:
        os.chdir(old)


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Asserts exit 0, showing the tails of stdout and stderr otherwise."""
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r


def refused(r: subprocess.CompletedProcess, *needles: str) -> None:
    """Asserts one clear refusal: exit 2, no traceback, each of ``needles`` in stderr."""
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def refused_here(r, *needles: str) -> None:
    """:func:`refused` for a result of :func:`invoke`: exit 2 by ``sys.exit``, no exception escaped."""
    assert r.exit_code == 2 and r.exc_info is not None and r.exc_info[0] is SystemExit, (r.exception, r.output[-3000:])
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
