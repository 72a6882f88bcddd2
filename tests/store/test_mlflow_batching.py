"""The live MLflow callback buffers per-epoch metrics and still logs every epoch, once.

Real local Ray Tune runs of a function trainable (2 trials x 12 epochs) with
``MLflowTrialCallback`` on a real SQLite MLflow store, without the sweep's
final ``reconcile``: whatever the flush period (every result; only at trial end), every epoch of
every trial is in MLflow with step = epoch, the runs are ended, and nothing is left in the buffer.
The two flush periods are two ``Tuner.fit`` runs on one Ray start.
"""
from __future__ import annotations

import pytest


@pytest.mark.ray
def test_every_epoch_is_logged_once_whatever_the_flush_period(tmp_path, monkeypatch):
    import ray
    from ray import tune

    from sweeper.driver import local_ray
    from sweeper.driver.callbacks import mlflow as callback_module
    from sweeper.driver.callbacks.mlflow import MLflowTrialCallback
    from sweeper.store import mlflow_runs as tracking

    def trainable(config):  # defined here: pickled by value (the workers cannot import this test module)
        for epoch in range(1, 13):
            tune.report({"epoch": epoch, "val_error": config["x"] / epoch, "train_loss": 1.0 / epoch})

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    local_ray.start_or_join(None, 1)  # the sweeper's local Ray start (its own token file, loopback only)
    try:
        for case, flush_every_s in (("every-result", 0.0), ("only-at-trial-end", 3600.0)):
            # the callback's own binding (it reads this one); the driver calls it, so it holds in this process
            monkeypatch.setattr(callback_module, "FLUSH_EVERY_S", flush_every_s)
            tracker = tracking.SweepTracker(case, experiment=case, run_name=case, fresh=True)
            cb = MLflowTrialCallback(tracker, lambda cfg: {"params": {"x": cfg["x"]}})
            tune.Tuner(trainable, param_space={"x": tune.grid_search([0.5, 0.25])},
                       run_config=tune.RunConfig(name=case, storage_path=str(tmp_path / "tune"), callbacks=[cb],
                                                 verbose=0)).fit()
            assert cb.pending == {}, case
            runs = tracker.client.search_runs([tracker.experiment_id],
                                              filter_string=f"tags.`{tracking.PARENT_TAG}` = '{tracker.parent_id}'")
            assert len(runs) == 2, case
            for r in runs:
                x = float(r.data.params["x"])
                hist = sorted((m.step, m.value) for m in tracker.client.get_metric_history(r.info.run_id, "val_error"))
                assert hist == [(e, pytest.approx(x / e)) for e in range(1, 13)], case
                assert r.info.status == "FINISHED", case
    finally:
        ray.shutdown()


def test_a_callback_pickled_before_the_buffer_existed_resumes(tmp_path, monkeypatch):
    """Tune restores the run's callbacks from tuner.pkl on `sweeper resume`, without __init__. A sweep
    launched before the metric buffer existed pickled an MLflowTrialCallback without `pending` and
    `last_flush`; the restored callback must still buffer and flush (found by resuming such a sweep:
    on_experiment_end raised AttributeError and the resume ended in a traceback)."""
    import pickle

    from sweeper.driver.callbacks.mlflow import MLflowTrialCallback
    from sweeper.store import mlflow_runs as tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracker = tracking.SweepTracker("old", experiment="old", run_name="old", fresh=True)
    cb = MLflowTrialCallback(tracker, dict)
    del cb.pending, cb.last_flush  # the state an older version pickled
    restored = pickle.loads(pickle.dumps(cb))
    assert restored.pending == {} and isinstance(restored.last_flush, float)
    restored.on_step_end(iteration=0, trials=[])
    restored.on_experiment_end(trials=[])  # raised AttributeError before __setstate__
