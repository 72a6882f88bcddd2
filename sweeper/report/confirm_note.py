"""The sentence a report of a confirm sweep prints: what was re-run, selected on which seeds, run on which.

Read from the sweep's ``sweep.json`` (``confirms``, written by ``sweeper confirm``); files only.
"""
from __future__ import annotations

import json
from pathlib import Path


def report_note(sweep_dir: Path) -> str | None:
    """The sentence a report of a confirm sweep prints (None for any other sweep)."""
    f = Path(sweep_dir) / "sweep.json"
    c = json.loads(f.read_text()).get("confirms") if f.exists() else None
    if not c:
        return None
    what = ("each method's selected configuration" if c["top"] == "per-method"
            else f"its top {c['top']} configuration(s)")
    return (f"Confirm sweep of {c['source']}: {what} by {c['metric']} ({c['mode']}, mean "
            f"over seeds {', '.join(map(str, c['selection_seeds']))}) re-run on seeds {', '.join(map(str, c['seeds']))}"
            + (f" at {c['epochs']} epochs" if c.get("epochs") else "")
            + "; the test numbers above come from seeds never used for selection.")
