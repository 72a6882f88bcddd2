"""Column names of ``trials.parquet``, and the one place older files are read into today's names.

Since format 2 (``FORMAT``, in the file metadata under ``FORMAT_KEY``) a trial's configuration
columns carry the names the spec uses, as ``trainables.config.flatten`` makes them:
``regularizer.name``, ``regularizer.rho``, ``train.lr``, ``model.widths``, ... (every resolved
field, not only the searched ones), the same names as the child run's MLflow params and the
report labels (``regularizer.rho=0.3``). ``CONFIG_COLUMNS`` in the metadata lists them (JSON).
A metric column is a plain metric name (``test_error``) or ``metric.<name>`` for a
regularizer's own final metric: never a configuration name (``is_config_name``).

Format 1 (files without ``FORMAT_KEY``, e.g. the committed ``results/*/trials.parquet``) named a
searched parameter ``param.<path>`` and held no other configuration column. ``read_trials``
renames those columns to ``<path>`` when it reads such a file; the files themselves are left as
they are. Every reader of ``trials.parquet`` goes through ``read_trials``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from trainables.config import is_config_name  # noqa: F401  (re-exported: which columns are configuration)

FORMAT = 2
FORMAT_KEY = "sweeper.format"
CONFIG_COLUMNS = "sweeper.config_columns"
LEGACY_PREFIX = "param."  # format 1: a searched parameter's column


def file_format(path: str | Path) -> int:
    """The format of a ``trials.parquet`` (1 when its metadata does not say)."""
    meta = pq.read_schema(path).metadata or {}
    return int(meta.get(FORMAT_KEY.encode(), b"1"))


def upgrade(trials: pd.DataFrame, fmt: int) -> pd.DataFrame:
    """A table read from a file of format ``fmt`` under today's column names: format 1's
    ``param.<path>`` becomes ``<path>`` (unless that column exists already)."""
    if fmt >= 2:
        return trials
    renames = {c: c[len(LEGACY_PREFIX):] for c in trials.columns
               if c.startswith(LEGACY_PREFIX) and c[len(LEGACY_PREFIX):] not in trials.columns}
    return trials.rename(columns=renames) if renames else trials


def read_trials(path: str | Path) -> pd.DataFrame:
    """``trials.parquet`` as a DataFrame under today's column names (see the module docstring)."""
    return upgrade(pd.read_parquet(path), file_format(path))


FINISHED = ("finished",)  # the statuses whose metrics the report compares

# A raced sweep (``search.racing``, ``race.json``: sweeper/store/race_file.py): the round (seed count) in which the
# trial's configuration was eliminated, null for a survivor. Only in the tables of a raced sweep: absent means
# no racing (every row null); ``race_eliminated_round`` reads it either way. Not a metric.
RACE_ELIMINATED_ROUND = "race_eliminated_round"


def race_eliminated_round(trials: pd.DataFrame) -> pd.Series:
    """The elimination round of each trial's configuration (``pd.NA`` for survivors and unraced sweeps)."""
    if RACE_ELIMINATED_ROUND in trials:
        return trials[RACE_ELIMINATED_ROUND].astype("Int64")
    return pd.Series(pd.NA, index=trials.index, dtype="Int64")


def column(trials: pd.DataFrame, metric: str) -> str:
    """The trials-table column of ``metric``: a core column, or ``metric.<name>`` for a regularizer's own."""
    return metric if metric in trials or f"metric.{metric}" not in trials else f"metric.{metric}"
