"""How often Tune snapshots the experiment: at most every ``search.snapshot_every_s``, and at a
bounded write rate however many trials the sweep has.

At each snapshot Ray Tune (2.60, ``ray.tune.execution.experiment_state._ExperimentCheckpointManager``)
writes the whole experiment state (every trial's entry in ``experiment_state-*.json``, the searcher's
and the callbacks' pickles) into the driver's staging folder and then copies that folder, every
trial's ``result.json`` included, to the storage path. A snapshot of a sweep that has created ``n``
trials costs ``S(n) ~ c * n`` bytes, so at a fixed period ``p`` a sweep of ``N`` trials lasting
``T ~ N`` seconds writes about ``(T / p) * S(N) / 2 ~ N^2`` bytes (issue 25 measured the bytes per
trial doubling from 100 to 1,000 trials). ``install()`` makes the period, after each snapshot,

    p = max(snapshot_every_s, S / RATE),   RATE = 256 KiB/s,

with ``S`` the bytes in the staging folder after the snapshot (what Tune has just written and is
copying). Each snapshot is then followed by at least ``S / RATE`` seconds without one, so snapshots
write at most ``2 * RATE`` bytes per second (the state and its copy) once they exceed
``RATE * snapshot_every_s`` (2.5 MiB at the default 10 s, a few hundred trials): over the sweep
``O(T) = O(N)`` bytes, and the driver CPU spent on them grows with ``T`` too, not ``T * N``. Small
sweeps keep the spec's period exactly. The price: a driver killed between snapshots loses up to
``p`` of Tune's history (3,000 report-only trials, about 36 MB of state: about 140 s), which resume
absorbs (trials that finished in that window redo their last checkpointed epochs; the tables and
the ledger are written from the trial folders, not from the snapshot).

Tune's own ``TUNE_GLOBAL_CHECKPOINT_S=auto`` (period ``max(10, 19 * seconds the snapshot took)``)
also grows with the state, but by wall-clock time, so under load it snapshots less and on an idle
machine more, and it ignores the spec's period; the rule here depends on bytes only. Tune still
forces a snapshot when a trial has saved ``CheckpointConfig.num_to_keep`` checkpoints since the
last one (so that a snapshot never names a deleted checkpoint); that is left as it is. Idempotent.
"""
from __future__ import annotations

import os
from typing import Any

from ray.tune.execution import experiment_state

RATE = 256 * 1024  # bytes per second of snapshot (and its copy) at most, once past the spec's period
_MARK = "_sweeper_bytes_bounded_period"
_FLOOR = "_sweeper_snapshot_floor_s"


def period(floor_s: float, state_bytes: int) -> float:
    """Seconds until the next snapshot: ``max(floor_s, state_bytes / RATE)``."""
    return max(float(floor_s), state_bytes / RATE)


def folder_bytes(path: str) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist)."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += folder_bytes(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # removed meanwhile
    return total


def install() -> None:
    """After each snapshot, Tune's period becomes ``period(the configured period, staging bytes)``
    (Tune's ``auto`` mode, when chosen, is left as Tune runs it)."""
    cls = experiment_state._ExperimentCheckpointManager
    original = cls._update_auto_checkpoint_time
    if getattr(original, _MARK, False):
        return

    def _update_auto_checkpoint_time(self: Any, time_taken: float) -> None:
        if self._auto_checkpoint_enabled:
            return original(self, time_taken)
        floor = getattr(self, _FLOOR, None)
        if floor is None:
            floor = self._checkpoint_period  # the configured period (TUNE_GLOBAL_CHECKPOINT_S)
            setattr(self, _FLOOR, floor)
        self._checkpoint_period = period(floor, folder_bytes(self._storage.experiment_driver_staging_path))
        return None

    setattr(_update_auto_checkpoint_time, _MARK, True)
    cls._update_auto_checkpoint_time = _update_auto_checkpoint_time
