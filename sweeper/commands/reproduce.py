"""``sweeper reproduce TRIAL``: re-run one finished trial locally and check its numbers.

TRIAL is a Ray Tune trial id (the ``trial_id`` column of ``trials.parquet``) or the
MLflow run id of the trial's child run; it is looked up in every sweep folder
under ``--out`` (or only in ``--sweep``). The trial's own provenance record (its
last report, see ``trainables/provenance.py``) holds the resolved configuration
with every default, the seed, the data fingerprint and the hardware; the sweep's
``provenance.json`` holds the code version and packages.

The trial is re-run in this process without Ray (``trainables.replay``) with the
torch thread count it ran with, on the device type it ran on when there is one,
and its last report is compared metric by metric (every numeric value the trial
reported at its last epoch, except timings):

- both runs on CPU: exactly (bitwise-equal floats; NaN equals NaN). A trial is
  deterministic on CPU for a given thread count: its seed fixes data order,
  initialisation and masks.
- otherwise (GPU kernels are not bitwise deterministic, and bf16 autocast
  amplifies that): ``|now - recorded| <= atol + rtol * |recorded|`` with
  ``DEFAULT_ATOL`` and ``DEFAULT_RTOL`` unless given.

It reproduces when every metric matches and the data fingerprint is the same (the
same numbers from different data are not a reproduction). Either way it lists what
differs between then and now: data fingerprint per split, code version, packages,
hardware. ``ReproduceError``: bad input (exit 2).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from sweeper.store import mlflow_runs as tracking
from sweeper.store import provenance as sweep_prov
from sweeper.store import tune_state
from sweeper.store.sweepdir import NoSuchSweep, sweep_path
from trainables.replay import replay  # re-runs the trial in this process: the one driver command that imports torch

DEFAULT_ATOL = 0.01
DEFAULT_RTOL = 0.01
SKIP = {"seconds", "time_this_iter_s", "time_total_s", "timestamp", "training_iteration", "pid", "done",
        "time_since_restore", "iterations_since_restore", "should_checkpoint"}


class ReproduceError(ValueError):
    """Bad input to ``sweeper reproduce`` (exit 2)."""


@dataclass
class Outcome:
    sweep: str
    trial_id: str
    seed: int
    device: str
    threads: int
    exact: bool
    atol: float
    rtol: float
    rows: list[tuple[str, Any, Any, bool]] = field(default_factory=list)  # metric, recorded, now, matches
    data: list[str] = field(default_factory=list)  # data fingerprint differences
    code: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    hardware: list[str] = field(default_factory=list)

    @property
    def metrics_match(self) -> bool:
        return all(ok for *_, ok in self.rows)

    @property
    def reproduced(self) -> bool:
        return self.metrics_match and not self.data

    def text(self) -> str:
        how = ("exactly (bitwise-equal floats; recorded and re-run both on CPU)" if self.exact else
               f"within |now - recorded| <= {self.atol:g} + {self.rtol:g} * |recorded| (not both on CPU)")
        lines = [f"trial {self.trial_id} of sweep {self.sweep} (seed {self.seed}): re-ran locally on {self.device} "
                 f"with {self.threads} torch thread(s); final metrics compared {how}", "",
                 "| metric | recorded | now | |", "|---|---|---|---|"]
        for name, a, b, ok in self.rows:
            lines.append(f"| {name} | {a!r} | {b!r} | {'same' if ok else 'DIFFERS'} |")
        bad = [r for r in self.rows if not r[3]]
        lines.append("")
        if self.reproduced:
            lines.append(f"reproduced: all {len(self.rows)} final metrics match")
        else:
            why = [f"{len(bad)} of {len(self.rows)} final metrics differ"] if bad else []
            if self.data:
                why.append("the data fingerprint differs (the data the trial was built from changed)")
            lines.append("NOT reproduced: " + "; ".join(why))
        sections = [("data fingerprint", self.data), ("code version", self.code), ("packages", self.packages),
                    ("hardware", self.hardware)]
        diffs = [(t, d) for t, d in sections if d]
        if diffs:
            lines.append("what differs between the recorded run and this one:")
            for title, d in diffs:
                lines.extend(f"  {title}: {x}" for x in d)
        else:
            lines.append("nothing recorded differs: same data fingerprint, code version, packages and hardware")
        return "\n".join(lines)


def _sweeps(out: str | Path, sweep: str | None) -> list[Path]:
    if sweep:
        try:
            return [sweep_path(sweep, out)]
        except NoSuchSweep as e:
            raise ReproduceError(str(e)) from None
    found = sorted(p.parent.resolve() for p in Path(out).glob("*/sweep.json"))
    if not found:
        raise ReproduceError(f"no sweep folders under {Path(out).resolve()} (pass --out FOLDER or --sweep SWEEP)")
    return found


def _mlflow_lookup(run_id: str, sweeps: list[Path]) -> tuple[Path, str] | None:
    """(sweep folder, trial id) of an MLflow child run id, searching the sweeps' tracking stores."""
    uris = {os.environ.get("MLFLOW_TRACKING_URI")}
    for d in sweeps:
        uri = json.loads((d / "sweep.json").read_text()).get("mlflow_uri") or ""
        cwd = ((sweep_prov.load(d) or {}).get("driver") or {}).get("cwd")
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and cwd:
            uri = f"sqlite:///{Path(cwd) / uri.removeprefix('sqlite:///')}"  # relative to where the sweep ran
        uris.add(uri)
    by_name = {d.name: d for d in sweeps}
    for uri in sorted(u for u in uris if u):
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
            continue  # opening it would create an empty store
        try:
            run = MlflowClient(tracking_uri=uri).get_run(run_id)
        except (MlflowException, OSError, ValueError):
            continue
        tags = run.data.tags
        sweep_id, trial_id = tags.get(tracking.SWEEP_TAG + ".child"), tags.get(tracking.TRIAL_TAG)
        if trial_id is None:
            raise ReproduceError(f"MLflow run {run_id} ({uri}) is not a trial's run (no {tracking.TRIAL_TAG} tag): "
                                 f"pass a trial's child run or its trial id")
        if sweep_id not in by_name:
            raise ReproduceError(f"MLflow run {run_id} is trial {trial_id} of sweep {sweep_id!r}, whose folder is "
                                 f"not among {', '.join(sorted(by_name))}: pass --out/--sweep")
        return by_name[sweep_id], trial_id
    return None


def find_trial(trial: str, out: str | Path = "sweeps", sweep: str | None = None) -> tuple[Path, str]:
    """(sweep folder, Tune trial id) of a trial id or an MLflow run id."""
    sweeps = _sweeps(out, sweep)
    trial = trial.removeprefix("trial_")
    hits = [d for d in sweeps if tune_state.tune_storage(d).read(f"trial_{trial}", "params.json") is not None]
    if len(hits) > 1:
        raise ReproduceError(f"trial {trial} exists in several sweeps ({', '.join(d.name for d in hits)}): pass --sweep")
    if hits:
        return hits[0], trial
    found = _mlflow_lookup(trial, sweeps)
    if found is None:
        raise ReproduceError(f"{trial!r} is neither a trial id nor an MLflow run id of a trial in the sweeps under "
                             f"{Path(out).resolve()} ({', '.join(d.name for d in sweeps)})")
    return found


def _last_report(sweep_dir: Path, trial_id: str) -> dict[str, Any]:
    text = tune_state.tune_storage(sweep_dir).read(f"trial_{trial_id}", "result.json") or ""
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return max(rows, key=lambda r: int(r.get("epoch", r.get("training_iteration", 0)))) if rows else {}


def _same(a: Any, b: Any, exact: bool, atol: float, rtol: float) -> bool:
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b if exact else abs(b - a) <= atol + rtol * abs(a)


def _numeric(d: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in d.items()
            if k not in SKIP and isinstance(v, (int, float)) and not isinstance(v, bool)}


def reproduce(trial: str, out: str | Path = "sweeps", sweep: str | None = None,
              atol: float | None = None, rtol: float | None = None) -> Outcome:
    sweep_dir, trial_id = find_trial(trial, out, sweep)
    ledger = sweep_dir / "ledger.json"
    status = (json.loads(ledger.read_text()).get(trial_id, {}) if ledger.exists() else {}).get("status", "unknown")
    last = _last_report(sweep_dir, trial_id)
    if status == "error" or not last:
        raise ReproduceError(f"trial {trial_id} of sweep {sweep_dir.name} ended with status {status!r} and "
                             f"{'no' if not last else 'an incomplete'} final report: there are no final metrics to reproduce")
    if not last.get("provenance"):
        raise ReproduceError(f"trial {trial_id} of sweep {sweep_dir.name} recorded no provenance (its sweep ran "
                             f"before sweeper recorded one, or the trial did not finish): cannot re-run it exactly")
    rec = json.loads(last["provenance"])

    rec_dev = rec["hardware"].get("device", "cpu")
    device = torch.device("cuda" if rec_dev == "cuda" and torch.cuda.is_available() else "cpu")
    threads = int(rec["hardware"].get("torch_threads", 1))
    epoch = int(last.get("epoch", 0)) or None
    new = replay(rec["config"], threads=threads, until_epoch=epoch, device=device)

    exact = rec_dev == "cpu" and device.type == "cpu"
    atol = DEFAULT_ATOL if atol is None else atol
    rtol = DEFAULT_RTOL if rtol is None else rtol
    o = Outcome(sweep_dir.name, trial_id, int(rec["config"]["seed"]), device.type, threads, exact, atol, rtol)
    recorded_m, now_m = _numeric(last), _numeric(new.metrics)
    for k in sorted(recorded_m):
        o.rows.append((k, recorded_m[k], now_m.get(k), _same(recorded_m[k], now_m.get(k), exact, atol, rtol)))
    for k in sorted(set(now_m) - set(recorded_m)):
        o.rows.append((k, None, now_m[k], False))

    rd, nd = rec["data"], new.provenance["data"]
    o.data = [f"{s} split sha256 {rd.get(s, '?')[:16]}... recorded, {nd.get(s, '?')[:16]}... now"
              for s in ("train", "val", "test") if rd.get(s) != nd.get(s)]
    o.hardware = sweep_prov.differences(rec["hardware"], new.provenance["hardware"])
    recorded_sweep = sweep_prov.load(sweep_dir) or {}
    code_now, _ = sweep_prov.code_version()
    if recorded_sweep:
        keep = ("commit", "dirty", "diff_sha256")
        o.code = sweep_prov.differences({k: recorded_sweep["code"].get(k) for k in keep}, {k: code_now.get(k) for k in keep})
        if recorded_sweep.get("resumed"):
            o.code.append(f"the sweep was resumed {len(recorded_sweep['resumed'])} time(s) with other code or "
                          f"packages (see {sweep_dir / sweep_prov.FILE}); compared with its first launch")
        o.packages = sweep_prov.differences(recorded_sweep["packages"], sweep_prov.packages())
    else:
        o.code = [f"the sweep recorded no code version ({sweep_dir / sweep_prov.FILE} is missing)"]
    return o
