"""SweepSpec -> what Ray Tune needs: a searcher (Optuna) or a grid, plus the replicate wrapper.

- ``define_by_run(spec)``: an Optuna define-by-run function. Parameters are
  suggested in YAML order; a parameter whose ``when`` does not hold is not
  suggested at all (true conditional spaces, as TPE expects); fixed values are
  returned as constants so they reach the trial without being searched.
- Seeds are replicates, a blocking factor: every configuration Optuna
  suggests runs once per seed (``SeedReplicates``), and Optuna is told the mean
  of the objective(s) over the seeds that finished. A configuration whose every
  seed raised or diverged is told to Optuna as FAIL.
- A configuration is trained at most once per seed: a study that suggests a configuration again is
  told the earlier result instead (``DistinctConfigs``, sweeper/search/distinct_configs.py); the repeat counts
  against ``num_samples``, so a small space ends its study early.
- A searched ``regularizer.name`` gets one Optuna study per method, ``num_samples``
  configurations each (``search.per_method``, default true; ``sweeper/search/per_method.py``).
- ``grid`` sampler: Tune's own grid over ``spec.grid()`` x seeds (every
  combination exactly once; Optuna's GridSampler cannot express conditions).
- ``search.racing``: ``RaceSearcher`` (sweeper/search/race_searcher.py) replaces ``SeedReplicates`` (and a
  raced grid's configurations come from ``GridPoints``): seeds go to the configurations whose comparison is
  still open (F-Race). Without it, everything above is as it was.

Categorical choices that Optuna cannot store (lists, dicts) are suggested by
their index-free string form and mapped back.
"""
from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import optuna
from ray import tune
from ray.tune.search import ConcurrencyLimiter, Repeater, Searcher
from ray.tune.search.optuna import OptunaSearch

from sweeper.search import per_method
from sweeper.search.distinct_configs import DistinctConfigs
from sweeper.search.grid_points import GridPoints
from sweeper.search.per_method_searcher import PerMethodStudies
from sweeper.search.race_searcher import RaceIO, RaceSearcher
from sweeper.search.study import StudySearch, study_name
from sweeper.spec import Param, SweepSpec
from trainables.overrides import POINT  # raw Tune keys are defined where they are read (torch-free)

_PRIMITIVE = (type(None), bool, int, float, str)


def _encode(choice: Any) -> Any:
    return choice if isinstance(choice, _PRIMITIVE) else json.dumps(choice)


def _decode(p: Param, value: Any) -> Any:
    for c in p.choices:
        if _encode(c) == value:
            return c
    return value


def suggest(trial: optuna.Trial, p: Param) -> Any:
    if p.type == "float":
        return trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)
    if p.type == "int":
        return trial.suggest_int(p.path, p.low, p.high, log=p.log, step=p.step or 1)
    return _decode(p, trial.suggest_categorical(p.path, [_encode(c) for c in p.choices]))


class DefineByRun:
    """Optuna define-by-run space of a spec; a class (not a closure) because
    OptunaSearch saves itself with pickle for ``sweeper resume``."""

    def __init__(self, params: tuple[Param, ...]):
        self.params = params

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        values: dict[str, Any] = {}
        constants: dict[str, Any] = {}
        for p in self.params:
            if not p.active(values):
                continue
            if p.type == "fixed":
                values[p.path] = constants[p.path] = p.value
            else:
                values[p.path] = suggest(trial, p)
                if p.type == "categorical" and not isinstance(values[p.path], _PRIMITIVE):
                    constants[p.path] = values[p.path]  # Tune config gets the real list, not its JSON
        return constants


def define_by_run(spec: SweepSpec) -> DefineByRun:
    return DefineByRun(spec.space)


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    seed = spec.search.sampler_seed
    if spec.search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.search.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    # multivariate + group: TPE that models dependencies and handles conditional parameters
    # (both flagged experimental by Optuna, hence the silenced warning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, **TPE_OPTIONS)


# Every TPE option whose default changed between Optuna 4 and 5, set explicitly, so that a fixed
# sampler_seed gives the same suggestions whichever version is installed: Optuna 5 turned the
# constant liar on (4: off) and made multivariate "auto" (4: off). We keep the liar off (Optuna
# 4's behaviour, with which earlier sweeps ran) and model parameters jointly. The startup and
# candidate counts are the same in both, stated anyway. Options deprecated in Optuna 4.x/5
# (consider_prior, prior_weight, consider_magic_clip, consider_endpoints, gamma, weights,
# warn_independent_sampling) have the same defaults in both and are left out: passing them
# warns.
TPE_OPTIONS = {"multivariate": True, "group": True, "constant_liar": False, "n_startup_trials": 10, "n_ei_candidates": 24}


class SeedReplicates(Repeater):
    """Ray's Repeater, extended: averages every objective (multi-objective too) over the
    seeds that finished; a trial that raised or reported ``diverged=1`` counts as failed,
    and a group with no finished seed is reported to the searcher as an error (Optuna FAIL)."""

    _FAILED = "failed"

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False, **kwargs):
        group = self._trial_id_to_group.get(trial_id)
        if group is None:
            return
        metrics = self.searcher.metric if isinstance(self.searcher.metric, list) else [self.searcher.metric]
        ok = bool(result) and not error and not result.get("diverged") and all(
            m in result and np.isfinite(result[m]) for m in metrics
        )
        group.report(trial_id, tuple(float(result[m]) for m in metrics) if ok else self._FAILED)
        if group.finished_reporting():
            scores = [s for s in group.scores() if s != self._FAILED]
            if not scores:
                self.searcher.on_trial_complete(group.primary_trial_id, result=None, error=True)
                return
            mean = np.mean(np.array(scores), axis=0)
            self.searcher.on_trial_complete(
                group.primary_trial_id, result={m: float(v) for m, v in zip(metrics, mean)}
            )


def _optuna(spec: SweepSpec, params: tuple[Param, ...], metric: Any, mode: Any, study: tuple[str, str] | None,
            method: str | None = None) -> OptunaSearch:
    """One Optuna searcher over ``params``: in memory, or with ``study`` = (storage URL, sweep id)
    a study in that RDB storage (``sweeper/search/study.py``)."""
    if study is None:
        return OptunaSearch(space=DefineByRun(params), metric=metric, mode=mode, sampler=make_sampler(spec))
    return StudySearch(url=study[0], study=study_name(study[1], method), space=DefineByRun(params), metric=metric,
                       mode=mode, sampler=make_sampler(spec))


def _studies(spec: SweepSpec, methods: list[str], metric: Any, mode: Any, study: tuple[str, str] | None) -> Searcher:
    """The configurations' searcher: one Optuna study (or one per method), repeats answered by ``DistinctConfigs``."""
    n = spec.search.num_samples
    if methods:
        return PerMethodStudies(methods, lambda m: DistinctConfigs(_optuna(
            spec, per_method.method_space(spec.space, m), metric, mode, study, m), n), n, metric=metric, mode=mode)
    return DistinctConfigs(_optuna(spec, spec.space, metric, mode, study), n)


def _racing(spec: SweepSpec, study: tuple[str, str] | None, race_io: RaceIO | None) -> tuple[RaceSearcher, int]:
    """The raced searcher and Tune's ``num_samples`` (the full design's trial count: an upper bound)."""
    metric, mode = spec.search.objective  # racing has one objective (spec validation)
    if spec.search.sampler == "grid":
        grid = spec.grid()
        inner: Searcher = GridPoints(grid, metric=metric, mode=mode)
        methods: list[str] = []
        count = len(grid)
    else:
        methods = per_method.methods(spec)
        inner = _studies(spec, methods, metric, mode, study)
        count = spec.search.num_samples * max(len(methods), 1)
    assert spec.search.racing is not None
    searcher = RaceSearcher(inner, spec.seeds, spec.search.racing, metric, mode, methods, io=race_io,
                            max_concurrent=spec.search.max_concurrent)
    return searcher, count * len(spec.seeds)


def search_setup(spec: SweepSpec, points: list[dict[str, Any]] | None = None,
                 study: tuple[str, str] | None = None,
                 race_io: RaceIO | None = None) -> tuple[dict[str, Any], Searcher | None, int]:
    """(param_space, search_alg, num_samples) for ``tune.TuneConfig``; with ``points``
    (``sweeper confirm``): a grid over exactly those configurations x the spec's seeds; with
    ``study`` = (Optuna storage URL, sweep id): the Optuna studies live in that storage; a spec with
    ``search.racing`` (and no ``points``): a ``RaceSearcher`` writing its race through ``race_io``, which
    limits concurrency itself (give Tune no ``max_concurrent_trials``)."""
    metric = list(spec.search.metric) if len(spec.search.metric) > 1 else spec.search.metric[0]
    mode = list(spec.search.mode) if len(spec.search.mode) > 1 else spec.search.mode[0]
    n_seeds = len(spec.seeds)
    if spec.search.racing is not None and points is None:
        searcher, total = _racing(spec, study, race_io)
        return {}, searcher, total
    if spec.search.sampler == "grid" or points is not None:
        points = [{**c, "seed": s} for c in (spec.grid() if points is None else points) for s in spec.seeds]
        return {POINT: tune.grid_search(points)}, None, 1
    methods = per_method.methods(spec)  # equal budget per method (sweeper/search/per_method.py)
    searcher: Searcher = SeedReplicates(_studies(spec, methods, metric, mode, study), repeat=n_seeds, set_index=True)
    if spec.search.max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=spec.search.max_concurrent)
    return {}, searcher, spec.search.num_samples * max(len(methods), 1) * n_seeds
