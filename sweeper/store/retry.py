"""Retry of the driver's own writes (MLflow, Parquet, the sweep folder) through transient errors.

A transient error is one that goes away by itself: SQLite's "database is locked" / "busy"
(another process holds a write lock on ``mlflow.db``, or is creating a new store's schema:
``table _alembic_tmp_... already exists``), a tracking server that is briefly
unreachable, or an ``OSError`` on the sweep folder (a permission flip, a full or remounting
disk). Anything else (a bug, a bad argument) is raised at once.

``retry(fn, what=..., budget_s=...)`` calls ``fn`` until it succeeds or ``budget_s`` seconds
have passed, sleeping ``min(cap, base * 2**attempt)`` between attempts (exponential backoff),
then re-raises the last error. Callers that must never fail the sweep (the live Tune callbacks)
catch that and leave the work to the reconciliation at the end of the sweep or on ``resume``.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

T = TypeVar("T")
log = logging.getLogger("sweeper")

_TRANSIENT_TEXT = ("database is locked", "database table is locked", "busy", "connection refused",
                   "connection reset", "temporarily unavailable", "timed out", "timeout", "503", "502",
                   "too many requests", "disk i/o error", "unable to open database",
                   "table _alembic_tmp")  # another process creating a new store's schema right now


def is_transient(e: BaseException) -> bool:
    """Errors worth retrying: OS-level I/O errors and lock/busy/unavailable messages from MLflow."""
    if isinstance(e, (KeyboardInterrupt, SystemExit)):
        return False
    if isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return False  # a wrong path does not heal by waiting
    if isinstance(e, OSError):  # PermissionError, ENOSPC, EIO, connection errors ...
        return True
    text = f"{type(e).__name__}: {e}".lower()
    cause = e.__cause__ or e.__context__
    if cause is not None and cause is not e:
        text += f" {type(cause).__name__}: {cause}".lower()
    return transient_text(text)


def transient_text(text: str) -> bool:
    """Whether an error's text (``Type: message``) names a lock, a busy or unreachable service,
    a timeout or an I/O error: the messages ``is_transient`` retries."""
    low = text.lower()
    return any(t in low for t in _TRANSIENT_TEXT)


def retry(fn: Callable[[], T], *, what: str, budget_s: float = 120.0, base_s: float = 0.5,
          cap_s: float = 10.0, transient: Callable[[BaseException], bool] = is_transient) -> T:
    """``fn()``, retried with exponential backoff while it raises a transient error, for at most
    ``budget_s`` seconds in all; the last error is re-raised after that (or at once if not transient)."""
    deadline = time.monotonic() + budget_s
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - filtered by `transient`
            if not transient(e):
                raise
            pause = min(cap_s, base_s * 2**attempt)
            if time.monotonic() + pause > deadline:
                raise
            if attempt == 0:
                log.warning("%s failed (%s); retrying for up to %.0f s", what, str(e).splitlines()[0][:200], budget_s)
            time.sleep(pause)
            attempt += 1
