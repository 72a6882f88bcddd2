"""``sweeper dashboard SWEEP``: optuna-dashboard on the sweep's Optuna studies, bound to 127.0.0.1.

The studies live in the sweep's Optuna storage (``sweeper/search/study.py``: ``optuna.db`` in the
sweep folder, or the ``--optuna-storage`` URL it was launched with). The dashboard shows each
study's history, parameter importances, slice and contour plots. Like ``sweeper ui``
(``sweeper/commands/ui.py``) the server binds 127.0.0.1 only, runs as a child process group that
SIGTERM/SIGINT stop, and a missing ``optuna-dashboard``, a busy port or a sweep without a study is
a clear error (exit 2). Imports neither Ray nor torch.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from sweeper.commands.ui import HOST, UIError, check_port, supervise
from sweeper.store import sweepdir

DB = "optuna.db"  # sweeper.search.study.DB (that module imports Ray's searcher; this command must not)


def storage_url(sweep_dir: Path) -> str:
    """The sweep's Optuna storage URL; UIError when the sweep has none (launched before studies were stored)."""
    url = sweepdir.read_meta(sweep_dir).get("optuna_storage")
    if url:
        return str(url)
    if not (sweep_dir / DB).exists():
        raise UIError(f"sweep {sweep_dir.name} has no Optuna study ({sweep_dir / DB} does not exist): it was "
                      "launched before studies were stored, or it is a grid sweep (no Optuna study)")
    return f"sqlite:///{(sweep_dir / DB).resolve()}"


def command(port: int, url: str) -> list[str]:
    exe = shutil.which("optuna-dashboard")
    if exe is None:
        raise UIError("the `optuna-dashboard` command is not on PATH; install it (`pip install optuna-dashboard`)")
    return [exe, url, "--host", HOST, "--port", str(port), "--quiet"]


def serve(sweep_dir: Path, port: int) -> int:
    """Serve the sweep's studies until the server exits or this process gets SIGTERM/SIGINT."""
    cmd = command(port, storage_url(sweep_dir))
    check_port(port)
    print(f"optuna-dashboard for sweep {sweep_dir.name}: http://{HOST}:{port}/ (Ctrl-C stops it)", flush=True)
    return supervise(cmd, dict(os.environ))
