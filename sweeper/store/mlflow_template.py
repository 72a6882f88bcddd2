"""A new local MLflow SQLite store starts as a copy of an empty store whose schema MLflow made.

MLflow gives a new ``mlflow.db`` its schema by running every Alembic migration in turn (about
1.1 CPU-seconds in MLflow 3.17, on every new store). :func:`seed_new_store` does that once per
MLflow version: the first time, MLflow's own ``_initialize_tables`` builds the schema in
``cache_dir()/mlflow/schema-<version>.db`` (tables only: no experiment yet); afterwards a new
store is a copy of that file. MLflow then finds every table, checks that the schema's revision is
its head (``_verify_schema``; a template of another version is never used, its name says which),
and creates the ``Default`` experiment with this store's own artifact location, as on any new store.

Only a ``sqlite:///`` file that does not exist yet in an existing folder is seeded, and only
under :func:`sweeper.store.mlflow_runs.first_use_lock`; the copy is linked into place, so an
existing store is never overwritten. Anything that fails (no writable cache, an MLflow whose
private helper moved) leaves the store to MLflow, as before. The cache folder:
``sweeper.store.cache``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from sweeper.store.cache import cache_dir
from sweeper.store.mlflow_uri import PREFIX, store_file

log = logging.getLogger("sweeper")


def seed_new_store(uri: str) -> bool:
    """Copy the schema template to the store of ``uri`` when that file does not exist yet; True when copied."""
    db = store_file(uri)
    if db is None or db.exists() or not db.parent.is_dir():
        return False
    try:
        template = _template()
        tmp = db.parent / f".{db.name}.{os.getpid()}.tmp"  # created with the umask's mode, like MLflow's own
        try:
            shutil.copyfile(template, tmp)
            os.link(tmp, db)  # fails if the store appeared meanwhile: it is never overwritten
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return True
    except Exception as e:  # noqa: BLE001 - MLflow then creates the schema itself (module docstring)
        log.debug("no MLflow schema template for %s (%s); MLflow creates the schema", db, e)
        return False


def _template() -> Path:
    """The empty store of this MLflow version, made by MLflow on first use."""
    # imported here: MLflow's database helpers cost ~0.9 s to import, and only a new store needs them
    import mlflow
    import mlflow.store.db.utils as db_utils
    import sqlalchemy

    path = cache_dir() / "mlflow" / f"schema-{mlflow.__version__}.db"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".db.tmp")
    os.close(fd)
    try:
        engine = sqlalchemy.create_engine(PREFIX + tmp)
        try:
            db_utils._initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(tmp, path)  # two first uses at once: both complete templates, the last one stays
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return path
