"""Tune's experiment snapshots at a bounded byte rate (sweeper/driver/snapshot_period.py): the period
rule makes a sweep's snapshot bytes O(trials), not O(trials^2), and it reaches Tune's own
checkpoint manager (real ``_ExperimentCheckpointManager``, real filesystem syncer)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
from ray.train._internal.storage import _FilesystemSyncer
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

from sweeper.driver import snapshot_period
from sweeper.driver.snapshot_period import RATE, period

ENTRY = 12_000  # bytes per trial in a snapshot (Tune's trial entry, as measured by sweeper bench scale)


def _sweep_bytes(n: int, rule) -> float:
    """Bytes of snapshots over a simulated sweep of ``n`` trials, one ending per 0.4 s (1 s steps)."""
    total, last, wait, t = 0.0, -1e9, 0.0, 0.0
    while t <= n * 0.4:
        if t - last >= wait:
            size = ENTRY * min(n, t / 0.4 + 1)
            total, last, wait = total + size, t, rule(size)
        t += 1.0
    return total


def test_snapshot_bytes_per_trial_stay_flat_with_the_rule_and_grow_with_a_fixed_period():
    def bounded(size):
        return period(10.0, int(size))

    def fixed(size):
        return 10.0

    per_trial = {n: _sweep_bytes(n, bounded) / n for n in (300, 3000, 30000)}
    assert max(per_trial.values()) <= 1.05 * RATE * 0.4, per_trial  # at most RATE bytes per second of sweep
    assert per_trial[30000] <= 1.1 * per_trial[3000], per_trial
    fixed_per_trial = {n: _sweep_bytes(n, fixed) / n for n in (300, 3000)}
    assert fixed_per_trial[3000] > 5 * fixed_per_trial[300], fixed_per_trial  # what the rule prevents


def test_period_is_the_spec_floor_until_the_state_outgrows_it():
    assert period(10.0, 0) == 10.0
    assert period(10.0, 10 * RATE) == 10.0
    assert period(10.0, 40 * RATE) == 40.0
    assert period(30.0, 40 * RATE) == 40.0


def _manager(tmp_path: Path, floor: float) -> _ExperimentCheckpointManager:
    staging, remote = tmp_path / "staging", tmp_path / "remote"
    staging.mkdir()
    storage = SimpleNamespace(experiment_driver_staging_path=str(staging), experiment_fs_path=str(remote),
                              syncer=_FilesystemSyncer(storage_filesystem=pyarrow.fs.LocalFileSystem()))
    return _ExperimentCheckpointManager(storage=storage, checkpoint_period=floor)


def _save(tmp_path: Path, nbytes: int):
    def save_fn() -> None:
        (tmp_path / "staging" / "trial_a").mkdir(exist_ok=True)
        (tmp_path / "staging" / "experiment_state-x.json").write_bytes(b"s" * (nbytes - 1000))
        (tmp_path / "staging" / "trial_a" / "result.json").write_bytes(b"r" * 1000)
    return save_fn


def test_tunes_checkpoint_manager_takes_the_period_from_the_bytes_it_snapshots(tmp_path):
    snapshot_period.install()
    snapshot_period.install()  # idempotent
    manager = _manager(tmp_path, floor=2.0)
    manager.sync_up_experiment_state(_save(tmp_path, RATE), wait=True)  # 1 s of RATE: the floor holds
    assert manager._checkpoint_period == 2.0
    assert (tmp_path / "remote" / "trial_a" / "result.json").exists()  # Tune's real copy ran
    manager.sync_up_experiment_state(_save(tmp_path, 50 * RATE), force=True, wait=True)
    assert manager._checkpoint_period == 50.0  # staging folder bytes / RATE, result.json included
    saves = []
    manager.sync_up_experiment_state(lambda: saves.append(1))  # within the period: Tune does not snapshot
    assert saves == []


def test_tunes_auto_mode_is_left_to_tune(tmp_path):
    snapshot_period.install()
    manager = _manager(tmp_path, floor=2.0)
    manager._auto_checkpoint_enabled = True
    manager._checkpoint_period = 10.0
    manager.sync_up_experiment_state(_save(tmp_path, 50 * RATE), wait=True)
    assert manager._checkpoint_period == 10.0  # max(10, 19 * time taken): Tune's rule, not the bytes
