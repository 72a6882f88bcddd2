"""``resume`` runs again a trial that already ended in error (issue 26) only when asked.

A trial past ``search.trial_timeout_s`` ends in error; Tune's last snapshot may still list it
RUNNING. ``--retry-errored`` continues it from its checkpoint; ``--restart-errored`` runs it from
scratch, as a new trial. That a plain ``resume`` leaves it alone (no second timeout) is shown on the
poison sweep of tests/driver/test_faults.py (a timed-out and an OOM-killed trial, resumed), which
saves this file a driver run.
"""
from __future__ import annotations

import pandas as pd
import pytest

from tests.driver.test_faults import children
from tests.support.cli import sweeper
from tests.support.specs import write_spec

TIMEOUT_S = 5  # the hung trial's limit (it hangs after its first epoch; no healthy trial races this limit)


def _run(tmp_path, *args):
    r = sweeper(tmp_path, *args, "--num-cpus", "1", "--quiet", SWEEPER_TEST_HANG_SEED="0")
    assert r.returncode == 1, f"{r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"  # its only trial failed
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: no trial of rt finished"), r.stderr[-3000:]
    return r


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_errored_trial_runs_again_only_with_retry_or_restart_errored(tmp_path):
    # 3 epochs, a checkpoint after each: the trial hangs after each epoch, so no run of it finishes
    write_spec(tmp_path, "rt", seeds=(0,), grid=True, epochs=3, trial_timeout_s=TIMEOUT_S, checkpoint_every_s=0)
    r = _run(tmp_path, "launch", "rt.yaml")
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "rt"
    t = pd.read_parquet(sweep / "trials.parquet")
    assert list(t.status) == ["error"] and "exceeded search.trial_timeout_s" in t.reason.iloc[0], t.reason.tolist()

    r = _run(tmp_path, "resume", "rt", "--retry-errored")
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]  # asked for: it ran
    t2 = pd.read_parquet(sweep / "trials.parquet")
    assert list(t2.trial_id) == list(t.trial_id) and list(t2.status) == ["error"]  # the same trial, continued

    # --restart-errored (every checkpoint damaged, say): from scratch, as a new trial that replaces it
    r = _run(tmp_path, "resume", "rt", "--restart-errored")
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]
    t3 = pd.read_parquet(sweep / "trials.parquet")
    assert len(t3) == 1 and t3.trial_id.iloc[0] != t.trial_id.iloc[0] and t3.status.iloc[0] == "error"
    assert [k.data.tags["sweeper.trial_id"] for k in children(tmp_path, "rt")] == list(t3.trial_id)
