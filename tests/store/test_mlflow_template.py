"""A new SQLite store is a copy of MLflow's own empty schema (sweeper/store/mlflow_template.py): real MLflow."""
from __future__ import annotations

import mlflow
from mlflow import MlflowClient

from sweeper.store.mlflow_template import seed_new_store


def test_a_seeded_store_is_what_mlflow_would_have_made_and_nothing_is_overwritten(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    seeded, plain = f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}", f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"
    assert seed_new_store(seeded)
    assert (tmp_path / "cache" / "mlflow" / f"schema-{mlflow.__version__}.db").exists()
    views = []
    for uri, folder in ((seeded, "a"), (plain, "b")):  # plain: MLflow runs its migrations itself
        monkeypatch.chdir(tmp_path / folder)  # the default artifact root is ./mlruns
        client = MlflowClient(uri)
        exp = client.create_experiment("x")
        client.create_run(exp, run_name="r")
        views.append(sorted((e.name, e.artifact_location.replace(str(tmp_path / folder), ""))
                            for e in client.search_experiments()))
    assert views[0] == views[1] and ("Default", "/mlruns/0") in views[0], views
    before = (tmp_path / "a" / "mlflow.db").read_bytes()
    assert not seed_new_store(seeded)  # exists: left alone
    assert (tmp_path / "a" / "mlflow.db").read_bytes() == before
    assert not seed_new_store(f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}")  # no folder: MLflow's own error
    assert not seed_new_store("http://127.0.0.1:5000") and not seed_new_store("sqlite:///:memory:")
    assert [p.name for p in (tmp_path / "a").iterdir() if p.suffix == ".tmp"] == []  # no temporary file left
