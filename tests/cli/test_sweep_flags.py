"""Flags of ``launch`` / ``resume`` that exclude each other are refused before anything is read or started
(in this process, through click's runner: no Ray)."""
from __future__ import annotations

from tests.support.cli import invoke, refused_here


def test_resume_refuses_retry_and_restart_of_errored_trials_together(tmp_path):
    r = invoke("resume", "any_sweep", "--retry-errored", "--restart-errored", cwd=tmp_path)
    refused_here(r, "--retry-errored and --restart-errored exclude each other")
    assert list(tmp_path.iterdir()) == []
