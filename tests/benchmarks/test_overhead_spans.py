"""The overhead benchmark's driver-seen span of each trial (``_tune_spans`` in benchmarks/overhead.py), read
from the Tune state of the session's finished sweep (a real launch): every trial has one, and it holds at least
the trial's own compute (it runs from Tune marking the trial RUNNING to the driver receiving its last result)."""
from __future__ import annotations

import pandas as pd

from benchmarks.overhead import _tune_spans
from tests.support.specs import TINY


def test_every_trial_s_span_covers_its_compute(finished_sweep):
    d = finished_sweep.root / "sweeps" / TINY["name"]
    spans = _tune_spans(d)
    trials = pd.read_parquet(d / "trials.parquet")
    compute = pd.read_parquet(d / "epochs.parquet").groupby("trial_id")["seconds"].sum()
    assert set(spans) == set(trials.trial_id) and len(spans) == len(trials) > 0
    for tid, (start, end) in spans.items():
        assert end - start >= compute[tid] > 0, (tid, start, end, compute[tid])
