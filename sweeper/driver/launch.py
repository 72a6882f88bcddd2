"""Run a sweep with Ray Tune: OptunaSearch (or a grid), scheduler, resources, storage, failure policy, resume.

``launch(spec, ...)`` starts a local Ray instance with an explicit CPU count
(shut down afterwards) or joins a cluster with ``address``. Every trial runs
``trainables.trial.run_trial`` (through ``trainables.entry``) as one Ray task on any node, checkpoints at most
every ``search.checkpoint_every_s`` seconds plus after its last epoch, and is
retried from its last checkpoint up to ``search.max_failures`` times when it
raises or its node dies. A trial's process is reused for the next trial
(``trainables.reuse`` resets it). A trial that diverges reports
``diverged=1`` and stops; Optuna is told it failed; the sweep goes on.

``resume(sweep_dir)`` continues a sweep whose driver died: Tune restores the
experiment (finished trials are kept, unfinished ones continue from their
checkpoints; errored ones, by the sweep's own records, only with ``retry_errored``:
sweeper/driver/skip_errored.py) and the Optuna searcher state saved
with it; MLflow runs and Parquet rows are keyed by trial id, so nothing is
duplicated. Resuming a finished sweep only rewrites its tables.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from sweeper import report
from sweeper.driver import (
    build_check,
    local_ray,
    oom_kill,
    pickle_compat,
    preflight,
    process_setup,
    race_io,
    skip_errored,
    snapshot_period,
    wrapup,
)
from sweeper.driver.callbacks import sweep_callbacks
from sweeper.driver.interrupt import SignalGuard, SweepInterrupted  # noqa: F401  (SweepInterrupted: for the CLI)
from sweeper.driver.local_ray import RayStartError  # noqa: F401  (for the CLI)
from sweeper.driver.preflight import SweepExists  # noqa: F401  (part of this module's API)
from sweeper.driver.publish import log_best, publish_trial_figures, selected_trials
from sweeper.report.run import make_report
from sweeper.search import per_method, space, study
from sweeper.search.race_searcher import RaceSearcher
from sweeper.spec import Resources, SweepSpec
from sweeper.spec import from_dict as spec_from_dict
from sweeper.store import identity, mlflow_runs, provenance, sweepdir, tune_state
from sweeper.store.sweepdir import DEFAULT_OUT, NoSuchSweep, sweep_path  # noqa: F401  (re-exported)
from trainables.config import TrainConfig
from trainables.entry import run_trial  # torch-free: the trial code loads in the trial process
from trainables.overrides import CHECKPOINT_EVERY_S

# "module:function" of a trainable run instead of trainables.entry.run_trial (same signature; its
# module must be importable by every Ray worker): the fault tests' misbehaving trial (tests/support/)
TRAINABLE_ENV = "SWEEPER_TRAINABLE"


@dataclass(frozen=True)
class SweepResult:
    sweep_dir: Path
    trials: pd.DataFrame
    summary: pd.DataFrame
    metric: str
    mode: str
    mlflow_parent_run: str
    mlflow_experiment_id: str = ""


def trial_function():
    """``trainables.entry.run_trial``, or the function ``$SWEEPER_TRAINABLE`` names (``module:function``)."""
    value = os.environ.get(TRAINABLE_ENV, "")
    if not value:
        return run_trial
    module, _, name = value.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise preflight.PreflightError(f"{TRAINABLE_ENV}={value!r}: {e}; valid: module:function, "
                                       "importable by the driver and every Ray worker") from None


def _trainable(base: dict[str, Any], resources: Resources):
    """The function Tune runs per trial, with its base configuration and resources."""
    return tune.with_resources(tune.with_parameters(trial_function(), base=base),
                               {"cpu": resources.cpu, "gpu": resources.gpu})


def _run_config(spec: SweepSpec, sweep_dir: Path, storage: str, tracker: mlflow_runs.SweepTracker, base: dict,
                verbose: int, total: int = 0) -> tune.RunConfig:
    callbacks = sweep_callbacks(sweep_dir, spec, tracker, functools.partial(identity.derive, base), verbose, total)
    return tune.RunConfig(
        name="tune",
        storage_path=storage,
        failure_config=tune.FailureConfig(max_failures=spec.search.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        callbacks=callbacks,
        verbose=0,  # Tune's boxed tables are replaced by callbacks.ProgressCallback
    )


def launch(
    spec: SweepSpec,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    out: str | Path = DEFAULT_OUT,
    storage: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    name: str | None = None,
    overwrite: bool = False,
    verbose: int = 1,
    points: list[dict[str, Any]] | None = None,
    confirms: dict[str, Any] | None = None,
    optuna_storage: str | None = None,
) -> SweepResult:
    """Run ``spec`` as sweep ``name`` (default: the spec's name) under ``out``.

    ``points`` (used by ``sweeper confirm``): run exactly these configurations (dotted
    path -> value) on every seed of the spec, as a grid, instead of searching the
    spec's space; ``confirms``: where these configurations come from (``source``: the
    sweep id, recorded as the MLflow tag ``sweeper.confirms`` of the parent run, and
    in ``sweep.json`` and the Parquet metadata; see ``sweeper/commands/confirm.py``);
    ``optuna_storage``: an SQLAlchemy URL for the Optuna studies (default: ``optuna.db`` in the
    sweep folder; ``sweeper/search/study.py``).
    """
    if address and storage is None:
        logging.getLogger(__name__).warning(
            "--address without --storage: Tune state goes to the local sweep folder, which only works when "
            "every node shares this filesystem; on a multi-machine cluster pass --storage s3://BUCKET/PREFIX"
        )
    # Everything checkable is checked before anything is created or removed (sweeper/driver/preflight.py).
    sweep_id, sweep_dir, cpu, gpu = preflight.before_ray(
        spec, name=name, out=out, num_cpus=num_cpus, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
        address=address, overwrite=overwrite, storage=storage)
    spec = dataclasses.replace(spec, resources=Resources(cpu=cpu, gpu=gpu))  # per-trial resources, as resolved
    with wrapup.locked(sweep_dir):  # one driver per sweep: taken before anything is written
        if (sweep_dir / sweepdir.META).exists() and not overwrite:  # another driver created it meanwhile
            raise SweepExists(f"sweep {sweep_id!r} already exists in {sweep_dir}: continue it with "
                              f"`sweeper resume {sweep_id}`, or start another with --name NEW_NAME (nothing was changed)")
        networks = None if address else build_check.start(spec)  # runs while Ray starts
        try:
            started = local_ray.start_or_join(address, num_cpus)
        except BaseException:
            build_check.stop(networks)
            raise
        try:
            preflight.check_cluster(cpu, gpu, joined=address is not None)
            build_check.wait(networks, spec)
            tracker = _create(spec, sweep_dir, sweep_id, overwrite, storage, points, confirms)
            _new_study_storage(sweep_dir, sweep_id, optuna_storage, overwrite)
        except BaseException:
            build_check.stop(networks)
            if started:
                local_ray.shut_down()
            raise
        return _run(sweep_dir, spec, tracker, address, num_cpus, restore=False, verbose=verbose, ray_started=started)


def _create(spec: SweepSpec, sweep_dir: Path, sweep_id: str, overwrite: bool, storage: str | None,
            points: list[dict[str, Any]] | None = None,
            confirms: dict[str, Any] | None = None) -> mlflow_runs.SweepTracker:
    """The sweep folder, spec.yaml, sweep.json and a new MLflow parent run (after every check passed).

    A failure before sweep.json exists removes spec.yaml again: the folder is then empty but for the
    lock, and ``wrapup.locked`` removes it, so the same command can simply be run again."""
    try:
        return _create_files(spec, sweep_dir, sweep_id, overwrite, storage, points, confirms)
    except BaseException:
        if not (sweep_dir / sweepdir.META).exists():
            (sweep_dir / sweepdir.SPEC).unlink(missing_ok=True)
        raise


def _create_files(spec: SweepSpec, sweep_dir: Path, sweep_id: str, overwrite: bool, storage: str | None,
                  points: list[dict[str, Any]] | None,
                  confirms: dict[str, Any] | None) -> mlflow_runs.SweepTracker:
    if overwrite and (sweep_dir / sweepdir.META).exists():
        # preflight.check_target accepted it; the folder itself stays: it holds our driver.lock
        logging.getLogger(__name__).warning(wrapup.clear_sweep_dir(sweep_dir) + f" of sweep {sweep_id!r}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    stored = spec.to_dict()  # the stored form: spec.yaml, sweep.json's fingerprint, resolved.yaml
    sweepdir.atomic_write_text(sweep_dir / sweepdir.SPEC, yaml.safe_dump(stored, sort_keys=False))
    tracker = mlflow_runs.SweepTracker(sweep_id, experiment=spec.name, run_name=sweep_id, fresh=True)
    wrapup.write_meta(
        sweep_dir, sweep_id=sweep_id, spec_source=spec.source, mlflow_uri=tracker.uri,
        mlflow_parent_run=tracker.parent_id, mlflow_experiment=spec.name,
        storage=storage or str(sweep_dir), started=time.time(), **wrapup.spec_fingerprint(spec.source, stored),
        **({"points": points} if points is not None else {}), **({"confirms": confirms} if confirms else {}),
        total_trials=per_method.trial_count(spec, points),
    )
    if confirms:
        tracker.client.set_tag(tracker.parent_id, "sweeper.confirms", confirms["source"])
    tracker.log_sweep(
        {"sampler": spec.search.sampler, "metric": ",".join(spec.search.metric), "num_samples": spec.search.num_samples,
         "seeds": ",".join(map(str, spec.seeds)), "scheduler": spec.search.scheduler, "spec": spec.source},
        sweep_dir / sweepdir.SPEC,
    )
    provenance.record(sweep_dir, tracker.client, tracker.parent_id)
    provenance.record_base(sweep_dir, stored, tracker.client, tracker.parent_id)
    tracker.describe(spec.description)
    return tracker


def _new_study_storage(sweep_dir: Path, sweep_id: str, url: str | None, overwrite: bool) -> None:
    """Record a given Optuna storage URL in sweep.json; with --overwrite, drop the sweep's old studies there."""
    if url:
        wrapup.write_meta(sweep_dir, optuna_storage=url)
        if overwrite:
            study.delete_studies(url, sweep_id)


def _publish(sweep_dir: Path, tracker: mlflow_runs.SweepTracker, trials: pd.DataFrame, summary: pd.DataFrame,
             spec: SweepSpec, verbose: int) -> None:
    """Best configuration to the parent run; the figures of the trials ``search.trial_figures`` selects
    to their child runs (a figure bug never fails a sweep). The sweep figures are drawn once, by the
    report (``_write_report``)."""
    try:
        log_best(sweep_dir, tracker, summary, spec.search.metric[0])
        only = selected_trials(trials, summary, spec.search.trial_figures)
        _phase(verbose, f"drawing per-trial figures ({'every finished trial' if only is None else f'{len(only)} trials'}, "
                        f"search.trial_figures: {spec.search.trial_figures})")
        publish_trial_figures(sweep_dir, tracker, only=only)
    except Exception as e:  # noqa: BLE001
        logging.getLogger(__name__).warning("figures were not drawn: %s: %s", type(e).__name__, e)


def _phase(verbose: int, what: str) -> None:
    """A line on stderr for each step after the last trial ended (the progress view has stopped)."""
    if verbose:
        print(f"[{time.strftime('%H:%M:%S')}] end of sweep: {what}", file=sys.stderr, flush=True)


def resume(sweep: str | Path, *, address: str | None = None, num_cpus: int | None = None,
           out: str | Path = DEFAULT_OUT, retry_errored: bool = False, verbose: int = 1,
           restart_errored: bool = False) -> SweepResult:
    """Continue sweep ``sweep`` from its folder: the stored spec is validated once and passed on.

    Trials that ended in error stay so, unless ``retry_errored`` (continued from their last checkpoint)
    or ``restart_errored`` (run again from scratch, as new Tune trials that replace them: for a trial
    whose every checkpoint is damaged)."""
    sweep_dir = preflight.before_resume(sweep, out, num_cpus=num_cpus, address=address, retry_errored=retry_errored,
                                        restart_errored=restart_errored)
    with wrapup.locked(sweep_dir):
        meta = sweepdir.read_meta(sweep_dir)
        stored = sweepdir.read_spec(sweep_dir)
        sweepdir.check_spec_unchanged(sweep_dir, meta, stored)
        spec = spec_from_dict(stored, source=str(sweep_dir / sweepdir.SPEC))
        process_setup.default_mlflow_uri(meta["mlflow_uri"])
        tracker = mlflow_runs.SweepTracker(meta["sweep_id"], experiment=meta["mlflow_experiment"],
                                           run_name=meta["sweep_id"])
        provenance.record(sweep_dir, tracker.client, tracker.parent_id)
        pickle_compat.install()  # a sweep launched with the flat layout pickled its callbacks under older names
        return _run(sweep_dir, spec, tracker, address, num_cpus, restore=True, verbose=verbose,
                    retry_errored=retry_errored, restart_errored=restart_errored)


def _write_report(sweep_dir: Path) -> None:
    """``sweeper report`` of the finished sweep into ``<sweep>/report/``, logged to the parent run. The
    sweep's results are already stored, so a report that fails is logged with the command to rerun, not raised."""
    try:
        make_report([sweep_dir])
    except Exception as e:  # noqa: BLE001 - hours of finished trials must not end in a traceback here
        logging.getLogger(__name__).warning("the report of %s failed (%s: %s); rerun `sweeper report %s`",
                                            sweep_dir.name, type(e).__name__, e, sweep_dir)


def _new_tuner(spec: SweepSpec, sweep_dir: Path, meta: dict, tracker: mlflow_runs.SweepTracker, base: dict,
               verbose: int) -> tune.Tuner:
    """A fresh Tune experiment: the searcher (or grid), the scheduler, the callbacks."""
    metric, mode = spec.search.objective
    param_space, searcher, num_samples = space.search_setup(
        spec, meta.get("points"), study=(study.storage_url(sweep_dir, meta), meta["sweep_id"]),
        race_io=race_io.RaceIO(sweep_dir, metric))
    raced = isinstance(searcher, RaceSearcher)  # it limits concurrency itself (Ray's limiter forgets on resume)
    scheduler = (
        ASHAScheduler(time_attr="epoch", max_t=TrainConfig(**base["train"]).epochs, grace_period=spec.search.grace_period,
                      reduction_factor=spec.search.reduction_factor)
        if spec.search.scheduler == "asha" else FIFOScheduler()
    )
    by_tune = searcher is None or spec.search.scheduler == "asha"  # else the searcher holds metric and mode
    return tune.Tuner(
        _trainable(base, spec.resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=num_samples,
            metric=metric if by_tune else None,
            mode=mode if by_tune else None,
            max_concurrent_trials=None if raced else spec.search.max_concurrent or None,
            # A finished trial's process runs the next trial (imports and datasets stay loaded;
            # trainables.reuse resets its state). SWEEPER_REUSE_PROCESSES=0: a fresh process each.
            reuse_actors=os.environ.get("SWEEPER_REUSE_PROCESSES", "1") != "0",
            trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
            trial_name_creator=lambda t: f"{sweep_dir.name}-{t.trial_id}",
        ),
        run_config=_run_config(spec, sweep_dir, meta["storage"], tracker, base, verbose, int(meta.get("total_trials", 0))),
    )


def _tuner(spec: SweepSpec, sweep_dir: Path, meta: dict, tracker: mlflow_runs.SweepTracker, base: dict,
           verbose: int, restore: bool, retry_errored: bool, restart_errored: bool = False) -> tune.Tuner:
    """Tune's experiment: restored from the sweep's storage on resume (when there is one), else new."""
    tune_path = str(meta["storage"]).rstrip("/") + "/tune"
    if not (restore and tune.Tuner.can_restore(tune_path)):
        return _new_tuner(spec, sweep_dir, meta, tracker, base, verbose)
    known = tune_state.known_trial_ids(tune_state.tune_storage(sweep_dir))
    if known is not None:
        tracker.drop_orphans(known)  # runs of trials created after Tune's last snapshot
    # the trials the sweep's records say ended in error are ERROR for Tune, whatever its last snapshot
    # said: skipped, continued (--retry-errored) or restarted (--restart-errored) as such (skip_errored.py)
    skip_errored.install(skip_errored.ended_in_error(sweep_dir, base), spec.search.max_failures)
    url = study.storage_url(sweep_dir, meta)
    os.environ[study.ENV] = url  # the restored searchers read their studies there (the folder may have moved)
    os.environ[race_io.ENV] = str(sweep_dir)  # and a race searcher its results and race.json
    if known is not None and (meta.get("optuna_storage") or (sweep_dir / study.DB).exists()):
        study.release_orphans(url, meta["sweep_id"], known)  # configurations asked but never run: reused
    return tune.Tuner.restore(tune_path, trainable=_trainable(base, spec.resources), resume_unfinished=True,
                              resume_errored=retry_errored, restart_errored=restart_errored and not retry_errored)


def _start(sweep_dir: Path, tracker: mlflow_runs.SweepTracker, guard: SignalGuard, address: str | None,
           num_cpus: int | None, ray_started: bool | None) -> bool:
    """Ray started or joined (True when this driver started it); an interruption or a failed start is recorded."""
    guard.install()
    try:
        started = local_ray.start_or_join(address, num_cpus) if ray_started is None else ray_started
        guard.install()  # after ray.init, which installs its own SIGTERM handler
    except SweepInterrupted as e:
        guard.__exit__()
        raise wrapup.interrupted_before_start(sweep_dir, tracker, e.signum) from None
    except BaseException as e:  # Ray did not start: say so in sweep.json and MLflow
        guard.__exit__()
        wrapup.record_failure(sweep_dir, tracker, e)
        raise
    wrapup.write_meta(sweep_dir, driver_pid=os.getpid(), driver_host=socket.gethostname(), status="running",
                      interrupted_by=None)
    return started


def _run(sweep_dir: Path, spec: SweepSpec, tracker: mlflow_runs.SweepTracker, address: str | None,
         num_cpus: int | None, restore: bool, verbose: int, retry_errored: bool = False, restart_errored: bool = False,
         ray_started: bool | None = None) -> SweepResult:
    base = {**identity.trial_base(spec), CHECKPOINT_EVERY_S: spec.search.checkpoint_every_s}
    meta = sweepdir.read_meta(sweep_dir)
    metric, mode = spec.search.objective
    # Tune's driver environment (no strict metric check: a diverged trial reports no objective;
    # experiment snapshots every search.snapshot_every_s; only the JSON logger; legacy output;
    # enough pending trials) and log levels: sweeper/driver/process_setup.py
    process_setup.prepare_tune_driver(spec.search.num_samples * len(spec.seeds), spec.search.snapshot_every_s)
    guard = SignalGuard(on_abort=functools.partial(wrapup.abort, sweep_dir))
    started = _start(sweep_dir, tracker, guard, address, num_cpus, ray_started)
    try:
        tuner = _tuner(spec, sweep_dir, meta, tracker, base, verbose, restore, retry_errored, restart_errored)
        oom_kill.install()  # an OOM-killed trial fails alone (Ray 2.60's Tune would stop the sweep)
        snapshot_period.install()  # Tune's snapshots at a bounded byte rate (sweeper/driver/snapshot_period.py)
        tuner.fit()
        if restart_errored:  # the restarted trials (new ids) replaced the errored ones: so do their runs
            known = tune_state.known_trial_ids(tune_state.tune_storage(sweep_dir))
            if known is not None:
                tracker.drop_orphans(known)
    except SweepInterrupted:
        pass  # before Tune's loop ran: nothing to stop; recorded below
    except BaseException as e:
        wrapup.record_failure(sweep_dir, tracker, e)
        raise
    finally:
        _phase(verbose, "writing the tables from every trial folder")
        rows = wrapup.final_tables(sweep_dir, spec)
        if started:
            local_ray.shut_down()
    try:
        trials = report.load_trials(sweep_dir)
        summary = report.summarize(trials, metric, mode)
        if guard.signum is None:  # an interrupted sweep ends fast: figures come with the resumed one
            _publish(sweep_dir, tracker, trials, summary, spec, verbose)
        _phase(verbose, "recording the sweep's end in MLflow")
        wrapup.end_sweep(sweep_dir, tracker, rows, trials, summary, metric, guard.signum)
    finally:
        guard.__exit__()
    _phase(verbose, "writing the report")
    _write_report(sweep_dir)
    return SweepResult(sweep_dir, trials, summary, metric, mode, tracker.parent_id, tracker.experiment_id)
