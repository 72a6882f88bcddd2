"""``race.json``: the record of a raced sweep (``search.racing``), and what the searcher reads back on resume.

Written by the race searcher (``sweeper/search/race_searcher.py``, through the driver's ``RaceIO``) each time
a round is decided or a trial is handed out, atomically. Layout (``format`` 1)::

    {"format": 1, "metric": "val_error", "mode": "min", "seeds": [0, 1, 2, 3],
     "racing": {"min_seeds": 2, "max_seeds": 4, "alpha": 0.05, "test": "t-test"},
     "finished": true, "trials_spent": 10, "full_design": 16,
     "races": [RaceLog.to_json(), ...],          # "main"; or one per method, then "final"
     "configs": {<config key>: {"race": "main", "config": {<suggested values>},
                                "trials": {"<seed>": "<trial id>", ...},
                                "eliminated": null | {"race", "round", "p_value", "omnibus_p", "test", "best"}}}}

A config key is the JSON of the suggested values (``sweeper.search.distinct_configs.config_key``). ``round`` is
the number of seeds the eliminating round compared on; ``p_value`` is Holm-adjusted. ``trials.parquet``'s
``race_eliminated_round`` column (``sweeper.store.columns.RACE_ELIMINATED_ROUND``) and the MLflow tags
``sweeper.race.*`` (``TAGS``) of an eliminated configuration's trials come from this file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sweeper.store import sweepdir
from sweeper.store.ledger import LEDGER, Ledger
from sweeper.store.trial_status import ENDED, trial_status
from sweeper.store.tune_state import finite_float, known_trial_ids, read_fullest, read_rows, snapshot, tune_storage

RACE = "race.json"
TAG_ROUND = "sweeper.race.eliminated_round"
TAG_P = "sweeper.race.p_value"
TAG_TEST = "sweeper.race.test"
TAG_RACE = "sweeper.race.race"
TAG_BEST = "sweeper.race.best"


def write(sweep_dir: Path, payload: dict[str, Any]) -> None:
    sweepdir.atomic_write_text(Path(sweep_dir) / RACE, json.dumps(payload, indent=1, sort_keys=True))


def read(sweep_dir: Path) -> dict[str, Any] | None:
    """The race file of a sweep; None for a sweep that does not race (or has not written it yet)."""
    path = Path(sweep_dir) / RACE
    if not path.exists():
        return None
    return sweepdir.read_json_tolerant(lambda: path.read_text() if path.exists() else None)


def eliminated_trials(payload: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Trial id -> its configuration's elimination (``configs[*].eliminated``), for eliminated configurations."""
    out: dict[str, dict[str, Any]] = {}
    for c in (payload or {}).get("configs", {}).values():
        if c.get("eliminated"):
            out.update({tid: c["eliminated"] for tid in c["trials"].values()})
    return out


def tags(elimination: dict[str, Any]) -> dict[str, str]:
    """The MLflow tags of an eliminated configuration's trial."""
    return {TAG_ROUND: str(elimination["round"]), TAG_P: f"{elimination['p_value']:.6g}",
            TAG_TEST: str(elimination["test"]), TAG_RACE: str(elimination["race"]), TAG_BEST: str(elimination["best"])}


def trial_results(sweep_dir: Path, objective: str) -> list[tuple[str, dict, bool, float | None]] | None:
    """Every trial of Tune's latest snapshot: (trial id, Tune config, ended, objective or None), read from the
    trial folders (the status rule of ``trial_status``); the objective is None unless the trial finished or was
    stopped with a finite value. None before Tune's first snapshot."""
    store = tune_storage(Path(sweep_dir))
    snap = snapshot(store)
    if snap is None or known_trial_ids(store) is None:
        return None
    ledger = Ledger(Path(sweep_dir) / LEDGER).data
    out = []
    for trial_id, tsnap in snap.items():
        d = f"trial_{trial_id}"
        try:
            config = sweepdir.read_json_tolerant(lambda: store.read(d, "params.json")) or tsnap.get("config")
        except json.JSONDecodeError:
            config = tsnap.get("config")
        if not isinstance(config, dict):
            continue
        rows = read_rows(read_fullest(store, d, "result.json"))
        last = rows[-1] if rows else {}
        status, _ = trial_status(last, tsnap, ledger.get(trial_id, {}), store.read(d, "error.txt"))
        value = finite_float((last or tsnap.get("last_result") or {}).get(objective))
        out.append((trial_id, config, status in ENDED, value if status in ("finished", "stopped") else None))
    return out
