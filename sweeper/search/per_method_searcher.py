"""The Ray Tune searcher behind equal tuning budgets per method (policy: ``sweeper/search/per_method.py``)."""
from __future__ import annotations

from typing import Any, Callable

from ray.tune.search import Searcher

from sweeper.search.per_method import NAME
from sweeper.search.pickled import PickledSearcher


class PerMethodStudies(PickledSearcher):
    """Round-robin over one searcher per method, ``per_method`` suggestions each, then FINISHED.

    ``make(method)`` builds a method's searcher (an ``OptunaSearch`` over :func:`method_space`).
    A study that is FINISHED early (its space has no new configuration, ``DistinctConfigs``) leaves
    its turns to the others. Results go back to the study that suggested the trial. Saved and restored with pickle
    (``sweeper resume``), like ``OptunaSearch``."""

    def __init__(self, method_names: list[str], make: Callable[[str], Searcher], per_method: int,
                 metric: Any = None, mode: Any = None):
        super().__init__(metric=metric, mode=mode)
        self.methods = list(method_names)
        self.studies = {m: make(m) for m in self.methods}
        self.per_method = per_method
        self.suggested = {m: 0 for m in self.methods}
        self.owner: dict[str, str] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        ok = [s.set_search_properties(metric, mode, config, **spec) for s in self.studies.values()]
        return all(ok)

    def suggest(self, trial_id: str) -> dict | str | None:
        while True:
            open_ = [m for m in self.methods if self.suggested[m] < self.per_method]
            if not open_:
                return Searcher.FINISHED
            method = min(open_, key=lambda m: self.suggested[m])  # first in YAML order among the least served
            config = self.studies[method].suggest(trial_id)
            if config != Searcher.FINISHED:
                break
            self.suggested[method] = self.per_method  # that study has no new configuration left: the others go on
        if config is None:
            return config
        self.suggested[method] += 1
        self.owner[trial_id] = method
        return {**config, NAME: method}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self.owner:
            self.studies[self.owner[trial_id]].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self.owner:
            self.studies[self.owner[trial_id]].on_trial_complete(trial_id, result=result, error=error)
