"""`sweeper bench scale` measures a real sweep of report-only trials (issue 25): the plug point
``SWEEPER_TRAINABLE`` runs them through the real launch path, and every trial ends as a finished row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.timeout(1200)
def test_scale_bench_one_size_measures_a_real_sweep(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--one", "6"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=1100)
    assert r.returncode == 0, r.stderr[-4000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m["trials"] == 6 and m["finished"] == 6, m
    assert m["wall_s"] > 0 and m["driver_cpu_ms_per_trial"] > 0 and m["peak_rss_mb"] > 50
    assert m["folder_kb_per_trial"] > 0 and 0 <= m["tail_s"] < m["wall_s"]
    if sys.platform.startswith("linux"):
        assert m["written_kb_per_trial"] > 0


def test_categorize_sums_the_bytes_of_each_write_by_the_file_written(tmp_path):
    from benchmarks.scale import CATEGORIES, categorize

    log = tmp_path / "w.strace"
    log.write_text(
        '101 write(7</tmp/ray/session_1/artifacts/t/tune/driver_artifacts/experiment_state-2026.json>, ""..., 2048) = 2048\n'
        '102 pwrite64(9</tmp/x/sweeps/s/tune/experiment_state-2026.json>, ""..., 1024, 0) = 1024\n'
        '101 write(5</tmp/x/mlflow.db-journal>, ""..., 4096) = 4096\n'
        '101 write(5</tmp/x/mlflow.db>, ""..., 4096) = 4096\n'
        '101 write(8</tmp/x/sweeps/s/optuna.db>, ""..., 512) = 512\n'
        '101 write(3</tmp/x/sweeps/s/.trials.parquet.77.tmp>, ""..., 100) = 100\n'
        '101 write(4</tmp/x/sweeps/s/tune/trial_ab12/result.json>, ""..., 300) = 300\n'
        '103 write(2<socket:[123]>, ""..., 50) = 50\n'
        '101 write(6</tmp/x/elsewhere.bin>, ""..., 10) = 10\n'
        '101 write(6</tmp/x/elsewhere.bin>, ""..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n'
        '104 write(9</tmp/x/sweeps/s/tune/experiment_state-2026.json>, ""..., 2048 <unfinished ...>\n'
        '101 write(5</tmp/x/mlflow.db>, ""..., 4096) = 4096\n'
        '104 <... write resumed>) = 2048\n'
        '101 +++ exited with 0 +++\n')
    kb = categorize(log, 2)
    assert set(kb) == {name for name, _ in CATEGORIES} | {"other"}
    assert kb["tune_experiment_state"] == round(5120 / 2 / 1024, 1)  # the split call (thread 104) included
    assert kb["mlflow_store"] == 6.0 and kb["optuna_study"] == 0.2 and kb["tune_trial_files"] == 0.1
    assert kb["parquet_tables"] == 0.0 and kb["sockets_pipes"] == 0.0 and kb["other"] == 0.0
    total = (5120 + 12288 + 512 + 100 + 300 + 50 + 10) / 2 / 1024  # the failed call (-1) counts nothing
    assert abs(sum(kb.values()) - total) <= 0.05 * len(kb)  # each category rounded to 0.1 KB
