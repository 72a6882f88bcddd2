"""Tune callback: a nested MLflow child run per trial, buffered per-epoch metrics, final status, artifacts.

In a raced sweep (``search.racing``) the child runs of an eliminated configuration's trials get the tags
``sweeper.race.eliminated_round``, ``.p_value``, ``.test``, ``.race`` and ``.best`` (``sweeper.store.race_file``)
once ``race.json`` records the elimination (their trials have ended by then), written with the buffered tags.

The store side (runs, tags, reconcile) is ``sweeper.store.mlflow_runs``; this module only
translates Tune's events into it. See that module's docstring for the layout and buffering.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from mlflow.entities import Metric, Param, RunStatus, RunTag
from ray.tune import Callback

from sweeper.driver.race_io import RaceIO
from sweeper.store import race_file
from sweeper.store.mlflow_runs import FLUSH_EVERY_S, LIVE_BUDGET_S, SweepTracker, child_run, flat_params, log, numeric
from sweeper.store.retry import retry
from sweeper.store.trial_status import ended_status
from trainables import identity as trial_identity


class MLflowTrialCallback(Callback):
    """Ray Tune callback: a nested child run per trial, per-epoch metrics, final status and artifacts."""

    def __init__(self, tracker: SweepTracker, derive: Callable[[dict], dict[str, Any]], race: RaceIO | None = None):
        self.t = tracker
        self.race = race  # a raced sweep: where its race.json is
        self.tagged: set[str] = set()  # trials whose elimination tags are written or buffered
        # Tune config -> the trial's identity record (``sweeper.store.identity.derive``): only for a trial
        # that fails before its first result; every other trial reports its record with that result.
        self.derive = derive
        self.runs: dict[str, str] = {}
        self.last_epoch: dict[str, int] = {}
        self.pending: dict[str, tuple[list[Metric], list[RunTag]]] = {}  # trial id -> buffered metrics, tags
        self.last_flush = time.monotonic()
        self.before: dict[str, str] | None = None  # trial id -> child run made by an earlier driver (listed once)

    def __getstate__(self):  # caches are rebuilt from MLflow after a restore; a buffer is not kept
        return {**self.__dict__, "runs": {}, "last_epoch": {}, "pending": {}, "before": None, "tagged": set()}

    def __setstate__(self, state: dict) -> None:
        # A sweep launched before the buffer existed pickled its callback without it (Tune restores
        # callbacks from tuner.pkl on resume, without calling __init__): start the buffer empty.
        # One pickled before trials reported their identity holds ``identify`` (which now derives the
        # whole record, see sweeper.driver.pickle_compat) instead of ``derive``.
        derive = state.get("derive") or state.get("identify")
        self.__dict__.update({"race": None, **state, "derive": derive, "pending": {}, "last_flush": time.monotonic(),
                              "before": None, "tagged": set()})

    def _safe(self, what: str, fn) -> None:
        """Run ``fn`` with retries; never raise into Tune (an exception in a callback would be
        charged to the trial). What fails is left to :meth:`SweepTracker.reconcile`."""
        try:
            retry(fn, what=what, budget_s=LIVE_BUDGET_S)
        except Exception as e:  # noqa: BLE001
            log.warning("MLflow: %s failed (%s); it is logged when the sweep ends or on resume", what, str(e)[:300])

    def existing_run(self, trial) -> str | None:
        """The trial's child run if it exists already (a resumed sweep), marked running again. The
        child runs of earlier drivers are listed once per driver (one search, not one per trial:
        a search by tag scans every run of the experiment)."""
        tid = trial.trial_id
        if tid in self.runs:
            return self.runs[tid]
        c = self.t.client
        if self.before is None:
            self.before = self.t.trial_runs()
        rid = self.before.get(tid)
        if rid is not None:
            hist = c.get_metric_history(rid, "epoch")
            self.last_epoch[tid] = int(max((m.value for m in hist), default=0))
            c.update_run(rid, status="RUNNING")
            self.runs[tid] = rid
        return rid

    def run_id(self, trial, record: dict[str, Any] | None = None) -> str:
        """The trial's child run, created from its identity ``record`` (the one its first result
        carries; derived from the Tune config only when the trial reported none)."""
        rid = self.existing_run(trial)
        if rid is not None:
            return rid
        tid = trial.trial_id
        record = record if record is not None else self.derive(trial.config)
        name, tags = child_run(self.t.sweep_id, self.t.parent_id, tid, record if "config_id" in record else None)
        c = self.t.client
        rid = c.create_run(self.t.experiment_id, run_name=name, tags=tags).info.run_id
        plist = [Param(k, v) for k, v in flat_params(record.get("params") or {}).items()]
        for i in range(0, len(plist), 100):
            c.log_batch(rid, params=plist[i : i + 100])
        self.last_epoch[tid] = 0
        self.runs[tid] = rid
        return rid

    def on_trial_start(self, iteration, trials, trial, **info):
        self._safe(f"finding the run of trial {trial.trial_id}", lambda: self.existing_run(trial))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._safe(f"logging a result of trial {trial.trial_id}", lambda: self._result(trial, result))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._flush(trial.trial_id)
        self._safe(f"ending the run of trial {trial.trial_id}", lambda: self._complete(trial))
        self._safe("tagging the runs of eliminated configurations", self._race_tags)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._flush(trial.trial_id)
        self._safe(f"recording the error of trial {trial.trial_id}", lambda: self._error(trial))
        self._safe("tagging the runs of eliminated configurations", self._race_tags)

    def _race_tags(self) -> None:
        """Buffer the ``sweeper.race.*`` tags of every trial ``race.json`` says was eliminated and is not tagged yet."""
        if self.race is None:
            return
        todo = {t: e for t, e in race_file.eliminated_trials(race_file.read(self.race.folder)).items()
                if t not in self.tagged}
        if not todo:
            return
        if self.before is None and any(t not in self.runs for t in todo):
            self.before = self.t.trial_runs()
        for tid, elimination in todo.items():
            rid = self.runs.get(tid) or (self.before or {}).get(tid)
            if rid is None:
                continue
            self.runs[tid] = rid
            self.pending.setdefault(tid, ([], []))[1].extend(RunTag(k, v) for k, v in race_file.tags(elimination).items())
            self.tagged.add(tid)

    def on_step_end(self, iteration, trials, **info):
        if self.pending and time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()

    def on_experiment_end(self, trials, **info):
        self._safe("tagging the runs of eliminated configurations", self._race_tags)
        self.flush()

    def flush(self) -> None:
        """Write every buffered epoch (one ``log_batch`` per run, at most 900 metrics a call)."""
        for tid in list(self.pending):
            self._flush(tid)
        self.last_flush = time.monotonic()

    def _flush(self, tid: str) -> None:
        metrics, tags = self.pending.pop(tid, ([], []))
        rid = self.runs.get(tid)
        if rid is None or not (metrics or tags):
            return

        def write() -> None:
            for i in range(0, max(len(metrics), 1), 900):
                self.t.client.log_batch(rid, metrics=metrics[i : i + 900], tags=tags if i == 0 else [])

        self._safe(f"logging the results of trial {tid}", write)

    def _result(self, trial, result) -> None:
        self.run_id(trial, trial_identity.read(result))  # the first result carries the trial's identity
        epoch = int(result.get("epoch", result.get("training_iteration", 0)))
        if epoch <= self.last_epoch.get(trial.trial_id, 0):
            return
        ts = int(time.time() * 1000)
        skip = {"time_this_iter_s", "time_total_s", "timestamp", "training_iteration", "pid", "done",
                "time_since_restore", "iterations_since_restore"}
        metrics = [Metric(k, v, ts, epoch) for k, v in numeric(result).items() if k not in skip]
        tags = []
        if result.get("diverged"):  # written with the epoch's metrics
            tags = [RunTag("sweeper.status", "diverged"), RunTag("sweeper.error", f"non-finite training loss at epoch {epoch}")]
        buf_metrics, buf_tags = self.pending.setdefault(trial.trial_id, ([], []))
        buf_metrics += metrics
        buf_tags += tags
        self.last_epoch[trial.trial_id] = epoch  # written by on_step_end, after this step's results

    def _complete(self, trial) -> None:
        rid = self.run_id(trial)
        last = trial.last_result or {}
        diverged = bool(last.get("diverged"))
        self._log_artifacts(rid, trial)
        if last.get("provenance"):  # the trial's own record: resolved config, data fingerprint, hardware
            prov = json.loads(last["provenance"])
            self.t.client.log_dict(rid, prov, "provenance.json")
            self.t.client.set_tag(rid, "sweeper.data_sha256", prov["data"]["all"])
        if not diverged:
            self.t.client.set_tag(rid, "sweeper.status", ended_status(last)[0])
        self.t.client.set_terminated(rid, status="FAILED" if diverged else "FINISHED")

    def _error(self, trial) -> None:
        rid = self.run_id(trial)
        err = trial.get_error() or "unknown error"
        self.t.client.log_batch(rid, tags=[RunTag("sweeper.status", "error"), RunTag("sweeper.error", str(err)[-5000:])])
        self.t.client.set_terminated(rid, status=RunStatus.to_string(RunStatus.FAILED))

    def _log_artifacts(self, rid: str, trial) -> None:
        ckpt = trial.checkpoint
        if ckpt is None:
            return
        with ckpt.as_directory() as d:
            art = Path(d) / "artifacts"
            if art.is_dir() and not self.t.client.list_artifacts(rid):
                self.t.client.log_artifacts(rid, str(art))
