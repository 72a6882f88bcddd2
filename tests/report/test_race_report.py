"""The race section of the report (sweeper/report/race.py) on a sweep folder raced by the real race searcher and
written by the real writers (tests/support/raced_sweep.py: two equal configurations survive to round 6, two
clearly worse ones go in round 3, 18 of 24 trials); an unraced folder of the same trials gets no race section;
the paired comparisons of configurations with different seed counts use only their shared seeds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweeper.report import data, race, writer
from sweeper.report.run import make_report
from tests.support import raced_sweep as R


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    return R.make(tmp_path_factory.mktemp("sweeps") / "raced")


@pytest.fixture(scope="module")
def written(raced):
    make_report([raced], log_mlflow=False)
    return raced / "report"


def test_section_lists_rounds_eliminations_and_trials_spent(written):
    md = (written / "report.md").read_text()
    sec = md.split(f"## {race.TITLE}")[1].split("\n## ")[0]
    assert "Trials spent: 18 of the full design's 24 (75%)" in sec
    assert "sweeper confirm" in sec and "Racing selects" in sec and "seeds both configurations share" in sec
    rounds = pd.read_csv(written / "race_rounds.csv")
    assert rounds["round"].tolist() == [3, 4, 5, 6]
    assert rounds["alive"].tolist() == [4, 2, 2, 2] and rounds["eliminated"].tolist() == [2, 0, 0, 0]
    elim = pd.read_csv(written / "race_eliminations.csv")
    assert sorted(elim["configuration"]) == ["softmax: train.lr=0.02", "softmax: train.lr=0.05"]
    assert (elim["round"] == 3).all() and (elim["test"] == "t-test").all() and (elim["p_holm"] < 0.05).all()
    assert set(elim["lost_to"]) == {rounds["best"].iloc[0]} <= {"softmax: train.lr=0.001", "softmax: train.lr=0.002"}
    for label in elim["configuration"]:  # each elimination's row in the markdown names its test and p-value
        line = next(x for x in sec.splitlines() if x.startswith(f"| {label} |"))
        assert "paired t-test vs the best" in line and "| 3 |" in line
    assert "Friedman p" not in sec  # a t-test race has no omnibus test


def test_p_values_are_holm_over_the_round(raced):
    """The eliminations' p-values are the round's paired t-tests against its best, Holm-adjusted over the 3."""
    from scipy import stats

    t = pd.read_parquet(raced / "trials.parquet")
    by = {c: g.set_index("seed")["val_error"] for c, g in t[t["seed"] < 3].groupby("config")}
    best = min(by, key=lambda c: by[c].mean())
    raw = {c: stats.ttest_rel(v.sort_index(), by[best].sort_index()).pvalue for c, v in by.items() if c != best}
    order = sorted(raw, key=raw.get)
    holm, run = {}, 0.0
    for i, c in enumerate(order):
        run = max(run, min(1.0, (len(order) - i) * raw[c]))
        holm[c] = run
    sec = race.section(race.read(raced), t, ("val_error", "min"))
    got = dict(zip(sec.eliminations["configuration"].str.removeprefix("softmax: "), sec.eliminations["p_holm"]))
    assert set(got) == {"train.lr=0.02", "train.lr=0.05"}
    assert got == pytest.approx({c: holm[c] for c in got}, rel=1e-9)


def test_trials_table_and_figure_of_a_raced_sweep(raced, written):
    t = pd.read_parquet(raced / "trials.parquet")
    gone = t.groupby("config")["race_eliminated_round"].first()
    assert gone[["train.lr=0.02", "train.lr=0.05"]].tolist() == [3, 3]
    assert gone[["train.lr=0.001", "train.lr=0.002"]].isna().all()
    assert (written / "figures" / "race_over_seeds.png").stat().st_size > 5000
    assert "### Race over seeds" in (written / "report.md").read_text()


def test_unraced_sweep_has_no_race_section(tmp_path):
    folder = R.make(tmp_path / "plain", race=False)
    make_report([folder], log_mlflow=False)
    md = (folder / "report" / "report.md").read_text()
    assert race.TITLE not in md and "Race over seeds" not in md and "Racing:" not in md
    assert not list((folder / "report").glob("race_*.csv"))
    assert "race_eliminated_round" not in pd.read_parquet(folder / "trials.parquet")


def test_paired_comparisons_use_only_shared_seeds(raced):
    """A survivor (6 seeds) against an eliminated configuration (3 seeds): n = 3, seeds 0-2, and the mean
    difference is over those seeds only."""
    sw = data.load(raced)
    rep = writer.build(sw, all_pairs=True)
    comp = rep.tables["paired_test_error"]
    t = sw.trials.set_index(["config", "seed"])["test_error"]
    cfg = dict(zip(sw.trials["config_id"], sw.trials["config"]))
    row = next(r for r in comp.to_dict("records")
               if {cfg[r["a"]], cfg[r["b"]]} == {"train.lr=0.001", "train.lr=0.02"})
    assert row["n"] == 3 and row["seeds"] == "0,1,2"
    a, b = cfg[row["a"]], cfg[row["b"]]
    assert row["mean_diff"] == pytest.approx(np.mean([t[(a, s)] - t[(b, s)] for s in (0, 1, 2)]))
    both = next(r for r in comp.to_dict("records")
                if {cfg[r["a"]], cfg[r["b"]]} == {"train.lr=0.001", "train.lr=0.002"})
    assert both["n"] == 6
