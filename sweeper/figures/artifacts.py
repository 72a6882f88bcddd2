"""Where a finished trial's artifact files are, and reading its JSON artifacts.

The trial writes its artifacts (DropMax retain matrices, Dropout++/SAL gate
values, the SAL architecture, calibration bins) into ``artifacts/`` of its
final checkpoint; Tune keeps that under
``<sweep>/tune/trial_<id>/checkpoint_<n>/artifacts`` (the newest checkpoint is
the final one). Figures take a plain ``{trial_id: folder}`` mapping, so they
work on any folder holding those files.
"""
from __future__ import annotations

import json
from pathlib import Path


def artifact_dirs(sweep_dir: Path) -> dict[str, Path]:
    """trial_id -> the artifacts folder of its newest local checkpoint (trials without one are left out).

    A folder of committed results (``results/<sweep>/``, no ``tune/``) keeps each trial's JSON
    artifacts as ``artifacts/<trial_id>/``; those are used where Tune's folder is absent."""
    out: dict[str, Path] = {}
    for trial in sorted((Path(sweep_dir) / "artifacts").glob("*")):
        if trial.is_dir():
            out[trial.name] = trial
    for trial in sorted((Path(sweep_dir) / "tune").glob("trial_*")):
        ckpts = sorted(trial.glob("checkpoint_*/artifacts"), key=lambda p: p.parent.name)
        if ckpts:
            out[trial.name.removeprefix("trial_")] = ckpts[-1]
    return out


def read_json(dirs: dict[str, Path], trial_ids, name: str) -> list[dict]:
    """The JSON artifact ``name`` of each trial in ``trial_ids`` that has it."""
    out = []
    for tid in trial_ids:
        f = dirs.get(tid, Path("/nonexistent")) / name
        if f.is_file():
            out.append(json.loads(f.read_text()))
    return out


def matching(dirs: dict[str, Path], trial_ids, pattern: str) -> dict[str, list[dict]]:
    """{file name: [its JSON per trial]} for the artifacts matching the glob ``pattern``."""
    out: dict[str, list[dict]] = {}
    for tid in trial_ids:
        d = dirs.get(tid)
        if d is None or not d.is_dir():
            continue
        for f in sorted(d.glob(pattern)):
            out.setdefault(f.name, []).append(json.loads(f.read_text()))
    return out
