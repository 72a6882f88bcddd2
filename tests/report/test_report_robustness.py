"""Robustness of each verdict against the baseline, where the researcher reads it: the terminal (``main``),
report.md and the MLflow parent run's description (real SQLite store): budget, fresh seeds, validation vs test."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sweeper.report import robustness
from sweeper.report.run import make_report
from tests.report.report_fixtures import rows, table
from tests.report.test_report_budget import _trials as budget_trials

SPEC = "name: {name}\ntrain: {{epochs: 60}}\nsearch: {{metric: val_error, mode: min}}\nseeds: [0, 1, 2]\n"


def _sweep(folder: Path, trials: pd.DataFrame, name: str, meta: dict | None = None) -> Path:
    """A live sweep folder as the store leaves it: spec.yaml, sweep.json, trials.parquet."""
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(SPEC.format(name=name))
    (folder / "sweep.json").write_text(json.dumps({"sweep_id": name, **(meta or {})}))
    pq.write_table(pa.Table.from_pandas(trials.assign(sweep=name), preserve_index=False), folder / "trials.parquet")
    return folder


def _two_methods(dm_test: float, seeds=(0, 1, 2)) -> pd.DataFrame:
    """softmax vs dropmax: dropmax better on validation; its test error ``dm_test`` (softmax's is 0.10)."""
    n = len(seeds)
    return table(rows("softmax", "regularizer.name=softmax", {"val_error": [.10, .11, .12][:n], "test_error": [.10, .10, .10][:n]}, seeds=seeds),
                 rows("dropmax", "regularizer.name=dropmax", {"val_error": [.08, .09, .10][:n],
                                                              "test_error": [dm_test + 0.001 * i for i in range(n)]}, seeds=seeds))


def test_a_single_budget_is_flagged_with_the_command_that_checks_it_everywhere(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(uri)
    run = c.create_run(c.create_experiment("tab"), run_name="tab", tags={"mlflow.note.content": "Table 1 recipe"})
    d = _sweep(tmp_path / "sweeps" / "tab", _two_methods(0.13), "tab", {"mlflow_parent_run": run.info.run_id, "mlflow_uri": uri})
    w = make_report([d], baseline="softmax", figures=False)
    line = "not checked (one budget, 60 epochs): `sweeper confirm tab --epochs 2x`"
    md = w.report_md.read_text()
    assert "## Robustness of the verdicts" in md and line in md and line in w.main
    assert "not checked: `sweeper confirm tab --per-method`" in md
    assert "disagree (val_error -2.00 pp, test_error +3.10 pp)" in md  # better on validation, worse on test
    note = c.get_run(run.info.run_id).data.tags["mlflow.note.content"]
    assert note.startswith("Table 1 recipe\n\nRobustness of the verdicts")
    assert "dropmax vs softmax: budget: not checked (one budget, 60 epochs): sweeper confirm tab --epochs 2x" in note
    make_report([d], baseline="softmax", figures=False)  # a second report replaces the lines, not appends
    assert c.get_run(run.info.run_id).data.tags["mlflow.note.content"].count("Robustness of the verdicts") == 1


def test_searched_budgets_say_budget_fair_not_converged_and_depends_on_budget():
    from sweeper.report import writer
    from sweeper.report.data import Sweep

    sw = Sweep("b", Path("."), budget_trials(), pd.DataFrame(), {"search": {"metric": "val_error", "mode": "min"}})
    rep = writer.build(sw, baseline="softmax")
    v = rep.tables["robustness"].set_index("a")
    assert v.loc["slow", "budget"] == "depends on budget (slow 200 ep, softmax 100 ep); not converged: slow"
    assert v.loc["fast", "budget"] == "budget-fair (fast 100 ep, softmax 100 ep)"
    assert "depends on budget" in rep.main


def test_fresh_seeds_say_whether_the_sign_holds_in_each_confirm_sweep(tmp_path):
    src = _sweep(tmp_path / "sweeps" / "src", _two_methods(0.08), "src")  # dropmax better by 2 pp on seeds 0-2
    _sweep(tmp_path / "sweeps" / "src_confirm", _two_methods(0.09, seeds=(3, 4, 5)), "src_confirm",
           {"confirms": {"source": "src", "top": "per-method", "metric": "val_error", "mode": "min",
                         "selection_seeds": [0, 1, 2], "seeds": [3, 4, 5]}})
    _sweep(tmp_path / "sweeps" / "src_long", _two_methods(0.12, seeds=(6, 7, 8)), "src_long",
           {"confirms": {"source": "src", "top": "per-method", "metric": "val_error", "mode": "min",
                         "selection_seeds": [0, 1, 2, 3, 4, 5], "seeds": [6, 7, 8], "epochs": "2x"}})
    w = make_report([src], baseline="softmax", figures=False, log_mlflow=False)
    fresh = pd.read_csv(src / "report" / "robustness.csv")["fresh_seeds"].iloc[0]
    assert fresh == "holds in src_confirm (-0.90 pp, n=3); does not hold in src_long at 2x epochs (+2.10 pp, n=3)"
    assert fresh in w.main
    conf = make_report([tmp_path / "sweeps" / "src_long"], baseline="softmax", figures=False, log_mlflow=False)
    md = conf.report_md.read_text()
    assert "this is a confirm sweep (fresh seeds)" in md
    assert "Confirm sweep of src: each method's selected configuration by val_error (min, mean over seeds 0, 1, 2, 3, 4, 5) " \
           "re-run on seeds 6, 7, 8 at 2x epochs; the test numbers above come from seeds never used for selection." in md


def test_method_diff_pairs_the_selected_configurations():
    t = _two_methods(0.08)
    d, n = robustness.method_diff(t, "dropmax", "softmax", "test_error", ("val_error", "min"))
    assert n == 3 and abs(d - (-0.019)) < 1e-12


def test_without_a_baseline_each_method_is_checked_against_the_best_and_launch_prints_it(tmp_path, capsys):
    """The report written at the end of a launch has no --baseline: each method against the best by
    validation; the launch summary prints those lines from the report folder."""
    from sweeper.cli import outcome

    d = _sweep(tmp_path / "sweeps" / "tab", _two_methods(0.13), "tab")
    make_report([d], figures=False, log_mlflow=False)
    v = pd.read_csv(d / "report" / "robustness.csv")
    assert list(zip(v["a"], v["b"])) == [("softmax", "dropmax")]
    outcome.print_robustness(d / "report" / "robustness.csv")
    out = capsys.readouterr().out
    assert "docs/reference/reports.md, Robustness of a verdict" in out
    assert "softmax vs dropmax: budget: not checked (one budget, 60 epochs): sweeper confirm tab --epochs 2x" in out
