"""The ledger's journal (issue 25): recording a trial event appends one line whatever the sweep's
size, a long-lived ledger reads only what was appended since, and compaction loses nothing."""
from __future__ import annotations

import json

from sweeper.store.ledger import JOURNAL, LEDGER, Ledger


def test_an_event_costs_the_same_at_the_2000th_trial_as_at_the_first(tmp_path):
    led = Ledger(tmp_path / LEDGER)
    sizes = []
    for i in range(2000):
        before = (tmp_path / JOURNAL).stat().st_size if i else 0
        led.set(f"t{i:05d}", "running", retries=0)
        sizes.append((tmp_path / JOURNAL).stat().st_size - before)
    assert max(sizes) <= min(sizes) + 8  # one line each (a timestamp's repr varies by a few digits)
    assert not (tmp_path / LEDGER).exists()
    assert len(Ledger(tmp_path / LEDGER).data) == 2000


def test_writers_see_each_other_and_compaction_keeps_every_entry(tmp_path):
    driver = Ledger(tmp_path / LEDGER)
    driver.set("a", "running", retries=0)
    Ledger(tmp_path / LEDGER).set("a", "running", "", retries=0, timeout="exceeded 5 s")  # the watchdog
    driver.refresh()
    assert driver.data["a"]["timeout"] == "exceeded 5 s"
    driver.set("b", "error", "boom", retries=1)
    journal_before = (tmp_path / JOURNAL).read_bytes()
    driver.compact()
    assert (tmp_path / JOURNAL).read_bytes() == b"" and set(json.loads((tmp_path / LEDGER).read_text())) == {"a", "b"}
    # a reader that read the journal before the compaction and ledger.json after it: nothing lost or reverted
    (tmp_path / JOURNAL).write_bytes(journal_before)
    assert Ledger(tmp_path / LEDGER).data == driver.data
    (tmp_path / JOURNAL).write_bytes(b"")
    Ledger(tmp_path / LEDGER).set("c", "finished")
    driver.refresh()
    assert sorted(driver.data) == ["a", "b", "c"] and driver.data["b"]["reason"] == "boom"


def test_a_damaged_journal_line_is_skipped(tmp_path):
    led = Ledger(tmp_path / LEDGER)
    led.set("a", "finished")
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(b'{"trial_id": "b", "ent\n')
    led.set("c", "finished")
    assert sorted(Ledger(tmp_path / LEDGER).data) == ["a", "c"]
