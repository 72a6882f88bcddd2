"""The Ray Tune searcher of ``search.racing``: F-Race over seeds in place of every-configuration-on-every-seed.

Replaces ``SeedReplicates`` (``sweeper/search/space.py``) when the spec races; the decisions are
``sweeper/search/racing.py``'s (see its docstring for the tests and the rounds).

- **Proposals**: each configuration the inner searcher (``DistinctConfigs`` over Optuna, or
  ``PerMethodStudies`` of them) proposes runs first on ``seeds[:min_seeds]``, its seed trials one after the
  other as ``SeedReplicates`` hands them out, under the same Tune keys (the suggested values plus
  ``__trial_index__``, the index into the spec's seeds), so a trial's identity, tables and MLflow run are those
  of the full design. The inner searcher is told the mean objective over those ``min_seeds`` seeds (failed or
  diverged seeds left out; every seed failed: FAIL), as ``SeedReplicates`` tells it the mean over all seeds.
- **Races**: once the inner searcher is FINISHED (every one of its ``num_samples`` configurations proposed), each
  race is replayed on the results after every trial that ends: a decided round's survivors get the next seed.
  One race (``main``) over every configuration; with per-method studies one race per method (named by the
  method), then a ``final`` race between the methods' winners (the best of a method race's last round, or its
  only configuration) up to ``max_seeds``, in which the baseline method's winner (``softmax`` when raced, else
  the first method listed) is compared but never eliminated, so the report compares the methods on shared
  seeds. A configuration runs on at most ``max_seeds`` seeds: never more trials than the full design.
- **FINISHED** once every race has ended (its last round decided, or one configuration left).
- **Records**: after every change the searcher hands ``io.write`` the race file's content (:meth:`payload`:
  ``race.json`` in the sweep folder, written by the driver's ``RaceIO``). **Resume**: Tune restores the pickled
  searcher, then :meth:`restore` rebuilds the results from the trials Tune knows (``io.results()``: each trial's
  Tune config and, once it ended, its objective or None), forgets trials Tune no longer has and replays every
  race, so the race state comes from the results, not only from the pickle.
"""
from __future__ import annotations

import math
from typing import Any, Protocol

from ray.tune.search import Searcher

from sweeper.search.distinct_configs import config_key
from sweeper.search.per_method import NAME
from sweeper.search.pickled import PickledSearcher
from sweeper.search.racing import RaceLog, RacingSettings, replay
from trainables.overrides import TRIAL_INDEX

MAIN = "main"
FINAL = "final"
BASELINE = "softmax"
FORMAT = 1  # race.json's layout version


class RaceIO(Protocol):
    """What the searcher reads and writes outside itself (the driver's ``sweeper.driver.race_io.RaceIO``)."""

    def results(self) -> list[tuple[str, dict, bool, float | None]] | None:
        """Every trial Tune knows: (trial id, Tune config, ended, objective or None when failed); None: unknown."""

    def write(self, payload: dict) -> None:
        """Store the race file's content."""


class RaceSearcher(PickledSearcher):
    """F-Race over ``seeds`` around ``searcher`` (module docstring)."""

    def __init__(self, searcher: Searcher, seeds: tuple[int, ...], racing: RacingSettings, metric: str, mode: str,
                 methods: list[str], io: RaceIO | None = None, max_concurrent: int = 0):
        super().__init__(metric=metric, mode=mode)
        self.searcher = searcher
        self.seeds = tuple(seeds)
        self.racing = racing
        self.objective = metric
        self.goal = mode
        self.methods = list(methods)
        self.io = io
        self.max_concurrent = max_concurrent  # 0: no limit (Ray's ConcurrencyLimiter forgets running trials on resume)
        self.configs: dict[str, dict] = {}  # config key -> the suggested Tune config
        self.race_of: dict[str, str] = {}
        self.primary: dict[str, str] = {}  # config key -> the trial id the inner searcher knows it by
        self.trials: dict[str, tuple[str, int]] = {}  # trial id -> (config key, seed index)
        self.values: dict[str, dict[int, float | None]] = {}  # config key -> {seed: objective, None if failed}
        self.told: set[str] = set()
        self.queue: list[tuple[str, int]] = []
        self.exhausted = False
        self.logs: list[RaceLog] = []
        self.written = ""

    @property
    def metric(self):
        return self.searcher.metric

    @property
    def mode(self):
        return self.searcher.mode

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    # --- proposals ---------------------------------------------------------------------------------
    @property
    def running(self) -> int:
        """Trials handed out whose result has not come yet."""
        return sum(1 for k, i in self.trials.values() if self.seeds[i] not in self.values[k])

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.max_concurrent and self.running >= self.max_concurrent:
            return None
        if self.queue:
            return self._issue(trial_id, *self.queue.pop(0))
        if not self.exhausted:
            config = self.searcher.suggest(trial_id)
            if config is None:
                return None
            if config != Searcher.FINISHED:
                return self._propose(trial_id, config)
            self.exhausted = True
            self._advance()
            if self.queue:
                return self._issue(trial_id, *self.queue.pop(0))
        return Searcher.FINISHED if self.finished else None

    def _propose(self, trial_id: str, config: dict) -> dict:
        key = config_key(config)
        self._register(key, config)
        self.primary[key] = trial_id
        issued = {t for t in self.trials.values()}
        first = [i for i in range(self.racing.min_seeds) if (key, i) not in issued and self.seeds[i] not in self.values[key]]
        self.queue.extend((key, i) for i in first[1:])
        return self._issue(trial_id, key, first[0] if first else 0)

    def _register(self, key: str, config: dict) -> None:
        if key not in self.configs:
            self.configs[key] = dict(config)
            self.race_of[key] = str(config.get(NAME)) if self.methods else MAIN
            self.values[key] = {}

    def _issue(self, trial_id: str, key: str, index: int) -> dict:
        self.trials[trial_id] = (key, index)
        return {**self.configs[key], TRIAL_INDEX: index}

    # --- results -----------------------------------------------------------------------------------
    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.trials:
            return
        key, index = self.trials[trial_id]
        self.values[key][self.seeds[index]] = self._value(result, error)
        self._tell(key)
        if self.exhausted:
            self._advance()

    def _value(self, result: dict | None, error: bool) -> float | None:
        if error or not result or result.get("diverged") or self.objective not in result:
            return None
        v = float(result[self.objective])
        return v if math.isfinite(v) else None

    def _tell(self, key: str) -> None:
        """The inner searcher learns the mean over the first ``min_seeds`` seeds, once."""
        first = [self.seeds[i] for i in range(self.racing.min_seeds)]
        if key in self.told or key not in self.primary or not all(s in self.values[key] for s in first):
            return
        self.told.add(key)
        done = [v for s in first if (v := self.values[key][s]) is not None]
        if not done:
            self.searcher.on_trial_complete(self.primary[key], result=None, error=True)
        else:
            self.searcher.on_trial_complete(self.primary[key], result={self.objective: sum(done) / len(done)})

    # --- races -------------------------------------------------------------------------------------
    def races(self) -> list[RaceLog]:
        """Every race replayed on the results so far (module docstring)."""
        names = self.methods or [MAIN]
        seeds = self.seeds[: self.racing.max_seeds]
        logs = []
        for name in names:
            keys = [k for k in self.configs if self.race_of[k] == name]
            if keys:
                logs.append(replay({k: self.values[k] for k in keys}, seeds, self.racing, self.goal, name))
        if len(logs) > 1 and all(log.finished for log in logs):
            winners = {log.name: (log.rounds[-1].best if log.rounds else log.alive[0]) for log in logs}
            base = BASELINE if BASELINE in winners else logs[0].name
            logs.append(replay({w: self.values[w] for w in winners.values()}, seeds, self.racing, self.goal, FINAL,
                               protected=frozenset({winners[base]})))
        return logs

    @property
    def finished(self) -> bool:
        return self.exhausted and not self.queue and all(log.finished for log in self.logs)

    def _advance(self) -> None:
        """Replay the races; queue the next seed of every configuration a race still needs; record."""
        self.logs = self.races()
        issued = set(self.trials.values())
        for log in self.logs:
            if log.finished or log.next_k is None:
                continue
            for c in log.alive:
                for i in range(log.next_k):
                    need = (c, i)
                    if self.seeds[i] not in self.values[c] and need not in issued and need not in self.queue:
                        self.queue.append(need)
        self._write()

    def payload(self) -> dict[str, Any]:
        """The race file's content: settings, every race's log, and per configuration its race, trials by seed
        and elimination (round, Holm-adjusted p, test, race); ``trials_spent`` against ``full_design``."""
        gone = {e.config: (log.name, e) for log in self.logs for e in log.eliminations}
        configs = {}
        for key, config in self.configs.items():
            by_seed = {str(self.seeds[i]): t for t, (k, i) in sorted(self.trials.items(), key=lambda x: x[1][1]) if k == key}
            race, e = gone.get(key, (None, None))
            configs[key] = {"race": self.race_of[key], "config": config, "trials": by_seed,
                            "eliminated": None if e is None else {"race": race, "round": e.round, "p_value": e.p_value,
                                                                   "omnibus_p": e.omnibus_p, "test": e.test, "best": e.best}}
        return {"format": FORMAT, "metric": self.objective, "mode": self.goal, "seeds": list(self.seeds),
                "racing": {"min_seeds": self.racing.min_seeds, "max_seeds": self.racing.max_seeds,
                           "alpha": self.racing.alpha, "test": self.racing.test},
                "finished": self.finished, "trials_spent": len(self.trials),
                "full_design": len(self.configs) * len(self.seeds),
                "races": [log.to_json() for log in self.logs], "configs": configs}

    def _write(self) -> None:
        if self.io is None:
            return
        payload = self.payload()
        text = repr(sorted(payload.items(), key=lambda x: x[0]))
        if text != self.written:
            self.io.write(payload)
            self.written = text

    # --- resume ------------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """The results from the trials Tune knows (``io.results()``), then every race replayed (module docstring)."""
        rows = self.io.results() if self.io is not None else None
        if rows is None:
            return
        known = set()
        for trial_id, config, ended, value in rows:
            if TRIAL_INDEX not in config:
                continue
            suggested = {k: v for k, v in config.items() if k != TRIAL_INDEX}
            key, index = config_key(suggested), int(config[TRIAL_INDEX])
            self._register(key, suggested)  # (a configuration the inner searcher never proposed is not told to it)
            self.trials[trial_id] = (key, index)
            known.add(trial_id)
            if ended:
                self.values[key][self.seeds[index]] = value
        for trial_id in set(self.trials) - known:  # asked for after Tune's last snapshot: never ran
            del self.trials[trial_id]
        self.queue = [q for q in self.queue if self.seeds[q[1]] not in self.values[q[0]]]
        for key in self.configs:
            self._tell(key)
        self.written = ""
        if self.exhausted:
            self._advance()
        else:
            self._write()

    def restore(self, checkpoint_path: str) -> None:
        io = self.io  # the driver's RaceIO of this run (it knows where the sweep folder is now)
        super().restore(checkpoint_path)
        self.io = io
        self.rebuild()
