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
checkpoints, errored ones are retried) and the Optuna searcher state saved
with it; MLflow runs and Parquet rows are keyed by trial id, so nothing is
duplicated. Resuming a finished sweep only rewrites its tables.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sweeper import oom_kill, per_method, preflight, progress, provenance, report, results, space, sweepdir, tracking, wrapup
from sweeper import process_setup
from sweeper.interrupt import SignalGuard, SweepInterrupted  # noqa: F401  (SweepInterrupted: for the CLI)
from sweeper.preflight import SweepExists  # noqa: F401  (part of this module's API)
from sweeper.sweepdir import DEFAULT_OUT, NoSuchSweep, sweep_path  # noqa: F401  (re-exported)
from sweeper.spec import SweepSpec
from sweeper.spec import from_dict as spec_from_dict
from trainables.config import TrainConfig
from trainables.entry import CHECKPOINT_EVERY_S, run_trial  # torch-free: the trial code loads in the trial process


@dataclass(frozen=True)
class SweepResult:
    sweep_dir: Path
    trials: pd.DataFrame
    summary: pd.DataFrame
    metric: str
    mode: str
    mlflow_parent_run: str


def _init_ray(address: str | None, num_cpus: int | None, num_gpus: float | None) -> bool:
    """Start or join Ray; True when we started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    env = {"env_vars": {"PYTHONWARNINGS": "ignore::DeprecationWarning"}}
    if address:
        process_setup.ray_token_auth()  # an explicit ip:port against a token cluster needs RAY_AUTH_MODE=token
        ray.init(address=address, runtime_env=env, log_to_driver=False)
        return True
    from sweeper import local_ray

    local_ray.private_token_file()  # Ray would write ~/.ray/auth_token world-readable
    with local_ray.loopback_only():  # every server of the local node binds 127.0.0.1 only
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            num_gpus=num_gpus,
            include_dashboard=False,
            runtime_env=env,
            log_to_driver=False,
        )
    return True


def _trainable(base: dict[str, Any], cpu: float, gpu: float):
    from ray import tune

    return tune.with_resources(tune.with_parameters(run_trial, base=base), {"cpu": cpu, "gpu": gpu})


def _run_config(spec_dict: dict, sweep_dir: Path, storage: str, tracker: tracking.SweepTracker, base: dict, verbose: int,
                total: int = 0):
    from ray import tune

    from sweeper import tune_loggers
    from sweeper.watchdog import TrialWatchdog

    callbacks = [progress.ProgressCallback(
        sweep_dir.name, total, *progress.objective(spec_dict),
        functools.partial(results.trial_identity, base),
        unknown_budget=progress.expected_budget(spec_dict))] if verbose else []
    callbacks += [
        *tune_loggers.callbacks(),  # result.json only: Tune's CSV and TensorBoard files are not written
        results.LedgerCallback(sweep_dir, spec_dict),
        tracking.MLflowTrialCallback(tracker, functools.partial(results.trial_params, base),
                                     functools.partial(results.trial_identity, base)),
        TrialWatchdog(sweep_dir, spec_dict["search"].get("trial_timeout_s"),
                      retry_timeouts=bool(spec_dict["search"].get("retry_timeouts", False)),
                      max_failures=int(spec_dict["search"]["max_failures"])),
    ]
    return tune.RunConfig(
        name="tune",
        storage_path=storage,
        failure_config=tune.FailureConfig(max_failures=spec_dict["search"]["max_failures"]),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        callbacks=callbacks,
        verbose=0,  # Tune's boxed tables are replaced by progress.ProgressCallback
    )


def _write_meta(sweep_dir: Path, **kw: Any) -> dict:
    return wrapup.write_meta(sweep_dir, **kw)


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
) -> SweepResult:
    """Run ``spec`` as sweep ``name`` (default: the spec's name) under ``out``.

    ``points`` (used by ``sweeper confirm``): run exactly these configurations (dotted
    path -> value) on every seed of the spec, as a grid, instead of searching the
    spec's space; ``confirms``: where these configurations come from (``source``: the
    sweep id, recorded as the MLflow tag ``sweeper.confirms`` of the parent run, and
    in ``sweep.json`` and the Parquet metadata; see ``sweeper/confirm.py``).
    """
    if address and storage is None:
        logging.getLogger(__name__).warning(
            "--address without --storage: Tune state goes to the local sweep folder, which only works when "
            "every node shares this filesystem; on a multi-machine cluster pass --storage s3://BUCKET/PREFIX"
        )
    # Everything checkable is checked before anything is created or removed (sweeper/preflight.py).
    sweep_id, sweep_dir, cpu, gpu = preflight.before_ray(
        spec, name=name, out=out, num_cpus=num_cpus, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
        address=address, overwrite=overwrite)
    with wrapup.locked(sweep_dir):  # one driver per sweep: taken before anything is written
        if (sweep_dir / "sweep.json").exists() and not overwrite:  # another driver created it meanwhile
            raise SweepExists(f"sweep {sweep_id!r} already exists in {sweep_dir}: continue it with "
                              f"`sweeper resume {sweep_id}`, or start another with --name NEW_NAME (nothing was changed)")
        started = _init_ray(address, num_cpus, None)
        try:
            preflight.check_cluster(cpu, gpu)
            tracker = _create(spec, sweep_dir, sweep_id, overwrite, storage, cpu, gpu, points, confirms)
        except BaseException:
            if started:
                import ray

                ray.shutdown()
            raise
        spec_dict = yaml.safe_load((sweep_dir / "spec.yaml").read_text())
        return _run(sweep_dir, spec_dict, tracker, address, num_cpus, restore=False, verbose=verbose,
                    ray_started=started)


def _create(spec: SweepSpec, sweep_dir: Path, sweep_id: str, overwrite: bool, storage: str | None,
            cpu: float, gpu: float, points: list[dict[str, Any]] | None = None,
            confirms: dict[str, Any] | None = None) -> tracking.SweepTracker:
    """The sweep folder, spec.yaml, sweep.json and a new MLflow parent run (after every check passed)."""
    if overwrite and (sweep_dir / "sweep.json").exists():
        # preflight.check_target accepted it; the folder itself stays: it holds our driver.lock
        logging.getLogger(__name__).warning(wrapup.clear_sweep_dir(sweep_dir) + f" of sweep {sweep_id!r}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    spec_dict = spec.to_dict()
    spec_dict["resources"] = {"cpu": cpu, "gpu": gpu}
    sweepdir.atomic_write_text(sweep_dir / "spec.yaml", yaml.safe_dump(spec_dict, sort_keys=False))
    tracker = tracking.SweepTracker(sweep_id, experiment=spec.name, run_name=sweep_id, fresh=True)
    _write_meta(
        sweep_dir, sweep_id=sweep_id, spec_source=spec.source, mlflow_uri=tracker.uri,
        mlflow_parent_run=tracker.parent_id, mlflow_experiment=spec.name,
        storage=storage or str(sweep_dir), started=time.time(), **wrapup.spec_fingerprint(spec.source, spec_dict),
        **({"points": points} if points is not None else {}), **({"confirms": confirms} if confirms else {}),
        total_trials=per_method.trial_count(spec, points),
    )
    if confirms:
        tracker.client.set_tag(tracker.parent_id, "sweeper.confirms", confirms["source"])
    tracker.log_sweep(
        {"sampler": spec.search.sampler, "metric": ",".join(spec.search.metric), "num_samples": spec.search.num_samples,
         "seeds": ",".join(map(str, spec.seeds)), "scheduler": spec.search.scheduler, "spec": spec.source},
        sweep_dir / "spec.yaml",
    )
    provenance.record(sweep_dir, tracker.client, tracker.parent_id)
    provenance.record_base(sweep_dir, spec_dict, tracker.client, tracker.parent_id)
    tracker.describe(spec.description)
    return tracker


def _publish(sweep_dir: Path, tracker: tracking.SweepTracker, summary: pd.DataFrame, metric: str, mode: str) -> None:
    """Best configuration to the parent run; each trial's figures to its child run (a figure bug never fails a
    sweep). The sweep figures are drawn once, by the report (``_write_report``)."""
    try:
        from sweeper.publish import log_best, publish_trial_figures

        log_best(sweep_dir, tracker, summary, metric)

        publish_trial_figures(sweep_dir, tracker)
    except Exception as e:  # noqa: BLE001
        logging.getLogger(__name__).warning("figures were not drawn: %s: %s", type(e).__name__, e)


def resume(sweep: str | Path, *, address: str | None = None, num_cpus: int | None = None,
           out: str | Path = DEFAULT_OUT, retry_errored: bool = False, verbose: int = 1) -> SweepResult:
    sweep_dir = sweep_path(sweep, out)
    preflight.check_flags(num_cpus, 1.0, 0.0, local=False)
    preflight.check_address(address)
    preflight.check_sweep_writable(sweep_dir)
    with wrapup.locked(sweep_dir):
        meta = sweepdir.read_meta(sweep_dir)
        spec_dict = sweepdir.read_spec(sweep_dir)
        sweepdir.check_spec_unchanged(sweep_dir, meta, spec_dict)
        return _resume_locked(sweep_dir, meta, spec_dict, address, num_cpus, retry_errored, verbose)


def _resume_locked(sweep_dir: Path, meta: dict, spec_dict: dict, address, num_cpus, retry_errored: bool,
                   verbose: int) -> SweepResult:
    process_setup.default_mlflow_uri(meta["mlflow_uri"])
    tracker = tracking.SweepTracker(meta["sweep_id"], experiment=meta["mlflow_experiment"], run_name=meta["sweep_id"])
    provenance.record(sweep_dir, tracker.client, tracker.parent_id)
    return _run(sweep_dir, spec_dict, tracker, address, num_cpus, restore=True, verbose=verbose,
                retry_errored=retry_errored)


def _write_report(sweep_dir: Path) -> None:
    """``sweeper report`` of the finished sweep into ``<sweep>/report/``, logged to the parent run. The
    sweep's results are already stored, so a report that fails is logged with the command to rerun, not raised."""
    from sweeper.report.run import make_report

    try:
        make_report([sweep_dir])
    except Exception as e:  # noqa: BLE001 - hours of finished trials must not end in a traceback here
        logging.getLogger(__name__).warning("the report of %s failed (%s: %s); rerun `sweeper report %s`",
                                            sweep_dir.name, type(e).__name__, e, sweep_dir)


def _run(sweep_dir: Path, spec_dict: dict, tracker: tracking.SweepTracker, address: str | None,
         num_cpus: int | None, restore: bool, verbose: int, retry_errored: bool = False,
         ray_started: bool | None = None) -> SweepResult:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    spec = spec_from_dict(spec_dict, source=str(sweep_dir / "spec.yaml"))
    base = {**results.trial_base(spec.to_dict()), CHECKPOINT_EVERY_S: spec.search.checkpoint_every_s}
    meta = sweepdir.read_meta(sweep_dir)
    res = spec_dict["resources"]
    trainable = _trainable(base, float(res["cpu"]), float(res["gpu"]))
    metric, mode = spec.search.metric[0], spec.search.mode[0]
    # Tune's driver environment (no strict metric check: a diverged trial reports no objective;
    # experiment snapshots every search.snapshot_every_s; only the JSON logger; legacy output;
    # enough pending trials) and log levels: sweeper/process_setup.py
    process_setup.prepare_tune_driver(spec.search.num_samples * len(spec.seeds), spec.search.snapshot_every_s)
    guard = SignalGuard(on_abort=functools.partial(wrapup.abort, sweep_dir))
    guard.install()
    try:
        started = _init_ray(address, num_cpus, None) if ray_started is None else ray_started
        guard.install()  # after ray.init, which installs its own SIGTERM handler
    except SweepInterrupted as e:
        guard.__exit__()
        raise wrapup.interrupted_before_start(sweep_dir, tracker, e.signum) from None
    except BaseException as e:  # Ray did not start: say so in sweep.json and MLflow
        guard.__exit__()
        wrapup.record_failure(sweep_dir, tracker, e)
        raise
    _write_meta(sweep_dir, driver_pid=os.getpid(), driver_host=socket.gethostname(), status="running",
                interrupted_by=None)
    try:
        tune_path = str(meta["storage"]).rstrip("/") + "/tune"
        if restore and tune.Tuner.can_restore(tune_path):
            known = results.known_trial_ids(results.tune_storage(sweep_dir))
            if known is not None:
                tracker.drop_orphans(known)  # runs of trials created after Tune's last snapshot
            tuner = tune.Tuner.restore(tune_path, trainable=trainable, resume_unfinished=True,
                                       resume_errored=retry_errored)
        else:
            param_space, searcher, num_samples = space.search_setup(spec, meta.get("points"))
            epochs = TrainConfig(**base["train"]).epochs
            scheduler = (
                ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=spec.search.grace_period,
                              reduction_factor=spec.search.reduction_factor)
                if spec.search.scheduler == "asha" else FIFOScheduler()
            )
            tuner = tune.Tuner(
                trainable,
                param_space=param_space,
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    scheduler=scheduler,
                    num_samples=num_samples,
                    metric=metric if searcher is None or spec.search.scheduler == "asha" else None,
                    mode=mode if searcher is None or spec.search.scheduler == "asha" else None,
                    max_concurrent_trials=spec.search.max_concurrent or None,
                    # A finished trial's process runs the next trial (imports and datasets stay loaded;
                    # trainables.reuse resets its state). SWEEPER_REUSE_PROCESSES=0: a fresh process each.
                    reuse_actors=os.environ.get("SWEEPER_REUSE_PROCESSES", "1") != "0",
                    trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
                    trial_name_creator=lambda t: f"{sweep_dir.name}-{t.trial_id}",
                ),
                run_config=_run_config(spec_dict, sweep_dir, meta["storage"], tracker, base, verbose,
                                       int(meta.get("total_trials", 0))),
            )
        oom_kill.install()  # an OOM-killed trial fails alone (Ray 2.60's Tune would stop the sweep)
        tuner.fit()
    except SweepInterrupted:
        pass  # before Tune's loop ran: nothing to stop; recorded below
    except BaseException as e:
        wrapup.record_failure(sweep_dir, tracker, e)
        raise
    finally:
        rows = wrapup.final_tables(sweep_dir, spec_dict)
        if started:
            import ray

            ray.shutdown()
    try:
        trials = report.load_trials(sweep_dir)
        summary = report.summarize(trials, metric, mode)
        if guard.signum is None:  # an interrupted sweep ends fast: figures come with the resumed one
            _publish(sweep_dir, tracker, summary, metric, mode)
        wrapup.end_sweep(sweep_dir, tracker, rows, trials, summary, metric, guard.signum)
    finally:
        guard.__exit__()
    _write_report(sweep_dir)
    return SweepResult(sweep_dir, trials, summary, metric, mode, tracker.parent_id)
