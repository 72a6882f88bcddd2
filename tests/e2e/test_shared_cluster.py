"""Two sweeps sharing one Ray cluster by ``--address``, the cluster using token authentication (issue 26).

The drivers get the token file (``RAY_AUTH_TOKEN_PATH``) but no ``RAY_AUTH_MODE``: the launcher
switches token mode on itself. It used to set the variable after Ray was imported, whose cached
config still said 'disabled' (InvalidAuthToken).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.driver.test_faults import children  # noqa: E402
from tests.e2e.cluster import LocalCluster  # noqa: E402
from tests.support.cli import REPO  # noqa: E402
from tests.support.specs import write_spec  # noqa: E402


@pytest.mark.cluster
@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.timeout(1200)
def test_two_sweeps_share_a_token_cluster(tmp_path):
    with LocalCluster() as c:
        c.start_head(num_cpus=2)
        env = c.env
        for k in ("RAY_AUTH_MODE", "RAY_ADDRESS", "MLFLOW_TRACKING_URI"):
            env.pop(k, None)
        env["PYTHONPATH"] = str(REPO) + ":" + env.get("PYTHONPATH", "")
        for name in ("s1", "s2"):
            write_spec(tmp_path, name, grid=True, epochs=1)
        procs = [subprocess.Popen([sys.executable, "-m", "sweeper.cli", "launch", f"{n}.yaml", "--address", c.address,
                                   "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for n in ("s1", "s2")]
        outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"{p.returncode}\n{out[-2000:]}\n{err[-5000:]}"
    for name in ("s1", "s2"):
        assert json.loads((tmp_path / "sweeps" / name / "sweep.json").read_text())["status"] == "finished"
        assert len(children(tmp_path, name)) == 1
