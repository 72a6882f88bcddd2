"""Thousands of trials: the driver's cost per trial through the real launch path (issue 25).

What: a sweep of ``N`` trivial trials (``N`` = 100, 1,000, 3,000 by default; ``--quick``: 20, 100)
through ``sweeper.driver.launch.launch`` exactly as ``sweeper launch`` runs it (spec validation,
local Ray, Tune, Optuna's random sampler with its study in ``optuna.db``, MLflow SQLite tracking,
ledger, Parquet tables, report), each in a fresh subprocess, temporary folder and Ray instance.
The trials do no training: ``SWEEPER_TRAINABLE=benchmarks.scale:report_only`` reports one epoch
with the trial's identity and made-up metrics, so what is measured is the driver's own work.
Trials take ``CPU_PER_TRIAL`` CPUs on a Ray instance of ``NUM_CPUS`` (4 at once).

Reported per ``N`` (the driver process only; Ray's raylet/GCS and the trial processes excluded):
``wall_s`` (the ``launch`` call, Ray's start apart), ``driver_cpu_ms_per_trial`` (user + system
CPU of the driver process during ``launch``, / N), ``written_kb_per_trial`` (bytes the driver
passed to ``write``, Linux ``wchar``, / N), ``folder_kb_per_trial`` (the sweep folder and the MLflow
store at the end, / N), ``peak_rss_mb`` (the driver's peak resident memory), ``tail_s`` (from the
last trial's end, as it reported it, to the end of ``launch``: tables, MLflow, figures, report),
``written_kb_per_trial_by`` (where strace exists: every write system call of the driver and the
processes it started, traced with ``strace -f --seccomp-bpf`` and summed by the file written,
``CATEGORIES``; the tracing stops each such call, which adds a little to wall and CPU).
Target (issue 25): CPU per trial at N = 3,000 within 1.5x of N = 100; written bytes linear in N.

Size: ``python -m benchmarks.scale --sizes 100,1000,3000`` (one JSON line per size), or
``sweeper bench scale`` (``--quick``: 20 and 100).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (100, 1000, 3000)
QUICK = (20, 100)
NUM_CPUS = 2
CPU_PER_TRIAL = 0.5
TARGET = 1.5  # CPU per trial at the largest N over the smallest
ENDED = "ended_at"  # result key: when the trial reported (seconds since the epoch)


# (category, pattern on the written file's path), first match wins; "other" for the rest
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("tune_experiment_state", r"experiment_state-[^/]*\.json$"),
    ("tune_trial_files", r"/trial_[^/]+/"),
    ("tune_searcher_callbacks", r"/(tune|driver_artifacts)/[^/]*(searcher-state|search_gen_state|callback|\.pkl|/\.)"),
    ("parquet_tables", r"\.parquet"),
    ("mlflow_store", r"mlflow\.db|/mlruns/"),
    ("optuna_study", r"optuna\.db"),
    ("ledger", r"ledger"),
    ("report_figures", r"/report/|/figures/|\.png$|\.md$|\.csv$"),
    ("ray_logs", r"^/tmp/ray/.*/logs/"),
    ("sockets_pipes", r"^(socket|pipe|anon_inode):"),
)
_TRACED = "write,pwrite64,writev,pwritev,pwritev2"
_LINE = re.compile(r"^\d+\s+\w+\(\d+<([^>]*)>.*\)\s+=\s+(\d+)$")
_UNFINISHED = re.compile(r"^(\d+)\s+\w+\(\d+<([^>]*)>.*<unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. \w+ resumed>.*\)\s+=\s+(\d+)$")


def _writes(lines: Any) -> Any:
    """(path, bytes) of each completed write in an ``strace -f -y`` log; a call that another thread
    interrupted is split in two lines (``<unfinished ...>``, then ``<... write resumed> = N``), joined
    here by thread id."""
    pending: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip()
        if m := _LINE.match(line):
            yield m.group(1), int(m.group(2))
        elif m := _UNFINISHED.match(line):
            pending[m.group(1)] = m.group(2)
        elif (m := _RESUMED.match(line)) and m.group(1) in pending:
            yield pending.pop(m.group(1)), int(m.group(2))


def categorize(trace: Path, n: int) -> dict[str, float]:
    """KB per trial written, by ``CATEGORIES``, from an ``strace -f -y`` log of write calls."""
    rules = [(name, re.compile(rx)) for name, rx in CATEGORIES]
    total: dict[str, int] = {name: 0 for name, _ in CATEGORIES} | {"other": 0}
    with trace.open(errors="replace") as f:
        for path, nbytes in _writes(f):
            total[next((c for c, rx in rules if rx.search(path)), "other")] += nbytes
    return {k: round(v / n / 1024, 1) for k, v in total.items()}


def report_only(config: dict[str, Any], base: dict[str, Any]) -> None:
    """A Tune trainable with ``run_trial``'s signature that trains nothing: one report carrying the
    trial's identity (as ``trainables.trial`` reports it) and a made-up, config-dependent error."""
    from ray import tune

    from sweeper.store import identity as driver_identity
    from trainables import identity

    record = driver_identity.derive(base, config)
    err = min(0.9, abs(float(record["params"].get("train.lr") or 0.0) - 0.005) * 20)
    tune.report({identity.REPORT_KEY: identity.encode(record), "epoch": 1, "seconds": 0.0, "diverged": 0,
                 "train_loss": err, "val_error": err, "test_error": err, ENDED: time.time()})


def spec_dict(n: int) -> dict[str, Any]:
    return {
        "name": f"scale{n}", "description": "sweeper bench scale: report-only trials",
        "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"}, "train": {"epochs": 1},
        "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True}},
        "seeds": [0],
        "search": {"sampler": "random", "num_samples": n, "sampler_seed": 0, "metric": "val_error", "mode": "min"},
        "resources": {"cpu": CPU_PER_TRIAL, "gpu": 0},
    }


def _wchar() -> int | None:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _last_end(sweep_dir: Path) -> float:
    import pandas as pd

    trials = pd.read_parquet(sweep_dir / "trials.parquet", columns=[f"metric.{ENDED}"])
    return float(trials[f"metric.{ENDED}"].max())


def measure(n: int) -> dict[str, Any]:
    """One sweep of ``n`` report-only trials in this process (call it in a fresh one)."""

    from sweeper.driver import launch as launch_mod
    from sweeper.driver import local_ray
    from sweeper.spec import from_dict

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["SWEEPER_TRAINABLE"] = "benchmarks.scale:report_only"
        local_ray.start_or_join(None, NUM_CPUS)
        try:
            cpu0, w0, t0 = os.times(), _wchar(), time.time()
            res = launch_mod.launch(from_dict(spec_dict(n)), num_cpus=NUM_CPUS, out=Path(tmp) / "sweeps", verbose=0)
            t1, cpu1, w1 = time.time(), os.times(), _wchar()
        finally:
            local_ray.shut_down()
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        finished = int((res.trials["status"] == "finished").sum())
        return {
            "trials": n, "finished": finished, "wall_s": round(t1 - t0, 1),
            "driver_cpu_ms_per_trial": round(cpu / n * 1e3, 1),
            "written_kb_per_trial": None if w0 is None else round((w1 - w0) / n / 1024, 1),
            "folder_kb_per_trial": round(_size(Path(tmp)) / n / 1024, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "tail_s": round(t1 - _last_end(res.sweep_dir), 1),
            "load_1min": round(os.getloadavg()[0], 2),
        }


def _one(n: int, trace: bool = True) -> dict[str, Any]:
    """``measure(n)`` in a fresh ``python -m benchmarks.scale --one N`` process, its writes traced
    by file (``categorize``) when ``trace`` and strace is installed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                      os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "benchmarks.scale", "--one", str(n)]
    strace = shutil.which("strace") if trace else None
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "writes.strace"
        if strace:
            cmd = [strace, "-f", "--seccomp-bpf", "-qq", "-y", "-s0", "-e", f"trace={_TRACED}", "-o", str(log), *cmd]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"scale benchmark N={n} failed (exit {out.returncode}): {out.stderr[-3000:]}")
        m = json.loads(out.stdout.strip().splitlines()[-1])
        m["written_kb_per_trial_by"] = categorize(log, n) if strace else None
    return m


def _row(m: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """A ``sweeper bench`` row: ``ms`` = driver CPU ms per trial, against the first (smallest) size."""
    ms = m["driver_cpu_ms_per_trial"]
    base_ms = base["driver_cpu_ms_per_trial"] if base else ms
    return {"name": f"scale N={m['trials']}", "baseline": f"N={(base or m)['trials']}", "ms": ms,
            "baseline_ms": base_ms, "ratio": ms / base_ms if base_ms else float("nan"), "target": f"<= {TARGET}", **m}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, echo: bool = False) -> list[dict]:
    """Each size in a fresh process; the rows for ``sweeper bench`` (``echo``: each printed as JSON when done)."""
    rows: list[dict] = []
    for n in sizes or (QUICK if quick else SIZES):
        m = _one(n)
        rows.append(_row(m, rows[0] if rows else None))
        if echo:
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", type=int, help="measure one size in this process; print its JSON")
    ap.add_argument("--sizes", default=None, help="comma-separated sizes (default 100,1000,3000)")
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(measure(a.one)), flush=True)
        return
    run(sizes=tuple(int(s) for s in a.sizes.split(",")) if a.sizes else None, echo=True)


if __name__ == "__main__":
    main()
