"""Budget-fair comparison on a table built to be unconverged: budget selection on validation, the flag, verdict flips."""
import pytest

from sweeper.report import budget
from tests.report.report_fixtures import rows, table

OBJ = ("val_error", "min")
SEEDS = (0, 1, 2, 3, 4)
NOISE = [0.000, 0.002, -0.001, 0.001, -0.002]


def _cfg(method, epochs, val, test):
    return rows(method, f"regularizer.name={method}, train.epochs={epochs}",
                {"val_error": [val + e for e in NOISE], "test_error": [test + e for e in NOISE]}, seeds=SEEDS,
                train_epochs=epochs)


def _trials():
    # "slow" still improves by 4 pp on validation from 100 to 200 epochs: not converged at the budgets tried.
    # "fast" has flattened (same validation error at 100 and 200) and is best at 100 epochs.
    # Against softmax, slow loses at 50 epochs (12 % vs 8 %) and wins at 200 (5 % vs 7 %): the verdict flips.
    t = table(*[_cfg("slow", b, v, te) for b, v, te in [(50, .15, .12), (100, .10, .08), (200, .06, .05)]],
              *[_cfg("fast", b, v, te) for b, v, te in [(50, .09, .07), (100, .07, .06), (200, .07, .065)]],
              *[_cfg("softmax", b, v, te) for b, v, te in [(50, .10, .08), (100, .09, .07), (200, .09, .07)]])
    assert budget.BUDGET == "train.epochs" and budget.BUDGET in t
    return t


def test_budget_selection_flag_and_flips():
    t = _trials()
    assert budget.budgets(t) == [50, 100, 200] and budget.has_budgets(t)
    res = budget.analyse(t, "test_error", OBJ, "softmax")
    sel = res.selected.set_index("method")
    assert sel.loc["slow", "selected_budget"] == 200 and sel.loc["slow", "convergence"] == budget.NOT_CONVERGED
    assert sel.loc["slow", "objective_change"] == pytest.approx(-0.04)
    assert sel.loc["fast", "selected_budget"] == 100  # tie at 100/200 on validation: the first (smaller) budget
    assert sel.loc["fast", "convergence"] == budget.FLAT
    assert sel.loc["softmax", "convergence"] == budget.FLAT
    tab = res.table.set_index(["method", "budget"])
    assert tab.loc[("slow", 50), "test_error"] == pytest.approx(0.12) and tab.loc[("slow", 50), "test_error_n"] == 5
    assert res.depends_on_budget == ["slow"]
    text = budget.render(res, "test_error", OBJ, "softmax")
    assert "not converged at the budgets tried" in text and "depends on the budget for: slow" in text
    assert "| slow | 12.00 ± " in text  # test error vs budget, in %


def test_gain_within_noise_is_only_a_maybe():
    t = _trials()
    noisy = t["regularizer"].eq("fast") & t[budget.BUDGET].eq(200)
    t.loc[noisy, "val_error"] = [0.060, 0.080, 0.055, 0.085, 0.065]  # mean 0.069 < 0.07, but seed noise is large
    sel = budget.analyse(t, "test_error", OBJ).selected.set_index("method")
    assert sel.loc["fast", "convergence"] == budget.MAYBE


def test_report_compares_methods_at_their_selected_budgets():
    from pathlib import Path

    import pandas as pd

    from sweeper.report import writer
    from sweeper.report.data import Sweep

    rep = writer.build(Sweep("b", Path("."), _trials(), pd.DataFrame()), baseline="softmax")
    m = rep.method_table.set_index("method")
    assert m.loc["slow", "config"].endswith("train.epochs=200") and m.loc["fast", "config"].endswith("train.epochs=100")
    titles = [t for t, _ in rep.sections]
    assert "Budget-fair comparison" in titles and {"budget", "budget_selected"} <= set(rep.tables)
    comp = rep.tables["paired_test_error"].set_index("method_a")
    assert comp.loc["slow", "config_a"].endswith("train.epochs=200")  # compared at its selected budget
