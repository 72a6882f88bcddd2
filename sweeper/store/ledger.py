"""The trial ledger: a derived cache of what the driver learnt from Tune's callbacks.

It holds the reasons of failures and retry counts, keyed by trial id. The truth is Tune's own
state (experiment snapshot) and each trial's results: a missing or damaged ledger loses no
trial (statuses are rebuilt from those), only the driver-side reasons it alone knew (a
timeout), which fall back to Tune's ``error.txt``.

Two files, so that recording one event costs the same at the 3,000th trial as at the first:

- ``ledger.jsonl``, the journal: ``set`` appends one line, ``{"trial_id": .., "entry": {..}}``,
  the trial's whole entry after the change (O(1) per event, instead of rewriting every entry);
- ``ledger.json``, the compacted form: trial_id -> entry. ``compact`` rewrites it from both
  (atomically) and then empties the journal; the driver does so when the journal holds more
  bytes than ``ledger.json`` (amortised O(1) per event) and when the sweep ends.

Reading: the journal first, then ``ledger.json``; per trial the entry with the latest
``updated`` wins, so a reader that lands between a compaction's two steps still sees every
entry. A ``Ledger`` kept open (the driver's callback) reads only the journal lines appended
since its last read (``refresh``).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sweeper.store import sweepdir

LEDGER = "ledger.json"
JOURNAL = "ledger.jsonl"


def _journal(path: Path) -> Path:
    return path.with_name(JOURNAL)


def _newer(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    return a is None or float(b.get("updated", 0) or 0) >= float(a.get("updated", 0) or 0)


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        journal = self._read_journal()  # before ledger.json: see the module docstring
        self.data: dict[str, dict[str, Any]] = self._load(path)
        self._apply(journal)

    @staticmethod
    def _load(path: Path) -> dict[str, dict[str, Any]]:
        for _ in range(3):
            try:
                data = json.loads(path.read_text())
                return data if isinstance(data, dict) else {}
            except FileNotFoundError:
                return {}
            except (json.JSONDecodeError, OSError, UnicodeDecodeError):
                time.sleep(0.05)  # damaged: ignored, it is rebuilt from Tune's state
        return {}

    def _read_journal(self) -> list[dict[str, Any]]:
        """Complete journal lines after ``_offset`` (a line still being written is left for later)."""
        try:
            with open(_journal(self.path), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._offset:  # compacted by another Ledger: read it all again
                    self._offset = 0
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        out = []
        for line in chunk[:end].splitlines():
            try:
                rec = json.loads(line)
                out.append(rec) if isinstance(rec, dict) and isinstance(rec.get("entry"), dict) else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a damaged line: the ledger is a cache
        return out

    def _apply(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            tid = str(rec.get("trial_id"))
            if _newer(self.data.get(tid), rec["entry"]):
                self.data[tid] = rec["entry"]

    def refresh(self) -> None:
        """Apply the journal lines written since the last read (by this or another ``Ledger``)."""
        self._apply(self._read_journal())

    def set(self, trial_id: str, status: str, reason: str = "", **extra: Any) -> None:
        self.refresh()
        entry = self.data.setdefault(trial_id, {})
        entry.update(status=status, reason=reason, updated=time.time(), **extra)
        with open(_journal(self.path), "ab") as f:
            f.write((json.dumps({"trial_id": trial_id, "entry": entry}, default=str) + "\n").encode())

    def needs_compaction(self, floor: int = 65_536) -> bool:
        """Whether the journal has grown past ``ledger.json`` (and ``floor`` bytes): compacting then
        costs O(trials) once per O(trials) events."""
        def size(p: Path) -> int:
            try:
                return p.stat().st_size
            except FileNotFoundError:
                return 0
        return size(_journal(self.path)) > max(floor, size(self.path))

    def compact(self) -> None:
        """Rewrite ``ledger.json`` from everything known, then empty the journal. Only the driver
        writes the ledger, from Tune's event loop (one thread): nothing is appended in between."""
        self.refresh()
        sweepdir.atomic_write_json(self.path, self.data)
        try:
            with open(_journal(self.path), "r+b") as f:
                f.truncate(0)
        except FileNotFoundError:
            pass
        self._offset = 0
