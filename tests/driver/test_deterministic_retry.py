"""A trial failing with the same error as another seed of its configuration is not retried
(sweeper/driver/callbacks/not_retried.py); a transient failure still is.

A real sweep (CLI subprocess, local Ray, MLflow SQLite store, Parquet) of the misbehaving trainable
(tests/support/misbehaving_trial.py): a grid of two configurations x three seeds, ``max_failures: 2``.
``train.lr=0.01`` raises the same ValueError on every attempt of every seed (its text holds an address,
the pid and a path, which differ between processes); ``train.lr=0.02`` fails the first attempt of
every seed with ``ConnectionResetError`` (the same text on every seed, but transient). The trainable
writes a file per attempt that trained, which the test counts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.misbehaving_trial import MISBEHAVING

REPO = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)
MAX_FAILURES = 2


def write_spec(folder: Path) -> Path:
    spec = {
        "name": "detfail",
        "dataset": {"name": "digits"},
        "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"},
        "train": {"epochs": 2, "batch_size": 256},
        "space": {"train.lr": {"type": "categorical", "choices": [0.01, 0.02]}},
        "seeds": list(SEEDS),
        "search": {"sampler": "grid", "sampler_seed": 0, "max_failures": MAX_FAILURES},
        "resources": {"cpu": 1},
    }
    p = folder / "detfail.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def launch(cwd: Path, starts: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(MISBEHAVING, SWEEPER_TEST_STARTS_DIR=str(starts), SWEEPER_TEST_RAISE="train.lr=0.01",
               SWEEPER_TEST_FLAKY="train.lr=0.02")
    return subprocess.run([sys.executable, "-m", "sweeper.cli", "launch", "detfail.yaml", "--num-cpus", "2", "--quiet"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1500)
def test_same_error_on_sibling_seeds_is_not_retried_and_transient_failures_are(tmp_path):
    write_spec(tmp_path)
    starts = tmp_path / "starts"
    starts.mkdir()
    r = launch(tmp_path, starts)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    trained = Counter(json.loads(f.read_text())["trial_id"] for f in starts.glob("*.json"))
    t = pd.read_parquet(tmp_path / "sweeps" / "detfail" / "trials.parquet")
    t["starts"] = t["trial_id"].map(trained).fillna(0).astype(int)
    show = t[["trial_id", "train.lr", "seed", "status", "retries", "starts", "reason"]].to_string()
    assert len(t) == 2 * len(SEEDS), show

    bad = t[t["train.lr"] == 0.01].sort_values("starts")
    assert (bad["status"] == "error").all(), show
    assert all("ValueError: the network at 0x" in why for why in bad["reason"]), show
    # one seed may be retried (its configuration's first failure: transient or not, nobody can tell yet);
    # every other seed failed after a sibling had failed the same way: trained once, not retried
    # on failure, Tune's error texts of the retried trials too: what the fingerprints were read from
    errors = "".join(f"\n--- {p.parent.name}\n{p.read_text()}" for p in
                     sorted((tmp_path / "sweeps" / "detfail" / "tune").glob("trial_*/error.txt")))
    assert list(bad["starts"].iloc[:-1]) == [1] * (len(SEEDS) - 1), show + errors
    assert 1 <= bad["starts"].iloc[-1] <= MAX_FAILURES + 1, show
    for _, row in bad.iloc[:-1].iterrows():
        assert row["reason"].startswith("not retried: seed "), show
        assert int(row["reason"].split()[3]) in set(SEEDS) - {row["seed"]}, show  # names a sibling seed
        assert "of the same configuration failed with the same error" in row["reason"], show
        assert "\n" not in row["reason"] and len(row["reason"]) < 400, show  # short: no traceback
    # retries count the trainings that were retried, not the start that only ended a trial
    assert list(bad["retries"]) == [n - 1 for n in bad["starts"]], show

    flaky = t[t["train.lr"] == 0.02]
    assert (flaky["status"] == "finished").all(), show
    assert list(flaky["starts"]) == [2] * len(SEEDS) and list(flaky["retries"]) == [1] * len(SEEDS), show
