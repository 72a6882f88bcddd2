"""Which of Ray Tune's per-trial loggers a sweep runs: only ``result.json``.

Tune adds a CSV logger (``progress.csv``), a JSON logger (``result.json``) and a
TensorBoard logger (``events.out.tfevents.*``) to every experiment unless the run's
callbacks already hold one of each class. The sweeper reads only ``result.json``
(``sweeper.store.tables.collect``, ``sweeper reproduce``); the other two duplicate it, and
Ray 2.60 copies every trial's files from the driver's staging folder to the storage path
at every experiment snapshot (``search.snapshot_every_s``), so each logger multiplies
the bytes written over a sweep.

``callbacks()`` returns the real ``JsonLoggerCallback`` plus a CSV and a TensorBoard
logger that write nothing. Tune sees one of each class and adds none of its own. The
choice travels with the experiment (Tune pickles the run's callbacks into
``tuner.pkl``), so a sweep launched before this change resumes with Tune's three default
loggers and keeps its ``result.json``. (Tune's own switch,
``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``, is process-wide and would also drop the JSON
logger of such an older sweep on resume.)
"""
from __future__ import annotations

from typing import Any

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback


class _Silent:
    """Logger hooks that write nothing (mixed in before a Tune logger class)."""

    def __init__(self) -> None:  # the Tune class's __init__ would import tensorboardX or set up files
        pass

    def log_trial_start(self, trial: Any) -> None:
        pass

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        pass

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        pass

    def log_trial_save(self, trial: Any) -> None:
        pass

    def log_trial_restore(self, trial: Any) -> None:
        pass


class NoCSVLogger(_Silent, CSVLoggerCallback):
    """Stands in for Tune's CSV logger: no ``progress.csv``."""


class NoTensorBoardLogger(_Silent, TBXLoggerCallback):
    """Stands in for Tune's TensorBoard logger: no ``events.out.tfevents.*``."""


def callbacks() -> list:
    """The loggers of a new sweep: ``result.json`` only."""
    return [JsonLoggerCallback(), NoCSVLogger(), NoTensorBoardLogger()]
