"""Process-wide settings live in sweeper/driver/process_setup.py: set by named calls, never by importing a module."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweeper.driver import process_setup

ROOT = Path(__file__).resolve().parents[2]
TUNE_VARS = [v for v, _, _ in process_setup.TUNE_ENV] + ["TUNE_MAX_PENDING_TRIALS_PG", process_setup.SNAPSHOT_VAR]


def test_prepare_tune_driver_sets_tune_env_and_keeps_what_the_user_set(monkeypatch):
    import optuna

    for v in TUNE_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "7")  # the spec's period replaces whatever was there
    monkeypatch.setenv("RAY_AIR_NEW_OUTPUT", "1")  # a user's choice stays
    monkeypatch.setenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", "0")  # this one the sweep needs: overridden
    before = optuna.logging.get_verbosity()
    try:
        optuna.logging.set_verbosity(optuna.logging.INFO)
        process_setup.prepare_tune_driver(40, 10.0)
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    finally:
        optuna.logging.set_verbosity(before)
    assert os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] == "1"
    assert os.environ["TUNE_GLOBAL_CHECKPOINT_S"] == "10"
    assert os.environ["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] == "0"
    assert os.environ["RAY_AIR_NEW_OUTPUT"] == "1"
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "40"
    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG")
    process_setup.prepare_tune_driver(2, 3.0)
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "16"
    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG")
    process_setup.prepare_tune_driver(3000, 3.0)  # not every trial created ahead (issue 25)
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == str(process_setup.MAX_PENDING)
    assert os.environ["TUNE_GLOBAL_CHECKPOINT_S"] == "3"


def test_snapshot_period_is_each_specs_own(monkeypatch):
    """Every call sets its own spec's period, also the second call in one process and in a child of a
    process that drove a sweep (the CI failure this guards against: a test session's in-process sweep
    left "10" in the environment, and a later `sweeper launch` subprocess whose spec says 1 s took it)."""
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "10")
    process_setup.prepare_tune_driver(2, 1.0)
    assert os.environ["TUNE_GLOBAL_CHECKPOINT_S"] == "1"
    process_setup.prepare_tune_driver(2, 1.5)
    assert os.environ["TUNE_GLOBAL_CHECKPOINT_S"] == "1.5"


def test_ray_token_auth_only_with_a_token_and_no_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(v, raising=False)
    process_setup.ray_token_auth()
    assert "RAY_AUTH_MODE" not in os.environ  # no token anywhere
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("x")
    process_setup.ray_token_auth()
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    process_setup.ray_token_auth()
    assert os.environ["RAY_AUTH_MODE"] == "disabled"  # the user's setting wins


@pytest.mark.cli
def test_importing_the_driver_changes_no_process_state():
    """Importing sweeper.driver.launch (and with it space, trial, Ray Tune, torch) sets no environment
    variable of ours and leaves Optuna's log level alone."""
    code = (
        "import json, os, optuna\n"
        "env0, v0 = dict(os.environ), optuna.logging.get_verbosity()\n"
        "import sweeper.driver.launch, sweeper.search.space\n"
        "ours = " + json.dumps(TUNE_VARS + ["RAY_AUTH_MODE", "MLFLOW_TRACKING_URI"]) + "\n"
        "print(json.dumps({'changed': [k for k in ours if os.environ.get(k) != env0.get(k)],"
        " 'verbosity_same': optuna.logging.get_verbosity() == v0}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in TUNE_VARS + ["RAY_AUTH_MODE", "MLFLOW_TRACKING_URI"]}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"changed": [], "verbosity_same": True}


TOKEN_PROBE = """
import json
from ray._raylet import AuthenticationMode, get_authentication_mode
from sweeper.driver import process_setup
before = get_authentication_mode() == AuthenticationMode.TOKEN
process_setup.ray_token_auth()
print(json.dumps({"before": before, "after": get_authentication_mode() == AuthenticationMode.TOKEN}))
"""


@pytest.mark.cli
@pytest.mark.ray
def test_ray_token_auth_reaches_an_already_imported_ray(tmp_path):
    """Ray caches RAY_AUTH_MODE when it is imported; the launcher imports it before joining a cluster by
    --address. Setting the variable alone left Ray's config 'disabled' (InvalidAuthToken against a
    token cluster); ray_token_auth() also refreshes the cached config. In a process of its own: the
    refreshed config is process-wide, and a later local Ray start in the same process would present
    the wrong authentication to its own GCS."""
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("x" * 64)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([sys.executable, "-c", TOKEN_PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"before": False, "after": True}
