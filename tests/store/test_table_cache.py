"""The table writer at flat cost per trial (issue 25): ``TableCache`` reads only the trial folders that
changed since its last write, never sleeps, gives no row to a trial that has not started, and once
the sweep has ended its tables have exactly the content of a full rebuild. Real Ray sweep, real Parquet.

The sweep is the session's search sweep (``search_sweep`` in tests/conftest.py: one real ``sweeper launch``,
4 trials of 1 epoch), whose tables a ``TableCache`` in the test process rewrote every 0.2 s while the driver
ran (as the driver's callback does) and once after it exited; these tests read what it wrote and change only
copies of the sweep (and of the cache).
"""
from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.specs import copy_sweep


def _spec(search_sweep):
    from sweeper.spec import from_dict

    return from_dict(yaml.safe_load((search_sweep.root / "search.yaml").read_text()))


def _content(sweep: Path, name: str):
    """A table and its metadata, less the write time."""
    t = pq.read_table(sweep / f"{name}.parquet")
    meta = {k: v for k, v in (t.schema.metadata or {}).items() if k != b"sweeper.written"}
    return t.replace_schema_metadata(None), meta


def _copy(search_sweep, tmp: Path) -> Path:
    """A copy of the session's sweep folder (file times kept: a cache sees the same signatures)."""
    return copy_sweep(search_sweep.root, tmp / "c", search_sweep.name) / "sweeps" / search_sweep.name


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1200)
def test_cached_tables_equal_a_full_rebuild_and_read_only_changes(search_sweep, tmp_path):
    from sweeper.store import tables

    seen = search_sweep.seen
    assert len(seen) >= 3, seen  # it wrote while the sweep ran
    pending = [r for rows in seen for r in rows if r["status"] == "pending"]
    assert not pending, pending
    cached = {n: _content(search_sweep.dir, n) for n in ("trials", "epochs")}  # the cache's last write
    assert cached["trials"][0].num_rows == 4 and cached["epochs"][0].num_rows == 4  # 4 trials x 1 epoch
    sweep, spec = _copy(search_sweep, tmp_path), _spec(search_sweep)
    tables.rebuild(sweep, spec)
    for n in ("trials", "epochs"):
        full = _content(sweep, n)
        assert cached[n][0].equals(full[0]), n
        assert cached[n][1] == full[1], n
    cache = copy.deepcopy(search_sweep.cache)
    reads = cache.reads
    cache.write(sweep, spec)
    assert cache.reads == reads  # nothing changed: no trial folder read
    one = sorted((sweep / "tune").glob("trial_*"))[0] / "result.json"
    one.write_text(one.read_text())  # rewritten by Tune: read again
    os.utime(one, ns=(time.time_ns(), time.time_ns() + 10**9))
    cache.write(sweep, spec)
    assert cache.reads == reads + 1


def _add_pending_trial(sweep: Path) -> str:
    """What Tune leaves for a trial it created but has not started: an empty folder, and a
    PENDING entry in its experiment snapshot."""
    snap_file = sorted((sweep / "tune").glob("experiment_state-*.json"))[-1]
    data = json.loads(snap_file.read_text())
    first = data["trial_data"][0]
    state = json.loads(first[0]) if isinstance(first[0], str) else dict(first[0])
    runtime = json.loads(first[1]) if isinstance(first[1], str) else dict(first[1])
    state.update(trial_id="zzpending", status="PENDING")
    runtime.update(last_result={}, num_failures=0)
    data["trial_data"].append([json.dumps(state), json.dumps(runtime)])
    snap_file.write_text(json.dumps(data))
    (sweep / "tune" / "trial_zzpending").mkdir()
    return "zzpending"


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1200)
def test_a_trial_not_started_gets_no_row_but_status_shows_it(search_sweep, tmp_path):
    from sweeper.store import identity, tables
    from sweeper.store.table_cache import TableCache

    sweep = _copy(search_sweep, tmp_path)
    tid = _add_pending_trial(sweep)
    base = identity.trial_base(_spec(search_sweep))
    assert tid not in {t["trial_id"] for t in tables.collect(sweep, base)[0]}
    assert tid not in {t["trial_id"] for t in TableCache().rows(sweep, base)[0]}
    pending = {t["trial_id"]: t["status"] for t in tables.collect(sweep, base, pending=True)[0]}
    assert pending[tid] == "pending" and len(pending) == 5  # the sweep's 4 trials and this one


def _tune_like_rewrite(path: Path, stop: threading.Event) -> None:
    """Rewrite ``path`` in place like Tune does (truncate, then write in pieces), 20 times a second."""
    data = path.read_bytes()
    try:
        while not stop.is_set():
            with open(path, "wb") as f:
                for i in range(0, len(data), max(1, len(data) // 4)):
                    f.write(data[i: i + max(1, len(data) // 4)])
                    f.flush()
                    stop.wait(0.002)
            stop.wait(0.05)
    finally:
        path.write_bytes(data)


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1200)
def test_cache_never_sleeps_through_rewrites_and_catches_up(search_sweep, tmp_path, monkeypatch):
    from sweeper.store import identity, tables
    from sweeper.store.table_cache import TableCache

    sweep = _copy(search_sweep, tmp_path)
    base = identity.trial_base(_spec(search_sweep))
    full = tables.collect(sweep, base)
    targets = [p for d in (sweep / "tune").glob("trial_*") for p in (d / "params.json", d / "result.json")]
    targets += sorted((sweep / "tune").glob("experiment_state-*.json"))[-1:]
    stop = threading.Event()
    threads = [threading.Thread(target=_tune_like_rewrite, args=(p, stop)) for p in targets]
    for t in threads:
        t.start()
    cache, writes = TableCache(), 0

    def no_sleep(s: float) -> None:
        raise AssertionError(f"slept {s} s on the driver's event loop")

    try:
        deadline = time.monotonic() + 10
        with monkeypatch.context() as m:
            m.setattr(time, "sleep", no_sleep)
            while time.monotonic() < deadline:
                got = cache.rows(sweep, base)
                writes += got is not None
                stop.wait(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert writes >= 5, writes
    assert cache.rows(sweep, base) == full  # once the files settle, every partial read was read again
