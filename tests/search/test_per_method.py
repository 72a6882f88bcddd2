"""Equal tuning budget per method: one Optuna study per listed regularizer, num_samples each."""
from __future__ import annotations

import collections

from ray.tune.search import Searcher

from sweeper import spec
from sweeper.search import per_method, space
from sweeper.search.per_method_searcher import PerMethodStudies

RAW = {
    "name": "t",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 1},
    "space": {
        "regularizer.name": {"type": "categorical", "choices": ["dropmax", "softmax", "dropout"]},
        "regularizer.keep": {"type": "float", "low": 0.3, "high": 0.9, "when": {"regularizer.name": "dropout"}},
        "regularizer.tau": {"type": "float", "low": 0.05, "high": 0.5, "when": {"regularizer.name": "dropmax"}},
        "train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
    },
    "seeds": [0, 1],
    "search": {"sampler": "tpe", "num_samples": 4, "sampler_seed": 0},
}


def _drive(raw: dict) -> tuple[list[dict], Searcher, int]:
    s = spec.from_dict(raw)
    _, searcher, n = space.search_setup(s)
    searcher.set_search_properties(None, None, {})
    configs = []
    for i in range(n + 3):  # Tune stops at num_samples; extra calls must not add trials
        c = searcher.suggest(f"t{i}")
        if c is None or c == Searcher.FINISHED:
            break
        configs.append(c)
        # a result that favours dropmax, so a single TPE study would drift towards it
        err = 0.1 if c["regularizer.name"] == "dropmax" else 0.5
        searcher.on_trial_complete(f"t{i}", result={"val_error": err})
    return configs, searcher, n


def test_each_method_gets_num_samples_configurations_on_every_seed():
    configs, searcher, n = _drive(RAW)
    assert n == 4 * 3 * 2 and len(configs) == n
    per = collections.Counter(c["regularizer.name"] for c in configs)
    assert per == {"dropmax": 8, "softmax": 8, "dropout": 8}  # 4 configurations x 2 seeds each
    assert all(("regularizer.keep" in c) == (c["regularizer.name"] == "dropout") for c in configs)
    assert all(("regularizer.tau" in c) == (c["regularizer.name"] == "dropmax") for c in configs)
    studies = searcher.searcher.studies  # SeedReplicates -> PerMethodStudies
    assert {m: len(s.searcher._ot_study.trials) for m, s in studies.items()} == {"dropmax": 4, "softmax": 4, "dropout": 4}
    done = {m: [t.value for t in s.searcher._ot_study.trials] for m, s in studies.items()}
    assert done["dropmax"] == [0.1] * 4 and done["softmax"] == [0.5] * 4  # each study saw its own results


def test_per_method_false_is_one_study_and_grid_or_fixed_name_are_untouched(tmp_path):
    raw = {**RAW, "search": {**RAW["search"], "per_method": False}}
    _, searcher, n = space.search_setup(spec.from_dict(raw))
    assert n == 4 * 2 and not isinstance(searcher.searcher, PerMethodStudies)  # num_samples in all
    assert spec.from_dict(raw).to_dict()["search"]["per_method"] is False
    assert per_method.methods(spec.from_dict(RAW)) == ["dropmax", "softmax", "dropout"]
    conditional = {**RAW, "space": {"train.lr": RAW["space"]["train.lr"],
                                    "regularizer.name": {**RAW["space"]["regularizer.name"],
                                                         "when": {"train.lr": 0.001}}}}
    assert per_method.methods(spec.from_dict(conditional)) == []


def test_state_survives_save_and_restore(tmp_path):
    s = spec.from_dict(RAW)
    _, searcher, _ = space.search_setup(s)
    searcher.set_search_properties(None, None, {})
    inner = searcher.searcher
    for i in range(5):  # 3 configurations (the second seed of a configuration repeats it)
        searcher.suggest(f"t{i}")
    inner.save(str(tmp_path / "s.pkl"))
    _, fresh, _ = space.search_setup(s)
    fresh.searcher.restore(str(tmp_path / "s.pkl"))
    assert fresh.searcher.suggested == {"dropmax": 1, "softmax": 1, "dropout": 1}


def test_trial_count_is_what_the_searcher_runs():
    """The count validate prints and the progress view's total equal what search_setup runs."""
    s = spec.from_dict(RAW)
    _, _, n = space.search_setup(s)
    assert per_method.trial_count(s) == n == 4 * 3 * 2  # search_setup counts seed replicates too
    off = spec.from_dict({**RAW, "search": {**RAW["search"], "per_method": False}})
    assert per_method.trial_count(off) == 4 * 2
    assert per_method.trial_count(s, points=[{}, {}]) == 2 * 2
