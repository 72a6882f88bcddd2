"""The Parquet tables rewritten while a sweep runs, at a cost that does not grow with the sweep's past.

``tables.rebuild`` reads every trial folder, and waits out files Tune is rewriting
(``read_fullest``). Called every few seconds on Tune's event loop, that is O(trials) per
write with sleeps, O(trials^2) over a sweep. ``TableCache.write`` instead keeps each trial's
rows in memory with the *signature* of what they were made from, and rebuilds a trial's rows
only when that signature changed:

    signature(trial) = (stat params.json, stat result.json, stat error.txt,
                        Tune's snapshot entry, the ledger entry)

where ``stat`` is (mtime in ns, size), taken for all trials in one batched call. Nothing here
sleeps: a file caught mid-write (``read_once``: a line that does not parse, no final newline;
or a size other than the one stat'ed)
gives the rows of the trial's last whole read (the rows that parsed, if there was none), and
its trial is read again at the next write. The snapshot is
re-parsed only when its file changed, and a snapshot caught mid-write skips this write
(the next one catches up). The rows are those ``tables.trial_rows`` computes, in the same
order as ``tables.collect``, so once every file is settled the tables are identical to a full
``rebuild`` (the driver still writes one full rebuild when the sweep ends).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeper.spec import SweepSpec
from sweeper.store import tables
from sweeper.store.identity import trial_base
from sweeper.store.ledger import LEDGER, Ledger
from sweeper.store.tune_state import TuneStorage, read_once, read_rows, snapshot, tune_storage

FILES = ("params.json", "result.json", "error.txt")


def _size(text: str | None) -> int | None:
    return None if text is None else len(text.encode())


def _size_of(sig: Any, i: int) -> int | None:
    """The size of ``FILES[i]`` when its trial's signature was taken (None: no such file)."""
    stat = sig[0][i]
    return None if stat is None else stat[1]


@dataclass
class _Entry:
    signature: Any  # None: made from a partial read, rebuilt at the next write
    trial: dict[str, Any] | None  # None: not started (no row)
    epochs: list[dict[str, Any]]


@dataclass
class TableCache:
    """Rows of each trial and what they were made from; owned by the Tune callback that writes
    the tables (never pickled with it). ``reads`` counts trial folders read (for tests and the
    scale benchmark)."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    snap_stat: Any = None
    snap: dict[str, dict[str, Any]] | None = None
    reads: int = 0

    def _snapshot(self, store: TuneStorage) -> tuple[bool, dict[str, dict[str, Any]] | None]:
        """(readable, snapshot): the snapshot re-parsed only when its newest file changed."""
        names = store.files("experiment_state-")
        stat = (names[-1], store.stats(names[-1:]).get(names[-1])) if names else None
        if stat != self.snap_stat or stat is None:
            snap = snapshot(store, budget_s=0.0, newest_only=True)
            if names and snap is None:
                return False, None  # caught mid-write: the next write catches up
            self.snap_stat, self.snap = stat, snap
        return True, self.snap

    def rows(self, sweep_dir: Path, base: dict[str, Any]) -> tuple[list[dict], list[dict]] | None:
        """Trial and epoch rows as ``tables.collect`` gives them, re-reading only changed trials;
        None when Tune's snapshot was caught mid-write (nothing to write this time)."""
        store = tune_storage(sweep_dir)
        ok, snap = self._snapshot(store)
        if not ok:
            return None
        ledger = Ledger(sweep_dir / LEDGER).data
        dirs = [d for d in store.dirs("trial_") if snap is None or d.removeprefix("trial_") in snap]
        stats = store.stats([f"{d}/{f}" for d in dirs for f in FILES])
        trials: list[dict] = []
        epochs: list[dict] = []
        for d in dirs:
            trial_id = d.removeprefix("trial_")
            tsnap = (snap or {}).get(trial_id)
            sig = (tuple(stats[f"{d}/{f}"] for f in FILES), json.dumps(tsnap, sort_keys=True, default=str),
                   json.dumps(ledger.get(trial_id), sort_keys=True, default=str))
            entry = self.entries.get(trial_id)
            if entry is None or entry.signature != sig:
                new = self._read(store, sweep_dir.name, base, d, tsnap, ledger.get(trial_id, {}), sig)
                if new.signature is None and entry is not None and entry.trial is not None:
                    new = _Entry(None, entry.trial, entry.epochs)  # caught mid-rewrite: keep the last whole read
                entry = self.entries[trial_id] = new
            if entry.trial is not None:
                trials.append(entry.trial)
                epochs += entry.epochs
        return trials, epochs

    def _read(self, store: TuneStorage, sweep: str, base: dict[str, Any], d: str, tsnap: dict[str, Any] | None,
              led: dict[str, Any], sig: Any) -> _Entry:
        self.reads += 1
        trial_id = d.removeprefix("trial_")
        params = store.read(d, "params.json")
        try:
            config, settled = (json.loads(params) if params else None), _size(params) == _size_of(sig, 0)
        except json.JSONDecodeError:
            config, settled = None, False  # caught mid-write
        if config is None and tsnap is not None:
            config = tsnap.get("config")
        config = config if isinstance(config, dict) else None
        text, whole = read_once(store, d, "result.json")
        rows = read_rows(text)
        error_txt = store.read(d, "error.txt")
        whole = whole and _size(text) == _size_of(sig, 1)  # else the file changed after it was stat'ed
        signature = sig if settled and whole else None
        if config is None or not tables.started(config, rows, tsnap, error_txt):
            return _Entry(signature, None, [])
        trow, erows = tables.trial_rows(sweep, base, trial_id, config, rows, tsnap, led, error_txt)
        return _Entry(signature, trow, erows)

    def write(self, sweep_dir: Path, spec: SweepSpec) -> tuple[int, int] | None:
        """Rewrite trials.parquet and epochs.parquet from the cached and changed rows; returns
        their row counts, or None when this write was skipped (snapshot mid-write)."""
        got = self.rows(Path(sweep_dir), trial_base(spec))
        if got is None:
            return None
        tables.write_rows(Path(sweep_dir), spec, *got)
        return len(got[0]), len(got[1])
