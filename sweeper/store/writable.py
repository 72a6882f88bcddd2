"""Whether a folder accepts new files, tried for real: a file is created and removed.

Neither the permission bits nor ``os.access`` answer that (root ignores them; a read-only mount, an
immutable folder or a full disk refuse even root). A folder that does not exist yet is judged by the
nearest existing folder above it, where it will be created. Used before a sweep starts
(``sweeper.driver.preflight``) and before a report is written (``sweeper.report.run``).
"""
from __future__ import annotations

import os
from pathlib import Path


def refusal(folder: Path) -> str | None:
    """None when ``folder`` accepts a new file; else why not, e.g. ``cannot write to /srv (where /srv/x
    would be created): Permission denied`` or ``/srv/f is not a folder``."""
    target = Path(folder)
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        return f"{target} is not a folder"
    probe = target / f".sweeper-write-probe.{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as e:
        where = "" if target == Path(folder) else f" (where {folder} would be created)"
        return f"cannot write to {target}{where}: {e.strerror or e}"
    return None
