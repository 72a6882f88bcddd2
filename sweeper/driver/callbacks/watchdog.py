"""Driver-side watchdog of running trials: the optional per-trial time limit and silence warnings.

``search.trial_timeout_s`` (default: none) bounds one attempt of a trial in wall-clock seconds,
counted from when Tune started (or restarted) it. A trial past it is recorded in the ledger as
failed with the reason ``exceeded search.trial_timeout_s = T s``, and its actor is killed with
``ray.kill``; Tune then sees a failed trial and the sweep goes on. This works for a trial that
hangs anywhere (a deadlock, a stuck read), since nothing inside the trial has to cooperate.

A timed-out trial is not retried (``search.retry_timeouts: false``, the default): what made it
hang or crawl is very likely to do so again, and each retry would cost the whole time limit
again, ``max_failures + 1`` times in all. Before the kill its Tune trial's allowance of retries
(``Trial.max_failures``, which Tune compares with ``run_metadata.num_failures`` after counting
the failure, ``Trial.should_recover``) is set to the failures it has had so far, so Tune records
it as ``error`` at once; the allowance is set back to ``search.max_failures`` whenever the trial
starts again (``resume --retry-errored``), except for a trial the driver does not retry
(``not_retried``: its next start is its last). With ``retry_timeouts: true`` a timeout is one more
failure, retried from the last checkpoint up to ``search.max_failures`` times like any other.

A running trial that has reported nothing for ``silence_s`` seconds (half the time limit when
there is one, else 10 minutes) gets one warning in the driver's log, naming it.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import ray
from ray.tune import Callback

from sweeper.driver.callbacks import not_retried
from sweeper.store.ledger import Ledger

log = logging.getLogger("sweeper")
DEFAULT_SILENCE_S = 600.0


def silence_threshold(timeout_s: float | None) -> float:
    return min(DEFAULT_SILENCE_S, timeout_s / 2) if timeout_s else DEFAULT_SILENCE_S


class TrialWatchdog(Callback):
    def __init__(self, sweep_dir: Path, timeout_s: float | None, silence_s: float | None = None,
                 retry_timeouts: bool = False, max_failures: int = 0):
        self.sweep_dir = Path(sweep_dir)
        self.timeout_s = timeout_s
        self.retry_timeouts = retry_timeouts
        self.max_failures = max_failures  # search.max_failures: a trial's allowance when it (re)starts
        self.silence_s = silence_s if silence_s is not None else silence_threshold(timeout_s)
        self._reset()

    def _reset(self) -> None:
        self.started: dict[str, float] = {}
        self.last_report: dict[str, float] = {}
        self.warned: set[str] = set()
        self.killed: set[str] = set()

    def __getstate__(self):  # Tune pickles callbacks with the experiment: clocks restart on resume
        return {k: v for k, v in self.__dict__.items() if k not in ("started", "last_report", "warned", "killed")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def _begin(self, trial) -> None:
        if not self.retry_timeouts and not not_retried.marked(trial):  # a trial not retried keeps its allowance
            trial.max_failures = self.max_failures  # undo a timeout's "no retry" (see the module docstring)
        now = time.monotonic()
        self.started[trial.trial_id] = self.last_report[trial.trial_id] = now
        self.warned.discard(trial.trial_id)
        self.killed.discard(trial.trial_id)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._begin(trial)

    def on_trial_restore(self, iteration, trials, trial, **info):
        self._begin(trial)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._begin(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.last_report[trial.trial_id] = time.monotonic()
        self.warned.discard(trial.trial_id)

    def on_step_end(self, iteration, trials, **info):
        try:
            self._check(trials)
        except Exception as e:  # noqa: BLE001 - a watchdog failure must never stop the sweep
            log.warning("trial watchdog: %s", e)

    def _check(self, trials) -> None:
        now = time.monotonic()
        for t in trials:
            if t.status != "RUNNING":
                continue
            tid = t.trial_id
            start = self.started.setdefault(tid, now)
            last = self.last_report.setdefault(tid, now)
            if self.timeout_s and now - start > self.timeout_s and tid not in self.killed:
                self._kill(t, now - start)
            elif now - last > self.silence_s and tid not in self.warned:
                self.warned.add(tid)
                log.warning("trial %s has reported nothing for %.0f s (still running)%s", tid, now - last,
                            f"; it is stopped at search.trial_timeout_s = {self.timeout_s:g} s" if self.timeout_s else "")

    def _kill(self, trial, elapsed: float) -> None:
        tid = trial.trial_id
        self.killed.add(tid)
        reason = f"exceeded search.trial_timeout_s = {self.timeout_s:g} s (ran {elapsed:.0f} s)"
        if not self.retry_timeouts:
            reason += "; not retried (search.retry_timeouts is false)"
            trial.max_failures = trial.run_metadata.num_failures  # Tune: no retry after this failure
        log.warning("trial %s %s: stopping it", tid, reason)
        try:
            led = Ledger(self.sweep_dir / "ledger.json")
            entry = led.data.get(tid, {})
            led.set(tid, entry.get("status", "running"), entry.get("reason", ""),
                    retries=int(entry.get("retries", 0)), timeout=reason)
        except Exception as e:  # noqa: BLE001
            log.warning("could not record the timeout of %s: %s", tid, e)
        actor = trial.temporary_state.ray_actor  # Tune's handle on the trial's actor (Ray 2.x)
        if actor is not None:
            ray.kill(actor, no_restart=True)
