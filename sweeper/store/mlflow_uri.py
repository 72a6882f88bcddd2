"""Which MLflow tracking store a sweeper process uses (without importing MLflow).

``MLFLOW_TRACKING_URI`` when set, else ``DEFAULT_URI``: a SQLite file ``mlflow.db`` in the
current folder. ``tracking_uri()`` makes a relative SQLite path absolute.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_URI = "sqlite:///mlflow.db"


def tracking_uri() -> str:
    """The store of this process, with a relative SQLite path made absolute (against the current folder).

    The URI is recorded in ``sweep.json``; an absolute path keeps ``status``, ``report``, ``resume`` and
    ``reproduce`` on the same store whatever folder they run from (a relative ``sqlite:///mlflow.db``
    would otherwise name a new, empty store next to wherever they run)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and uri != prefix + ":memory:":
        return prefix + str(Path(uri[len(prefix):]).resolve())
    return uri
