"""The ``sweeper`` program's end (``entry`` in sweeper/cli/__init__.py, sweeper/cli/process_end.py): it skips
Python's teardown once the exit handlers have run, so its exit code, every byte of its output and the
handlers the command registered must all survive; an uncaught exception keeps Python's normal exit
(traceback, code 1)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sweeper.commands import schema as schema_cmd
from tests.support.cli import cli, env

# `sweeper ARGS` through entry(), with main() wrapped: it registers an exit handler first (as a module the
# command imports would), then runs the command, or raises when ARGS is "raise".
WRAPPED = """
import atexit, sys
import sweeper.cli as c
real_main = c.main
def main():
    atexit.register(print, "HANDLER RAN", flush=True)
    if sys.argv[1:] == ["raise"]:
        raise RuntimeError("a bug")
    real_main()
c.main = main
c.entry()
"""


def _run(argv: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, text=True, timeout=120)


@pytest.mark.cli
def test_exit_code_and_a_large_output_survive_the_fast_exit(tmp_path):
    r = _run(cli("schema"), tmp_path)  # ~70 kB through a pipe, the last of it flushed at exit
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout) == json.loads(schema_cmd.text())
    r = _run(cli("status", "nope"), tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: no sweep 'nope'") and "Traceback" not in r.stderr, r


@pytest.mark.cli
def test_handlers_the_command_registers_run_and_a_crash_keeps_the_normal_exit(tmp_path):
    r = _run([sys.executable, "-c", WRAPPED, "status", "nope"], tmp_path)
    assert r.returncode == 2 and "HANDLER RAN" in r.stdout, r
    r = _run([sys.executable, "-c", WRAPPED, "raise"], tmp_path)
    assert r.returncode == 1 and "HANDLER RAN" in r.stdout, r
    assert "Traceback" in r.stderr and "RuntimeError: a bug" in r.stderr, r.stderr[-2000:]


def test_entry_records_the_code_and_its_handler_ends_the_process_with_it(monkeypatch):
    """In this process, ``os._exit`` and ``atexit.register`` replaced: entry() registers its handler before
    the command runs, and the handler ends the process with the command's exit code."""
    from sweeper import cli as cli_mod
    from sweeper.cli import process_end

    handlers, ended = [], []
    monkeypatch.setattr(process_end.atexit, "register", handlers.append)
    monkeypatch.setattr(process_end.os, "_exit", ended.append)
    monkeypatch.setattr(process_end, "_exit_code", [])
    monkeypatch.setattr(sys, "argv", ["sweeper", "status", "nope"])
    with pytest.raises(SystemExit) as e:
        cli_mod.entry()
    assert e.value.code == 2 and handlers[0] == process_end._end_process  # before those the command registers
    monkeypatch.delitem(sys.modules, "coverage", raising=False)  # measured by coverage, it would step aside
    handlers[0]()
    assert ended == [2]
