"""Driver side: Parquet tables of a sweep, built from what Tune stored, plus the trial ledger.

Sweep folder (``<out>/<sweep_id>/``)::

    spec.yaml          the resolved spec (what the YAML wrote, validated; sweeper.spec.validate)
    resolved.yaml      the base configuration with every default filled in (sweeper.store.provenance.record_base)
    sweep.json         ids: MLflow parent run, Tune experiment path, driver pid/host
    ledger.json        derived cache: trial_id -> status + reason + retries (rebuildable, may be lost)
    tune/              Ray Tune's experiment (trial folders: params.json, result.json, checkpoints)
    trials.parquet     one row per trial
    epochs.parquet     one row per trial and epoch

The tables are derived from the trial folders alone, so a resumed or repeated run can
never duplicate or lose rows: there is exactly one row per started Tune trial id, and one
per (trial, epoch). While a sweep runs, ``sweeper.store.table_cache.TableCache`` rewrites
them reading only the trial folders that changed; ``rebuild`` reads every folder.
``trials.parquet`` has the fixed columns of ``TRIAL_FIELDS``, then the trial's
resolved configuration as ``trainables.config.flatten`` names it, one column per
name (``dataset.name``, ``model.widths``, ``regularizer.rho``, ``train.lr``, ...: the
names of the spec, of the child run's MLflow params and of the report labels; typed
from the values: bool, int64, float64, else string), then one ``metric.<name>``
column per regularizer-specific final metric. Configuration columns are exactly the
dotted names whose first part is a section (``trainables.config.is_config_name``),
plus ``seed``; a metric never is. File metadata holds the resolved spec, the package
versions, the sweep's provenance, ``sweeper.format`` (``FORMAT``) and
``sweeper.config_columns`` (JSON list). Files written before ``FORMAT`` 2 named a
searched parameter ``param.<path>``; ``sweeper.store.columns.read_trials`` renames them.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sweeper.spec import SweepSpec
from sweeper.store import identity, provenance, race_file, sweepdir
from sweeper.store.columns import CONFIG_COLUMNS, FORMAT, FORMAT_KEY, RACE_ELIMINATED_ROUND
from sweeper.store.identity import trial_base
from sweeper.store.ledger import LEDGER, Ledger
from sweeper.store.trial_status import retry_count, trial_status
from sweeper.store.tune_state import TuneStorage, finite_float, read_fullest, read_once, read_rows, snapshot, tune_storage
from trainables import metric_names as M
from trainables.config import is_config_name

CORE_METRICS = [M.TRAIN_LOSS, M.VAL_ERROR, M.VAL_NLL, M.VAL_ECE, M.TEST_ERROR, M.TEST_NLL, M.TEST_ECE]
BEST_METRICS = [M.BEST_EPOCH, M.BEST_VAL_ERROR, M.BEST_TEST_ERROR, M.BEST_TEST_NLL, M.BEST_TEST_ECE]  # last epoch only
TRIAL_FIELDS = [
    pa.field("sweep", pa.string()),
    pa.field("trial_id", pa.string()),
    pa.field("config_id", pa.string()),
    pa.field("config", pa.string()),  # human-readable: the searched values, seed excluded
    pa.field("seed", pa.int64()),
    pa.field("regularizer", pa.string()),
    pa.field("model", pa.string()),
    pa.field("dataset", pa.string()),
    pa.field("status", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("epochs", pa.int64()),
    pa.field("seconds", pa.float64()),
    pa.field("node_id", pa.string()),
    pa.field("retries", pa.int64()),
    pa.field("provenance", pa.string()),  # the trial's own record (JSON): resolved config, data fingerprint, hardware
] + [pa.field(m, pa.float64()) for m in CORE_METRICS + BEST_METRICS] + [
    pa.field(M.TEST_CALIBRATION, pa.string()),  # JSON: the final test calibration bins (reliability diagrams)
]
EPOCH_FIELDS = [
    pa.field("sweep", pa.string()),
    pa.field("trial_id", pa.string()),
    pa.field("config_id", pa.string()),
    pa.field("seed", pa.int64()),
    pa.field(M.EPOCH, pa.int64()),
    pa.field(M.SECONDS, pa.float64()),
    pa.field(M.DIVERGED, pa.int64()),
    pa.field("node_id", pa.string()),
] + [pa.field(m, pa.float64()) for m in CORE_METRICS]
TUNE_KEYS = {
    "time_this_iter_s", "time_total_s", "timestamp", "training_iteration", "pid", "done", "date",
    "hostname", "node_ip", "time_since_restore", "iterations_since_restore", "trial_id", "config",
    "checkpoint_dir_name", "should_checkpoint",
}


def _trial_config(store: TuneStorage, d: str, tsnap: dict[str, Any] | None) -> dict[str, Any] | None:
    """The trial's Tune config: its ``params.json``, else Tune's snapshot; None before the trial started."""
    try:
        config = sweepdir.read_json_tolerant(lambda: store.read(d, "params.json"))
    except json.JSONDecodeError:
        config = None
    if config is None and tsnap is not None:
        config = tsnap.get("config")
    return config if isinstance(config, dict) else None


def _extra_metrics(result: dict[str, Any], taken: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a result that are neither Tune's bookkeeping nor already in ``taken``."""
    return {k: finite_float(v) for k, v in result.items()
            if k not in TUNE_KEYS and k not in taken and finite_float(v) is not None}


def _trial_row(sweep: str, trial_id: str, ident: dict[str, Any], rows: list[dict], last: dict[str, Any],
               status: tuple[str, str], retries: int) -> dict[str, Any]:
    flat = ident["params"]
    row = {
        "sweep": sweep, "trial_id": trial_id, "config_id": ident["config_id"], "config": ident["config"],
        "seed": int(ident["seed"]), "regularizer": flat["regularizer.name"], "model": flat["model.name"],
        "dataset": flat["dataset.name"], "status": status[0], "reason": status[1],
        "epochs": int(last.get(M.EPOCH, 0)), "seconds": sum(float(r.get(M.SECONDS, 0.0)) for r in rows),
        "node_id": str(last.get("node_id", "")), "retries": retries,
        "provenance": last.get(M.PROVENANCE),
    }
    for m in CORE_METRICS + BEST_METRICS:
        row[m] = finite_float(last.get(m))
    if isinstance(last.get(M.TEST_CALIBRATION), str):
        row[M.TEST_CALIBRATION] = last[M.TEST_CALIBRATION]
    row.update({k: v for k, v in flat.items() if k != "seed"})  # the configuration columns
    skip = {**row, M.EPOCH: 0, M.SECONDS: 0, M.DIVERGED: 0, "node_id": 0}
    row.update({f"metric.{k}": v for k, v in _extra_metrics(last, skip).items()})
    return row


def _epoch_rows(sweep: str, trial_id: str, ident: dict[str, Any], rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        er = {
            "sweep": sweep, "trial_id": trial_id, "config_id": ident["config_id"], "seed": int(ident["seed"]),
            M.EPOCH: int(r.get(M.EPOCH, 0)), M.SECONDS: finite_float(r.get(M.SECONDS)),
            M.DIVERGED: int(r.get(M.DIVERGED, 0) or 0), "node_id": str(r.get("node_id", "")),
        }
        er.update(_extra_metrics(r, er))
        out.append(er)
    return out


def _identity(base: dict[str, Any], config: dict[str, Any], rows: list[dict], status: str) -> dict[str, Any]:
    """The record the trial reported; before its first report, what is known without resolving;
    derived on the driver only for a trial that ended without one (older sweeps, early failures)."""
    record = identity.from_results(rows)
    if record is not None:
        return record
    if not rows and status in ("running", "pending", "unknown"):
        return identity.provisional(base, config)
    return identity.derive(base, config)


def started(config: dict[str, Any] | None, rows: list[dict], tsnap: dict[str, Any] | None,
            error_txt: str | None) -> bool:
    """Whether a trial has started: it has a configuration and wrote ``params.json``-backed state
    (a result, an error) or Tune's snapshot has it past PENDING. Tune creates trial folders and
    snapshot entries up front; a trial still waiting for its first start gets no row."""
    if config is None:
        return False
    if rows or error_txt is not None:
        return True
    return (tsnap or {}).get("status", "PENDING") != "PENDING" or int((tsnap or {}).get("num_failures", 0)) > 0


def trial_rows(sweep: str, base: dict[str, Any], trial_id: str, config: dict[str, Any], rows: list[dict],
               tsnap: dict[str, Any] | None, led: dict[str, Any], error_txt: str | None) -> tuple[dict, list[dict]]:
    """The ``trials.parquet`` row and the ``epochs.parquet`` rows of one trial, from its Tune config,
    its reports (``result.json``), Tune's snapshot entry, its ledger entry and Tune's ``error.txt``."""
    last = rows[-1] if rows else {}
    snap_last = (tsnap or {}).get("last_result") or {}
    if int(snap_last.get(M.EPOCH, 0) or 0) > int(last.get(M.EPOCH, 0) or 0):
        last = snap_last  # result.json caught mid-copy: Tune's snapshot knows more
    status = trial_status(last, tsnap, led, error_txt)
    ident = _identity(base, config, rows, status[0])
    fails = int((tsnap or {}).get("num_failures", 0))
    retries = retry_count(led, fails, status[0])
    return (_trial_row(sweep, trial_id, ident, rows, last, status, retries),
            _epoch_rows(sweep, trial_id, ident, rows))


def collect(sweep_dir: Path, base: dict[str, Any], *, pending: bool = False,
            settled: bool = False) -> tuple[list[dict], list[dict]]:
    """Trial rows and epoch rows from Tune's snapshot and trial folders (+ the ledger's reasons),
    reading every trial folder (``read_fullest``: it waits out a file Tune is rewriting; with
    ``settled``, when Tune has stopped, each file is read once). Trials that have not started
    (see ``started``) get a row only with ``pending`` (``sweeper status``)."""
    store = tune_storage(sweep_dir)
    ledger = Ledger(sweep_dir / LEDGER).data
    snap = snapshot(store)
    trials, epochs = [], []
    for d in store.dirs("trial_"):
        trial_id = d.removeprefix("trial_")
        if snap is not None and trial_id not in snap:
            continue  # an orphan of a killed driver (see known_trial_ids)
        tsnap = (snap or {}).get(trial_id)
        config = _trial_config(store, d, tsnap)
        rows = read_rows(read_once(store, d, "result.json")[0] if settled else read_fullest(store, d, "result.json"))
        error_txt = store.read(d, "error.txt")
        if config is None or not (pending or started(config, rows, tsnap, error_txt)):
            continue  # not written yet: the trial has not started
        trow, erows = trial_rows(sweep_dir.name, base, trial_id, config, rows, tsnap,
                                 ledger.get(trial_id, {}), error_txt)
        trials.append(trow)
        epochs += erows
    return trials, epochs


def _config_type(values: list[Any]) -> pa.DataType:
    """Column type of a configuration column, from its values: bool, int64, float64 (ints and floats
    mixed), else string (lists are already JSON text, see ``trainables.config.scalar``)."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def _schema(fixed: list[pa.Field], rows: list[dict], meta: dict[str, str]) -> pa.Schema:
    """``fixed``, then the configuration columns (in ``flatten``'s order), then the other (metric)
    columns sorted, as float64."""
    fields = list(fixed)
    names = {f.name for f in fields}
    seen = list(dict.fromkeys(k for r in rows for k in r if k not in names))
    config = [k for k in seen if is_config_name(k)]
    fields += [pa.field(k, _config_type([r.get(k) for r in rows])) for k in config]
    fields += [pa.field(k, pa.float64()) for k in sorted(set(seen) - set(config))]
    cols = [f.name for f in fields if is_config_name(f.name)]
    return pa.schema(fields, metadata={**meta, CONFIG_COLUMNS: json.dumps(cols)})


def _column(rows: list[dict], f: pa.Field) -> list:
    vals = [r.get(f.name) for r in rows]
    if pa.types.is_string(f.type):
        return [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in vals]
    return vals


def write_tables(sweep_dir: Path, spec: SweepSpec) -> tuple[int, int]:
    """(Re)write trials.parquet and epochs.parquet; returns their row counts."""
    trials, epochs = rebuild(sweep_dir, spec)
    return len(trials), len(epochs)


def rebuild(sweep_dir: Path, spec: SweepSpec, *, settled: bool = False) -> tuple[list[dict], list[dict]]:
    """(Re)write trials.parquet and epochs.parquet from the trial folders alone; returns the rows.
    ``settled``: Tune has stopped writing (the driver after ``fit``), see ``collect``."""
    trials, epochs = collect(sweep_dir, trial_base(spec), settled=settled)
    write_rows(sweep_dir, spec, trials, epochs)
    return trials, epochs


def table_meta(sweep_dir: Path, spec: SweepSpec) -> dict[str, str]:
    """The file metadata of both tables: format, resolved spec, package versions, write time,
    provenance and, for a confirm sweep, what it confirms."""
    meta = {
        FORMAT_KEY: str(FORMAT),
        "sweeper.spec": yaml.safe_dump(spec.to_dict(), sort_keys=False),
        "sweeper.versions": json.dumps(provenance.packages()),
        "sweeper.written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    prov = provenance.load(sweep_dir)  # code version, packages, driver (sweeper/store/provenance.py)
    if prov is not None:
        meta["sweeper.provenance"] = json.dumps(prov)
    sweep_meta = json.loads((sweep_dir / "sweep.json").read_text()) if (sweep_dir / "sweep.json").exists() else {}
    if sweep_meta.get("confirms"):  # a confirm sweep (sweeper/commands/confirm.py): the sweep it re-runs, and how
        meta["sweeper.confirms"] = sweep_meta["confirms"]["source"]
        meta["sweeper.confirm"] = json.dumps(sweep_meta["confirms"])
    return meta


def write_rows(sweep_dir: Path, spec: SweepSpec, trials: list[dict], epochs: list[dict]) -> None:
    """Write trials.parquet and epochs.parquet from their rows; each file is replaced atomically
    (readers see the old or the new table)."""
    meta = table_meta(sweep_dir, spec)
    trial_fields = TRIAL_FIELDS
    race = race_file.read(sweep_dir)
    if race is not None:  # a raced sweep: each trial's elimination round (sweeper/store/race_file.py)
        gone = race_file.eliminated_trials(race)
        trials = [{**t, RACE_ELIMINATED_ROUND: (gone.get(t["trial_id"]) or {}).get("round")} for t in trials]
        trial_fields = [*TRIAL_FIELDS, pa.field(RACE_ELIMINATED_ROUND, pa.int64())]
    for name, fixed, rows in (("trials", trial_fields, trials), ("epochs", EPOCH_FIELDS, epochs)):
        schema = _schema(fixed, rows, meta)
        table = pa.table({f.name: pa.array(_column(rows, f), type=f.type) for f in schema}, schema=schema)
        tmp = sweep_dir / f".{name}.parquet.{os.getpid()}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, sweep_dir / f"{name}.parquet")
