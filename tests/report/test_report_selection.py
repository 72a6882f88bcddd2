"""One selection rule (``sweeper.store.selection``, on the validation objective) behind every table,
figure, baseline and the launch summary, on a sweep whose validation and test rankings disagree.

The sweep is a results folder written the way the store writes it (trials.parquet with the resolved
spec in its metadata, epochs.parquet); the report is the real ``make_report`` with its figures."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sweeper import report
from sweeper.report.run import make_report
from sweeper.store import selection
from tests.report.report_fixtures import rows, table

SPEC = "name: disagree\nsearch: {metric: val_error, mode: min}\n"
SEEDS = (0, 1, 2)


def _calib() -> str:
    edges = [i / 15 for i in range(16)]
    return json.dumps({"edges": edges, "count": [0] * 14 + [50], "confidence": [None] * 14 + [0.97],
                       "accuracy": [None] * 14 + [0.95]})


def _config(method: str, lr: float, val: float, test: float) -> list[dict]:
    """One configuration on SEEDS: validation ``val`` and test ``test`` (+ a small per-seed spread)."""
    return rows(method, f"regularizer.name={method}, train.lr={lr}",
                {"val_error": [val + 0.001 * s for s in SEEDS], "test_error": [test + 0.002 * s for s in SEEDS],
                 "test_calibration": [_calib()] * len(SEEDS)}, seeds=SEEDS, train_lr=lr)


def disagreeing() -> pd.DataFrame:
    """softmax and dropout each have a configuration best on validation (``*_val``) and another best
    on test (``*_test``); dropmax has one."""
    return table(
        _config("softmax", 0.1, val=0.080, test=0.060),  # worse on validation, better on test
        _config("softmax", 0.01, val=0.070, test=0.075),  # selected
        _config("dropout", 0.1, val=0.065, test=0.050),
        _config("dropout", 0.01, val=0.060, test=0.070),  # selected
        _config("dropmax", 0.01, val=0.050, test=0.080),
    )


def _write(folder: Path, trials: pd.DataFrame) -> Path:
    folder.mkdir(parents=True)
    t = pa.Table.from_pandas(trials, preserve_index=False)
    pq.write_table(t.replace_schema_metadata({**(t.schema.metadata or {}), b"sweeper.spec": SPEC.encode()}),
                   folder / "trials.parquet")
    ep = [{"trial_id": r["trial_id"], "config_id": r["config_id"], "seed": r["seed"], "epoch": e,
           "val_error": r["val_error"] + 0.1 / e, "train_loss": 1.0 / e} for r in trials.to_dict("records") for e in (1, 2)]
    pd.DataFrame(ep).to_parquet(folder / "epochs.parquet")
    return folder


def _id(trials: pd.DataFrame, method: str, lr: float) -> str:
    return trials.loc[trials["config"] == f"regularizer.name={method}, train.lr={lr}", "config_id"].iloc[0]


def _captioned_ids(md: str, title: str) -> list[str]:
    block = md.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    line = next(x for x in block.splitlines() if x.startswith(("Configurations drawn", "Baseline")))
    return re.findall(r"`([0-9a-f]{10})`", line)


def test_every_table_and_figure_names_the_configurations_selected_on_validation(tmp_path):
    trials = disagreeing()
    sel = {m: _id(trials, m, 0.01) for m in ("softmax", "dropout", "dropmax")}
    assert selection.best_per_method(trials, ("val_error", "min")) == {"dropmax": sel["dropmax"], "dropout": sel["dropout"],
                                                                       "softmax": sel["softmax"]}
    folder = _write(tmp_path / "results" / "disagree", trials)
    w = make_report([folder], out=folder / "report", baseline="softmax", log_mlflow=False)
    out = folder / "report"
    methods = pd.read_csv(out / "methods.csv")
    assert dict(zip(methods["method"], methods["config_id"])) == sel
    comp = pd.read_csv(out / "paired_test_error.csv")
    assert set(comp["b"]) == {sel["softmax"]} and set(comp["a"]) == {sel["dropout"], sel["dropmax"]}
    md = w.report_md.read_text()
    for title in ("Learning curves, best configuration per method", "Reliability diagrams, best configuration per method"):
        assert set(_captioned_ids(md, title)) == set(sel.values()), title
    paired_ids = _captioned_ids(md, "Paired differences in test_error vs the baseline")
    assert paired_ids[0] == sel["softmax"] and set(paired_ids[1:]) == {sel["dropout"], sel["dropmax"]}
    by_val = [sel["dropmax"], sel["dropout"], _id(trials, "dropout", 0.1), sel["softmax"], _id(trials, "softmax", 0.1)]
    assert _captioned_ids(md, "Learning curves, top configurations") == by_val
    # the terminal's method table and the launch summary name the same configurations
    for m, lr in (("softmax", 0.01), ("dropout", 0.01)):
        line = next(x for x in w.main.splitlines() if x.startswith(f"| {m} |"))
        assert line.endswith(f"| regularizer.name={m}, train.lr={lr} |"), line
    summary = report.summarize(trials, "val_error", "min")
    assert list(summary["config_id"]) == by_val


def test_ties_are_ranked_by_config_id_whatever_the_trial_order():
    trials = table(_config("softmax", 0.1, val=0.07, test=0.06), _config("softmax", 0.01, val=0.07, test=0.07),
                   _config("dropout", 0.01, val=0.07, test=0.05))
    want = sorted(trials["config_id"].unique())
    assert selection.ranked(trials, ("val_error", "min")) == want
    shuffled = trials.sample(frac=1.0, random_state=3)
    assert selection.ranked(shuffled, ("val_error", "min")) == want
    assert list(report.summarize(shuffled, "val_error", "min")["config_id"]) == want
