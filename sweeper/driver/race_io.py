"""What the race searcher (``sweeper/search/race_searcher.py``) reads and writes in the sweep folder.

Pickled with the searcher (Tune's ``tuner.pkl``); the folder is the one this driver runs (``ENV``, set by
``resume`` like the Optuna storage: a sweep folder may have moved since launch), else the one it was made for.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sweeper.store import race_file

ENV = "SWEEPER_RACE_DIR"


class RaceIO:
    def __init__(self, sweep_dir: Path, objective: str):
        self.sweep_dir = str(sweep_dir)
        self.objective = objective

    @property
    def folder(self) -> Path:
        return Path(os.environ.get(ENV) or self.sweep_dir)

    def results(self) -> list[tuple[str, dict, bool, float | None]] | None:
        return race_file.trial_results(self.folder, self.objective)

    def write(self, payload: dict[str, Any]) -> None:
        race_file.write(self.folder, payload)
