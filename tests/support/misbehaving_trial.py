"""A test-only trainable: ``trainables.entry.run_trial`` plus faults set by environment variables.

Installed with ``SWEEPER_TRAINABLE=tests.support.misbehaving_trial:run_trial`` in the environment
of the driver and of every Ray node (``MISBEHAVING``), with the repository root on ``PYTHONPATH``
so that Ray workers import this module. After each report of a trial (``after_report``):

- ``SWEEPER_TEST_EPOCH_DELAY_S=S``: sleeps S seconds unless training is done, so that a test can
  kill a node or the driver mid-trial;
- ``SWEEPER_TEST_HOG=SEED:MB``: the trial of that seed allocates (and touches) up to MB megabytes
  in 64 MB blocks and holds them, stopping early while the machine has less than 1 GiB available
  (Ray's memory monitor, not the kernel's OOM killer, is meant to stop it), then hangs;
- ``SWEEPER_TEST_HANG_SEED=SEED``: the trial of that seed hangs for ever (no more reports).
"""
from __future__ import annotations

import os
import time
from typing import Any

from trainables import entry
from trainables.config import TrialConfig

MISBEHAVING = {"SWEEPER_TRAINABLE": "tests.support.misbehaving_trial:run_trial"}


def run_trial(config: dict[str, Any], base: dict[str, Any]) -> None:
    """The production trial, with :func:`misbehave` after each report."""
    entry.run_trial(config, base, after_report=misbehave)


def misbehave(cfg: TrialConfig, done: bool) -> None:
    delay = float(os.environ.get("SWEEPER_TEST_EPOCH_DELAY_S", "0") or 0)
    if delay and not done:
        time.sleep(delay)
    hog = os.environ.get("SWEEPER_TEST_HOG", "")
    if hog and int(hog.split(":")[0]) == cfg.seed:
        _hog(int(hog.split(":")[1]))
    if os.environ.get("SWEEPER_TEST_HANG_SEED", "") == str(cfg.seed):
        time.sleep(3600)


def _hog(mb: int) -> None:
    import psutil  # a Ray dependency

    held = []
    for _ in range(mb // 64):
        if psutil.virtual_memory().available < 2**30:
            break
        held.append(bytearray(b"\x01") * (64 * 1024 * 1024))  # filled: every page is resident
        time.sleep(0.05)
    time.sleep(3600)
