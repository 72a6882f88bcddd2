"""A searcher that never hands Tune the same configuration twice: an identical (configuration, seed)
pair is never trained twice in one sweep.

Samplers repeat themselves: TPE over a categorical-only space suggested ``sparsemax`` twice, and a
space with nothing to search suggests ``{}`` every time; each suggestion then ran once per seed
(``SeedReplicates``), so the same configuration was trained twice on every seed and the report counted
the copies as seeds. ``DistinctConfigs`` wraps one study's searcher (an ``OptunaSearch``) inside the
seed replicator and, when the study suggests a configuration it suggested before:

- **reuses the result**: the repeated point is not trained; the study is told the earlier point's
  result (its mean objective over seeds, or FAIL) as this suggestion's value, as soon as the earlier
  point has finished (until then the told value waits), and the study is asked again. Chosen over
  steering the sampler away (e.g. refusing the point as FAIL): a FAIL would teach TPE that a good
  point is bad, while the real result is exactly what a re-run on the same seeds would report
  (bit for bit on CPU, where training is deterministic per seed), so the study's model stays true.
- **counts the repeat against the budget**: ``budget`` (``search.num_samples``) bounds the study's
  suggestions, repeats included. A sampler that has converged, or a space with fewer points than
  ``num_samples``, therefore ends the study early with fewer distinct configurations instead of
  asking forever (an empty space with ``num_samples: 2`` trains its one configuration once per seed).

Saved and restored with pickle (``sweeper resume``), like ``OptunaSearch``. A configuration whose trial
never ran (the driver was killed after asking for it) and that the study hands out again on resume
(``sweeper.search.study``: the inner searcher's ``replayed``) is the same suggestion, not a repeat.
The sampler restored on resume is the one of Tune's last snapshot, from before that orphan was
sampled, so it usually samples the orphan's point once more: the first such repeat of each replayed
configuration is that re-derivation, not a new suggestion. It is neither trained nor counted against
the budget, and its study trial is told FAIL (TPE ignores failed trials, and a COMPLETE copy would
give the study two trials for one configuration run); the study is then asked again.
"""
from __future__ import annotations

import json
from typing import Any

from ray.tune.search import Searcher

from sweeper.search.pickled import PickledSearcher

MAX_REPEATS_PER_CALL = 1000  # a suggest call asks the study at most this often before giving up for now
_FAILED = "failed"


def config_key(config: dict) -> str:
    """The identity of a suggested configuration (its values, in a canonical order)."""
    return json.dumps(config, sort_keys=True, default=repr)


class DistinctConfigs(PickledSearcher):
    """``searcher`` with repeated suggestions answered from the earlier result (module docstring)."""

    def __init__(self, searcher: Searcher, budget: int):
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.budget = budget
        self.used = 0  # suggestions taken from the study, repeats included
        self.first: dict[str, str] = {}  # config key -> the trial id that trains it
        self.results: dict[str, Any] = {}  # trained trial id -> {objective: value}, or _FAILED
        self.waiting: list[tuple[str, str]] = []  # (repeat's study trial id, trained trial id) not yet told
        self.repeats = 0
        self.rederivable: set[str] = set()  # keys of orphans replayed on resume, not yet sampled again
        self.asked_as: dict[str, str] = {}  # Tune trial id -> the study's id for it, where they differ

    @property
    def metric(self):
        return self.searcher.metric

    @property
    def mode(self):
        return self.searcher.mode

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | str | None:
        self._tell_waiting()
        if not hasattr(self, "rederivable"):  # restored from a sweep saved before they existed
            self.rederivable, self.asked_as = set(), {}
        for k in range(MAX_REPEATS_PER_CALL):
            if self.used >= self.budget:
                return Searcher.FINISHED
            sid = trial_id if k == 0 else f"{trial_id}_repeat{k}"
            config = self.searcher.suggest(sid)
            if config is None or config == Searcher.FINISHED:
                return config
            key = config_key(config)
            replayed = getattr(self.searcher, "replayed", None)
            if replayed is not None:
                self.rederivable.add(key)
            if self.first.get(key) is not None and self.first[key] == replayed:
                self.first[key] = trial_id  # an orphan of a killed driver handed out again: not a repeat
                return self._handed_out(trial_id, sid, config)
            if replayed is None and key in self.rederivable:  # the restored sampler re-derived it
                self.rederivable.discard(key)
                self.searcher.on_trial_complete(self._set_aside(trial_id, sid), result=None, error=True)
                continue
            self.used += 1
            if key not in self.first:
                self.first[key] = trial_id
                return self._handed_out(trial_id, sid, config)
            self.repeats += 1
            self.waiting.append((self._set_aside(trial_id, sid), self.first[key]))
            self._tell_waiting()
        return None  # the study keeps repeating points still running: ask again later

    def _set_aside(self, trial_id: str, sid: str) -> str:
        """The study's id for a suggestion not handed to Tune: a study in a database (``StudySearch.relabel``)
        gives ``trial_id`` up for the suggestion Tune will get."""
        if sid == trial_id and hasattr(self.searcher, "relabel"):
            sid = f"{trial_id}_repeat0"
            self.searcher.relabel(trial_id, sid)
        return sid

    def _handed_out(self, trial_id: str, sid: str, config: dict) -> dict:
        """``config``, asked of the study as ``sid``: Tune's results for ``trial_id`` go to that study trial
        (a study in a database relabels it ``trial_id``, so ``tune_trial_id`` stays true; else mapped here)."""
        if sid != trial_id:
            if hasattr(self.searcher, "relabel"):
                self.searcher.relabel(sid, trial_id)
            else:
                self.asked_as[trial_id] = sid
        return config

    def _sid(self, trial_id: str) -> str:
        return getattr(self, "asked_as", {}).get(trial_id, trial_id)

    def _tell_waiting(self) -> None:
        left = []
        for sid, trained in self.waiting:
            res = self.results.get(trained)
            if res is None:
                left.append((sid, trained))
            elif res == _FAILED:
                self.searcher.on_trial_complete(sid, result=None, error=True)
            else:
                self.searcher.on_trial_complete(sid, result=res)
        self.waiting = left

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self._sid(trial_id), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.results[trial_id] = _FAILED if error or not result else self._objectives(result)
        self.searcher.on_trial_complete(self._sid(trial_id), result=result, error=error)
        self._tell_waiting()

    def _objectives(self, result: dict) -> dict:
        """What a repeat is told: the objective(s) of ``result`` only (the searcher reads nothing else,
        and this dict is pickled with every experiment snapshot); ``{}`` when none was reported, which
        the study takes as it takes a result without its objective (PRUNED)."""
        metric = self.searcher.metric
        return {m: result[m] for m in (metric if isinstance(metric, list) else [metric]) if m in result}
