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

``sweeper.driver.callbacks.progress.ProgressCallback`` replaces Ray Tune's boxed table: it prints this view
at most every ``every_s`` seconds (and once at the end), never once per result.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable

from sweeper.spec import SweepSpec
from sweeper.spec.labels import config_name
from sweeper.store.trial_status import ENDED


@dataclass(frozen=True)
class TrialState:
    """What the view needs of one trial."""

    status: str  # pending | running | finished | stopped | diverged | error
    epochs_done: int
    epochs_total: int
    config_id: str
    name: str  # readable configuration name (regularizer + searched values)
    value: float | None = None  # final validation metric (finished trials)


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


def expected_budget(spec: SweepSpec) -> float | None:
    """The mean epoch budget of a trial of this spec: a searched ``train.epochs``' mean value (its
    choices, its range's midpoint), else ``train.epochs``; None when the spec does not say."""
    for p in spec.space:
        if p.path != "train.epochs":
            continue
        if p.type == "categorical" and p.choices:
            return sum(float(c) for c in p.choices) / len(p.choices)
        if p.type in ("int", "float"):
            return (float(p.low) + float(p.high)) / 2.0
        if p.type == "fixed":
            return float(p.value)
    e = spec.base["train"].get("epochs")
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


def files_view(sweep_dir, meta: dict, spec: SweepSpec, trial_rows: list[dict], now: float | None = None) -> str:
    """The same view from a sweep's files (``sweeper status``): ``trial_rows`` from ``results.collect``."""
    metric, mode = spec.search.objective
    default_budget = int(spec.base["train"].get("epochs", 10))
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
                unknown_budget=expected_budget(spec))
