"""A raced sweep folder built by the real pieces, without Ray or training: the race searcher of a grid spec
with ``search.racing`` (``sweeper.search.space.search_setup``) is driven as Tune drives it on a made-up objective,
writes ``race.json`` through ``sweeper.store.race_file``, and the trials' rows come from
``sweeper.store.tables.trial_rows`` and are written by ``tables.write_rows`` (so ``trials.parquet`` carries
``race_eliminated_round``) with the spec in ``spec.yaml``.

Known race (``RACED``, t-test, alpha 0.05, min_seeds 3, 6 seeds): lr 0.001 and 0.002 are equal up to seed noise
(both survive to round 6); lr 0.02 and 0.05 are clearly worse (eliminated in round 3, the first). Trials spent:
4 x 3 + 2 x 3 = 18 of the full design's 4 x 6 = 24.
"""
from __future__ import annotations

import random
from pathlib import Path

import yaml

from sweeper import spec as spec_mod
from sweeper.search import space
from sweeper.search.distinct_configs import config_key
from sweeper.store import race_file, tables
from sweeper.store.identity import trial_base

INDEX = "__trial_index__"
SEEDS = [0, 1, 2, 3, 4, 5]
GOOD, WORSE = (0.001, 0.002), (0.02, 0.05)
RACED = {
    "name": "raced", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"}, "train": {"epochs": 1}, "seeds": SEEDS,
    "space": {"train.lr": {"type": "categorical", "choices": [*GOOD, *WORSE]}},
    "search": {"sampler": "grid", "metric": "val_error", "mode": "min",
               "racing": {"min_seeds": 3, "max_seeds": 6, "alpha": 0.05, "test": "t-test"}},
}


def error_of(config: dict, seed: int) -> float:
    """0.10 for the good pair, 0.30 / 0.50 for the worse ones, plus up to 0.02 of seed noise."""
    lr = config["train.lr"]
    base = 0.10 if lr in GOOD else 0.30 if lr == WORSE[0] else 0.50
    key = config_key({k: v for k, v in config.items() if k != INDEX})
    return base + 0.02 * random.Random(f"{key}/{seed}").random()


class FolderIO:
    """The searcher's race file, written into the sweep folder by ``race_file.write``."""

    def __init__(self, folder: Path):
        self.folder = folder

    def results(self):
        return None

    def write(self, payload: dict) -> None:
        race_file.write(self.folder, payload)


def drive(searcher) -> list[tuple[str, dict]]:
    """Ask and complete one trial at a time until FINISHED; the (trial id, Tune config) handed out."""
    from ray.tune.search import Searcher

    out = []
    for i in range(1000):
        c = searcher.suggest(f"t{i:04d}")
        if c == Searcher.FINISHED:
            break
        assert isinstance(c, dict), c
        out.append((f"t{i:04d}", c))
        searcher.on_trial_complete(f"t{i:04d}", result={"val_error": error_of(c, SEEDS[c[INDEX]])})
    return out


def make(folder: Path, raw: dict | None = None, race: bool = True) -> Path:
    """The sweep folder of ``raw`` (default ``RACED``) raced on ``error_of``; ``race=False``: the same trials
    written without ``race.json`` (what an unraced sweep of those trials looks like to the report)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = spec_mod.from_dict(raw or RACED)
    _, searcher, _ = space.search_setup(spec, race_io=FolderIO(folder))
    handed = drive(searcher)
    base = trial_base(spec)
    trials, epochs = [], []
    for tid, config in handed:
        value = error_of(config, SEEDS[config[INDEX]])
        result = {"epoch": 1, "seconds": 0.1, "diverged": 0, "train_loss": value, "val_error": value,
                  "test_error": value + 0.01, "done": True}
        row, ep = tables.trial_rows(spec.name, base, tid, config, [result], {"status": "TERMINATED"}, {}, None)
        trials.append(row)
        epochs.extend(ep)
    if not race:
        (folder / race_file.RACE).unlink()
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    tables.write_rows(folder, spec, trials, epochs)
    return folder

