"""``sweeper status SWEEP``: progress of a sweep from its files alone (no Ray is started).

Reads ``sweep.json``, the ledger and the trial folders (the same collection the
Parquet tables come from). If the ledger says trials are running but the
driver process is gone, it says so and suggests ``sweeper resume``.
"""
from __future__ import annotations

import json
import os
import socket
from collections import Counter

import pandas as pd
import yaml

from sweeper import progress, report, results
from sweeper.paths import sweep_path


def _driver_alive(meta: dict) -> bool:
    if meta.get("driver_host") != socket.gethostname():
        return True  # another machine: cannot tell, assume alive
    try:
        os.kill(int(meta.get("driver_pid", -1)), 0)
        return True
    except (OSError, ValueError):
        return False


def status_text(sweep: str, out: str = "sweeps") -> str:
    d = sweep_path(sweep, out)
    meta = json.loads((d / "sweep.json").read_text())
    spec_dict = yaml.safe_load((d / "spec.yaml").read_text())
    trials, _ = results.collect(d, results.trial_base(spec_dict))
    counts = Counter(t["status"] for t in trials)
    metric = spec_dict["search"]["metric"]
    metric = metric[0] if isinstance(metric, list) else metric
    mode = spec_dict["search"]["mode"]
    mode = mode[0] if isinstance(mode, list) else mode
    lines = [f"sweep {meta['sweep_id']} ({d})", progress.files_view(d, meta, spec_dict, trials)]
    if counts.get("running") and meta.get("status") == "running" and not _driver_alive(meta):
        lines.append(f"the driver (pid {meta.get('driver_pid')}) is not running: continue with `sweeper resume {meta['sweep_id']}`")
    elif meta.get("status") == "finished":
        lines.append("the sweep has finished")
    failed = [t for t in trials if t["status"] in ("error", "diverged")]
    for t in failed[:10]:
        lines.append(f"  {t['status']}: trial {t['trial_id']} ({t['config']}, seed {t['seed']}): {t['reason'].strip().splitlines()[-1][:200] if t['reason'] else ''}")
    df = pd.DataFrame(trials)
    if len(df) and (df["status"] == "finished").any():
        summary = report.summarize(df, metric, mode)
        lines.append(f"best so far by {metric} ({mode}):")
        lines.append(report.format_table(summary, metric, top=3))
    return "\n".join(lines)
