"""The driver's bookkeeping around ``Tuner.fit``: the lock, sweep.json, and how a sweep ends.

A sweep ends in one of three ways, each recorded in ``sweep.json`` (``status``) and MLflow:

- ``finished``: Tune's loop ran out of trials. Parent run FINISHED.
- ``interrupted``: SIGINT / SIGTERM (sweeper.driver.interrupt). Trials were stopped, their state saved;
  the parent and every unfinished child run are KILLED; the CLI exits 130 / 143 and prints how
  to resume.
- ``failed``: the driver itself raised. Parent FAILED; ``resume`` continues.

A driver killed outright (SIGKILL, power loss) leaves ``status: running`` and a lock naming a
dead process: ``sweeper status`` tells that apart from a live driver (sweeper.commands.status).

In every case the tables are written first (from the trial folders, with retries) and MLflow
is then reconciled with them (sweeper.store.mlflow_runs.SweepTracker.reconcile), so whatever a transient
MLflow failure kept out during the sweep is logged now, or on the next ``resume``.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from sweeper.driver.interrupt import SweepInterrupted
from sweeper.spec import SweepSpec
from sweeper.store import sweepdir, tables
from sweeper.store.mlflow_runs import STATUSES
from sweeper.store.retry import retry

log = logging.getLogger("sweeper")
META_BUDGET_S = 120.0
TABLES_BUDGET_S = 300.0


@contextlib.contextmanager
def locked(sweep_dir: Path) -> Iterator[sweepdir.DriverLock]:
    """Hold the sweep's driver lock, taken before anything is written.

    The folders this driver's own ``mkdir`` created (the sweep folder, a new ``sweeps/``) are
    removed again when the driver is refused or stops before writing anything, with ``rmdir`` only:
    a folder holding anything (another driver's lock, a sweep) is never removed, whoever made it.
    Whether a sweep exists is decided by the caller under the lock, never before it."""
    sweep_dir = Path(sweep_dir).resolve()
    created = _make_dirs(sweep_dir)
    lock = sweepdir.DriverLock(sweep_dir)
    try:
        lock.acquire()
    except sweepdir.SweepLocked:
        _remove_empty(created)
        raise
    try:
        yield lock
    finally:
        lock.release()
        _remove_empty(created)  # refused (bad input, existing sweep) before anything was written


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created by this call, innermost first."""
    created = []
    for p in reversed([folder, *folder.parents]):
        if p.exists():
            continue
        try:
            p.mkdir()
            created.append(p)
        except FileExistsError:
            pass  # made by another process meanwhile: not ours to remove
    return created[::-1]


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this driver created (innermost first) while they are empty."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return


def clear_sweep_dir(sweep_dir: Path) -> str:
    """--overwrite: delete the sweep folder's content, keeping the lock this driver holds; returns what
    was removed, for the user."""
    n = sum(1 for p in Path(sweep_dir).rglob("*") if p.name != sweepdir.LOCK)
    for p in Path(sweep_dir).iterdir():
        if p.name == sweepdir.LOCK:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    return f"--overwrite: removed the content of the sweep folder {sweep_dir} ({n} files and folders)"


def write_meta(sweep_dir: Path, **kw: Any) -> dict:
    """Update sweep.json atomically, retrying transient I/O errors."""
    return retry(lambda: sweepdir.write_meta(sweep_dir, **kw), what="writing sweep.json", budget_s=META_BUDGET_S)


def spec_fingerprint(source: str, spec_dict: dict) -> dict[str, Any]:
    """What ``resume`` checks the spec against: hash + copy of the resolved spec, and the text of
    the spec file it was launched from (when it is a file)."""
    out: dict[str, Any] = {"spec_sha256": sweepdir.spec_hash(spec_dict), "spec_resolved": spec_dict}
    try:
        if source and Path(source).is_file():
            out["spec_source_text"] = Path(source).read_text()
    except OSError:
        pass
    return out


def resume_hint(sweep_dir: Path) -> str:
    return f"continue it with: sweeper resume {Path(sweep_dir).name} --out {Path(sweep_dir).parent}"


def _interrupted(sweep_dir: Path, tracker, signum: int, n_trials: int | None, summary: dict) -> SweepInterrupted:
    name = signal.Signals(signum).name
    write_meta(sweep_dir, status="interrupted", interrupted_by=name, interrupted=time.time(),
               **({"trials": n_trials} if n_trials is not None else {}))
    try:
        tracker.finish(summary, status="KILLED")
    except Exception as e:  # noqa: BLE001 - recorded on resume
        log.warning("MLflow: could not mark the parent run KILLED (%s)", str(e)[:200])
    return SweepInterrupted(signum, f"sweep {Path(sweep_dir).name} interrupted by {name}: unfinished trials were "
                                    f"stopped and keep their checkpoints; {resume_hint(sweep_dir)}")


def abort(sweep_dir: Path, signum: int) -> str:
    """A second signal (the driver is about to ``os._exit``): mark ``sweep.json`` interrupted with one
    atomic write, nothing slower (no retries, MLflow, Ray); returns what to tell the user. The
    tables and MLflow are brought up to date by ``resume``."""
    name = signal.Signals(signum).name
    sweepdir.write_meta(sweep_dir, status="interrupted", interrupted_by=f"{name} twice",
                        interrupted=time.time())
    return f"sweep {Path(sweep_dir).name} is marked interrupted; {resume_hint(sweep_dir)}"


def interrupted_before_start(sweep_dir: Path, tracker, signum: int) -> SweepInterrupted:
    return _interrupted(sweep_dir, tracker, signum, None, {})


def record_failure(sweep_dir: Path, tracker, error: BaseException) -> None:
    """The driver raised: say so in sweep.json and MLflow (best effort; the error is re-raised)."""
    try:
        write_meta(sweep_dir, status="failed", error=f"{type(error).__name__}: {error}"[-2000:], failed=time.time())
        tracker.finish({}, status="FAILED")
    except Exception as e:  # noqa: BLE001
        log.warning("could not record the driver's failure: %s", str(e)[:200])


def final_tables(sweep_dir: Path, spec: SweepSpec) -> tuple[list[dict], list[dict]] | None:
    """Write the tables (retrying transient errors); None if they could not be written."""
    try:
        # Tune has stopped: each file is read once (no waiting out a rewrite)
        return retry(lambda: tables.rebuild(sweep_dir, spec, settled=True), what="writing the tables",
                     budget_s=TABLES_BUDGET_S)
    except Exception as e:  # noqa: BLE001 - `resume` rewrites them; the trial folders hold everything
        log.error("could not write the tables of %s (%s); `sweeper resume` rewrites them", sweep_dir, e)
        return None


def summary_metrics(trials: pd.DataFrame, summary: pd.DataFrame, metric: str) -> dict[str, float]:
    """The parent run's metrics: the selected configuration's objective, mean over its distinct seeds
    (``selected_<metric>``; not ``best_<metric>``, which every child run logs as its own best epoch's
    value), and a count per status (every status, zero included, so a count from an earlier run never
    goes stale)."""
    out = {}
    if len(summary) and metric in summary and pd.notna(summary[metric].iloc[0]):
        out[f"selected_{metric}"] = float(summary[metric].iloc[0])
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    for s in sorted(set(STATUSES) | set(counts)):
        out[f"trials_{s}"] = float(counts.get(s, 0))
    return out


def end_sweep(sweep_dir: Path, tracker, rows, trials: pd.DataFrame, summary: pd.DataFrame, metric: str,
              signum: int | None) -> None:
    """After ``Tuner.fit`` returned: reconcile MLflow with the tables, then record how the sweep
    ended; raises :class:`SweepInterrupted` when a signal stopped it."""
    if rows is not None:
        try:
            tracker.reconcile(*rows, stopped=True)
        except Exception as e:  # noqa: BLE001 - reconciled again on resume
            log.warning("MLflow: could not reconcile the runs with the tables (%s); `sweeper resume` does it", str(e)[:300])
    best = summary_metrics(trials, summary, metric)
    if signum is not None:
        raise _interrupted(sweep_dir, tracker, signum, len(trials), best)
    tracker.finish(best)
    write_meta(sweep_dir, status="finished", finished=time.time(), trials=len(trials))
