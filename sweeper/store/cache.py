"""sweeper's cache folder: ``$SWEEPER_CACHE_DIR``, else ``$XDG_CACHE_HOME/sweeper``, else ``~/.cache/sweeper``.

What lives there can always be made again (MLflow's empty schema, passing network checks);
deleting the folder only costs time.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("SWEEPER_CACHE_DIR"):
        return Path(os.environ["SWEEPER_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "sweeper"
