"""``resume`` without ``--retry-errored`` never runs again a trial that already ended in error.

Tune's last experiment snapshot can list a failed trial as RUNNING: the snapshot is written
every ``search.snapshot_every_s`` seconds, and a trial killed for its time limit or by Ray's
memory monitor near the end of a sweep fails after the last one (measured on Ray 2.60: an
OOM-killed trial with ``num_failures`` 1 and a timed-out trial both listed RUNNING).
``Tuner.restore(resume_unfinished=True)`` then restarts them, and each ``resume`` pays the time
limit, or a near-OOM of the node, again.

The sweep's own records decide instead: before Tune requeues the restored trials
(``TuneController._requeue_restored_trials``), every trial that the status rule
(``sweeper.store.trial_status``, over the trial folders, the ledger and the snapshot; the rule
the tables use) calls ``error`` is given Tune's status ERROR. Tune's ``resume_errored`` /
``restart_errored`` then decide for them as for any errored trial: skipped by a plain ``resume``,
continued from their last checkpoint with ``--retry-errored``, run again from scratch with
``--restart-errored`` (which Tune applies to ERROR trials only). ``install(ids)`` sets the ids for the next restore in this
process; idempotent.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sweeper.driver.callbacks import not_retried
from sweeper.store import tables

log = logging.getLogger("sweeper")
_MARK = "_sweeper_errored_stay_errored"
_ERRORED: set[str] = set()
_MAX_FAILURES = [0]  # search.max_failures: the allowance of a trial whose "not retried" mark is taken off


def ended_in_error(sweep_dir: Path, base: dict[str, Any]) -> set[str]:
    """Ids of the sweep's trials whose status (the tables' rule) is ``error`` now."""
    trials, _ = tables.collect(Path(sweep_dir), base)
    return {t["trial_id"] for t in trials if t["status"] == "error"}


def install(errored: set[str], max_failures: int = 0) -> None:
    """Mark ``errored`` trials ERROR when the next ``Tuner.restore`` of this process requeues them; an
    ERROR trial still marked "not retried" (``callbacks/not_retried.py``: the driver stopped between its
    last start and its end) loses the mark and gets ``max_failures`` back, so that ``--retry-errored``
    and ``--restart-errored`` run it for real."""
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial

    _ERRORED.clear()
    _ERRORED.update(errored)
    _MAX_FAILURES[0] = max_failures
    original = TuneController._requeue_restored_trials
    if getattr(original, _MARK, False):
        return

    def _requeue_restored_trials(self, trials, resume_config):
        for t in trials:
            if t.trial_id in _ERRORED and t.status not in (Trial.ERROR, Trial.TERMINATED):
                log.info("trial %s ended in error (Tune's snapshot said %s)", t.trial_id, t.status)
                t.set_status(Trial.ERROR)
            if t.status == Trial.ERROR and not_retried.marked(t):  # ended before the driver took the mark off
                not_retried.unmark(t, _MAX_FAILURES[0])
        return original(self, trials, resume_config)

    setattr(_requeue_restored_trials, _MARK, True)
    TuneController._requeue_restored_trials = _requeue_restored_trials
