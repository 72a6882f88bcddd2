"""The driver lock under forced interleavings (issue 26), no Ray.

- a refused driver never deletes the folder of the driver that won the lock: the loser looks at
  the folder before the winner creates it, and is refused after the winner holds the lock;
- a lock's creator descheduled between creating ``driver.lock`` and writing it does not lose the
  lock to a second driver that finds the file empty.

Two threads of one process stand for two drivers (the lock names this process, which is alive,
so the second is refused exactly as another process would be).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sweeper.driver import wrapup
from sweeper.store import sweepdir


def _winner(sweep: Path, holding: threading.Event, done: threading.Event, out: dict) -> None:
    try:
        with wrapup.locked(sweep):
            (sweep / "spec.yaml").write_text("x: 1\n")
            holding.set()
            done.wait(10)
            out["files_while_held"] = sorted(p.name for p in sweep.iterdir())
    except Exception as e:  # noqa: BLE001 - reported by the test
        out["error"] = e
        holding.set()


def test_refused_driver_never_deletes_the_winners_folder(tmp_path, monkeypatch):
    sweep = tmp_path / "sweeps" / "race"
    holding, done, out = threading.Event(), threading.Event(), {}
    original = sweepdir.DriverLock.acquire
    winner = threading.Thread(target=_winner, args=(sweep, holding, done, out))

    def delayed_acquire(self):  # only the loser's (first) call waits until the winner holds the lock
        if threading.current_thread() is threading.main_thread():
            winner.start()
            assert holding.wait(10)
        return original(self)

    monkeypatch.setattr(sweepdir.DriverLock, "acquire", delayed_acquire)
    assert not sweep.exists()
    with pytest.raises(sweepdir.SweepLocked):
        with wrapup.locked(sweep):
            pass
    try:
        assert "error" not in out, out
        assert (sweep / "driver.lock").exists() and (sweep / "spec.yaml").exists(), \
            sorted(p.name for p in sweep.iterdir()) if sweep.exists() else "folder deleted"
    finally:
        done.set()
        winner.join(10)
    assert "error" not in out and out["files_while_held"] == ["driver.lock", "spec.yaml"], out
    assert not (sweep / "driver.lock").exists()  # released by the winner; its spec.yaml stays
    assert (sweep / "spec.yaml").exists()


def test_refused_launch_into_a_new_folder_leaves_nothing(tmp_path):
    """The plain refusal still cleans up what only the loser made (a folder it created, now empty)."""
    sweep = tmp_path / "sweeps" / "x"
    with wrapup.locked(sweep):
        pass
    assert not (tmp_path / "sweeps").exists()


def test_descheduled_lock_creator_keeps_its_lock(tmp_path, monkeypatch):
    """The creator pauses 0.5 s inside acquire (as at load 20), longer than the 0.1 s after which
    an empty lock counts as stale: exactly one of the two drivers holds the lock (before the fix
    the second found the file empty, broke it as stale, and both believed they held it)."""
    sweep = tmp_path / "s"
    sweep.mkdir()
    original = sweepdir.DriverLock._mine
    started = threading.Event()

    def slow_mine(self):
        if threading.current_thread().name == "creator":
            started.set()
            time.sleep(0.5)
        return original(self)

    monkeypatch.setattr(sweepdir.DriverLock, "_mine", slow_mine)
    results: dict[str, object] = {}

    def take(who: str) -> None:
        try:
            sweepdir.DriverLock(sweep).acquire()
            results[who] = "won"
        except sweepdir.SweepLocked:
            results[who] = "refused"

    creator = threading.Thread(target=take, args=("creator",), name="creator")
    creator.start()
    assert started.wait(10)
    time.sleep(0.05)
    take("second")
    creator.join(10)
    assert sorted(results.values()) == ["refused", "won"], results
    assert sweepdir.read_lock(sweep)["pid"] > 0

