"""Driver side: Parquet tables of a sweep, built from what Tune stored, plus the trial ledger.

Sweep folder (``<out>/<sweep_id>/``)::

    spec.yaml          the resolved spec (what the YAML wrote, validated; sweeper.spec)
    resolved.yaml      the base configuration with every default filled in (sweeper.provenance.record_base)
    sweep.json         ids: MLflow parent run, Tune experiment path, driver pid/host
    ledger.json        derived cache: trial_id -> status + reason + retries (rebuildable, may be lost)
    tune/              Ray Tune's experiment (trial folders: params.json, result.json, checkpoints)
    trials.parquet     one row per trial
    epochs.parquet     one row per trial and epoch

The tables are rebuilt from the trial folders each time (after every trial and
at the end), so a resumed or repeated run can never duplicate or lose rows:
there is exactly one row per Tune trial id, and one per (trial, epoch).
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
searched parameter ``param.<path>``; ``sweeper.columns.read_trials`` renames them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sweeper.tune_callback import Callback  # Ray's tune.Callback, imported when a callback is made

from sweeper import provenance, sweepdir
from sweeper.columns import CONFIG_COLUMNS, FORMAT, FORMAT_KEY
from sweeper.labels import config_label
from trainables import metric_names as M
from trainables.config import SECTIONS, Scalar, TrainConfig, TrialConfig, flatten, is_config_name, merge, scalar
from trainables.overrides import tune_overrides
from trainables.resolve import resolve

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


# ---------------------------------------------------------------------------------------------
# ledger: a derived cache of what the driver learnt from Tune's callbacks (reasons of failures,
# retry counts). The truth is Tune's own state (experiment snapshot) and each trial's results:
# a missing or damaged ledger loses no trial (statuses are rebuilt from those), only the
# driver-side reasons it alone knew (a timeout), which fall back to Tune's error.txt.


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, dict[str, Any]] = self._load(path)

    @staticmethod
    def _load(path: Path) -> dict[str, dict[str, Any]]:
        for _ in range(3):
            try:
                data = json.loads(path.read_text())
                return data if isinstance(data, dict) else {}
            except FileNotFoundError:
                return {}
            except (json.JSONDecodeError, OSError, UnicodeDecodeError):
                time.sleep(0.05)  # damaged: ignored, it is rebuilt from Tune's state
        return {}

    def set(self, trial_id: str, status: str, reason: str = "", **extra: Any) -> None:
        entry = self.data.setdefault(trial_id, {})
        entry.update(status=status, reason=reason, updated=time.time(), **extra)
        sweepdir.atomic_write_json(self.path, self.data)


def config_key(overrides: dict[str, Any], flat: dict[str, Scalar] | None = None) -> tuple[str, str]:
    """(config_id, label) of a trial's searched values, seed excluded: replicates share them.

    The id hashes the suggested values as Tune gave them (stable across sweeps: a confirm sweep
    keeps it); the label prints them under their spec names with the values of the flattened
    resolved configuration ``flat`` (``sweeper.labels.config_label``)."""
    items = sorted((k, v) for k, v in overrides.items() if k != "seed")
    label = config_label({k: (flat or {}).get(k, scalar(v)) for k, v in items})
    return hashlib.sha1(json.dumps(items, default=str).encode()).hexdigest()[:10], label


def resolve_trial(base: dict[str, Any], overrides: dict[str, Any]) -> tuple[TrialConfig | None, dict[str, Scalar]]:
    """(resolved configuration, its ``flatten``) of a trial's suggested values. Values the entry's
    ``Params`` refuse (the trial itself fails on them and says why) give ``None`` and the flat names
    that can be read without resolving: each section's name and the suggested values."""
    try:
        cfg = resolve(base, overrides)
        return cfg, flatten(cfg)
    except (TypeError, ValueError, KeyError):  # KeyError: registry.UnknownName
        merged = merge(base, overrides)
        flat: dict[str, Scalar] = {f"{s}.name": (merged.get(s) or {}).get("name") for s in SECTIONS}
        flat.update({k: scalar(v) for k, v in overrides.items()})
        return None, flat


def trial_params(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Scalar]:
    """A trial's flattened resolved configuration from its Tune config (its child run's MLflow params,
    the same names and values as its trials-table row)."""
    return resolve_trial(base, tune_overrides(config, base.get("seeds", [0])))[1]


def trial_identity(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A trial's ``config_id``, ``config`` label, ``regularizer``, ``seed`` and epoch budget (``epochs``)
    from its Tune config (the same values its trials-table row gets)."""
    overrides = tune_overrides(config, base.get("seeds", [0]))
    _, flat = resolve_trial(base, overrides)
    config_id, label = config_key(overrides, flat)
    epochs = flat.get("train.epochs") or (base.get("train") or {}).get("epochs") or TrainConfig.epochs
    return {"config_id": config_id, "config": label, "regularizer": flat["regularizer.name"],
            "seed": int(overrides.get("seed", 0)), "epochs": int(epochs)}


class _Storage:
    """Read-only view of Tune's experiment folder, local or remote (s3://...), through pyarrow.fs."""

    def __init__(self, uri: str):
        self.fs, self.root = pafs.FileSystem.from_uri(uri if "://" in uri else str(Path(uri).resolve()))

    def _names(self, prefix: str, kind: "pafs.FileType") -> list[str]:
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.root))
        except (FileNotFoundError, OSError):
            return []
        return sorted(i.base_name for i in infos if i.type == kind and i.base_name.startswith(prefix))

    def dirs(self, prefix: str) -> list[str]:
        return self._names(prefix, pafs.FileType.Directory)

    def files(self, prefix: str) -> list[str]:
        return self._names(prefix, pafs.FileType.File)

    def read(self, *parts: str) -> str | None:
        path = "/".join([self.root, *parts])
        try:
            with self.fs.open_input_stream(path) as f:
                return f.readall().decode()
        except (FileNotFoundError, OSError):
            return None


def tune_storage(sweep_dir: Path) -> _Storage:
    meta_file = sweep_dir / "sweep.json"
    storage = sweepdir.read_meta(sweep_dir).get("storage") if meta_file.exists() else None
    return _Storage(str(storage or sweep_dir).rstrip("/") + "/tune")


def _read_rows(text: str | None) -> list[dict[str, Any]]:
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut short by a killed driver
    # A trial continued from a checkpoint may repeat epochs: keep the last report of each.
    by_epoch = {int(r.get(M.EPOCH, r.get("training_iteration", 0))): r for r in rows}
    return [by_epoch[e] for e in sorted(by_epoch)]


def _float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def snapshot(store: "_Storage") -> dict[str, dict[str, Any]] | None:
    """Tune's own record of every trial, from its newest readable experiment snapshot:
    trial_id -> {status (PENDING|RUNNING|PAUSED|TERMINATED|ERROR), config, last_result,
    num_failures}. None when there is no snapshot yet.

    Tune rewrites the snapshot in place about once a second: a read that lands mid-write is
    retried (sweepdir.read_json_tolerant), and only if the newest stays unreadable is the
    previous one used.
    """
    snaps = store.files("experiment_state-")
    for name in reversed(snaps):
        try:
            data = sweepdir.read_json_tolerant(lambda: store.read(name))
            out = {}
            for t in data["trial_data"]:
                st = json.loads(t[0]) if isinstance(t[0], str) else t[0]
                rt = (json.loads(t[1]) if isinstance(t[1], str) else t[1]) if len(t) > 1 else {}
                last = rt.get("last_result") or {}
                last = json.loads(last) if isinstance(last, str) else last
                fails = rt.get("num_failures", 0)
                out[st["trial_id"]] = {
                    "status": st.get("status", ""), "config": st.get("config"), "last_result": last or {},
                    "num_failures": int(json.loads(fails) if isinstance(fails, str) else fails or 0),
                }
            return out
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue
    return None


def known_trial_ids(store: "_Storage") -> set[str] | None:
    """Trial ids in Tune's latest experiment snapshot (None if there is none yet).

    After a driver is killed, trials created after the last snapshot have folders
    but Tune will not resume them: they are orphans and must not become rows.
    """
    snap = snapshot(store)
    return None if snap is None else set(snap)


def _complete_lines(text: str | None) -> int:
    n = 0
    for line in (text or "").splitlines():
        try:
            json.loads(line)
            n += 1
        except json.JSONDecodeError:
            break
    return n


def _read_fullest(store: "_Storage", *parts: str, reads: int = 6) -> str | None:
    """A JSON-lines file that Tune may be rewriting (truncate, then write) or appending to: of a
    few reads, the one with the most complete lines; stops early when two reads agree."""
    best = prev = store.read(*parts)
    for _ in range(reads):
        if prev is not None and prev.endswith("\n") and _complete_lines(prev) == len(prev.splitlines()):
            time.sleep(0.005)
            now = store.read(*parts)
            if now == prev:
                return now
        else:
            time.sleep(0.01)
            now = store.read(*parts)
        if _complete_lines(now) >= _complete_lines(best):
            best = now
        prev = now
    return best


def trial_status(last: dict[str, Any], snap: dict[str, Any] | None, led: dict[str, Any],
                 error_txt: str | None) -> tuple[str, str]:
    """(status, reason) of one trial, from the most to the least authoritative source.

    1. Its results: a report with ``diverged`` -> diverged; a report with the test error
       (only the last epoch evaluates on test) -> finished. Nothing can overrule this.
    2. The driver's ledger (reasons only it knows: a timeout, a retry in progress).
    3. Tune's snapshot: ERROR -> error; TERMINATED without a test error -> stopped (the
       scheduler ended it); RUNNING/PAUSED/PENDING as such.
    4. Tune's error.txt -> error. Otherwise unknown.
    """
    snap = snap or {}
    for src in (last, snap.get("last_result") or {}):
        if src.get(M.DIVERGED):
            return "diverged", f"non-finite training loss at epoch {src.get(M.EPOCH)}"
        if src.get(M.TEST_ERROR) is not None:
            return "finished", ""
    lstat, lreason = led.get("status"), led.get("reason", "")
    tstat = snap.get("status")
    if lreason == "unknown error":  # Tune gave the callback no error text; its error.txt has it
        lreason = ""
    err_reason = failure_reason(lreason or error_txt or "", led) if (lreason or error_txt or led.get("timeout")) \
        else "unknown error"
    if lstat == "error" or (tstat == "ERROR" and lstat not in ("running", "pending")):
        return "error", err_reason
    if lstat == "stopped" or tstat == "TERMINATED":
        return "stopped", lreason or f"stopped early by the scheduler at epoch {(last or snap.get('last_result') or {}).get(M.EPOCH)}"
    if lstat in ("running", "pending"):
        return lstat, lreason
    if tstat in ("RUNNING", "PENDING", "PAUSED"):
        return ("running" if tstat == "RUNNING" else "pending"), ""
    if error_txt is not None:
        return "error", err_reason
    return "unknown", ""


def collect(sweep_dir: Path, base: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """Trial rows and epoch rows from Tune's snapshot and trial folders (+ the ledger's reasons)."""
    store = tune_storage(sweep_dir)
    ledger = Ledger(sweep_dir / "ledger.json").data
    snap = snapshot(store)
    trials, epochs = [], []
    seeds = base.get("seeds", [0])
    for d in store.dirs("trial_"):
        trial_id = d.removeprefix("trial_")
        if snap is not None and trial_id not in snap:
            continue  # an orphan of a killed driver (see known_trial_ids)
        tsnap = (snap or {}).get(trial_id)
        try:
            config = sweepdir.read_json_tolerant(lambda: store.read(d, "params.json"))
        except json.JSONDecodeError:
            config = None
        if config is None and tsnap is not None:
            config = tsnap.get("config")
        if not isinstance(config, dict):
            continue  # not written yet: the trial has not started
        overrides = tune_overrides(config, seeds)
        _, flat = resolve_trial(base, overrides)
        config_id, label = config_key(overrides, flat)
        rows = _read_rows(_read_fullest(store, d, "result.json"))
        last = rows[-1] if rows else {}
        snap_last = (tsnap or {}).get("last_result") or {}
        if int(snap_last.get(M.EPOCH, 0) or 0) > int(last.get(M.EPOCH, 0) or 0):
            last = snap_last  # result.json caught mid-copy: Tune's snapshot knows more
        led = ledger.get(trial_id, {})
        status, reason = trial_status(last, tsnap, led, store.read(d, "error.txt"))
        seed = int(overrides.get("seed", 0))
        fails = int((tsnap or {}).get("num_failures", 0))
        retries = int(led["retries"]) if "retries" in led else max(0, fails - (status == "error"))
        row = {
            "sweep": sweep_dir.name, "trial_id": trial_id, "config_id": config_id, "config": label,
            "seed": seed, "regularizer": flat["regularizer.name"], "model": flat["model.name"],
            "dataset": flat["dataset.name"], "status": status, "reason": reason,
            "epochs": int(last.get(M.EPOCH, 0)), "seconds": sum(float(r.get(M.SECONDS, 0.0)) for r in rows),
            "node_id": str(last.get("node_id", "")), "retries": retries,
            "provenance": last.get(M.PROVENANCE),
        }
        for m in CORE_METRICS + BEST_METRICS:
            row[m] = _float(last.get(m))
        if isinstance(last.get(M.TEST_CALIBRATION), str):
            row[M.TEST_CALIBRATION] = last[M.TEST_CALIBRATION]
        row.update({k: v for k, v in flat.items() if k != "seed"})  # the configuration columns
        for k, v in last.items():
            if k not in TUNE_KEYS and k not in row and k not in (M.EPOCH, M.SECONDS, M.DIVERGED, "node_id") and _float(v) is not None:
                row[f"metric.{k}"] = _float(v)
        trials.append(row)
        for r in rows:
            er = {
                "sweep": sweep_dir.name, "trial_id": trial_id, "config_id": config_id, "seed": seed,
                M.EPOCH: int(r.get(M.EPOCH, 0)), M.SECONDS: _float(r.get(M.SECONDS)),
                M.DIVERGED: int(r.get(M.DIVERGED, 0) or 0), "node_id": str(r.get("node_id", "")),
            }
            for k, v in r.items():
                if k not in TUNE_KEYS and k not in er and _float(v) is not None:
                    er[k] = _float(v)
            epochs.append(er)
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


def trial_base(spec_dict: dict[str, Any]) -> dict[str, Any]:
    """What every trial starts from (``run_trial``'s ``base``): the fixed sections plus the seed list."""
    return {**{k: spec_dict[k] for k in ("dataset", "model", "regularizer", "train")}, "seeds": list(spec_dict["seeds"])}


def write_tables(sweep_dir: Path, spec_dict: dict[str, Any]) -> tuple[int, int]:
    """(Re)write trials.parquet and epochs.parquet; returns their row counts."""
    trials, epochs = rebuild(sweep_dir, spec_dict)
    return len(trials), len(epochs)


def rebuild(sweep_dir: Path, spec_dict: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """(Re)write trials.parquet and epochs.parquet from the trial folders alone; returns the rows.
    Each file is replaced atomically (readers see the old or the new table)."""
    trials, epochs = collect(sweep_dir, trial_base(spec_dict))
    import yaml

    meta = {
        FORMAT_KEY: str(FORMAT),
        "sweeper.spec": yaml.safe_dump(spec_dict, sort_keys=False),
        "sweeper.versions": json.dumps(provenance.packages()),
        "sweeper.written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    prov = provenance.load(sweep_dir)  # code version, packages, driver (sweeper/provenance.py)
    if prov is not None:
        meta["sweeper.provenance"] = json.dumps(prov)
    sweep_meta = json.loads((sweep_dir / "sweep.json").read_text()) if (sweep_dir / "sweep.json").exists() else {}
    if sweep_meta.get("confirms"):  # a confirm sweep (sweeper/confirm.py): the sweep it re-runs, and how
        meta["sweeper.confirms"] = sweep_meta["confirms"]["source"]
        meta["sweeper.confirm"] = json.dumps(sweep_meta["confirms"])
    for name, fixed, rows in (("trials", TRIAL_FIELDS, trials), ("epochs", EPOCH_FIELDS, epochs)):
        schema = _schema(fixed, rows, meta)
        table = pa.table({f.name: pa.array(_column(rows, f), type=f.type) for f in schema}, schema=schema)
        tmp = sweep_dir / f".{name}.parquet.{os.getpid()}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, sweep_dir / f"{name}.parquet")
    return trials, epochs


def failure_reason(error: str, led: dict[str, Any]) -> str:
    """A short, specific reason for a failed trial: the driver's own (a timeout) first, then the
    kind of failure Ray reports (out of memory, a dead node or worker), then Tune's error text."""
    if led.get("timeout"):
        return led["timeout"]
    tail = (error or "unknown error")[-2000:]
    low = (error or "").lower()  # the whole text: Ray's OOM message comes first, a process table after it
    if "outofmemoryerror" in low or "low on memory" in low or "memory monitor" in low:
        # Ray's own numbers (node memory used / limit, the threshold), not the process table's tail
        facts = re.findall(r"(?:OOM kill reason: [^\n]*|Memory on the node [^\n]*? was [\d.]+GB used / [\d.]+GB limit[^\n]*)", error or "")
        return "out of memory: killed by Ray's memory monitor\n" + ("\n".join(dict.fromkeys(facts)) or tail)
    return tail


class LedgerCallback(Callback):
    """Ray Tune callback keeping ``ledger.json`` and the Parquet tables current.

    This module imports neither Ray nor torch (``sweeper status`` reads it); Ray is imported
    when the callback is made.
    The tables are rebuilt at most every ``every_s`` seconds (each rebuild reads every
    trial folder); the driver writes them once more when the sweep ends.

    Nothing here may raise into Tune: an exception from a callback is charged to the trial
    (Tune errors it and spends a retry). A failed ledger or table write is logged and
    left to the next rebuild, which derives everything again from Tune's state.
    """

    def __init__(self, sweep_dir: Path, spec_dict: dict[str, Any], every_s: float = 15.0):
        self.sweep_dir = Path(sweep_dir)
        self.spec_dict = spec_dict
        self.every_s = every_s
        self._written = 0.0

    def _safe(self, what: str, fn) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - see the class docstring
            import logging

            logging.getLogger("sweeper").warning("%s failed (left to the next rebuild): %s", what, str(e)[:300])

    def _maybe_write_tables(self) -> None:
        if time.monotonic() - self._written >= self.every_s:
            self._written = time.monotonic()
            self._safe("writing the tables", lambda: write_tables(self.sweep_dir, self.spec_dict))

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.sweep_dir / "ledger.json")

    def _retries(self, led: Ledger, trial_id: str) -> int:
        return int(led.data.get(trial_id, {}).get("retries", 0))

    def on_trial_start(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            led.set(trial.trial_id, "running", retries=self._retries(led, trial.trial_id))
        self._safe("ledger", f)

    def on_trial_recover(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            n = self._retries(led, trial.trial_id) + 1
            why = failure_reason(str(trial.get_error() or ""), led.data.get(trial.trial_id, {}))
            led.set(trial.trial_id, "running", f"retry {n} after: {why[-1500:]}", retries=n, timeout="")
        self._safe("ledger", f)

    def on_trial_complete(self, iteration, trials, trial, **info):
        def f():
            last = trial.last_result or {}
            if last.get("diverged"):
                status, reason = "diverged", f"non-finite training loss at epoch {last.get('epoch')}"
            elif last.get("test_error") is not None:
                status, reason = "finished", ""
            else:
                status, reason = "stopped", f"stopped early by the scheduler at epoch {last.get('epoch')}"
            led = self.ledger
            led.set(trial.trial_id, status, reason, retries=self._retries(led, trial.trial_id))
        self._safe("ledger", f)
        self._maybe_write_tables()

    def on_trial_error(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            entry = led.data.get(trial.trial_id, {})
            led.set(trial.trial_id, "error", failure_reason(str(trial.get_error() or ""), entry),
                    retries=self._retries(led, trial.trial_id))
        self._safe("ledger", f)
        self._maybe_write_tables()
