"""Every process-wide setting the sweeper driver makes, in one place.

These change the state of the whole Python process (environment variables that Ray,
Ray Tune and MLflow read, and library log levels), so they are made here, by named
functions, at visible call sites, never as a side effect of importing a module:

- ``configure_logging()``: called by ``prepare_tune_driver``, i.e. once per sweep driver
  (``launch``, ``resume``, ``confirm``; from the CLI or as a library), not by the quick
  commands, which never import Optuna. Optuna's log level is WARNING: its INFO line per
  suggested trial would interleave with the live progress table.
- ``prepare_tune_driver(max_pending, snapshot_every_s)``: called by ``launch._run`` before Ray Tune
  runs. Sets the environment Ray Tune reads in the driver (see ``TUNE_ENV``):
  ``TUNE_DISABLE_STRICT_METRIC_CHECKING=1`` (always): a diverged trial reports ``diverged=1`` and
  deliberately no objective (never NaN); Tune's strict check would make that missing key fatal for
  the whole sweep (the spec validator checks objective names instead,
  ``sweeper.spec.search_check.parse_search``). ``TUNE_GLOBAL_CHECKPOINT_S``: the spec's
  ``search.snapshot_every_s`` (default 10 s), always (the spec is where a sweep sets it; a value
  already in the environment may be one an earlier sweep of this process, or of a parent process,
  set): Tune snapshots the experiment (trial table + Optuna state) at most that often (and, once the
  snapshot is large, less often: ``sweeper.driver.snapshot_period``), so a killed driver loses at
  most that much of Tune's history (trials that finished in that window redo their last checkpointed
  epochs; the tables stay exact). Ray 2.60 copies the whole driver staging folder (every trial's
  ``result.json``) to the storage path at every snapshot (``sweeper.driver.callbacks.loggers`` keeps
  that folder to ``result.json``), so the period sets the write volume: 24 trials x 100 epochs wrote
  3.4x their 13.5 MB folder with 1 s snapshots, 2.8x with the default 10 s
  (docs/benchmarks/overhead_2026-12-04.md).
  ``TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S=0`` silences Tune's warning about
  frequent snapshots and ``RAY_AIR_NEW_OUTPUT=0`` keeps the legacy engine, which prints nothing at
  verbose=0 (``callbacks.ProgressCallback`` is the live view), both unless the user set them;
  ``TUNE_MAX_PENDING_TRIALS_PG``: with a custom searcher and no concurrency limit Tune keeps only
  ONE trial pending at a time (a pending trial waits for its actor to start), which serialises short
  trials on a big cluster, so at least 16 or the sweep's trial count, at most ``MAX_PENDING``: Tune
  creates that many trials (folders, snapshot entries) ahead and walks all of them at every step, so
  a 3,000-trial sweep with 3,000 pending trials costs the driver O(trials) per event.
- ``ray_token_auth()``: called by ``local_ray.start_or_join`` before joining a cluster by
  ``--address``. Ray enables token auth by itself only for ``address=None/"auto"``; an
  explicit ``ip:port`` against a token cluster needs ``RAY_AUTH_MODE=token`` (the token
  comes from ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``), set
  here when a token exists and the user set no mode. Ray caches the mode in its config when
  it is imported, which the launcher has done by then: the cached config is refreshed
  (``Config.initialize("")``, what Ray's own ``_enable_token_auth`` does).
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
import sys
from pathlib import Path

# (variable, value, overrides what the user set?)
TUNE_ENV: tuple[tuple[str, str, bool], ...] = (
    ("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1", True),
    ("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0", False),
    ("RAY_AIR_NEW_OUTPUT", "0", False),
)


SNAPSHOT_VAR = "TUNE_GLOBAL_CHECKPOINT_S"


def configure_logging() -> None:
    """Library log levels of the driver (idempotent)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


MAX_PENDING = 64  # trials Tune keeps created ahead of the running ones (TUNE_MAX_PENDING_TRIALS_PG)


def prepare_tune_driver(max_pending: int, snapshot_every_s: float) -> None:
    """The environment Ray Tune reads in the driver (module docstring), plus ``configure_logging``.

    ``snapshot_every_s`` (the spec's ``search.snapshot_every_s``) becomes ``TUNE_GLOBAL_CHECKPOINT_S``
    whatever the environment held: a value found there cannot be told apart from one that an
    earlier sweep driven from this process (``sweeper bench overhead``, a notebook, a test
    session) or from a parent process set, and taking it would silently replace the spec's.
    """
    os.environ[SNAPSHOT_VAR] = f"{snapshot_every_s:g}"
    for var, value, force in TUNE_ENV:
        if force:
            os.environ[var] = value
        else:
            os.environ.setdefault(var, value)
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(max(16, min(max_pending, MAX_PENDING))))
    configure_logging()


def ray_token_auth() -> None:
    """``RAY_AUTH_MODE=token`` when a token exists and no mode is set (joining a cluster by ip:port)."""
    has_token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or (
        Path.home() / ".ray" / "auth_token"
    ).exists()
    if has_token and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        if "ray._raylet" in sys.modules:  # Ray read the mode at import: refresh its cached config, as Ray does
            from ray._raylet import Config  # (ray/_private/authentication/authentication_token_setup.py)

            Config.initialize("")


def default_mlflow_uri(uri: str) -> None:
    """Make ``uri`` this process's MLflow store unless ``MLFLOW_TRACKING_URI`` is already set."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", uri)
