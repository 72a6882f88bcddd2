"""End of a sweep: the best configuration and each trial's figures to MLflow.

Sweep-level figures are drawn once, by the report (``sweeper.report.run`` calls
``sweeper.figures.sweep_figures`` into ``<sweep>/report/figures/``, logged with the
report folder to the parent run's ``report/``). Here each finished trial's own
figures (learning curve, reliability diagram) go to its child run's ``figures/``;
a resumed sweep does not log a trial's figures twice. Drawing reads only the
Parquet tables.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sweeper import tracking
from sweeper.columns import read_trials
from sweeper.labels import config_name
from sweeper.figures import trial_figures


def publish_trial_figures(sweep_dir: Path, tracker: tracking.SweepTracker) -> int:
    """Draw and log each finished trial's figures to its child run; returns how many runs got figures."""
    sweep_dir = Path(sweep_dir)
    trials = read_trials(sweep_dir / "trials.parquet")
    epochs = pd.read_parquet(sweep_dir / "epochs.parquet")
    runs = tracker.trial_runs()
    logged = 0
    for tid in trials.loc[trials["status"] == "finished", "trial_id"]:
        rid = runs.get(tid)
        if rid is None or tracker.has_figures(rid):
            continue
        with tempfile.TemporaryDirectory() as d:
            tracker.log_figures(trial_figures(trials, epochs, tid, Path(d)), run_id=rid)
            logged += 1
    return logged


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
