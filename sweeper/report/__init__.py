"""Parquet -> the comparison a researcher publishes: tables, paired tests, budgets, paper targets, across sweeps.

One concept per module, pure functions on DataFrames, no torch or Ray import:

- ``units``    display units (errors and ECE in %, NLL in nats, counts) and the per-seed rule for n < 3
- ``stats``    Student-t intervals, paired comparisons (t, bootstrap, exact sign-flip test, d_z), Holm, Friedman
- ``data``     a sweep's tables from a sweep or results folder, its objective
- ``selection`` the selected configuration (validation objective, distinct seeds): every consumer calls it
- ``tables``   one row per configuration / per method (best by the sweep's objective), baseline choice
- ``compare``  paired comparisons over shared seeds, Holm-corrected over the family
- ``budget``   budget-fair comparison over ``train.epochs`` and the not-converged flag
- ``paper``    the spec's ``paper:`` targets: parse, measured vs paper, ordering agreement
- ``robustness`` per verdict: checked against the budget, on fresh seeds (confirm sweeps), validation vs test
- ``across``   several sweeps: average ranks, Friedman, pairwise Wilcoxon + Holm, CD diagram
- ``writer``   report folder (report.md, CSVs, figures) and MLflow artifacts

This module keeps the small API the driver uses (``summarize``, ``format_table``, ``load_trials``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweeper.report import tables
from sweeper.report.data import FINISHED, column  # noqa: F401
from sweeper.report.stats import mean_ci  # noqa: F401
from sweeper.store import sweepdir
from sweeper.store import tables as store_tables
from sweeper.store.columns import read_trials


def load_trials(sweep_dir: Path) -> pd.DataFrame:
    """The trials table; a damaged (e.g. truncated) file is rebuilt from the trial folders."""
    f = Path(sweep_dir) / "trials.parquet"
    if not f.exists():
        raise FileNotFoundError(f"{f} does not exist: the sweep has not written results yet")
    try:
        return read_trials(f)
    except (OSError, ValueError) as e:  # pyarrow.ArrowInvalid is a ValueError
        try:
            store_tables.write_tables(Path(sweep_dir), sweepdir.load_spec(sweep_dir))
            return read_trials(f)
        except sweepdir.SweepError:
            raise
        except Exception as e2:  # noqa: BLE001
            raise sweepdir.SweepCorrupt(f"{f} is damaged ({e}) and could not be rebuilt from the trial folders: {e2}") from None


def summarize(trials: pd.DataFrame, metric: str = "test_error", mode: str = "min") -> pd.DataFrame:
    """One row per configuration ranked by ``metric`` (``mode``), with val_error and test_error too.

    Columns: config_id, config, regularizer, seeds (finished/run), ``<m>``, ``<m>_ci95``, ``<m>_n``,
    ``<m>_seeds`` per metric, not_finished."""
    metrics = [m for m in dict.fromkeys([metric, "val_error", "test_error"]) if column(trials, m) in trials]
    out = tables.config_table(trials, metrics, (metric, mode))
    return out.assign(regularizer=out["method"]) if len(out) else out


def format_table(summary: pd.DataFrame, metric: str, top: int | None = None) -> str:
    """Markdown table of ``summarize``'s output: the metric and val_error in their units (per-seed values when n < 3)."""
    metrics = [m for m in dict.fromkeys([metric, "val_error"]) if m in summary]
    return tables.render(summary, metrics, [("method", "method"), ("config", "config"), ("seeds", "seeds")], top)
