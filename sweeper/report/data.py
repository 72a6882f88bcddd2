"""A sweep's tables for the report, read from files only (no Ray, no torch, no MLflow).

A sweep is a folder holding ``trials.parquet`` (and ``epochs.parquet``): a live sweep folder
(``sweeps/<name>/``, with ``spec.yaml`` and ``sweep.json``) or a committed results folder
(``results/<name>/``, tables only: the resolved spec is read from the Parquet metadata).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import yaml

from sweeper.store import sweepdir
from sweeper.store import tables as store_tables
from sweeper.store.columns import FINISHED, RACE_ELIMINATED_ROUND, column, is_config_name  # noqa: F401  (FINISHED, column: re-exported)

DEFAULT_OBJECTIVE = ("val_error", "min")


class NoSweepData(FileNotFoundError):
    """No trials.parquet where the sweep was looked for (the CLI exits 2)."""


def has_metric(trials: pd.DataFrame, metric: str) -> bool:
    c = column(trials, metric)
    return c in trials and pd.api.types.is_numeric_dtype(trials[c]) and trials[c].notna().any()


def numeric_metrics(trials: pd.DataFrame) -> list[str]:
    skip = {"seed", "epochs", "seconds", "retries", RACE_ELIMINATED_ROUND}
    return [c.removeprefix("metric.") for c in trials.columns
            if c not in skip and not is_config_name(c) and pd.api.types.is_float_dtype(trials[c])]


@dataclass(frozen=True)
class Sweep:
    name: str
    folder: Path
    trials: pd.DataFrame
    epochs: pd.DataFrame
    spec: dict = field(default_factory=dict, hash=False)
    meta: dict = field(default_factory=dict, hash=False)  # sweep.json (MLflow parent run id, ...) if present
    provenance: dict = field(default_factory=dict, hash=False)  # trials.parquet metadata: package versions, written

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, mode) the sweep optimised (its first objective), as the launch summary ranks."""
        s = self.spec.get("search") or {}
        m, mode = s.get("metric", DEFAULT_OBJECTIVE[0]), s.get("mode", DEFAULT_OBJECTIVE[1])
        return (m[0] if isinstance(m, list) else m), (mode[0] if isinstance(mode, list) else mode)

    @property
    def finished(self) -> pd.DataFrame:
        return self.trials[self.trials["status"].isin(FINISHED)]


def find(sweep: str | Path, out: str | Path = "sweeps") -> Path:
    """The folder of ``sweep`` (its path, or its id under ``out``) that holds its tables. A sweep folder whose
    tables were deleted (``sweep.json`` and the trial folders are there) gets them rebuilt from its trial
    folders first, as ``status`` and ``resume`` read them."""
    p = Path(sweep)
    for cand in (p, Path(out) / p):
        if (cand / "trials.parquet").is_file():
            return cand.resolve()
    for cand in (p, Path(out) / p):
        if (cand / sweepdir.META).is_file():
            store_tables.write_tables(cand, sweepdir.load_spec(cand))
            return cand.resolve()
    raise NoSweepData(f"no sweep {str(sweep)!r}: looked for {p}/trials.parquet and {Path(out) / p}/trials.parquet "
                      "(a sweep folder under --out, or a results folder)")


def load(sweep: str | Path, out: str | Path = "sweeps") -> Sweep:
    d = find(sweep, out)
    from sweeper.report import load_trials  # a damaged trials.parquet is rebuilt from the trial folders

    trials = load_trials(d)
    epochs = pd.read_parquet(d / "epochs.parquet") if (d / "epochs.parquet").is_file() else pd.DataFrame()
    md = {k.decode(): v.decode() for k, v in (pq.read_schema(d / "trials.parquet").metadata or {}).items()
          if k.startswith(b"sweeper.")}
    spec: dict = {}
    if (d / "spec.yaml").is_file():
        spec = yaml.safe_load((d / "spec.yaml").read_text()) or {}
    elif "sweeper.spec" in md:
        spec = yaml.safe_load(md["sweeper.spec"]) or {}
    meta = json.loads((d / "sweep.json").read_text()) if (d / "sweep.json").is_file() else {}
    name = str(trials["sweep"].iloc[0]) if len(trials) and "sweep" in trials else d.name
    prov = {k.removeprefix("sweeper."): v for k, v in md.items() if k != "sweeper.spec"}
    return Sweep(name, d, trials, epochs, spec, meta, prov)
