"""Every process-wide setting the sweeper driver makes, in one place.

These change the state of the whole Python process (environment variables that Ray,
Ray Tune and MLflow read, and library log levels), so they are made here, by named
functions, at visible call sites, never as a side effect of importing a module:

- ``configure_logging()``: called by ``prepare_tune_driver``, i.e. once per sweep driver
  (``launch``, ``resume``, ``confirm``; from the CLI or as a library), not by the quick
  commands, which never import Optuna. Optuna's log level is WARNING: its INFO line per
  suggested trial would interleave with the live progress table.
- ``prepare_tune_driver(max_pending)``: called by ``launch._run`` before Ray Tune runs.
  Sets the environment Ray Tune reads in the driver (see ``TUNE_ENV``):
  ``TUNE_DISABLE_STRICT_METRIC_CHECKING=1`` (always): a diverged trial reports
  ``diverged=1`` and deliberately no objective (never NaN); Tune's strict check would
  make that missing key fatal for the whole sweep (the spec validator checks objective
  names instead, ``sweeper.spec._parse_search``). The others only where the user has
  not set them: ``TUNE_GLOBAL_CHECKPOINT_S=1`` snapshots the experiment (trial table +
  Optuna state) every second rather than every 10 s, so a killed driver loses at most
  ~1 s of history (cheap at our sizes), and ``TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S=0``
  silences Tune's warning about exactly that; ``RAY_AIR_NEW_OUTPUT=0``: Tune's new
  engine prints an experiment box even at verbose=0, the legacy one prints nothing
  (``progress.ProgressCallback`` is the live view); ``TUNE_MAX_PENDING_TRIALS_PG``: with a
  custom searcher and no concurrency limit Tune keeps only ONE trial pending at a time
  (a pending trial waits for its actor to start), which serialises short trials on a
  big cluster, so at least 16 or the sweep's trial count.
- ``ray_token_auth()``: called by ``launch._init_ray`` before joining a cluster by
  ``--address``. Ray enables token auth by itself only for ``address=None/"auto"``; an
  explicit ``ip:port`` against a token cluster needs ``RAY_AUTH_MODE=token`` (the token
  comes from ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``), set
  here when a token exists and the user set no mode.
- ``default_mlflow_uri(uri)``: called by ``launch`` on resume: the sweep's own MLflow
  store becomes this process's default, unless ``MLFLOW_TRACKING_URI`` is set.

Process-wide state owned elsewhere, because it is scoped to what sets it:
``interrupt.SignalGuard`` sets ``TUNE_DISABLE_SIGINT_HANDLER=1`` with the signal
handlers it installs; ``local_ray.loopback_only`` sets and restores Ray's
single-machine variable around ``ray.init``; ``sweeper/figures/common.py`` selects
matplotlib's file-only ``Agg`` backend, which must precede the first pyplot import.
"""
from __future__ import annotations

import os
from pathlib import Path

# (variable, value, overrides what the user set?)
TUNE_ENV: tuple[tuple[str, str, bool], ...] = (
    ("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1", True),
    ("TUNE_GLOBAL_CHECKPOINT_S", "1", False),
    ("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0", False),
    ("RAY_AIR_NEW_OUTPUT", "0", False),
)


def configure_logging() -> None:
    """Library log levels of the driver (idempotent)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def prepare_tune_driver(max_pending: int) -> None:
    """The environment Ray Tune reads in the driver (module docstring), plus ``configure_logging``."""
    for var, value, force in TUNE_ENV:
        if force:
            os.environ[var] = value
        else:
            os.environ.setdefault(var, value)
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(16, max_pending)))
    configure_logging()


def ray_token_auth() -> None:
    """``RAY_AUTH_MODE=token`` when a token exists and no mode is set (joining a cluster by ip:port)."""
    has_token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or (
        Path.home() / ".ray" / "auth_token"
    ).exists()
    if has_token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"


def default_mlflow_uri(uri: str) -> None:
    """Make ``uri`` this process's MLflow store unless ``MLFLOW_TRACKING_URI`` is already set."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
