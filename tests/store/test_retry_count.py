"""The trials table's ``retries`` column: the ledger's count, or Tune's when the ledger missed some (issue 26)."""
from __future__ import annotations


def test_retries_count_survives_a_ledger_that_missed_them():
    """After a disk-full episode the ledger said 0 retries for two real ones: Tune's count wins then."""
    from sweeper.store.trial_status import retry_count

    assert retry_count({"retries": 0}, 2, "finished") == 2  # two failures, then finished: two retries
    assert retry_count({"retries": 0}, 3, "error") == 2  # the last failure ended it: not a retry
    assert retry_count({"retries": 2}, 0, "finished") == 2  # no snapshot count: the ledger's
    assert retry_count({}, 0, "finished") == 0
