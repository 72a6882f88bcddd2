"""Which MLflow tracking store a sweeper process uses (without importing MLflow).

``MLFLOW_TRACKING_URI`` when set, else ``DEFAULT_URI``: a SQLite file ``mlflow.db`` in the
current folder. ``tracking_uri()`` makes a relative SQLite path absolute; ``store_file()`` is the
database file of a local SQLite store.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_URI = "sqlite:///mlflow.db"
PREFIX = "sqlite:///"


def tracking_uri() -> str:
    """The store of this process, with a relative SQLite path made absolute (against the current folder).

    The URI is recorded in ``sweep.json``; an absolute path keeps ``status``, ``report``, ``resume`` and
    ``reproduce`` on the same store whatever folder they run from (a relative ``sqlite:///mlflow.db``
    would otherwise name a new, empty store next to wherever they run)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)
    if uri.startswith(PREFIX) and not uri.startswith(PREFIX + "/") and uri != PREFIX + ":memory:":
        return PREFIX + str(Path(uri[len(PREFIX):]).resolve())
    return uri


def store_file(uri: str) -> Path | None:
    """The database file of a local SQLite tracking URI (None for any other store)."""
    if not uri.startswith(PREFIX) or uri == PREFIX + ":memory:":
        return None
    return Path(uri[len(PREFIX):].split("?", 1)[0])
