"""MLflow as the comparison UI, checked through the REST API a real ``mlflow server`` serves to its
web UI (``ajax-api/2.0/mlflow/...``) after the session's real tiny sweep (``finished_sweep``: real Ray, Optuna grid, MLflow SQLite):
readable child run names, the ``config_id`` tag (the UI's group-by key), the parent's summary and
description, and figures as artifacts of the parent and of each finished trial's run."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cli import env, free_port
from tests.support.specs import TINY, copy_sweep

NAME = TINY["name"]


def _get(base: str, endpoint: str, **params) -> dict:
    from urllib.parse import urlencode

    with urllib.request.urlopen(f"{base}/ajax-api/2.0/mlflow/{endpoint}?{urlencode(params)}", timeout=30) as r:
        return json.loads(r.read())


def _post(base: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(f"{base}/ajax-api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.mark.cli  # an mlflow server
@pytest.mark.timeout(900)  # an mlflow server start (~1 min alone on a busy machine)
def test_mlflow_ui_shows_names_groups_summary_and_figures(finished_sweep, tmp_path):
    out = finished_sweep.stdout
    # the compact progress view, not Tune's boxed tables
    assert "4/4 trials done (4 finished)" in out and "best so far by val_error (min):" in out
    assert "╭" not in out and "│ Trial name" not in out
    assert (finished_sweep.dir / "report" / "figures").is_dir()  # drawn once, by the report
    assert not (finished_sweep.dir / "figures").exists()
    check_ui(copy_sweep(finished_sweep.root, tmp_path / "c", NAME), env())


def check_ui(tmp_path: Path, env: dict) -> None:
    """Serve ``tmp_path/mlflow.db`` with ``mlflow server`` and check what its UI's REST API returns."""
    trials = pd.read_parquet(tmp_path / "sweeps" / NAME / "trials.parquet")
    port = free_port()
    server = subprocess.Popen(
        ["mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(360):  # mlflow server start-up takes seconds (minutes on a loaded machine)
            try:
                exp = _get(base, "experiments/get-by-name", experiment_name=NAME)["experiment"]
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer")
        runs = _post(base, "runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 100})["runs"]
        tags = {r["info"]["run_id"]: {t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs}
        parent = [r for r in runs if "mlflow.parentRunId" not in tags[r["info"]["run_id"]]]
        children = [r for r in runs if "mlflow.parentRunId" in tags[r["info"]["run_id"]]]
        assert len(parent) == 1 and len(children) == 4
        names = sorted(r["info"]["run_name"] for r in children)
        assert names == ["dropout seed=0", "dropout seed=1", "softmax seed=0", "softmax seed=1"]
        by_trial = trials.set_index("trial_id")["config_id"].to_dict()
        for c in children:
            t = tags[c["info"]["run_id"]]
            assert t["config_id"] == by_trial[t["sweeper.trial_id"]]  # the same id as the Parquet tables
            assert t["regularizer"] in t["mlflow.runName"]
            assert t["mlflow.runName"] == f"{t['configuration']} seed={t['seed']}"
        assert len({tags[c["info"]["run_id"]]["config_id"] for c in children}) == 2
        p = tags[parent[0]["info"]["run_id"]]
        assert p["mlflow.note.content"].startswith(TINY["description"])
        assert "95% t-CI" not in p["sweeper.best"] and "mean of 2 seeds" in p["sweeper.best"]  # n=2: no interval
        assert p["sweeper.best_config"] in ("softmax", "dropout")
        assert p["sweeper.best_config_id"] in set(trials.config_id)

        def files(run_id: str, path: str) -> set[str]:
            listing = _get(base, "artifacts/list", run_id=run_id, path=path)
            return {Path(f["path"]).name for f in listing.get("files", [])}

        assert "figures" not in files(parent[0]["info"]["run_id"], "")  # the sweep figures: only under report/
        pfiles = files(parent[0]["info"]["run_id"], "report/figures")
        assert {"learning_curves_best_configuration_per_method.png",
                "reliability_diagrams_best_configuration_per_method.png"} <= pfiles
        for c in children:
            assert files(c["info"]["run_id"], "figures") == {"learning_curve.png", "reliability_diagram.png"}
            assert "calibration_test.json" in files(c["info"]["run_id"], "")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
