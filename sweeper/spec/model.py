"""The validated sweep: ``SweepSpec`` and its parts (searched ``Param``s, ``Search`` settings, ``Resources``).

Frozen records, built only by ``sweeper.spec.validate`` (which validates); ``to_dict`` is the
stored form (``spec.yaml``, the Parquet metadata). Imports neither torch nor Ray.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainables.config import SECTIONS

BASE_SECTIONS = (*SECTIONS, "train")  # the spec's fixed sections: what every trial starts from
TOP_KEYS = {"name", "description", "dataset", "model", "regularizer", "train", "space", "seeds", "search", "resources", "paper"}


SAMPLERS = ("tpe", "random", "grid", "nsga2")


OBJECTIVES = ("val_error", "val_nll", "val_ece", "test_error", "test_nll", "test_ece", "train_loss")


# metrics a ``paper:`` target may compare (besides those a regularizer declares in ``Params.METRICS``)
PAPER_METRICS = (*OBJECTIVES, "best_val_error", "best_test_error", "best_test_nll", "best_test_ece", "best_epoch", "seconds")


SCHEDULERS = ("fifo", "asha")
TRIAL_FIGURES = ("selected", "all", "none")  # search.trial_figures
RACING_TESTS = ("friedman", "t-test")  # search.racing.test (sweeper/search/racing.py)
RACING_KEYS = ("min_seeds", "max_seeds", "alpha", "test")


ASHA_KEYS = ("grace_period", "reduction_factor")


MAX_SEED = 2**32 - 1


MAX_SAMPLES = 1_000_000


MAX_GRID = 100_000


MAX_PROBLEM = 400  # characters of one problem line


DIST_KEYS = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
    "fixed": {"value", "when"},
}


def shorten(line: str, limit: int = MAX_PROBLEM) -> str:
    """``line`` cut to ``limit`` characters in the middle: the path at its start and the hint at its
    end (``did you mean ...``, the valid values) both stay."""
    if len(line) <= limit:
        return line
    head = (limit - 5) // 2
    return line[:head] + " ... " + line[len(line) - (limit - 5 - head):]


class SpecError(ValueError):
    """One error listing every problem of a spec, each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = [shorten(p) for p in problems]
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the sweep spec:\n{lines}")


@dataclass(frozen=True)
class Param:
    path: str
    type: str  # float | int | categorical | fixed
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()
    value: Any = None
    when: tuple[tuple[str, tuple], ...] = ()

    def active(self, values: dict[str, Any]) -> bool:
        return all(k in values and values[k] in allowed for k, allowed in self.when)

    def grid_count(self) -> int:
        """How many values ``grid_values`` gives, computed without listing them."""
        if self.type == "fixed":
            return 1
        if self.type == "categorical":
            return len(self.choices)
        return int(round((self.high - self.low) / self.step)) + 1

    def grid_values(self) -> list:
        if self.type == "fixed":
            return [self.value]
        if self.type == "categorical":
            return list(self.choices)
        n = int(round((self.high - self.low) / self.step))
        vals = [self.low + i * self.step for i in range(n + 1)]
        return [int(v) for v in vals] if self.type == "int" else [round(v, 12) for v in vals]


@dataclass(frozen=True)
class Racing:
    """``search.racing``: F-Race over the seeds (``sweeper/search/racing.py``). Every configuration first runs on
    ``seeds[:min_seeds]``; after each round the significantly worse are dropped and the survivors get the next
    seed, up to ``max_seeds`` (resolved by validation: absent means every seed of the spec)."""

    min_seeds: int = 3
    max_seeds: int = 0
    alpha: float = 0.05
    test: str = "friedman"

    def to_dict(self) -> dict:
        return {"min_seeds": self.min_seeds, "max_seeds": self.max_seeds, "alpha": self.alpha, "test": self.test}


@dataclass(frozen=True)
class Search:
    sampler: str = "tpe"
    num_samples: int = 8
    sampler_seed: int = 0
    metric: tuple[str, ...] = ("val_error",)
    mode: tuple[str, ...] = ("min",)
    scheduler: str = "fifo"
    grace_period: int = 1
    reduction_factor: int = 3
    max_concurrent: int = 0  # 0: as many as the cluster's resources allow
    max_failures: int = 1  # retries of a trial whose worker died or that raised
    per_method: bool = True  # a searched regularizer.name: num_samples per method, one study each (per_method.py)
    # a trial checkpoints at most once every this many seconds, plus always after its last epoch
    # (0: every epoch); a dead node loses at most this much of a trial's work
    checkpoint_every_s: float = 30.0
    # Ray Tune snapshots the experiment (trial table, searcher state) at most this often; a killed
    # driver resumes from the last snapshot. Every snapshot re-copies the whole experiment folder
    # (every trial's result.json): a shorter period costs writes (docs/benchmarks/overhead_2026-12-04.md).
    # A snapshot larger than 256 KiB/s x this period waits its size / 256 KiB/s (sweeper/driver/snapshot_period.py)
    snapshot_every_s: float = 10.0
    trial_timeout_s: float | None = None  # wall-clock limit of one trial attempt; None: no limit
    retry_timeouts: bool = False  # a trial past trial_timeout_s is retried (max_failures) only when true
    # per-trial figures (learning curve, reliability diagram) in each child run: "selected" (the trials
    # of each method's best configuration, where a person looks), "all" (every finished trial), "none"
    trial_figures: str = "selected"
    racing: Racing | None = None  # None: every configuration on every seed (the full design)

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, mode) the sweep selects by: the first of ``metric`` and ``mode``."""
        return self.metric[0], self.mode[0]


@dataclass(frozen=True)
class Resources:
    cpu: float = 1.0
    gpu: float = 0.0


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. ``base`` is the resolved fixed part as plain data
    (sections dataset, model, regularizer, train), what every trial starts from."""

    name: str
    description: str
    base: dict = field(hash=False)
    space: tuple[Param, ...]
    seeds: tuple[int, ...]
    search: Search
    resources: Resources
    source: str = ""
    paper: dict | None = field(default=None, hash=False)  # the paper's numbers (see validate._paper)
    # non-fatal findings of validation (``path: message``); not part of the stored spec
    warnings: tuple[str, ...] = field(default=(), hash=False, compare=False)

    def to_dict(self) -> dict:
        """The resolved spec, as YAML-able data (stored with every result)."""
        space = {}
        for p in self.space:
            d: dict[str, Any] = {"value": p.value} if p.type == "fixed" else {"type": p.type}
            if p.type in ("float", "int"):
                d.update(low=p.low, high=p.high, log=p.log)
                if p.step is not None:
                    d["step"] = p.step
            if p.type == "categorical":
                d["choices"] = list(p.choices)
            if p.when:
                d["when"] = {k: list(v) for k, v in p.when}
            space[p.path] = d
        s = self.search
        return {
            "name": self.name,
            "description": self.description,
            **self.base,
            "space": space,
            "seeds": list(self.seeds),
            "search": {
                "sampler": s.sampler, "num_samples": s.num_samples, "sampler_seed": s.sampler_seed,
                "metric": list(s.metric) if len(s.metric) > 1 else s.metric[0],
                "mode": list(s.mode) if len(s.mode) > 1 else s.mode[0],
                "scheduler": s.scheduler, "grace_period": s.grace_period,
                "reduction_factor": s.reduction_factor, "max_concurrent": s.max_concurrent,
                "max_failures": s.max_failures, "per_method": s.per_method, "checkpoint_every_s": s.checkpoint_every_s,
                "snapshot_every_s": s.snapshot_every_s,
                "trial_timeout_s": s.trial_timeout_s, "retry_timeouts": s.retry_timeouts,
                **({"trial_figures": s.trial_figures} if s.trial_figures != "selected" else {}),
                **({"racing": s.racing.to_dict()} if s.racing is not None else {}),
            },
            "resources": {"cpu": self.resources.cpu, "gpu": self.resources.gpu},
            **({"paper": self.paper} if self.paper else {}),
        }

    def grid_size(self, limit: int = MAX_GRID) -> int:
        """Number of configurations of a grid sweep (an upper bound when choices repeat), counted
        without enumerating: only the values of parameters that a ``when`` refers to are kept
        apart; every other parameter multiplies the count. Returns ``limit + 1`` once the count
        (or the number of condition states) exceeds ``limit``."""
        relevant = {k for p in self.space for k, _ in p.when}
        states: dict[tuple, tuple[dict, int]] = {(): ({}, 1)}
        for p in self.space:
            nxt: dict[tuple, tuple[dict, int]] = {}

            def add(key: tuple, vals: dict, c: int) -> None:
                old = nxt.get(key)
                nxt[key] = (vals, c + (old[1] if old else 0))

            for key, (vals, c) in states.items():
                if not p.active(vals):
                    add(key, vals, c)
                elif p.path in relevant:
                    if p.grid_count() > limit:
                        return limit + 1
                    for v in p.grid_values():
                        add(key + ((p.path, repr(v)),), {**vals, p.path: v}, c)
                else:
                    add(key, vals, c * p.grid_count())
            states = nxt
            if len(states) > limit or sum(c for _, c in states.values()) > limit:
                return limit + 1
        return sum(c for _, c in states.values())

    def grid(self) -> list[dict[str, Any]]:
        """Every configuration of a grid sweep (conditions applied, duplicates removed)."""
        configs: list[dict[str, Any]] = [{}]
        for p in self.space:
            nxt = []
            for c in configs:
                nxt.extend({**c, p.path: v} for v in p.grid_values()) if p.active(c) else nxt.append(c)
            configs = nxt
        seen, out = set(), []
        for c in configs:
            key = tuple(sorted((k, repr(v)) for k, v in c.items()))
            if key not in seen:
                seen.add(key)
                out.append(c)
        return out


def with_data_root(spec: SweepSpec, root: str) -> SweepSpec:
    """``spec`` with ``dataset.root`` replaced (``--data-root``), resolved like the YAML's."""
    base = copy.deepcopy(spec.base)
    base["dataset"]["root"] = str(Path(os.path.expandvars(root)).expanduser().resolve())
    return dataclasses.replace(spec, base=base)
