"""The racing benchmark's replay (benchmarks/race.py): on a small constructed table whose race is known by hand,
and on the committed full design (benchmarks/results/race_digits/trials.csv), whose numbers the docs page shows."""
from __future__ import annotations

import pandas as pd
import pytest

from benchmarks import race
from sweeper.spec.model import Racing


def table(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"config_id": c, "config": f"lr={c}", "regularizer": "softmax", "seed": s, "status": "finished",
             "trial_id": f"{c}_{s}", "val_error": v, "test_error": v + 0.01}
            for c, vs in values.items() for s, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_replay_of_a_known_race():
    """t-test, min_seeds 3: c (0.5 vs about 0.1) goes in round 3 (Holm p < 0.05 over the round's 2 comparisons);
    a and b (equal up to noise) run all 4 seeds: 3 + 4 + 4 = 11 of 12 trials; a has the lower mean in both."""
    t = table({"a": [0.10, 0.12, 0.11, 0.10], "b": [0.11, 0.11, 0.12, 0.12], "c": [0.50, 0.52, 0.49, 0.51]})
    r = race.race_table("toy", t, Racing(min_seeds=3, max_seeds=4, alpha=0.05, test="t-test"))
    assert [(x.k, len(x.alive), [e.config for e in x.eliminated]) for x in r.logs[0].rounds] == [
        (3, 3, ["c"]), (4, 2, [])]
    assert race.seeds_used(r.logs, r.racing) == {"a": 4, "b": 4, "c": 3}
    assert (r.spent, r.full) == (11, 12)
    assert r.raced_choice == r.full_choice == "a" and r.survivors == ("a", "b") and r.tests == {}
    row = race._row(r)
    assert row["ms"] == 11 and row["baseline_ms"] == 12 and row["unit"] == "trials" and row["same_choice"]


def test_failed_trial_counts_as_missing_value():
    t = table({"a": [0.1, 0.1, 0.1], "b": [0.2, 0.2, 0.2]})
    t.loc[(t["config_id"] == "b") & (t["seed"] == 1), "status"] = "error"
    assert race.values_of(t, "val_error")["b"] == {0: 0.2, 1: None, 2: 0.2}


def test_committed_full_design_replay_numbers():
    """The numbers of the docs page: friedman spends 132 of 300 trials (24 eliminated in round 3, one more in
    round 10) and selects the full design's choice; t-tests spend 184."""
    reps = race.replays()
    f, t = reps
    assert (f.spent, f.full) == (132, 300) and f.raced_choice == f.full_choice
    assert [len(x.eliminated) for x in f.logs[0].rounds] == [24, 0, 0, 0, 0, 0, 0, 1]
    assert len(f.survivors) == 5 and f.spent <= race.TARGET * f.full
    assert (t.spent, t.full) == (184, 300) and t.raced_choice == t.full_choice
    full = race.full_design()
    assert full.loc[full["config_id"] == f.full_choice, "config"].iloc[0] == "regularizer.keep=0.8, train.lr=0.03"


def test_paper_results_with_three_seeds_cannot_save_trials():
    items = {r.name: r for r, _ in race.paper_replays()}
    for name in ("maldrop_rho", "gd_table1_sal", "dropout_pp_variants"):
        assert items[name].racing.min_seeds == items[name].racing.max_seeds == 3
        assert items[name].spent == items[name].full
    assert items["dropmax_table1_mnist1k"].spent < items["dropmax_table1_mnist1k"].full


@pytest.mark.parametrize("quick", [True])
def test_bench_rows_without_the_live_run(quick):
    rows = race.run(quick=quick)
    assert rows[0]["name"] == "race replay race_digits (friedman)" and rows[0]["ratio"] == pytest.approx(0.44)
    assert not any("live" in r["name"] for r in rows)


def _live_like(shift: float = 0.0):
    """The trials and race.json a live run gives when it reproduces the replayed race (values shifted by ``shift``)."""
    full = race.full_design()
    r = race.replays()[0]
    ran = race.raced_rows(full, race.seeds_used(r.logs, r.racing), r.seeds).copy()
    ran["trial_id"] = [f"t{i}" for i in range(len(ran))]
    ran["val_error"] = ran["val_error"] + shift
    configs = {}
    for cid, g in ran.groupby("config_id"):
        e = r.logs[0].eliminated_round(cid)
        configs[f"key-{cid}"] = {"trials": {str(s): t for s, t in zip(g["seed"], g["trial_id"])},
                                 "eliminated": None if e is None else {"round": e}}
    payload = {"configs": configs, "races": [{"alive": [f"key-{c}" for c in r.logs[0].alive]}],
               "trials_spent": len(ran), "full_design": 300, "finished": True}
    return ran, payload


def test_live_summary_against_the_full_design():
    ran, payload = _live_like()
    m = race.live_summary(ran, payload, 10.0, 1.0, 2.0)
    assert (m["trials"], m["same_results"], m["compared_results"]) == (132, 132, 132)
    assert m["same_race"] and m["eliminated"] == 25 and m["choice"] == "regularizer.keep=0.8, train.lr=0.03"
    assert len(m["survivors"]) == 5
    ran, payload = _live_like(shift=1 / 360)  # one validation image off everywhere: no result equal
    assert race.live_summary(ran, payload, 10.0, 1.0, 2.0)["same_results"] == 0
    next(iter(payload["configs"].values()))["eliminated"] = {"round": 9}
    assert not race.live_summary(ran, payload, 10.0, 1.0, 2.0)["same_race"]
