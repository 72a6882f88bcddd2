"""What ``DistinctConfigs`` keeps per trained trial (pickled with every Tune snapshot): the objective(s)
only, not the whole result dict; a repeat is still told the earlier objective (real OptunaSearch + TPE)."""
from __future__ import annotations

import pickle

from ray.tune.search import Searcher

from sweeper import spec
from sweeper.search import space
from sweeper.search.distinct_configs import DistinctConfigs

# one searched value: every suggestion after the first is a repeat
SINGLE = {"name": "t", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
          "regularizer": {"name": "softmax"}, "train": {"epochs": 1}, "seeds": [0],
          "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax"]}},
          "search": {"sampler": "tpe", "num_samples": 2, "sampler_seed": 0, "per_method": False}}


def _distinct() -> DistinctConfigs:
    _, searcher, _ = space.search_setup(spec.from_dict(SINGLE))
    searcher.set_search_properties(None, None, {})
    d = searcher.searcher  # SeedReplicates -> DistinctConfigs
    assert isinstance(d, DistinctConfigs)
    return d


def test_only_the_objective_of_a_result_is_kept_and_a_repeat_is_told_it():
    d = _distinct()
    assert d.suggest("a") not in (None, Searcher.FINISHED)
    big = {"val_error": 0.125, "test_error": 0.5, "identity": "x" * 100_000, "config": {"k": list(range(1000))}}
    d.on_trial_complete("a", result=big)
    assert d.results == {"a": {"val_error": 0.125}}
    assert len(pickle.dumps(d.results)) < 200  # was the whole result: > 100 KB per trained trial
    assert d.suggest("b") == Searcher.FINISHED  # the repeat used the budget (2) and was answered
    values = [t.value for t in d.searcher._ot_study.trials]
    assert values == [0.125, 0.125]


def test_a_result_without_its_objective_is_kept_empty_and_the_repeat_is_pruned_as_before():
    d = _distinct()
    d.suggest("a")
    d.on_trial_complete("a", result={"diverged": 1, "epoch": 3})
    assert d.results == {"a": {}}
    d.suggest("b")
    states = [t.state.name for t in d.searcher._ot_study.trials]
    assert states == ["PRUNED", "PRUNED"]
