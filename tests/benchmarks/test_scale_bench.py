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
