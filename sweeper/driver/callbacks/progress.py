"""Tune callback printing the progress view (``sweeper.store.progress.view``) of a running sweep."""
from __future__ import annotations

import sys
import time
from typing import Any

from ray.tune import Callback

from sweeper.spec.labels import config_name
from sweeper.store.progress import TrialState, view
from sweeper.store.trial_status import ended_status
from trainables import identity as trial_identity
from trainables.overrides import POINT

_TUNE_STATUS = {"PENDING": "pending", "PAUSED": "pending", "RUNNING": "running", "ERROR": "error"}


def tune_state(trial, identity: dict[str, Any], metric: str) -> TrialState:
    """A Ray Tune trial -> TrialState (``identity``: the record the trial reported, or a placeholder)."""
    last = trial.last_result or {}
    status = _TUNE_STATUS.get(trial.status)
    if status is None:  # TERMINATED
        status = ended_status(last)[0]
    value = last.get(metric) if status == "finished" else None
    return TrialState(status, int(last.get("epoch", 0) or 0), int(identity["epochs"]), identity["config_id"],
                      config_name(identity["regularizer"], identity["config"]),
                      float(value) if isinstance(value, (int, float)) else None)


def placeholder(trial, default_epochs: int) -> dict[str, Any]:
    """What the view shows of a trial that has not reported its identity yet: its id, and the epoch
    budget read from its suggested values (no resolution)."""
    config = trial.config or {}
    budget = config.get("train.epochs", (config.get(POINT) or {}).get("train.epochs", default_epochs))
    return {"config_id": trial.trial_id, "config": "", "regularizer": "", "epochs": int(budget)}


class ProgressCallback(Callback):
    """Ray Tune callback printing ``view`` every ``every_s`` seconds and at the end.

    A trial's identity comes from its first result (``trainables.identity``); until then it is
    counted with a placeholder (``placeholder``)."""

    def __init__(self, name: str, total: int, metric: str, mode: str, default_epochs: int,
                 every_s: float = 20.0, stream=None, unknown_budget: float | None = None):
        self.name, self.total, self.metric, self.mode = name, total, metric, mode
        self.unknown_budget = unknown_budget  # epochs of a trial not created yet (store.progress.expected_budget)
        self.default_epochs, self.every_s = default_epochs, every_s
        self.stream = stream
        self._ids: dict[str, dict] = {}
        self._start: float | None = None
        self._start_epochs = 0
        self._printed = 0.0

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("stream", "_ids")} | {"stream": None, "_ids": {}}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        record = trial_identity.read(result)
        if record is not None:
            self._ids[trial.trial_id] = record

    def _states(self, trials) -> list[TrialState]:
        epochs = getattr(self, "default_epochs", 10)  # a callback pickled by an older version has none
        return [tune_state(t, self._ids.get(t.trial_id) or placeholder(t, epochs), self.metric) for t in trials]

    def text(self, trials) -> str:
        states = self._states(trials)
        now = time.monotonic()
        if self._start is None:
            self._start, self._start_epochs = now, sum(s.epochs_done for s in states)
        here = sum(s.epochs_done for s in states) - self._start_epochs
        return view(self.name, states, self.total, now - self._start, self.metric, self.mode, here,
                    getattr(self, "unknown_budget", None))

    def _print(self, trials) -> None:
        print(self.text(trials), file=self.stream or sys.stdout, flush=True)
        self._printed = time.monotonic()

    def setup(self, **info):
        self._start = None

    def on_step_end(self, iteration, trials, **info):
        if self._start is None:
            self.text(trials)  # starts the clock
        if time.monotonic() - self._printed >= self.every_s:
            self._print(trials)

    def on_experiment_end(self, trials, **info):
        self._print(trials)
