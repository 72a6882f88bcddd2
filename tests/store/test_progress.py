"""The compact progress view: counts, epochs, time estimate and the best configuration so far."""
from __future__ import annotations

from sweeper.spec import from_dict
from sweeper.store import progress
from sweeper.store.progress import TrialState


def states() -> list[TrialState]:
    return [
        TrialState("finished", 4, 4, "a", "dropmax tau=0.5", 0.030),
        TrialState("finished", 4, 4, "a", "dropmax tau=0.5", 0.050),  # mean 4.00 %
        TrialState("finished", 4, 4, "b", "softmax", 0.035),
        TrialState("diverged", 1, 4, "c", "dropout p=0.9", None),
        TrialState("error", 0, 4, "d", "sal", None),
        TrialState("running", 2, 4, "b", "softmax", None),
        TrialState("pending", 0, 4, "a", "dropmax tau=0.5", None),
    ]


def test_view_counts_epochs_eta_and_best():
    text = progress.view("demo", states(), total=10, elapsed_s=65.0, metric="val_error", mode="min")
    head, eps, best = text.splitlines()
    assert head == "demo  5/10 trials done (3 finished, 1 diverged, 1 error), 1 running, 4 waiting"
    # done: 4+4+4+1+0+2 = 15; total: ended trials count their epochs done (13), running + pending 4 each,
    # and 3 trials not created yet at the mean budget 4: 13 + 8 + 12 = 33; left 18 at 15 epochs / 65 s
    assert eps == f"  epochs 15/33 · elapsed 1m05s · remaining ~{progress._duration(65.0 * 18 / 15)}"
    # softmax's 3.50 % is one seed: only the configurations with the most finished seeds (2) are ranked
    assert best == "  best so far by val_error (min): dropmax tau=0.5 · 4.00% (2 seeds; 1 configuration(s) with fewer finished seeds not ranked)"
    text = progress.view("demo", states(), total=10, elapsed_s=65.0, metric="val_error", mode="max")
    assert "dropmax tau=0.5 · 4.00% (2 seeds; 1 configuration(s)" in text


def test_view_before_anything_finished():
    text = progress.view("demo", [TrialState("running", 0, 3, "a", "softmax")], 2, 5.0, "val_nll", "min")
    assert "0/2 trials done, 1 running, 1 waiting" in text
    assert "remaining: not known before the first epoch" in text and "none finished yet" in text


def test_files_view_uses_the_budget_column_and_meta():
    rows = [
        {"status": "finished", "epochs": 2, "train.epochs": 2, "config_id": "x", "regularizer": "softmax",
         "config": "train.epochs=2", "val_error": 0.1},
        {"status": "running", "epochs": 1, "train.epochs": 8, "config_id": "y", "regularizer": "softmax",
         "config": "train.epochs=8", "val_error": None},
    ]
    meta = {"sweep_id": "s", "started": 100.0, "total_trials": 2, "status": "running"}
    spec = from_dict({"name": "s", "dataset": {"name": "digits"}, "model": {"name": "mlp"},
                      "regularizer": {"name": "softmax"}, "train": {"epochs": 3},
                      "search": {"metric": "val_error", "mode": "min"}})
    text = progress.files_view("s", meta, spec, rows, now=130.0)
    assert "1/2 trials done (1 finished), 1 running" in text
    assert "epochs 3/10 · elapsed 0m30s · remaining ~1m10s" in text  # 30 s x 7 left / 3 done
    assert "softmax epochs=2 · 10.00% (1 seed)" in text


def test_searched_epochs_count_the_expected_budget_of_trials_not_created_yet():
    """train.epochs in [60, 200], 30 trials, the first 3 created at 60: the total is 30 x 130 = 3,900 epochs
    (not 30 x 60 = 1,800 from the known trials' mean), in the live view and in `sweeper status` alike."""
    base = {"name": "t", "dataset": {"name": "digits"}, "model": {"name": "mlp"}, "regularizer": {"name": "softmax"},
            "train": {"epochs": 60}, "search": {"metric": "val_error", "mode": "min"}}
    spec = from_dict({**base, "space": {"train.epochs": {"type": "categorical", "choices": [60, 200]}}})
    assert progress.expected_budget(spec) == 130.0
    ranged = from_dict({**base, "space": {"train.epochs": {"type": "int", "low": 10, "high": 30}}})
    assert progress.expected_budget(ranged) == 20.0
    live = [TrialState("running", 0, 60, f"c{i}", "softmax") for i in range(3)]
    text = progress.view("t", live, 30, 10.0, "val_error", "min", unknown_budget=progress.expected_budget(spec))
    assert "epochs 0/3900" in text
    rows = [{"status": "running", "epochs": 0, "train.epochs": 60, "config_id": f"c{i}", "regularizer": "softmax",
             "config": "train.epochs=60", "val_error": None} for i in range(3)]
    meta = {"sweep_id": "t", "started": 100.0, "total_trials": 30, "status": "running"}
    assert "epochs 0/3900" in progress.files_view("t", meta, spec, rows, now=110.0)
