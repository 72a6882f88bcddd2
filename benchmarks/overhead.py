"""Fixed cost per trial: a sweep of many short trials through the real launch path vs a plain loop (issue 12).

What: ``trials`` trials (default 48) of ``epochs`` epochs (default 3) each, digits,
MLP 128-128 + softmax, batch 64, Adam, the learning rate drawn by the random
sampler (log-uniform 1e-3..1e-2, ``sampler_seed`` 0), one seed, 1 CPU (one torch
thread) per trial, ``concurrency`` trials at once (default 2) on a local Ray
instance of that many CPUs. Each mode runs ``sweeper.driver.launch.launch`` exactly as
``sweeper launch`` does (spec validation, MLflow SQLite tracking, ledger, Parquet
tables), in a fresh temporary folder and a fresh Ray instance.

Modes, run one after the other in the same process (load drift hits both):

- ``after``: the defaults (trial processes reused across trials with their state
  reset, datasets cached per process, checkpoints every ``search.checkpoint_every_s``
  seconds plus the final one);
- ``before``: ``SWEEPER_REUSE_PROCESSES=0`` (a fresh process per trial, so no dataset
  cache either), ``checkpoint_every_s: 0`` (a checkpoint every epoch) and
  ``snapshot_every_s: 1`` (Tune's experiment snapshot every second, what ``launch``
  set before): the trial path as it was before issue 12. The other driver-side
  changes (batched MLflow calls, lazy imports, Tune's CSV/TensorBoard loggers off)
  are in both.
- ``snapshot_1s``: the defaults but ``snapshot_every_s: 1``: isolates the write
  volume of Tune's experiment snapshots (run it beside ``after`` on longer trials,
  e.g. ``--modes after,snapshot_1s --trials 8 --epochs 40``).

Floor (baseline): the same trials' training (same configuration, one thread,
``lr`` fixed at 3e-3: the step cost does not depend on it) in a plain loop in this
process: load the data once, then per trial build the network and run its epochs.

Reported per mode: ``ray_start_s`` (``ray.init``; not part of the sweep wall),
``wall_s`` (the ``launch`` call), ``compute_s`` (sum over trials and epochs of the
trial's own epoch seconds, ``seconds``), ``first_result_s`` (launch start to
the driver receiving the first epoch result, from MLflow's metric timestamps),
``fixed_ms`` = (wall x concurrency - compute) / trials (everything a trial costs
beyond its epochs: process start, imports, data, model, checkpoints, reporting,
scheduling, driver callbacks), ``written_mb``: bytes the driver process passed to
``write`` calls during the sweep (``wchar`` of ``/proc/self/io``, all its threads:
Tune's snapshots and their copies to the storage path, MLflow's SQLite store, the
ledger, Parquet; trial checkpoints are written by the trial processes and not
counted; Linux only, else None), ``folder_mb``: the sweep folder's size at the end,
``warm_fixed_ms_median``: median over trials that
ran in a process that had already run a trial (same ``pid``) of the driver-seen
span minus the trial's compute, and
``cold_fixed_ms_median`` the same over first-in-process trials. The driver-seen span of a trial
runs from Tune marking it RUNNING (its actor assigned) to the driver receiving its last result:
``start_time`` and ``last_result_time`` of the trial's ``run_metadata`` in Tune's final experiment
state (``tune/experiment_state-*.json``). Not the trial's MLflow run: that is created at the trial's
first result (it carries the trial's identity), so its span leaves out the trial's start. ``ms`` =
wall x concurrency / trials, ``baseline_ms`` = floor wall / trials, ``ratio`` =
ms / baseline_ms. Target: warm fixed cost <= 300 ms. One run per mode (a sweep
is long): read the ratio together with ``load`` (1-minute load average, 2-core
machine shared with other work).

Size: ``SWEEPER_BENCH_OVERHEAD_TRIALS`` / ``_EPOCHS`` / ``_CONCURRENCY``
(``--quick``: 8 trials x 2 epochs), or ``python -m benchmarks.overhead --trials
N --epochs E --modes before,after``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

TARGET_MS = 300.0
# mode -> (search settings, reuse trial processes?)
MODES: dict[str, tuple[dict, bool]] = {
    "before": ({"checkpoint_every_s": 0, "snapshot_every_s": 1}, False),
    "after": ({}, True),
    "snapshot_1s": ({"snapshot_every_s": 1}, True),
}
WIDTHS = [128, 128]
FLOOR_LR = 3.0e-3


def _spec_dict(name: str, trials: int, epochs: int, search_overrides: dict) -> dict:
    search = {"sampler": "random", "num_samples": trials, "sampler_seed": 0, "metric": "val_error", "mode": "min",
              **search_overrides}
    return {
        "name": name,
        "description": "sweeper bench overhead: many short trials",
        "dataset": {"name": "digits"},
        "model": {"name": "mlp", "params": {"widths": WIDTHS}},
        "regularizer": {"name": "softmax"},
        "train": {"epochs": epochs, "batch_size": 64, "optimizer": "adam", "lr": FLOOR_LR},
        "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True}},
        "seeds": [0],
        "search": search,
        "resources": {"cpu": 1, "gpu": 0},
    }


def floor(trials: int, epochs: int) -> dict:
    """The same training in a plain loop in this process (data loaded once, one thread)."""
    import torch

    from trainables.config import Section
    from trainables.loop import TrainConfig, Trainer
    from trainables.resolve import trial_config
    from trainables.trial import build, load_splits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        cfg0 = trial_config(Section("digits"), Section("mlp", {"widths": tuple(WIDTHS)}), Section("softmax"),
                            TrainConfig(epochs=epochs, batch_size=64, lr=FLOOR_LR), seed=0)
        splits = load_splits(cfg0)
        compute = 0.0
        for i in range(trials):
            trainer = Trainer(build(cfg0, splits), splits, cfg0.train, torch.device("cpu"), i)
            while not trainer.done:
                compute += trainer.run_epoch()["seconds"]
        wall = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return {"wall_s": wall, "compute_s": compute, "fixed_ms": (wall - compute) / trials * 1e3}


def _first_result(mlflow_uri: str, experiment: str) -> float:
    """The earliest first-epoch result time (MLflow's metric timestamps), in seconds."""
    from mlflow import MlflowClient

    c = MlflowClient(mlflow_uri)
    exp = c.get_experiment_by_name(experiment)
    runs = [r for r in c.search_runs([exp.experiment_id], max_results=10000) if "sweeper.trial_id" in r.data.tags]
    first = float("inf")
    for r in runs:
        hist = c.get_metric_history(r.info.run_id, "epoch")
        if hist:
            first = min(first, min(m.timestamp for m in hist) / 1e3)
    return first


def _tune_spans(sweep_dir: Path) -> dict[str, tuple[float, float]]:
    """trial_id -> (RUNNING since, last result received) in seconds, from Tune's last experiment state."""
    import json

    state = max((sweep_dir / "tune").glob("experiment_state-*.json"), key=lambda f: f.stat().st_mtime)
    spans = {}
    for trial_json, meta_json in json.loads(state.read_text())["trial_data"]:
        meta = json.loads(meta_json)
        if meta.get("start_time") and meta.get("last_result_time"):
            spans[json.loads(trial_json)["trial_id"]] = (meta["start_time"], meta["last_result_time"])
    return spans


def _restore_env(old: dict[str, str | None]) -> None:
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _fixed_costs(spans: dict, pids: dict, compute_by_trial: dict) -> tuple[list[float], list[float]]:
    """(warm, cold) fixed cost per trial in ms: span minus compute, warm when its process ran a trial before."""
    seen: set[int] = set()
    warm, cold = [], []
    for tid, (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        pid = pids.get(tid)
        fixed = end - start - compute_by_trial.get(tid, 0.0)
        (warm if pid in seen else cold).append(fixed * 1e3)
        seen.add(pid)
    return warm, cold


def sweep(mode: str, trials: int, epochs: int, concurrency: int) -> dict:
    """One sweep through ``sweeper.driver.launch.launch`` in a fresh folder and a fresh Ray instance."""
    import pandas as pd

    from sweeper import spec as spec_mod
    from sweeper.driver import launch as launch_mod
    from sweeper.driver import local_ray

    search, reuse = MODES[mode]
    env_old = {k: os.environ.get(k) for k in ("SWEEPER_REUSE_PROCESSES", "MLFLOW_TRACKING_URI")}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix=f"bench-overhead-{mode}-") as tmp:
        os.chdir(tmp)  # MLflow's default artifact root (./mlruns) of the bench's own store: inside tmp
        os.environ["MLFLOW_TRACKING_URI"] = uri = f"sqlite:///{tmp}/mlflow.db"
        if not reuse:
            os.environ["SWEEPER_REUSE_PROCESSES"] = "0"
        else:
            os.environ.pop("SWEEPER_REUSE_PROCESSES", None)
        name = f"overhead_{mode}"
        s = spec_mod.from_dict(_spec_dict(name, trials, epochs, search), source=f"<bench overhead {mode}>")
        try:
            t0 = time.perf_counter()
            local_ray.start_or_join(None, concurrency)
            ray_start = time.perf_counter() - t0
            t_launch = time.time()
            w0 = _written_bytes()
            t0 = time.perf_counter()
            res = launch_mod.launch(s, num_cpus=concurrency, out=Path(tmp) / "sweeps", verbose=0)
            wall = time.perf_counter() - t0
            w1 = _written_bytes()
        finally:
            os.chdir(cwd)
            local_ray.shut_down()
            _restore_env(env_old)
        ep = pd.read_parquet(res.sweep_dir / "epochs.parquet")
        tr = res.trials
        n_ckpt = sum(1 for _ in (res.sweep_dir / "tune").glob("trial_*/checkpoint_*"))
        spans, first = _tune_spans(res.sweep_dir), _first_result(uri, name)
        pids = _pids(res.sweep_dir)
        folder = _folder_bytes(res.sweep_dir)
    compute_by_trial = ep.groupby("trial_id")["seconds"].sum().to_dict()
    compute = float(sum(compute_by_trial.values()))
    warm, cold = _fixed_costs(spans, pids, compute_by_trial)
    return {
        "mode": mode, "trials": len(tr), "finished": int((tr.status == "finished").sum()), "epochs": epochs,
        "concurrency": concurrency, "ray_start_s": ray_start, "wall_s": wall, "compute_s": compute,
        "first_result_s": first - t_launch, "fixed_ms": (wall * concurrency - compute) / max(1, len(tr)) * 1e3,
        "warm_fixed_ms_median": statistics.median(warm) if warm else None,
        "cold_fixed_ms_median": statistics.median(cold) if cold else None,
        "processes": len(set(pids.values())), "checkpoints_kept": n_ckpt,
        "written_mb": (w1 - w0) / 1e6 if w0 is not None and w1 is not None else None, "folder_mb": folder / 1e6,
    }


def _written_bytes() -> int | None:
    """Bytes this process (all threads) has passed to write calls so far (Linux ``wchar``)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _pids(sweep_dir: Path) -> dict[str, int]:
    import json

    out = {}
    for f in (sweep_dir / "tune").glob("trial_*/result.json"):
        lines = [x for x in f.read_text().splitlines() if x.strip()]
        if lines:
            out[f.parent.name.removeprefix("trial_")] = int(json.loads(lines[0]).get("pid", -1))
    return out


def _size(quick: bool) -> tuple[int, int, int]:
    env = os.environ.get
    trials = int(env("SWEEPER_BENCH_OVERHEAD_TRIALS") or (8 if quick else 48))
    epochs = int(env("SWEEPER_BENCH_OVERHEAD_EPOCHS") or (2 if quick else 3))
    return trials, epochs, int(env("SWEEPER_BENCH_OVERHEAD_CONCURRENCY") or 2)


def run(quick: bool = False, trials: int | None = None, epochs: int | None = None, concurrency: int | None = None,
        modes: tuple[str, ...] = ("before", "after")) -> list[dict]:
    qt, qe, qc = _size(quick)
    trials, epochs, concurrency = trials or qt, epochs or qe, concurrency or qc
    fl = floor(trials, epochs)
    rows = []
    for mode in modes:
        load = os.getloadavg()[0]
        r = sweep(mode, trials, epochs, concurrency)
        ms = r["wall_s"] * concurrency / max(1, r["trials"]) * 1e3
        base = fl["wall_s"] / trials * 1e3
        rows.append({
            "name": f"overhead_{mode}: {trials} trials x {epochs} epochs, digits MLP 128-128, {concurrency} at once",
            "baseline": "plain loop, one process", "ms": round(ms, 1), "baseline_ms": round(base, 1),
            "ratio": round(ms / base, 2), "target": f"warm fixed <= {TARGET_MS:.0f} ms",
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "mode"},
            "floor_compute_s": round(fl["compute_s"], 3), "floor_fixed_ms": round(fl["fixed_ms"], 2),
            "load": round(load, 2),
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--concurrency", type=int)
    ap.add_argument("--modes", default="before,after", help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    for row in run(a.quick, a.trials, a.epochs, a.concurrency, tuple(a.modes.split(","))):
        print(row, flush=True)


if __name__ == "__main__":
    main()
