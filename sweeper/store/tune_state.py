"""Read-only access to what Ray Tune stored for a sweep: trial folders, results, experiment snapshots.

Works on a local folder or remote storage (``s3://...``) through ``pyarrow.fs``; imports no Ray.
Tune rewrites its files in place while a sweep runs, so each reader tolerates a file caught
mid-write (see ``snapshot`` and ``read_fullest``).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from sweeper.store import sweepdir
from trainables import metric_names as M


class TuneStorage:
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

    def stats(self, paths: list[str]) -> dict[str, tuple[int, int] | None]:
        """(mtime in ns, size) of each relative path, None where there is no such file; one call."""
        infos = self.fs.get_file_info(["/".join([self.root, p]) for p in paths]) if paths else []
        return {p: ((i.mtime_ns or 0, i.size or 0) if i.type == pafs.FileType.File else None)
                for p, i in zip(paths, infos)}

    def read(self, *parts: str) -> str | None:
        path = "/".join([self.root, *parts])
        try:
            with self.fs.open_input_stream(path) as f:
                return f.readall().decode()
        except (FileNotFoundError, OSError):
            return None


def tune_storage(sweep_dir: Path) -> TuneStorage:
    meta_file = sweep_dir / "sweep.json"
    storage = sweepdir.read_meta(sweep_dir).get("storage") if meta_file.exists() else None
    return TuneStorage(str(storage or sweep_dir).rstrip("/") + "/tune")


def read_rows(text: str | None) -> list[dict[str, Any]]:
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


def finite_float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def snapshot(store: "TuneStorage", budget_s: float = 3.0, newest_only: bool = False) -> dict[str, dict[str, Any]] | None:
    """Tune's own record of every trial, from its newest readable experiment snapshot:
    trial_id -> {status (PENDING|RUNNING|PAUSED|TERMINATED|ERROR), config, last_result,
    num_failures}. None when there is no snapshot yet.

    Tune rewrites the snapshot in place about once a second: a read that lands mid-write is
    retried (sweepdir.read_json_tolerant), and only if the newest stays unreadable is the
    previous one used. ``budget_s``: how long a half-written snapshot is retried (0: not at all);
    ``newest_only``: None rather than an older snapshot when the newest is unreadable.
    """
    snaps = store.files("experiment_state-")
    snaps = snaps[-1:] if newest_only else snaps
    for name in reversed(snaps):
        try:
            data = sweepdir.read_json_tolerant(lambda: store.read(name), budget_s=budget_s)
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


def known_trial_ids(store: "TuneStorage") -> set[str] | None:
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


def read_once(store: "TuneStorage", *parts: str) -> tuple[str | None, bool]:
    """A JSON-lines file read once, without waiting: (text, whole). ``whole`` is False when the
    read may have landed mid-write (a line that does not parse, or no final newline); the caller
    then uses what parsed and reads it again later instead of sleeping."""
    text = store.read(*parts)
    if text is None:
        return None, True
    whole = text.endswith("\n") and _complete_lines(text) == len(text.splitlines())
    return text, whole


def read_fullest(store: "TuneStorage", *parts: str, reads: int = 6) -> str | None:
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
