"""``SweepTracker.child_runs`` lists every child run of a sweep, however many: one MLflow search returns
at most a page, and a sweep of thousands of trials (x seeds) has more runs than the 10,000 one search
used to return (real MLflow SQLite store)."""
from __future__ import annotations


def test_child_runs_pages_through_more_runs_than_one_search_returns(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    from sweeper.store import mlflow_runs

    tracker = mlflow_runs.SweepTracker("cr", experiment="cr", run_name="cr", fresh=True)
    made = {}
    for i in range(7):
        name, tags = mlflow_runs.child_run("cr", tracker.parent_id, f"t{i}", None)
        made[f"t{i}"] = tracker.client.create_run(tracker.experiment_id, run_name=name, tags=tags).info.run_id
    other = mlflow_runs.SweepTracker("other", experiment="cr", run_name="other", fresh=True)  # another sweep's parent
    tracker.client.create_run(other.experiment_id, tags=mlflow_runs.child_run("other", other.parent_id, "x", None)[1])

    first = tracker.client.search_runs([tracker.experiment_id], max_results=3,
                                       filter_string=f"tags.`{mlflow_runs.PARENT_TAG}` = '{tracker.parent_id}'")
    assert len(first) == 3  # what one search of a page returns
    runs = tracker.child_runs(page=3)
    assert sorted(r.info.run_id for r in runs) == sorted(made.values())
    monkeypatch.setattr(mlflow_runs, "SEARCH_PAGE", 2)
    assert tracker.trial_runs() == made  # every caller goes through the pages (default page size)
