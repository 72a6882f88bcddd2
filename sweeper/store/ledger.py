"""The trial ledger (``ledger.json``): a derived cache of what the driver learnt from Tune's callbacks.

It holds the reasons of failures and retry counts, keyed by trial id. The truth is Tune's own
state (experiment snapshot) and each trial's results: a missing or damaged ledger loses no
trial (statuses are rebuilt from those), only the driver-side reasons it alone knew (a
timeout), which fall back to Tune's ``error.txt``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sweeper.store import sweepdir

LEDGER = "ledger.json"


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, dict[str, Any]] = self._load(path)

    @staticmethod
    def _load(path: Path) -> dict[str, dict[str, Any]]:
        for _ in range(3):
            try:
                data = json.loads(path.read_text())
                return data if isinstance(data, dict) else {}
            except FileNotFoundError:
                return {}
            except (json.JSONDecodeError, OSError, UnicodeDecodeError):
                time.sleep(0.05)  # damaged: ignored, it is rebuilt from Tune's state
        return {}

    def set(self, trial_id: str, status: str, reason: str = "", **extra: Any) -> None:
        entry = self.data.setdefault(trial_id, {})
        entry.update(status=status, reason=reason, updated=time.time(), **extra)
        sweepdir.atomic_write_json(self.path, self.data)
