"""End of a sweep: the best configuration and each trial's figures to MLflow.

Sweep-level figures are drawn once, by the report (``sweeper.report.run`` calls
``sweeper.figures.sweep_figures`` into ``<sweep>/report/figures/``, logged with the
report folder to the parent run's ``report/``). Here each finished trial's own
figures (learning curve, reliability diagram) go to its child run's ``figures/``;
a resumed sweep does not log a trial's figures twice. Drawing reads only the
Parquet tables.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sweeper.figures import trial_worker
from sweeper.spec.labels import config_name
from sweeper.store import mlflow_runs as tracking

# A worker process costs ~2 CPU-s to start (pandas, matplotlib, scipy imports) and draws a trial in
# 0.32 CPU-s (measured on the 2-core dev machine): with two workers the wall time only drops once
# there are more than ~12 trials, so each worker gets at least this many (the 27-trial quickstart:
# two workers; a 4-trial sweep: none, 4 CPU-s less).
TRIALS_PER_WORKER = 12


def selected_trials(trials: pd.DataFrame, summary: pd.DataFrame, which: str) -> set[str] | None:
    """The trial ids whose figures are drawn (``search.trial_figures``): ``all`` -> None (every
    finished trial), ``none`` -> nothing, ``selected`` -> the trials of each method's best
    configuration (the summary's first row per ``regularizer``: it is ranked by the objective)."""
    if which == "all":
        return None
    if which == "none" or not len(summary):
        return set()
    best = set(summary.drop_duplicates("regularizer")["config_id"])
    return set(trials.loc[trials["config_id"].isin(best), "trial_id"])


def publish_trial_figures(sweep_dir: Path, tracker: tracking.SweepTracker, workers: int | None = None,
                          only: set[str] | None = None) -> int:
    """Draw and log each finished trial's figures to its child run (``only``: just these trials);
    returns how many runs got figures.

    Drawing (matplotlib's layout and Agg rendering: 0.32 CPU-s a trial, two figures) is most of
    this step's time, so a large sweep draws in ``workers`` processes (default: one per
    ``TRIALS_PER_WORKER`` trials to draw, at most the CPUs this process may use and at most 8; the
    trials are over, so the CPUs are free), each ``python -m sweeper.figures.trial_worker`` drawing
    every n-th trial into a temporary folder; this process alone logs to MLflow (one writer to the
    tracking store). With one worker nothing is started: the trials are drawn here; if a worker
    fails, its share is drawn here.
    """
    sweep_dir = Path(sweep_dir)
    trials = pd.read_parquet(sweep_dir / "trials.parquet", columns=["trial_id", "status"])
    runs = tracker.trial_runs()
    todo = [tid for tid in trials.loc[trials["status"] == "finished", "trial_id"]
            if (only is None or tid in only) and tid in runs and not tracker.has_figures(runs[tid])]
    if not todo:
        return 0
    default = min(len(os.sched_getaffinity(0)), 8, len(todo) // TRIALS_PER_WORKER)
    n = max(1, min(workers or default, len(todo)))
    logged = 0
    with tempfile.TemporaryDirectory() as d:
        shares = [{"sweep_dir": str(sweep_dir), "trial_ids": todo[i::n], "out_dir": str(Path(d) / str(i))}
                  for i in range(n)]
        for share in _draw_in_processes(shares) if n > 1 else [trial_worker.draw_share(**s) for s in shares]:
            for tid, figures in share.items():
                if figures:
                    tracker.log_figures({t: Path(p) for t, p in figures.items()}, run_id=runs[tid])
                    logged += 1
    return logged


def _draw_in_processes(shares: list[dict]) -> list[dict[str, dict[str, str]]]:
    """Each share drawn by its own ``sweeper.figures.trial_worker`` process, all at once; a share
    whose process fails is drawn in this process instead (its error goes to the log)."""
    procs = [subprocess.Popen([sys.executable, "-m", "sweeper.figures.trial_worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in shares]
    for p, share in zip(procs, shares):  # a share's JSON is small: it fits the pipe, nothing blocks
        p.stdin.write(json.dumps(share))
        p.stdin.close()
        p.stdin = None  # so that communicate() does not flush the closed pipe
    out = []
    for p, share in zip(procs, shares):
        stdout, stderr = p.communicate()
        try:
            if p.returncode != 0:
                raise RuntimeError(f"exit code {p.returncode}: {stderr.strip()[-500:]}")
            out.append(json.loads(stdout))
        except (RuntimeError, json.JSONDecodeError) as e:
            logging.getLogger(__name__).warning("a figure worker failed (%s); drawing its trials here", e)
            out.append(trial_worker.draw_share(**share))
    return out


def log_best(sweep_dir: Path, tracker: tracking.SweepTracker, summary: pd.DataFrame, metric: str) -> None:
    """The summary's first row (the selected configuration by ``metric``) and its per-seed values (one per
    distinct seed) to the parent run; ``sweep_dir`` is unused (kept for the callers)."""
    if not len(summary) or metric not in summary or pd.isna(summary[metric].iloc[0]):
        return
    best = summary.iloc[0]
    per_seed = best.get(f"{metric}_seeds")  # its distinct finished seeds (sweeper.store.selection.replicates)
    name = config_name(str(best["regularizer"]), str(best["config"]))
    tracker.log_best(name, str(best["config_id"]), metric, list(per_seed.values()) if isinstance(per_seed, dict) else [])
