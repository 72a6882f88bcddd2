"""End of a sweep: draw its figures and put them where a researcher looks (files and MLflow).

Sweep-level figures (``sweeper.figures.sweep_figures``) go to
``<sweep>/figures/*.png`` and to the parent run's ``figures/`` artifacts; each
finished trial's own figures (learning curve, reliability diagram) go to its
child run's ``figures/``. A resumed sweep does not log a trial's figures twice.
Drawing reads only the Parquet tables and the trial artifact folders.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from sweeper import tracking
from sweeper.labels import config_name
from sweeper.figures import artifact_dirs, sweep_figures, trial_figures


def publish_figures(sweep_dir: Path, tracker: tracking.SweepTracker, *, metric: str, mode: str,
                    baseline: str | None = None) -> dict[str, Path]:
    """Draw and log every figure of the sweep in ``sweep_dir``; returns the sweep figures ``{title: png}``."""
    sweep_dir = Path(sweep_dir)
    trials = pd.read_parquet(sweep_dir / "trials.parquet")
    epochs = pd.read_parquet(sweep_dir / "epochs.parquet")
    figures = sweep_figures(trials, epochs, sweep_dir / "figures", metric=metric, mode=mode, baseline=baseline,
                            artifacts=artifact_dirs(sweep_dir))
    tracker.log_figures(figures)
    runs = tracker.trial_runs()
    for tid in trials.loc[trials["status"] == "finished", "trial_id"]:
        rid = runs.get(tid)
        if rid is None or tracker.has_figures(rid):
            continue
        with tempfile.TemporaryDirectory() as d:
            tracker.log_figures(trial_figures(trials, epochs, tid, Path(d)), run_id=rid)
    return figures


def log_best(sweep_dir: Path, tracker: tracking.SweepTracker, summary: pd.DataFrame, metric: str) -> None:
    """The summary's first row (the best configuration by ``metric``) and its per-seed values to the parent run."""
    if not len(summary) or metric not in summary or pd.isna(summary[metric].iloc[0]):
        return
    best = summary.iloc[0]
    trials = pd.read_parquet(Path(sweep_dir) / "trials.parquet")
    col = metric if metric in trials else f"metric.{metric}"
    done = trials[(trials["config_id"] == best["config_id"]) & (trials["status"] == "finished")]
    name = config_name(str(best["regularizer"]), str(best["config"]))
    tracker.log_best(name, str(best["config_id"]), metric, done[col].dropna().tolist())
