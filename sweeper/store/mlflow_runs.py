"""Driver-side MLflow tracking: one parent run per sweep, one nested child run per trial.

Runs live in ``sqlite:///mlflow.db`` unless ``MLFLOW_TRACKING_URI`` says
otherwise (a tracking server on a cluster). Everything is keyed so that a
resumed driver continues the same runs instead of duplicating them:

- the parent run is found by the tag ``sweeper.sweep_id`` (= the sweep folder's id);
- a child run by ``sweeper.trial_id`` (Tune's trial id, stable across resumes);
- per-epoch metrics are logged with ``step = epoch``; an epoch at or below the
  last one already logged for that run is skipped.

Per-epoch metrics are buffered in the driver and written every ``FLUSH_EVERY_S``
seconds (5), one ``log_batch`` per run with every epoch reported since, and when a
trial ends or the sweep ends: the MLflow view lags the sweep by at most that much.
Reason: one SQLite transaction per epoch result rewrote ~200 KB of database pages and
journal (measured: 4 trials x 30 epochs wrote 24 MB for a 1.6 MB store; batching 5
epochs at a time wrote 4.7x less) and took ~15 ms of the driver's loop each. Metrics a
killed driver had buffered are logged by ``reconcile`` on ``resume``, from the tables.

A child run's params are its trial's resolved configuration flattened
(``trainables.config.flatten``: ``regularizer.rho``, ``train.lr``, every default
included): the names of the spec, of the ``trials.parquet`` columns and of the
report labels.

What the MLflow UI shows (it is the comparison UI): a child run is named by
its regularizer, searched values and seed (``dropmax tau=0.5 lr=0.001 seed=1``)
and tagged ``config_id`` (the seeds of one configuration share it: group runs
by this tag so the charts aggregate over seeds), ``configuration`` (the same
grouping under a readable name), ``config``, ``regularizer`` and ``seed``. The parent run carries the
spec's description (its note), the selected configuration with its mean and 95% CI (tags and metrics)
and the report (``report/``, its sweep figures under ``report/figures/``); each finished trial's run
carries its own figures (learning
curve, reliability diagram) under ``figures/``.

Tracking never stops a sweep: every call retries transient errors ("database is locked",
an unreachable server; sweeper.store.retry), and what still fails during the sweep is logged
and left out. At the end of the sweep, on an interruption and on ``resume``,
:meth:`SweepTracker.reconcile` brings MLflow in line with the Parquet tables (the truth):
missing child runs, missing epochs, statuses. A trial not finished when the driver stops
is marked KILLED, and so is the parent of an interrupted sweep.

Only the driver talks to MLflow (the trial code never imports it), so trials on
any node need no tracking credentials.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from sweeper.spec.labels import config_name, run_name
from sweeper.store.mlflow_template import seed_new_store
from sweeper.store.mlflow_uri import store_file, tracking_uri
from sweeper.store.retry import retry
from trainables.config import is_config_name

log = logging.getLogger("sweeper")
FLUSH_EVERY_S = 5.0  # buffered per-epoch metrics are written at least this often (module docstring)
LIVE_BUDGET_S = 10.0  # retries inside a Tune callback (the Tune loop waits meanwhile)
FINAL_BUDGET_S = 300.0  # retries at the start and the end of a sweep
SEARCH_PAGE = 5000  # child runs per MLflow search (SweepTracker.child_runs pages through more)
TERMINAL = {"finished": "FINISHED", "stopped": "FINISHED", "diverged": "FAILED", "error": "FAILED"}
STATUSES = ("finished", "stopped", "diverged", "error", "running", "pending", "unknown")

SWEEP_TAG = "sweeper.sweep_id"
TRIAL_TAG = "sweeper.trial_id"
PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "mlflow.experimentKind"  # MLflow 3's UI shows an experiment of this kind as training runs
NOTE_TAG = "mlflow.note.content"  # the run's description in the UI
CONFIG_TAG = "config_id"  # group-by key in the UI: the seeds of one configuration
FIGURES = "figures"  # artifact folder of each trial run's figures


@contextlib.contextmanager
def first_use_lock(uri: str) -> Iterator[None]:
    """Serialise the opening of a local SQLite store between the processes of this machine.

    MLflow creates (and migrates) the schema of a new ``mlflow.db`` on its first use, and two
    processes doing so at once fail (``table _alembic_tmp_latest_metrics already exists``). Every
    driver holds an exclusive ``flock`` on the folder of the database file while it opens the store
    and its parent run (about a second), so the first one creates the schema and the others find
    it (a new store starts as a copy of MLflow's schema: ``sweeper.store.mlflow_template``). No extra
    file is created; other URIs (a tracking server) need no lock."""
    db = store_file(uri)
    if db is None:
        yield
        return
    folder = db.parent
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # no such folder: MLflow's own error says it better
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def child_run(sweep_id: str, parent_id: str, trial_id: str, ident: dict[str, Any] | None) -> tuple[str, dict[str, str]]:
    """(run name, tags) of a trial's child run, the same whether the live callback or
    :meth:`SweepTracker.reconcile` creates it. ``ident``: the trial's ``regularizer``, ``config``
    label, ``config_id`` and ``seed`` (the identity record the trial reported, ``trainables.identity``, or its trials-table row);
    None: the name falls back to ``<sweep>-<trial_id>``."""
    tags = {TRIAL_TAG: trial_id, PARENT_TAG: parent_id, SWEEP_TAG + ".child": sweep_id}
    if ident is None:
        return f"{sweep_id}-{trial_id}", tags
    tags.update({CONFIG_TAG: str(ident["config_id"]), "config": str(ident["config"]),
                 "configuration": config_name(ident["regularizer"], ident["config"]),
                 "regularizer": str(ident["regularizer"]), "seed": str(int(ident["seed"]))})
    return run_name(ident["regularizer"], ident["config"], int(ident["seed"])), tags


def find_run(client: MlflowClient, experiment_id: str, tag: str, value: str) -> str | None:
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = '{value}'", max_results=1)
    return runs[0].info.run_id if runs else None


def numeric(result: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def flat_params(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_params(v, key + "."))
        else:
            out[key] = str(v)[:6000]
    return out


class SweepTracker:
    """Parent run of one sweep (created or found again), plus helpers shared with the callback."""

    def __init__(self, sweep_id: str, experiment: str, run_name: str, fresh: bool = False):
        """``fresh`` (a new launch, also after ``--overwrite``): an older parent run of the same sweep
        id is retagged ``<id>~replaced~<run>`` and ended as KILLED, and a new parent run is created."""
        self.uri = tracking_uri()
        self.sweep_id = sweep_id
        with first_use_lock(self.uri):
            seed_new_store(self.uri)
            retry(lambda: self._open(experiment, run_name, fresh), what="opening the MLflow parent run",
                  budget_s=FINAL_BUDGET_S)

    def _open(self, experiment: str, run_name: str, fresh: bool) -> None:
        exp = self.client.get_experiment_by_name(experiment)
        self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(experiment)
        if exp is None or KIND_TAG not in exp.tags:  # the UI opens on runs and charts, not on GenAI traces
            self.client.set_experiment_tag(self.experiment_id, KIND_TAG, "custom_model_development")
        self.parent_id = find_run(self.client, self.experiment_id, SWEEP_TAG, self.sweep_id)
        if fresh and self.parent_id is not None:
            self.client.set_tag(self.parent_id, SWEEP_TAG, f"{self.sweep_id}~replaced~{self.parent_id}")
            self.client.set_terminated(self.parent_id, status="KILLED")
            self.parent_id = None
        if self.parent_id is None:
            run = self.client.create_run(self.experiment_id, run_name=run_name, tags={SWEEP_TAG: self.sweep_id})
            self.parent_id = run.info.run_id
        else:
            self.client.update_run(self.parent_id, status="RUNNING")

    @property
    def client(self) -> MlflowClient:
        if getattr(self, "_client", None) is None:
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def __getstate__(self):  # Tune pickles callbacks with the experiment; reconnect on restore
        return {k: v for k, v in self.__dict__.items() if k != "_client"}

    def log_sweep(self, params: dict[str, Any], spec_file: Path) -> None:
        retry(lambda: self._log_sweep(params, spec_file), what="logging the sweep's params", budget_s=FINAL_BUDGET_S)

    def _log_sweep(self, params: dict[str, Any], spec_file: Path) -> None:
        existing = self.client.get_run(self.parent_id).data.params
        todo = [Param(k, v) for k, v in flat_params(params).items() if k not in existing]
        for i in range(0, len(todo), 100):
            self.client.log_batch(self.parent_id, params=todo[i : i + 100])
        self.client.log_artifact(self.parent_id, str(spec_file))

    def drop_orphans(self, known_trial_ids: set[str]) -> int:
        """Delete child runs whose trial Tune no longer knows (created after the last experiment
        snapshot of a killed driver; Tune will create fresh trials instead). Returns how many."""
        return retry(lambda: self._drop_orphans(known_trial_ids), what="dropping orphan MLflow runs",
                     budget_s=FINAL_BUDGET_S)

    def _drop_orphans(self, known_trial_ids: set[str]) -> int:
        orphans = [r for r in self.child_runs() if r.data.tags.get(TRIAL_TAG) not in known_trial_ids]
        for r in orphans:
            self.client.delete_run(r.info.run_id)
        return len(orphans)

    def describe(self, description: str) -> None:
        """The spec's description as the parent run's note (shown on the run page)."""
        if description:
            self.client.set_tag(self.parent_id, NOTE_TAG, description)

    def log_best(self, config: str, config_id: str, metric: str, values: list[float]) -> None:
        """The best configuration and its ``metric`` over its finished seeds (``values``) as parent tags,
        metrics and a line of its note. With n >= 3 seeds: mean ± half-width of the 95% Student-t
        interval; with fewer, the per-seed values (an interval on 1-2 seeds means nothing)."""
        from scipy import stats

        v = [float(x) for x in values if math.isfinite(float(x))]
        if not v:
            return
        mean = sum(v) / len(v)
        metrics = {f"selected_{metric}_mean": mean}  # child runs log best_<metric>: their best epoch
        if len(v) >= 3:
            sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
            half = float(stats.t.ppf(0.975, len(v) - 1)) * sd / math.sqrt(len(v))
            text = f"{metric} {mean:.4g} ± {half:.2g} (95% t-CI over {len(v)} seeds)"
            metrics[f"selected_{metric}_ci95"] = half
        else:
            values = ", ".join(f"{x:.4g}" for x in v)
            text = f"{metric} {mean:.4g} (mean of {len(v)} seed{'s' if len(v) > 1 else ''}: {values})"
        tags = {"sweeper.best_config": config, "sweeper.best_config_id": config_id,
                "sweeper.best": f"{config}: {text}"}
        for k, val in tags.items():
            self.client.set_tag(self.parent_id, k, val)
        ts = int(time.time() * 1000)
        latest = self.client.get_run(self.parent_id).data.metrics
        todo = [Metric(k, val, ts, 0) for k, val in metrics.items() if latest.get(k) != val]
        if todo:  # only what changed: a resume of a finished sweep adds no second point
            self.client.log_batch(self.parent_id, metrics=todo)
        note = self.client.get_run(self.parent_id).data.tags.get(NOTE_TAG, "").split("\n\nBest configuration")[0]
        self.client.set_tag(self.parent_id, NOTE_TAG, f"{note}\n\nBest configuration by {metric}: {tags['sweeper.best']}".strip())

    def log_figures(self, figures: dict[str, Path], run_id: str | None = None) -> None:
        """PNG figures into ``figures/`` of ``run_id`` (default: the parent run)."""
        for path in figures.values():
            self.client.log_artifact(run_id or self.parent_id, str(path), FIGURES)

    def child_runs(self, page: int | None = None) -> list:
        """Every child run of the sweep, ``page`` runs per search (one search returns at most a page:
        a sweep of more trials than that is listed in ``ceil(runs / page)`` searches, not cut short)."""
        runs: list = []
        token = None
        page = page or SEARCH_PAGE
        while True:
            got = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{self.parent_id}'",
                                          max_results=page, page_token=token)
            runs.extend(got)
            token = got.token
            if not token:
                return runs

    def trial_runs(self) -> dict[str, str]:
        """trial_id -> child run id of this sweep's trials."""
        return {r.data.tags[TRIAL_TAG]: r.info.run_id for r in self.child_runs() if TRIAL_TAG in r.data.tags}

    def has_figures(self, run_id: str) -> bool:
        return any(a.path == FIGURES for a in self.client.list_artifacts(run_id))

    def finish(self, summary: dict[str, float], status: str = "FINISHED") -> None:
        """Log the sweep's summary metrics (only those that changed: a resume adds no copies) and
        end the parent run with ``status`` (FINISHED, or KILLED for an interrupted sweep)."""
        def do():
            latest = self.client.get_run(self.parent_id).data.metrics
            ts = int(time.time() * 1000)
            todo = [Metric(k, v, ts, 0) for k, v in summary.items() if latest.get(k) != v]
            if todo:
                self.client.log_batch(self.parent_id, metrics=todo)
            self.client.set_terminated(self.parent_id, status=status)
        retry(do, what="ending the MLflow parent run", budget_s=FINAL_BUDGET_S)

    def reconcile(self, trials: list[dict], epochs: list[dict], stopped: bool = False) -> int:
        """Make MLflow match the tables: one child run per trial row (created if missing, named and
        tagged like the live callback's runs, :func:`child_run`), its params (the row's configuration
        columns, when the run has none), every epoch row logged (step = epoch), the status tag and the
        run status. With ``stopped`` (the driver is ending), a trial that is not finished is ended as
        KILLED. Returns how many runs were changed."""
        def children():
            return {r.data.tags.get(TRIAL_TAG): r for r in self.child_runs()}

        runs = retry(children, what="listing MLflow child runs", budget_s=FINAL_BUDGET_S)
        by_trial: dict[str, list[dict]] = {}
        for e in epochs:
            by_trial.setdefault(e["trial_id"], []).append(e)
        changed = 0
        for t in trials:
            tid = t["trial_id"]
            changed += bool(retry(lambda run=runs.get(tid), t=t: self._sync(run, t, by_trial.get(t["trial_id"], []), stopped),
                                  what=f"syncing the MLflow run of trial {tid}", budget_s=FINAL_BUDGET_S))
        return changed

    def _sync(self, run, t: dict, epoch_rows: list[dict], stopped: bool) -> bool:
        """One trial row -> its child run (see ``reconcile``); True when anything was written."""
        c, tid = self.client, t["trial_id"]
        touched = False
        if run is None:  # named and tagged like the live callback's runs
            ident = t if all(t.get(k) is not None for k in ("regularizer", "config", "config_id", "seed")) else None
            name, tags = child_run(self.sweep_id, self.parent_id, tid, ident)
            rid = c.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id
            touched = True
            status_now, tags_now = "RUNNING", {}
        else:
            rid, status_now, tags_now = run.info.run_id, run.info.status, run.data.tags
        if run is None or not run.data.params:  # the callback could not log them during the sweep
            params = [Param(k, str(v)[:6000]) for k, v in t.items() if is_config_name(k)]
            for i in range(0, len(params), 100):
                c.log_batch(rid, params=params[i : i + 100])
            touched |= bool(params)
        logged = {int(m.step) for m in c.get_metric_history(rid, "epoch")} if run is not None else set()
        ts = int(time.time() * 1000)
        todo = [Metric(k, float(v), ts, int(e["epoch"])) for e in epoch_rows if int(e["epoch"]) not in logged
                for k, v in e.items()
                if k != "seed" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        for i in range(0, len(todo), 900):
            c.log_batch(rid, metrics=todo[i : i + 900])
        touched |= bool(todo)
        st = t["status"]
        if tags_now.get("sweeper.status") != st and (st in TERMINAL or stopped):
            c.set_tag(rid, "sweeper.status", st if st in TERMINAL else "interrupted")
            if st in ("error", "diverged") and t.get("reason"):
                c.set_tag(rid, "sweeper.error", str(t["reason"])[-5000:])
            touched = True
        want = TERMINAL.get(st, "KILLED" if stopped else None)
        if want and status_now != want:
            c.set_terminated(rid, status=want)
            touched = True
        return touched


