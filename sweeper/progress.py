"""One compact progress view of a running sweep, for the terminal (live) and ``sweeper status`` (files).

    figs_demo  18/30 trials done (15 finished, 2 diverged, 1 error), 2 running, 10 waiting
      epochs 61/90 · elapsed 1m52s · remaining ~0m55s
      best so far by val_error (min): dropmax epochs=4 · 3.12% (3 seeds)

"done" counts trials that ended: finished, stopped early by the scheduler,
diverged or failed. Epochs count the trials' epoch budgets; trials not yet
created make up the rest of the expected total, total trials x the spec's
expected budget (``expected_budget``: the mean of a searched ``train.epochs``'
values, else ``train.epochs``) minus the known trials' budgets: the trials created
so far are no guide when a grid or the per-method round-robin starts with the
short budgets. The estimate of the remaining time is elapsed x
(epochs left / epochs done) — the pace so far, so it is rough while few epochs
are done and says so ("~"). The best configuration is the best mean of the
validation metric over its finished seeds, among the configurations with the
most finished seeds (a 1-seed mean is not ranked above 5-seed ones; the line
says how many configurations with fewer seeds were left out).

:class:`ProgressCallback` replaces Ray Tune's boxed table: it prints this view
at most every ``every_s`` seconds (and once at the end), never once per result.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sweeper.tune_callback import Callback  # Ray's tune.Callback, imported when a callback is made

from sweeper.labels import config_name

ENDED = ("finished", "stopped", "diverged", "error")


@dataclass(frozen=True)
class TrialState:
    """What the view needs of one trial."""

    status: str  # pending | running | finished | stopped | diverged | error
    epochs_done: int
    epochs_total: int
    config_id: str
    name: str  # readable configuration name (regularizer + searched values)
    value: float | None = None  # final validation metric (finished trials)


def objective(spec_dict: dict) -> tuple[str, str]:
    """(metric, mode) of a spec dict's first objective (a single objective is stored as a plain string)."""
    m, d = spec_dict["search"]["metric"], spec_dict["search"]["mode"]
    return (m[0] if isinstance(m, list) else m), (d[0] if isinstance(d, list) else d)


def _duration(s: float) -> str:
    s = int(round(max(s, 0)))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def best_config(states: Iterable[TrialState], mode: str) -> tuple[str, float, int, int] | None:
    """(name, mean validation metric, seeds, configurations left out) of the best configuration over
    finished trials, among those with the most finished seeds (the others are counted, not ranked)."""
    groups: dict[str, list[TrialState]] = {}
    for s in states:
        if s.status == "finished" and s.value is not None and math.isfinite(s.value):
            groups.setdefault(s.config_id, []).append(s)
    if not groups:
        return None
    most = max(len(g) for g in groups.values())
    means = {cid: sum(s.value for s in g) / len(g) for cid, g in groups.items() if len(g) == most}
    cid = (min if mode == "min" else max)(sorted(means), key=means.get)
    return groups[cid][0].name, means[cid], most, len(groups) - len(means)


def expected_budget(spec_dict: dict) -> float | None:
    """The mean epoch budget of a trial of this spec: a searched ``train.epochs``' mean value (its
    choices, its range's midpoint), else ``train.epochs``; None when the spec does not say."""
    p = (spec_dict.get("space") or {}).get("train.epochs")
    if isinstance(p, dict):
        if p.get("choices"):
            return sum(float(c) for c in p["choices"]) / len(p["choices"])
        if "low" in p and "high" in p:
            return (float(p["low"]) + float(p["high"])) / 2.0
        if "value" in p:
            return float(p["value"])
    e = (spec_dict.get("train") or {}).get("epochs")
    return float(e) if e is not None else None


def view(name: str, states: list[TrialState], total: int | None, elapsed_s: float, metric: str, mode: str,
         epochs_done_here: int | None = None, unknown_budget: float | None = None) -> str:
    """The progress text. ``epochs_done_here``: epochs run since ``elapsed_s`` started counting
    (defaults to all epochs done; a resumed sweep passes only its own). ``unknown_budget``: the epochs
    of a trial not created yet (``expected_budget``; default: the mean budget of the known trials)."""
    total = max(total or 0, len(states))
    count = {k: sum(s.status == k for s in states) for k in ("pending", "running", *ENDED)}
    done = sum(count[k] for k in ENDED)
    ended = ", ".join(f"{count[k]} {k}" for k in ENDED if count[k])
    waiting = total - done - count["running"]
    head = f"{name}  {done}/{total} trials done" + (f" ({ended})" if ended else "") + f", {count['running']} running"
    head += f", {waiting} waiting" if waiting else ""
    budgets = [s.epochs_total for s in states]
    mean_budget = sum(budgets) / len(budgets) if budgets else 0.0
    # an ended trial needs no more epochs, whatever its budget
    ep_total = sum(s.epochs_done if s.status in ENDED else s.epochs_total for s in states)
    if unknown_budget and total > len(states):  # the not-created trials make up the expected sum of budgets
        ep_total += round(max(unknown_budget * total - sum(budgets), 0.0))
    else:
        ep_total += round(mean_budget * (total - len(states)))
    ep_done = sum(s.epochs_done for s in states)
    here = ep_done if epochs_done_here is None else epochs_done_here
    line2 = f"  epochs {ep_done}/{ep_total} · elapsed {_duration(elapsed_s)}"
    left = ep_total - ep_done
    if left <= 0:
        line2 += " · remaining 0m00s"
    elif here > 0:
        line2 += f" · remaining ~{_duration(elapsed_s * left / here)}"
    else:
        line2 += " · remaining: not known before the first epoch"
    best = best_config(states, mode)
    pct = metric.endswith("error")
    if best is None:
        line3 = f"  best so far by {metric} ({mode}): none finished yet"
    else:
        value = f"{100 * best[1]:.2f}%" if pct else f"{best[1]:.4g}"
        fewer = f"; {best[3]} configuration(s) with fewer finished seeds not ranked" if best[3] else ""
        line3 = f"  best so far by {metric} ({mode}): {best[0]} · {value} ({best[2]} seed{'s' if best[2] != 1 else ''}{fewer})"
    return "\n".join([head, line2, line3])


_TUNE_STATUS = {"PENDING": "pending", "PAUSED": "pending", "RUNNING": "running", "ERROR": "error"}


def tune_state(trial, identity: dict[str, Any], metric: str) -> TrialState:
    """A Ray Tune trial -> TrialState (``identity`` from ``results.trial_identity``)."""
    last = trial.last_result or {}
    status = _TUNE_STATUS.get(trial.status)
    if status is None:  # TERMINATED
        status = "diverged" if last.get("diverged") else ("finished" if last.get("test_error") is not None else "stopped")
    value = last.get(metric) if status == "finished" else None
    return TrialState(status, int(last.get("epoch", 0) or 0), int(identity["epochs"]), identity["config_id"],
                      config_name(identity["regularizer"], identity["config"]),
                      float(value) if isinstance(value, (int, float)) else None)


class ProgressCallback(Callback):
    """Ray Tune callback printing :func:`view` every ``every_s`` seconds and at the end."""

    def __init__(self, name: str, total: int, metric: str, mode: str, identify: Callable[[dict], dict],
                 every_s: float = 20.0, stream=None, unknown_budget: float | None = None):
        self.name, self.total, self.metric, self.mode = name, total, metric, mode
        self.unknown_budget = unknown_budget
        self.identify, self.every_s = identify, every_s
        self.stream = stream
        self._ids: dict[str, dict] = {}
        self._start: float | None = None
        self._start_epochs = 0
        self._printed = 0.0

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("stream", "_ids")} | {"stream": None, "_ids": {}}

    def _states(self, trials) -> list[TrialState]:
        out = []
        for t in trials:
            if t.trial_id not in self._ids:
                self._ids[t.trial_id] = self.identify(t.config)
            out.append(tune_state(t, self._ids[t.trial_id], self.metric))
        return out

    def text(self, trials) -> str:
        states = self._states(trials)
        now = time.monotonic()
        if self._start is None:
            self._start, self._start_epochs = now, sum(s.epochs_done for s in states)
        here = sum(s.epochs_done for s in states) - self._start_epochs
        return view(self.name, states, self.total, now - self._start, self.metric, self.mode, here,
                    getattr(self, "unknown_budget", None))

    def _print(self, trials) -> None:
        print(self.text(trials), file=self.stream or sys.stdout, flush=True)
        self._printed = time.monotonic()

    def setup(self, **info):
        self._start = None

    def on_step_end(self, iteration, trials, **info):
        if self._start is None:
            self.text(trials)  # starts the clock
        if time.monotonic() - self._printed >= self.every_s:
            self._print(trials)

    def on_experiment_end(self, trials, **info):
        self._print(trials)


def files_view(sweep_dir, meta: dict, spec_dict: dict, trial_rows: list[dict], now: float | None = None) -> str:
    """The same view from a sweep's files (``sweeper status``): ``trial_rows`` from ``results.collect``."""
    metric, mode = objective(spec_dict)
    default_budget = int((spec_dict.get("train") or {}).get("epochs", 10))
    states = []
    for r in trial_rows:
        budget = r.get("train.epochs", default_budget)
        value = r.get(metric, r.get(f"metric.{metric}"))
        status = r["status"] if r["status"] in ("pending", "running", *ENDED) else "pending"
        states.append(TrialState(status, int(r.get("epochs") or 0), int(budget), r["config_id"],
                                 config_name(r["regularizer"], r["config"]),
                                 float(value) if status == "finished" and value is not None else None))
    end = meta.get("finished") if meta.get("status") == "finished" else None
    end = float(end) if end is not None else (now or time.time())
    start = meta.get("started")
    elapsed = max(0.0, end - float(start)) if start is not None else 0.0  # no start time on record: 0
    return view(str(meta.get("sweep_id", sweep_dir)), states, meta.get("total_trials"), elapsed, metric, mode,
                unknown_budget=expected_budget(spec_dict))
