"""``search.racing``: validated against the seeds, stored in the spec only when given."""
from __future__ import annotations

import pytest

from sweeper import spec
from sweeper.spec.model import Racing

BASE = {
    "name": "race_spec",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [8]}},
    "regularizer": {"name": "softmax"},
    "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-1, "log": True}},
    "seeds": [0, 1, 2, 3, 4],
}


def with_racing(racing, **search) -> dict:
    return {**BASE, "search": {**search, "racing": racing}}


def problems_of(raw) -> list[str]:
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(raw)
    return e.value.problems


def test_defaults_resolve_max_seeds_to_every_seed_and_are_stored():
    s = spec.from_dict(with_racing({}))
    assert s.search.racing == Racing(min_seeds=3, max_seeds=5, alpha=0.05, test="friedman")
    assert s.to_dict()["search"]["racing"] == {"min_seeds": 3, "max_seeds": 5, "alpha": 0.05, "test": "friedman"}
    assert spec.from_dict(s.to_dict()) == s  # the stored spec (resume) rebuilds the same racing


def test_absent_racing_leaves_the_spec_as_before():
    s = spec.from_dict(BASE)
    assert s.search.racing is None and "racing" not in s.to_dict()["search"]


def test_grid_may_race():
    raw = {**BASE, "space": {"train.lr": {"type": "categorical", "choices": [0.1, 0.01]}},
           "search": {"sampler": "grid", "racing": {"min_seeds": 2, "test": "t-test"}}}
    assert spec.from_dict(raw).search.racing == Racing(2, 5, 0.05, "t-test")


@pytest.mark.parametrize("racing, where", [
    ({"min_seeds": 1}, "search.racing.min_seeds: must be an integer in [2, 5]"),
    ({"min_seeds": 6}, "search.racing.min_seeds: must be an integer in [2, 5]"),
    ({"max_seeds": 9}, "search.racing.max_seeds: must be an integer in [min_seeds, 5]"),
    ({"min_seeds": 4, "max_seeds": 3}, "search.racing.max_seeds: must be >= min_seeds (4)"),
    ({"alpha": 0}, "search.racing.alpha: must be a number in (0, 1)"),
    ({"test": "fridman"}, "search.racing.test: must be one of friedman, t-test"),
    ({"min_seed": 3}, "search.racing.min_seed: unknown key"),
    ([3], "search.racing: expected a mapping"),
])
def test_bad_racing_is_one_clear_problem(racing, where):
    found = problems_of(with_racing(racing))
    assert len(found) == 1 and found[0].startswith(where), found


def test_racing_needs_one_metric_and_two_seeds():
    assert any(p.startswith("search.racing: racing ranks by one metric") for p in problems_of(
        with_racing({}, metric=["val_error", "val_nll"], mode=["min", "min"], sampler="nsga2")))
    assert any("racing needs at least 2 seeds" in p for p in problems_of({**with_racing({"min_seeds": 2}), "seeds": [0]}))


def test_schema_knows_racing():
    import jsonschema

    from sweeper.spec.schema import schema

    validator = jsonschema.Draft202012Validator(schema())
    assert not list(validator.iter_errors(with_racing({"min_seeds": 2, "test": "t-test"})))
    assert list(validator.iter_errors(with_racing({"min_seeds": 1})))
    assert list(validator.iter_errors(with_racing({"test": "anova"})))
