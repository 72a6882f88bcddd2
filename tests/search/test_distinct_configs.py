"""An identical (configuration, seed) pair is never trained twice in one sweep: a repeated suggestion is
answered from the earlier result (real OptunaSearch + TPE, driven as Tune drives the searcher).

The real sweep of an empty space (real local Ray, Optuna, MLflow and Parquet: ``num_samples: 2`` over nothing
to search trains the one configuration once per seed, the summary counts 2/2 distinct seeds) is the streamed
image-folder sweep of tests/trainables/test_streaming.py (``test_a_sweep_streams_a_folder_inside_ray_trials``):
one sweep for both."""
from __future__ import annotations

import collections
import json

from ray.tune.search import Searcher

from sweeper import spec
from sweeper.search import per_method, space
from sweeper.search.distinct_configs import DistinctConfigs

BASE = {
    "name": "t",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 1},
    "seeds": [0, 1],
}
CATEGORICAL = {**BASE, "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "sparsemax"]}},
               "search": {"sampler": "tpe", "num_samples": 3, "sampler_seed": 0, "per_method": False}}
EMPTY = {**BASE, "search": {"sampler": "tpe", "num_samples": 2, "sampler_seed": 0}}
# one searched value: the sampler can only repeat it (an empty space's num_samples collapses to 1 at validation)
SINGLE = {**BASE, "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax"]}},
          "search": {"sampler": "tpe", "num_samples": 2, "sampler_seed": 0, "per_method": False}}
INDEX = "__trial_index__"


def _pairs(raw: dict, complete_at_once: bool = True, seed: int = 0) -> tuple[list[tuple[str, int]], Searcher, int]:
    """(configuration, seed index) of every trial the searcher hands out, as Tune asks (n + 3 times)."""
    s = spec.from_dict({**raw, "search": {**raw["search"], "sampler_seed": seed}})
    _, searcher, n = space.search_setup(s)
    searcher.set_search_properties(None, None, {})
    out, pending = [], []
    for i in range(n + 3):
        c = searcher.suggest(f"t{i}")
        if c is None or c == Searcher.FINISHED:
            if pending:  # Tune waits for running trials, then asks again
                for tid in pending:
                    searcher.on_trial_complete(tid, result={"val_error": 0.2})
                pending = []
                continue
            break
        idx = c.pop(INDEX)
        out.append((json.dumps(c, sort_keys=True), idx))
        if complete_at_once:
            searcher.on_trial_complete(f"t{i}", result={"val_error": 0.1 if c.get("regularizer.name") == "softmax" else 0.3})
        else:
            pending.append(f"t{i}")
    return out, searcher, n


def _study(searcher) -> DistinctConfigs:
    return searcher.searcher  # SeedReplicates -> DistinctConfigs


def test_a_repeated_categorical_suggestion_is_not_trained_again():
    """Categorical-only space, 3 samples of 2 points: at most 2 configurations, each once per seed; the study
    saw all 3 suggestions, the repeat told the earlier point's value."""
    for seed in range(4):  # several sampler seeds: whichever repeats, no pair runs twice
        pairs, searcher, _ = _pairs(CATEGORICAL, seed=seed)
        counts = collections.Counter(pairs)
        assert max(counts.values()) == 1, (seed, counts)
        configs = {c for c, _ in pairs}
        assert all({i for c2, i in pairs if c2 == c} == {0, 1} for c in configs)  # each on both seeds
        st = _study(searcher)
        trials = st.searcher._ot_study.trials
        assert len(trials) == 3 and st.repeats == 3 - len(configs)
        by_point = collections.defaultdict(set)
        for t in trials:
            by_point[t.params["regularizer.name"]].add(t.value)
        assert all(len(v) == 1 for v in by_point.values())  # a repeat got exactly the earlier value


def test_an_empty_space_with_two_samples_trains_its_configuration_once_per_seed():
    pairs, _, n = _pairs(EMPTY)
    assert n == 1 * 2 and pairs == [("{}", 0), ("{}", 1)]  # validation collapsed num_samples to 1
    pairs, _, n = _pairs(SINGLE)
    assert n == 2 * 2 and pairs == [('{"regularizer.name": "softmax"}', 0), ('{"regularizer.name": "softmax"}', 1)]
    # what validate, launch and the progress view count
    assert per_method.trial_count(spec.from_dict(EMPTY)) == 2 and per_method.trial_count(spec.from_dict(CATEGORICAL)) == 2 * 2


def test_a_repeat_of_a_running_configuration_waits_for_its_result():
    """The earlier point still running: the repeat is not handed out; its value is told when the first finishes."""
    pairs, searcher, _ = _pairs(SINGLE, complete_at_once=False)
    assert pairs == [('{"regularizer.name": "softmax"}', 0), ('{"regularizer.name": "softmax"}', 1)]
    st = _study(searcher)
    assert st.waiting == [] and [t.value for t in st.searcher._ot_study.trials] == [0.2, 0.2]
