"""A finished sweep, looked at again (issue 26): ``resume`` adds no second point to the parent's best
metrics, ``report`` rebuilds a deleted trials.parquet, ``launch`` prints the MLflow runs-table URL."""
from __future__ import annotations

import pytest

from tests.driver.test_faults import parent
from tests.support.cli import ok, sweeper
from tests.support.specs import copy_sweep


@pytest.mark.timeout(900)
def test_resume_report_and_links_of_a_finished_sweep(finished_sweep, tmp_path):
    """On a copy of the session's finished sweep."""
    name = finished_sweep.name
    client, par = parent(finished_sweep.root, name)
    out = finished_sweep.stdout
    assert f"http://127.0.0.1:5000/#/experiments/{par.info.experiment_id}/runs" in out, out[-1500:]
    root = copy_sweep(finished_sweep.root, tmp_path / "c", name)
    client, par = parent(root, name)
    before = {k: len(client.get_metric_history(par.info.run_id, k)) for k in par.data.metrics}
    assert before["selected_val_error_mean"] == 1, before

    ok(sweeper(root, "resume", name, "--num-cpus", "1", "--quiet"))
    client, par = parent(root, name)
    after = {k: len(client.get_metric_history(par.info.run_id, k)) for k in par.data.metrics}
    assert after == before, (before, after)  # nothing changed: no new points

    sweep = root / "sweeps" / name
    (sweep / "trials.parquet").unlink()
    r = ok(sweeper(root, "report", name, "--no-mlflow", timeout=600))
    assert (sweep / "trials.parquet").exists() and "no sweep" not in r.stderr, r.stderr[-2000:]
    assert (sweep / "report" / "report.md").exists()


def test_ui_lists_each_experiments_runs_table(tmp_path):
    """`sweeper ui` prints the runs-table URL of each experiment (MLflow 3.17 opens the GenAI overview)."""
    from mlflow import MlflowClient

    from sweeper.commands import ui

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert ui.runs_links(5001, uri) == []  # no store yet: nothing to list, nothing created
    assert not (tmp_path / "mlflow.db").exists()
    exp = MlflowClient(uri).create_experiment("e1")
    assert ui.runs_links(5001, uri) == [f"e1: http://127.0.0.1:5001/#/experiments/{exp}/runs"]
