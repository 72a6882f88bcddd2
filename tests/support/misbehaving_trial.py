"""A test-only trainable: ``trainables.entry.run_trial`` plus faults set by environment variables.

Installed with ``SWEEPER_TRAINABLE=tests.support.misbehaving_trial:run_trial`` in the environment
of the driver and of every Ray node (``MISBEHAVING``), with the repository root on ``PYTHONPATH``
so that Ray workers import this module. After each report of a trial (``after_report``):

- ``SWEEPER_TEST_EPOCH_DELAY_S=S``: sleeps S seconds unless training is done, so that a test can
  kill a node or the driver mid-trial; with ``SWEEPER_TEST_DELAY_SEED=SEED`` only the trials of that seed;
- ``SWEEPER_TEST_HOG=SEED:MB``: the trial of that seed allocates (and touches) up to MB megabytes
  in 128 MB blocks and holds them, stopping early while the machine has less than 1 GiB available
  (Ray's memory monitor, not the kernel's OOM killer, is meant to stop it), then hangs;
- ``SWEEPER_TEST_HANG_SEED=SEED``: the trial of that seed hangs for ever (no more reports).

At the first report of each attempt (``on_start``, before the faults above):

- ``SWEEPER_TEST_STARTS_DIR=DIR``: writes ``DIR/<trial id>.<n>.json`` (the trial id, its seed and
  flattened configuration), one file per attempt that trained, so a test can count them;
- ``SWEEPER_TEST_RAISE=PATH=VALUE``: every attempt of a trial whose flattened configuration has
  ``PATH`` = ``VALUE`` raises the same ``ValueError`` (its text holds an address, the pid and a
  path, which differ between attempts);
- ``SWEEPER_TEST_FLAKY=PATH=VALUE``: the first attempt of such a trial raises
  ``ConnectionResetError`` (needs ``SWEEPER_TEST_STARTS_DIR``, which counts the attempts).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from trainables import entry
from trainables.config import TrialConfig, flatten

MISBEHAVING = {"SWEEPER_TRAINABLE": "tests.support.misbehaving_trial:run_trial"}


def run_trial(config: dict[str, Any], base: dict[str, Any]) -> None:
    """The production trial, with :func:`on_start` after its first report and :func:`misbehave` after each."""
    first = [True]

    def after_report(cfg: TrialConfig, done: bool) -> None:
        if first:
            first.clear()
            on_start(cfg)
        misbehave(cfg, done)

    entry.run_trial(config, base, after_report=after_report)


def _selects(var: str, cfg: TrialConfig) -> bool:
    path, _, value = os.environ.get(var, "").partition("=")
    return bool(path) and str(flatten(cfg).get(path)) == value


def on_start(cfg: TrialConfig) -> None:
    from ray import tune

    starts = os.environ.get("SWEEPER_TEST_STARTS_DIR", "")
    n = 0
    if starts:
        trial_id = tune.get_context().get_trial_id()
        n = len(list(Path(starts).glob(f"{trial_id}.*.json"))) + 1
        record = {"trial_id": trial_id, "seed": cfg.seed, "config": flatten(cfg)}
        (Path(starts) / f"{trial_id}.{n}.json").write_text(json.dumps(record, default=str))
    if _selects("SWEEPER_TEST_RAISE", cfg):
        raise ValueError(f"the network at 0x{id(cfg):x} (pid {os.getpid()}) cannot take the input of "
                         f"{tempfile.gettempdir()}/batch_{os.getpid()}.npy: shape (1, 8, 8) is too small")
    if _selects("SWEEPER_TEST_FLAKY", cfg) and n == 1:
        raise ConnectionResetError(104, "Connection reset by peer")


def misbehave(cfg: TrialConfig, done: bool) -> None:
    delay = float(os.environ.get("SWEEPER_TEST_EPOCH_DELAY_S", "0") or 0)
    only = os.environ.get("SWEEPER_TEST_DELAY_SEED", "")
    if delay and not done and only in ("", str(cfg.seed)):
        time.sleep(delay)
    hog = os.environ.get("SWEEPER_TEST_HOG", "")
    if hog and int(hog.split(":")[0]) == cfg.seed:
        _hog(int(hog.split(":")[1]))
    if os.environ.get("SWEEPER_TEST_HANG_SEED", "") == str(cfg.seed):
        time.sleep(3600)


def _hog(mb: int) -> None:
    import psutil  # a Ray dependency

    held = []
    for _ in range(mb // 128):
        if psutil.virtual_memory().available < 2**30:
            break
        held.append(bytearray(b"\x01") * (128 * 1024 * 1024))  # filled: every page is resident
        time.sleep(0.02)  # ~3 GB/s at most: killed well within the test's trial timeout on a loaded machine
    time.sleep(3600)
