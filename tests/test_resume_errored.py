"""``resume`` does not run again a trial that already ended in error (issue 26).

A trial past ``search.trial_timeout_s`` ends in error; Tune's last snapshot may still list it
RUNNING. A plain ``resume`` must leave it alone (no second timeout); ``--retry-errored`` runs it.
"""
from __future__ import annotations

import pandas as pd
import pytest

from tests.test_faults import ok, result_rows, sweeper, write_spec

TIMEOUT_S = 8  # the hung trial's limit: long enough for a trial to start on a loaded machine


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_plain_resume_does_not_rerun_a_timed_out_trial(tmp_path):
    write_spec(tmp_path, "rt", seeds=(0, 1), grid=True, epochs=2, trial_timeout_s=TIMEOUT_S, max_concurrent=2)
    hang = {"SWEEPER_TEST_HANG_SEED": "0"}
    r = ok(sweeper(tmp_path, "launch", "rt.yaml", "--num-cpus", "2", "--quiet", **hang))
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "rt"
    t = pd.read_parquet(sweep / "trials.parquet").set_index("seed")
    assert list(t.loc[[0, 1], "status"]) == ["error", "finished"], t[["status", "reason"]]
    rows = result_rows(sweep)

    r = ok(sweeper(tmp_path, "resume", "rt", "--num-cpus", "2", "--quiet", **hang))
    assert "exceeded search.trial_timeout_s" not in r.stderr, r.stderr[-3000:]  # it did not run again
    assert result_rows(sweep) == rows
    t2 = pd.read_parquet(sweep / "trials.parquet").set_index("seed")
    assert list(t2.loc[[0, 1], "status"]) == ["error", "finished"] and len(t2) == 2

    r = ok(sweeper(tmp_path, "resume", "rt", "--retry-errored", "--num-cpus", "2", "--quiet", **hang))
    assert r.stderr.count("exceeded search.trial_timeout_s") == 1, r.stderr[-3000:]  # asked for: it ran
    assert len(pd.read_parquet(sweep / "trials.parquet")) == 2
