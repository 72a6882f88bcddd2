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
``trials.parquet`` (and ``regularizer.name``); ``sweeper report`` counts
configurations and trials per method from it.

This module holds the policy (no Ray import, the CLI's ``validate`` uses it);
the Tune searcher that runs it is ``sweeper/search/per_method_searcher.py``.

Not applied (one study over everything, ``num_samples`` configurations in all)
when ``search.per_method: false``, with the ``grid`` sampler (a grid already
runs every combination), or when ``regularizer.name`` is fixed or itself
conditional (``when:``).
"""
from __future__ import annotations

import dataclasses

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


def trial_count(spec: SweepSpec, points: list | None = None) -> int:
    """Trials a sweep runs: configurations (explicit ``points``, the grid, or ``num_samples`` per
    method study, fewer where a study's space has fewer points) times seeds. The one count that ``validate``,
    ``launch`` and the progress view use."""
    if points is not None:
        configs = len(points)
    elif spec.search.sampler == "grid":
        configs = len(spec.grid())  # exact (duplicates removed); validation already bounded its size
    elif methods(spec):
        configs = sum(distinct_samples(spec, method_space(spec.space, m)) for m in methods(spec))
    else:
        configs = distinct_samples(spec, spec.space)
    return configs * len(spec.seeds)


def distinct_samples(spec: SweepSpec, space: tuple[Param, ...]) -> int:
    """Configurations one study trains: ``num_samples``, or the number of points of ``space`` when every
    parameter is discrete (fixed, categorical, or stepped) and there are fewer (a repeated suggestion is
    not trained again: sweeper/search/distinct_configs.py)."""
    discrete = all(p.type in ("fixed", "categorical") or p.step for p in space)
    if not discrete:
        return spec.search.num_samples
    return min(spec.search.num_samples, dataclasses.replace(spec, space=space).grid_size())
