"""Per-configuration and per-method tables, baseline choice, paired comparisons on a fixed table."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweeper.report import compare, tables, writer
from sweeper.report.data import Sweep
from sweeper.report.stats import holm, paired
from tests.report.report_fixtures import dropmax_like, rows, table

OBJ = ("val_error", "min")


def test_config_table_ranks_by_the_objective_and_keeps_per_seed_values():
    t = dropmax_like()
    c = tables.config_table(t, ["test_error", "val_error"], OBJ)
    assert list(c["method"]) == ["dropmax", "sal", "softmax", "softmax"]
    r = c.iloc[0]
    assert r["seeds"] == "5/5" and r["test_error_n"] == 5
    assert r["test_error"] == pytest.approx(np.mean([.035, .033, .037, .034, .038]))
    assert r["test_error_seeds"] == {0: .035, 1: .033, 2: .037, 3: .034, 4: .038}


def test_method_view_selects_on_validation_and_counts_configurations():
    c = tables.config_table(dropmax_like(), ["test_error"], OBJ)
    m = tables.method_table(c, OBJ).set_index("method")
    # softmax lr 0.001 has the better validation error (7.0 %) though lr 0.01 is better on test
    assert m.loc["softmax", "config"].endswith("train.lr=0.001")
    assert m.loc["softmax", "configs"] == 2 and m.loc["softmax", "trials"] == 10
    assert m.loc["dropmax", "configs"] == 1 and m.loc["sal", "trials"] == 3
    cid, note = tables.pick_baseline(c, "softmax", OBJ)
    assert cid == m.loc["softmax", "config_id"]
    assert "2 configurations" in note and "best by val_error" in note and "train.lr=0.001" in note
    with pytest.raises(KeyError, match="matches no config_id or method"):
        tables.pick_baseline(c, "nope", OBJ)


def test_paired_comparisons_against_a_baseline_holm_over_the_family():
    t = dropmax_like()
    c = tables.config_table(t, ["test_error"], OBJ)
    m = tables.method_table(c, OBJ)
    base = m.set_index("method").loc["softmax", "config_id"]
    comp = compare.comparisons(t, c, list(m["config_id"]), "test_error", base)
    assert len(comp) == 2 and set(comp["method_a"]) == {"dropmax", "sal"}
    dm = comp.set_index("method_a").loc["dropmax"]
    ref = paired(dict(enumerate([.035, .033, .037, .034, .038])), dict(enumerate([.052, .050, .054, .049, .053])))
    assert dm["n"] == 5 and dm["mean_diff"] == pytest.approx(ref.mean_diff) and dm["t_p"] == pytest.approx(ref.t_p)
    assert comp.set_index("method_a").loc["sal", "n"] == 3  # only the seeds sal finished
    np.testing.assert_allclose(comp["t_p_holm"], holm(comp["t_p"]))
    np.testing.assert_allclose(comp["exact_p_holm"], holm(comp["exact_p"]))
    text = compare.render(comp)
    assert "pp" in text and "With 5 paired seeds the exact test cannot give p below 0.0625 (so it can never reach 0.05)" in text
    assert "With 3 paired seeds the exact test cannot give p below 0.25" in text
    assert "-1.62 ± " in text  # dropmax - softmax: 3.54 - 5.16, in percentage points


def test_nll_differences_are_in_nats_not_points():
    t = dropmax_like()
    c = tables.config_table(t, ["test_nll"], OBJ)
    comp = compare.comparisons(t, c, list(tables.method_table(c, OBJ)["config_id"]), "test_nll",
                               tables.pick_baseline(c, "softmax", OBJ)[0])
    text = compare.render(comp)
    assert "(nats)" in text and "points" not in text and "-0.168 ± " in text


def test_regularizer_metric_with_a_baseline_does_not_crash():
    """`--metric sal_params --baseline softmax` raised KeyError; softmax has no sal_params: nothing to pair."""
    sw = Sweep("fixture", Path("."), dropmax_like(), pd.DataFrame(), {}, {})
    rep = writer.build(sw, extra_metrics=("sal_params",), baseline="softmax")
    comp = rep.tables["paired_sal_params"]
    assert (comp["n"] == 0).all() and comp["note"].str.contains("no seed finished in both").all()
    assert "sal params" in rep.main and "29,800" in rep.main  # the metric is a column, as a count


def test_per_seed_values_below_three_seeds():
    t = table(rows("softmax", "regularizer.name=softmax", {"val_error": [.5, .6], "test_error": [.4, .45]}, seeds=(0, 1)),
              rows("dropout", "regularizer.name=dropout", {"val_error": [.3, .35], "test_error": [.3, .2]}, seeds=(0, 1),
                   status={1: "diverged"}))
    c = tables.config_table(t, ["test_error"], OBJ)
    md = tables.render(c, ["test_error"], [("config", "config"), ("seeds", "seeds")])
    assert "seeds: 40.00, 45.00 (n=2)" in md and "seeds: 30.00 (n=1)" in md and "1/2" in md and "±" not in md


def _two_seed_sweep() -> Sweep:
    t = table(rows("softmax", "regularizer.name=softmax", {"val_error": [.30, .32], "test_error": [.30, .31]}, seeds=(0, 1)),
              rows("dropout", "regularizer.name=dropout", {"val_error": [.25, .27], "test_error": [.265, .285]}, seeds=(0, 1)))
    return Sweep("two", Path("."), t, pd.DataFrame(), {"search": {"metric": "val_error", "mode": "min"}})


def test_no_interval_or_t_test_from_two_paired_seeds_anywhere():
    """2 paired seeds: the paired table, the summary and the terminal print the per-seed differences, no ±, no t-test p."""
    p = paired({0: .265, 1: .285}, {0: .30, 1: .31})
    assert p.n == 2 and np.isnan(p.t_half) and np.isnan(p.t_p) and np.isnan(p.dz)
    rep = writer.build(_two_seed_sweep(), baseline="softmax")
    comp = rep.tables["paired_test_error"].iloc[0]
    assert comp["per_seed_diff"] == "0:-0.035;1:-0.025" and np.isnan(comp["t_p_holm"])
    for text in (dict(rep.sections)["Summary"], dict(rep.sections)["Paired comparisons of test_error against softmax"], rep.main):
        assert "seeds: -3.50, -2.50 (n=2)" in text
        assert not re.search(r"\d ± \d", text) and "0.0345" not in text
    row = next(x for x in rep.main.splitlines() if x.startswith("| dropout | softmax |"))
    assert row.split("|")[6].strip() == "-"  # t-test p


def test_an_identical_configuration_and_seed_counts_once():
    """TPE suggested sparsemax twice: each seed ran twice with identical results. Counts, cells and the paired
    comparison see 2 distinct seeds (no interval), not 4."""
    sm = rows("softmax", "regularizer.name=softmax", {"val_error": [.2, .3], "test_error": [.2, .3]}, seeds=(0, 1))
    sp = rows("sparsemax", "regularizer.name=sparsemax", {"val_error": [.1, .5], "test_error": [.1, .5]}, seeds=(0, 1))
    again = [{**r, "trial_id": r["trial_id"] + "_again"} for r in sp]
    t = table(sm, sp, again)
    c = tables.config_table(t, ["test_error"], OBJ).set_index("method")
    assert c.loc["sparsemax", "seeds"] == "2/2" and c.loc["sparsemax", "test_error_n"] == 2
    assert c.loc["sparsemax", "n_trials"] == 2
    assert tables.cell(c.loc["sparsemax"], "test_error") == "seeds: 10.00, 50.00 (n=2)"
    rep = writer.build(Sweep("dup", Path("."), t, pd.DataFrame(), {"search": {"metric": "val_error", "mode": "min"}}),
                       baseline="softmax")
    comp = rep.tables["paired_test_error"].iloc[0]
    assert comp["n"] == 2 and np.isnan(comp["t_ci95"]) and "33.61" not in rep.main and "4/4" not in rep.main
