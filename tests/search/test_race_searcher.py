"""The race searcher (sweeper/search/race_searcher.py), driven as Tune drives it, with real Optuna studies:
seeds go only where the race needs them, the study learns the mean over min_seeds, resume rebuilds the race
from the results, and a spec without racing builds today's searcher."""
from __future__ import annotations

import json
import math
import random

from ray.tune.search import Searcher

from sweeper import spec
from sweeper.search import space
from sweeper.search.distinct_configs import DistinctConfigs, config_key
from sweeper.search.race_searcher import FINAL, RaceSearcher

INDEX = "__trial_index__"
BASE = {
    "name": "t",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 1},
    "seeds": [0, 1, 2, 3, 4, 5],
}
GRID = {**BASE, "space": {"train.lr": {"type": "categorical", "choices": [0.001, 0.0011, 0.0012, 9.0]}},
        "search": {"sampler": "grid", "racing": {"min_seeds": 3, "test": "t-test"}}}
PER_METHOD = {**BASE, "space": {
    "regularizer.name": {"type": "categorical", "choices": ["sparsemax", "softmax", "dropout"]},
    "regularizer.keep": {"type": "float", "low": 0.3, "high": 0.9, "when": {"regularizer.name": "dropout"}},
    "train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}},
    "search": {"sampler": "random", "num_samples": 4, "sampler_seed": 0, "racing": {"min_seeds": 3, "test": "t-test"}}}


def error_of(config: dict, seed: int) -> float:
    """A made-up objective: lr 9 is hopeless, sparsemax worse than the rest, a larger lr worse; small seed noise."""
    lr = config.get("train.lr", 0.0)
    base = 0.9 if lr == 9.0 else 0.1 + 5 * lr + 0.2 * (config.get("regularizer.name") == "sparsemax")
    key = config_key({k: v for k, v in config.items() if k != INDEX})
    return base + 0.01 * random.Random(f"{key}/{seed}").random()


class MemoryIO:
    """The race file in memory, and the trials a restored searcher is told about."""

    def __init__(self, rows=None):
        self.payloads: list[dict] = []
        self.rows = rows

    def results(self):
        return self.rows

    def write(self, payload: dict) -> None:
        self.payloads.append(payload)


def drive(searcher: Searcher, stop_after: int | None = None, start: int = 0,
          running: list | None = None) -> tuple[list[tuple[str, dict]], list]:
    """Ask and complete as Tune would (at most 2 running); returns (trial id, config) handed out and the running."""
    out, running = [], list(running or [])
    done = 0
    for i in range(start, start + 500):
        c = searcher.suggest(f"t{i}") if len(running) < 2 else None
        if c == Searcher.FINISHED and not running:
            break
        if isinstance(c, dict):
            out.append((f"t{i}", c))
            running.append((f"t{i}", c))
            continue
        if stop_after is not None and done >= stop_after:
            break  # the driver is killed here: what was handed out still runs
        tid, cfg = running.pop(0)
        seed = BASE["seeds"][cfg[INDEX]]
        searcher.on_trial_complete(tid, result={"val_error": error_of(cfg, seed)})
        done += 1
    return out, running


def raced(raw: dict) -> RaceSearcher:
    _, searcher, n = space.search_setup(spec.from_dict(raw), race_io=MemoryIO())
    assert isinstance(searcher, RaceSearcher)
    searcher.set_search_properties(None, None, {})
    return searcher


def test_grid_race_drops_the_hopeless_configuration_after_min_seeds():
    searcher = raced(GRID)
    handed, _ = drive(searcher)
    pairs = [(config_key({k: v for k, v in c.items() if k != INDEX}), c[INDEX]) for _, c in handed]
    assert len(pairs) == len(set(pairs))  # a (configuration, seed) is never trained twice
    per_config = {k: sorted(i for kk, i in pairs if kk == k) for k, _ in pairs}
    hopeless = config_key({"train.lr": 9.0})
    assert per_config[hopeless] == [0, 1, 2]  # eliminated at round 3
    assert all(len(v) <= 6 for v in per_config.values()) and len(pairs) < 4 * 6
    assert searcher.finished and searcher.suggest("late") == Searcher.FINISHED
    payload = searcher.io.payloads[-1]
    assert payload["configs"][hopeless]["eliminated"]["round"] == 3
    assert payload["trials_spent"] == len(pairs) and payload["full_design"] == 24
    assert set(payload["configs"][hopeless]["trials"]) == {"0", "1", "2"}


def test_the_study_learns_the_mean_over_min_seeds():
    raw = {**BASE, "space": {"train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}},
           "search": {"sampler": "random", "num_samples": 3, "racing": {"min_seeds": 2, "max_seeds": 4}}}
    searcher = raced(raw)
    handed, _ = drive(searcher)
    inner = searcher.searcher
    assert isinstance(inner, DistinctConfigs)
    told = sorted(t.value for t in inner.searcher._ot_study.trials)
    by_config: dict[str, list[float]] = {}
    for _, c in handed:
        if c[INDEX] < 2:
            by_config.setdefault(config_key({k: v for k, v in c.items() if k != INDEX}), []).append(
                error_of(c, BASE["seeds"][c[INDEX]]))
    assert len(told) == 3 and all(len(v) == 2 for v in by_config.values())
    assert all(math.isclose(a, b) for a, b in zip(told, sorted(sum(v) / 2 for v in by_config.values())))


def test_per_method_races_then_a_final_race_with_the_baseline_kept():
    searcher = raced(PER_METHOD)
    handed, _ = drive(searcher)
    names = [log.name for log in searcher.logs]
    assert names == ["sparsemax", "softmax", "dropout", FINAL]
    final = searcher.logs[-1]
    assert len(final.candidates) == 3 and final.finished
    softmax_winner = next(c for c in final.candidates if json.loads(c)["regularizer.name"] == "softmax")
    assert softmax_winner in final.alive  # the baseline is never eliminated
    assert len(handed) < 12 * 6


def test_resume_rebuilds_the_race_from_the_results(tmp_path):
    """Stop mid-race, restore a fresh searcher from the saved state, tell it the trials Tune knows (one ended
    after the state was saved, one was handed out after it and never ran): it ends with the same race as an
    uninterrupted run."""
    whole = raced(GRID)
    drive(whole)
    first = raced(GRID)
    handed, running = drive(first, stop_after=14)
    first.save(str(tmp_path / "searcher.pkl"))
    late, lost = running[0], handed[-1]
    assert lost in running and lost != late
    ended = {tid for tid, _ in handed} - {tid for tid, _ in running} | {late[0]}
    rows = [(tid, c, tid in ended, error_of(c, BASE["seeds"][c[INDEX]]) if tid in ended else None)
            for tid, c in handed if tid != lost[0]]
    second = raced(GRID)
    second.io = MemoryIO(rows)
    second.restore(str(tmp_path / "searcher.pkl"))
    assert lost[0] not in second.trials and late[0] in second.trials
    drive(second, start=1000, running=[r for r in running if r not in (late, lost)])
    assert [log.to_json() for log in second.logs] == [log.to_json() for log in whole.logs]
    assert second.finished


def test_without_racing_the_searcher_is_todays():
    raw = {**GRID, "search": {"sampler": "random", "num_samples": 3}}
    raw["space"] = {"train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2}}
    _, searcher, n = space.search_setup(spec.from_dict(raw))
    assert type(searcher) is space.SeedReplicates and n == 3 * 6
    assert space.search_setup(spec.from_dict({**GRID, "search": {"sampler": "grid"}}))[1] is None
