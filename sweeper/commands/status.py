"""``sweeper status SWEEP``: progress of a sweep from its files alone (no Ray is started).

Reads ``sweep.json``, the driver lock and the trial folders (the same collection the
Parquet tables come from). Whether a driver is at work comes from the lock (host, pid and
process start time of the driver holding it) and ``sweep.json``'s status:

- a lock naming a live process: the sweep is running (launch or resume);
- a lock from another host: it cannot be checked from here; said so;
- no live lock and status ``finished``: the sweep has finished;
- ``interrupted`` (SIGINT/SIGTERM) or ``failed`` (the driver raised): says so, and that
  ``sweeper resume`` continues it;
- anything else (``running`` with a dead or missing lock, or no status at all): the driver
  died (killed, crashed, machine lost); ``sweeper resume`` continues it.

A damaged ``sweep.json`` or ``spec.yaml`` is a one-line error (exit 2), never a traceback.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from sweeper import report
from sweeper.store import identity, progress, sweepdir, tables


def driver_line(d: Path, meta: dict, trials: list[dict]) -> tuple[str, bool]:
    """(one line on the driver and what to do, whether a driver is alive)."""
    sid = meta["sweep_id"]
    resume = f"continue with `sweeper resume {sid}`"
    lock = sweepdir.read_lock(d)
    st = meta.get("status")
    if lock is not None:
        state = sweepdir.driver_state(lock)
        if state == "alive":
            return f"running: driver pid {lock.get('pid')} on {lock.get('host')}", True
        if state == "unknown":
            return (f"a driver on host {lock.get('host')} (pid {lock.get('pid')}) holds the lock; it cannot be checked "
                    f"from here (sweep.json says {st or 'nothing yet'})"), True
    elif st == "running":  # a sweep from before the lock existed: fall back to sweep.json's pid
        state = sweepdir.driver_state(meta)
        if state == "alive":
            return f"running: driver pid {meta.get('driver_pid')} on {meta.get('driver_host')}", True
        if state == "unknown":
            return f"the driver runs on host {meta.get('driver_host')}: it cannot be checked from here", True
    if st == "finished":
        failed = sum(t["status"] == "error" for t in trials)
        extra = f"; {failed} trial(s) failed: `sweeper resume {sid} --retry-errored` reruns them" if failed else ""
        return "the sweep has finished" + extra, False
    if st == "interrupted":
        return f"the sweep was interrupted ({meta.get('interrupted_by', 'signal')}): {resume}", False
    if st == "failed":
        return f"the driver stopped with an error ({str(meta.get('error', ''))[:200]}): {resume}", False
    pid, host = meta.get("driver_pid") or (lock or {}).get("pid"), meta.get("driver_host") or (lock or {}).get("host")
    who = f"the driver (pid {pid} on {host})" if pid else "the driver"
    return f"{who} is not running and the sweep has not finished (it was killed or crashed): {resume}", False


def status_text(sweep: str, out: str = "sweeps") -> str:
    d = sweepdir.sweep_path(sweep, out)
    meta = sweepdir.read_meta(d)
    spec = sweepdir.load_spec(d)
    trials, _ = tables.collect(d, identity.trial_base(spec), pending=True)
    line, alive = driver_line(d, meta, trials)
    if not alive:  # nothing runs them any more
        for t in trials:
            if t["status"] in ("running", "pending"):
                t["status"] = "unfinished"
    counts = Counter(t["status"] for t in trials)
    metric, mode = spec.search.objective
    lines = [f"sweep {meta['sweep_id']} ({d})", progress.files_view(d, meta, spec, trials), line]
    if counts.get("unfinished"):  # shown as pending above: nothing runs them until `sweeper resume`
        lines.append(f"{counts['unfinished']} trial(s) unfinished: no driver runs them")
    failed = [t for t in trials if t["status"] in ("error", "diverged")]
    for t in failed[:10]:
        why = (t["reason"] or "").strip().splitlines() or [""]
        why = why[0] if why[0].startswith(("out of memory", "exceeded")) else why[-1]
        lines.append(f"  {t['status']}: trial {t['trial_id']} ({t['config']}, seed {t['seed']}): {why[:200]}")
    df = pd.DataFrame(trials)
    if len(df) and (df["status"] == "finished").any():
        summary = report.summarize(df, metric, mode)
        most = int(summary["n_finished"].max())
        fewer = int((summary["n_finished"] < most).sum())
        lines.append(f"best so far by {metric} ({mode}), among the configurations with {most} finished seed(s)"
                     + (f" ({fewer} with fewer not ranked)" if fewer else "") + ":")
        lines.append(report.format_table(summary[summary["n_finished"] == most], metric, top=3))
    return "\n".join(lines)
