"""End of a sweep: the best configuration and each trial's figures to MLflow.

Sweep-level figures are drawn once, by the report (``sweeper.report.run`` calls
``sweeper.figures.sweep_figures`` into ``<sweep>/report/figures/``, logged with the
report folder to the parent run's ``report/``). Here each finished trial's own
figures (learning curve, reliability diagram) go to its child run's ``figures/``;
a resumed sweep does not log a trial's figures twice. Drawing reads only the
Parquet tables.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import tempfile
from pathlib import Path

import pandas as pd

from sweeper import tracking
from sweeper.columns import read_trials
from sweeper.labels import config_name
from sweeper.figures import trial_figures


def publish_trial_figures(sweep_dir: Path, tracker: tracking.SweepTracker, workers: int | None = None) -> int:
    """Draw and log each finished trial's figures to its child run; returns how many runs got figures.

    Drawing (matplotlib's layout and Agg rendering, ~0.2-0.5 s a figure, two figures a
    trial) is most of this step's time, so it runs in ``workers`` processes (default: the
    CPUs this process may use, at most 8; the trials are over, so the CPUs are free).
    The processes are spawned, not forked: the driver still holds MLflow's database
    connection and threads. Each reads the two Parquet tables itself and draws a share
    of the trials into a temporary folder; this process alone logs to MLflow (one writer
    to the tracking store). With one worker, or one trial to draw, nothing is spawned.
    """
    sweep_dir = Path(sweep_dir)
    trials = pd.read_parquet(sweep_dir / "trials.parquet", columns=["trial_id", "status"])
    runs = tracker.trial_runs()
    todo = [tid for tid in trials.loc[trials["status"] == "finished", "trial_id"]
            if tid in runs and not tracker.has_figures(runs[tid])]
    if not todo:
        return 0
    n = max(1, min(workers or min(len(os.sched_getaffinity(0)), 8), len(todo)))
    with tempfile.TemporaryDirectory() as d:
        shares = [(str(sweep_dir), todo[i::n], str(Path(d) / str(i))) for i in range(n)]
        drawn = _draw_in_processes(shares) if n > 1 else None
        if drawn is None:
            drawn = [_draw_share(*share) for share in shares]
        logged = 0
        for share in drawn:
            for tid, figures in share.items():
                if figures:
                    tracker.log_figures({t: Path(p) for t, p in figures.items()}, run_id=runs[tid])
                    logged += 1
    return logged


def _draw_in_processes(shares: list[tuple[str, list[str], str]]) -> list[dict] | None:
    """Each share drawn in its own spawned process; None when the pool cannot run (a driver
    started from a script on standard input cannot be re-imported by a spawned process):
    the caller then draws in this process."""
    ctx = multiprocessing.get_context("spawn")
    try:
        with concurrent.futures.ProcessPoolExecutor(len(shares), mp_context=ctx) as pool:
            return list(pool.map(_draw_share, *zip(*shares)))
    except concurrent.futures.process.BrokenProcessPool:
        return None


def _draw_share(sweep_dir: str, trial_ids: list[str], out_dir: str) -> dict[str, dict[str, str]]:
    """One worker's share: trial id -> {figure title: PNG path} (paths under ``out_dir``)."""
    trials = read_trials(Path(sweep_dir) / "trials.parquet")
    epochs = pd.read_parquet(Path(sweep_dir) / "epochs.parquet")
    epochs = epochs[epochs["trial_id"].isin(trial_ids)]
    return {tid: {t: str(p) for t, p in trial_figures(trials, epochs, tid, Path(out_dir) / tid).items()}
            for tid in trial_ids}


def log_best(sweep_dir: Path, tracker: tracking.SweepTracker, summary: pd.DataFrame, metric: str) -> None:
    """The summary's first row (the best configuration by ``metric``) and its per-seed values to the parent run."""
    if not len(summary) or metric not in summary or pd.isna(summary[metric].iloc[0]):
        return
    best = summary.iloc[0]
    trials = read_trials(Path(sweep_dir) / "trials.parquet")
    col = metric if metric in trials else f"metric.{metric}"
    done = trials[(trials["config_id"] == best["config_id"]) & (trials["status"] == "finished")]
    name = config_name(str(best["regularizer"]), str(best["config"]))
    tracker.log_best(name, str(best["config_id"]), metric, done[col].dropna().tolist())
