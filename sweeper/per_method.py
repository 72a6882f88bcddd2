"""Equal tuning budget per method: one Optuna study per value of ``regularizer.name``.

With one study over a categorical ``regularizer.name``, the sampler (TPE above
all) spends the budget where it likes: a sweep of 8 configurations gave DropMax
4 and softmax and dropout 1 each, and then compared them. By default
(``search.per_method: true``) a sweep that searches ``regularizer.name`` with an
Optuna sampler (tpe, random, nsga2) therefore runs one independent study per
listed method, each over that method's own conditional space (``regularizer.name``
fixed, every ``when:`` evaluated as usual), each with ``search.num_samples``
configurations; every configuration then runs once per seed as before. The
studies take turns (round-robin in the YAML's order), so a sweep stopped early
still has near-equal counts. Total trials = num_samples x methods x seeds.

Which method a trial belongs to is its ``regularizer`` column in
``trials.parquet`` (and ``param.regularizer.name``); ``sweeper report`` counts
configurations and trials per method from it.

Not applied (one study over everything, ``num_samples`` configurations in all)
when ``search.per_method: false``, with the ``grid`` sampler (a grid already
runs every combination), or when ``regularizer.name`` is fixed or itself
conditional (``when:``).
"""
from __future__ import annotations

import dataclasses
import pickle
from typing import Any, Callable

from ray.tune.search import Searcher

from sweeper.spec import Param, SweepSpec

NAME = "regularizer.name"


def methods(spec: SweepSpec) -> list[str]:
    """The methods that get a study each (empty when per-method studies do not apply)."""
    p = next((q for q in spec.space if q.path == NAME), None)
    if (not spec.search.per_method or spec.search.sampler == "grid" or p is None
            or p.type != "categorical" or p.when or len(set(p.choices)) < 2):
        return []
    return [str(c) for c in dict.fromkeys(p.choices)]


def method_space(space: tuple[Param, ...], method: str) -> tuple[Param, ...]:
    """``space`` with ``regularizer.name`` fixed to ``method`` (conditions then resolve per method)."""
    return tuple(dataclasses.replace(p, type="fixed", value=method, choices=()) if p.path == NAME else p
                 for p in space)


class PerMethodStudies(Searcher):
    """Round-robin over one searcher per method, ``per_method`` suggestions each, then FINISHED.

    ``make(method)`` builds a method's searcher (an ``OptunaSearch`` over :func:`method_space`).
    Results go back to the study that suggested the trial. Saved and restored with pickle
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
        open_ = [m for m in self.methods if self.suggested[m] < self.per_method]
        if not open_:
            return Searcher.FINISHED
        method = min(open_, key=lambda m: self.suggested[m])  # first in YAML order among the least served
        config = self.studies[method].suggest(trial_id)
        if config is None or config == Searcher.FINISHED:
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

    def get_state(self) -> dict:
        return dict(self.__dict__)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
