"""Every Ray Tune callback of the driver, in one place, and the list a sweep runs with.

- ``loggers``: Tune writes only ``result.json`` per trial (no CSV, no TensorBoard files);
- ``ledger``: ``ledger.json`` and the Parquet tables, kept current;
- ``mlflow``: one MLflow child run per trial;
- ``watchdog``: the per-trial time limit and silence warnings;
- ``progress``: the terminal's progress view (only when the driver is not quiet).

Nothing in a callback may raise into Tune: Tune charges a callback's exception to the trial.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from sweeper.driver.callbacks.ledger import LedgerCallback
from sweeper.driver.callbacks.loggers import callbacks as logger_callbacks
from sweeper.driver.callbacks.mlflow import MLflowTrialCallback
from sweeper.driver.callbacks.progress import ProgressCallback
from sweeper.driver.callbacks.watchdog import TrialWatchdog
from sweeper.driver.race_io import RaceIO
from sweeper.spec import SweepSpec
from sweeper.store.mlflow_runs import SweepTracker
from sweeper.store.progress import expected_budget
from trainables.config import TrainConfig


def sweep_callbacks(sweep_dir: Path, spec: SweepSpec, tracker: SweepTracker, derive: Callable[[dict], dict],
                    verbose: int, total: int) -> list:
    """The callbacks of one sweep. ``derive`` maps a Tune config to the trial's identity record
    (``sweeper.store.identity.derive``), for a trial that fails before reporting its own."""
    search = spec.search
    metric, mode = search.objective
    epochs = int(spec.base["train"].get("epochs", TrainConfig.epochs))
    progress = ProgressCallback(sweep_dir.name, total, metric, mode, epochs, unknown_budget=expected_budget(spec))
    live = [progress] if verbose else []
    return live + [
        *logger_callbacks(),
        LedgerCallback(sweep_dir, spec),
        MLflowTrialCallback(tracker, derive, race=RaceIO(sweep_dir, metric) if search.racing is not None else None),
        TrialWatchdog(sweep_dir, search.trial_timeout_s, retry_timeouts=search.retry_timeouts,
                      max_failures=search.max_failures),
    ]
