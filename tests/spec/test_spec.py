"""Spec loading and validation: every problem at once, with its YAML path."""
from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from sweeper import spec
from sweeper.search import per_method, space

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "name": "t",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 2, "lr": 1.0e-3},
    "space": {
        "regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]},
        "regularizer.keep": {"type": "float", "low": 0.3, "high": 0.9, "when": {"regularizer.name": "dropout"}},
        "train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True},
    },
    "seeds": [0, 1],
}


def problems_of(raw) -> list[str]:
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(raw)
    return e.value.problems


def test_good_spec_loads_with_defaults():
    s = spec.from_dict(GOOD)
    assert [p.path for p in s.space] == ["regularizer.name", "regularizer.keep", "train.lr"]
    assert s.space[1].when == (("regularizer.name", ("dropout",)),)
    assert s.seeds == (0, 1) and s.search.sampler == "tpe" and s.search.metric == ("val_error",)


def test_all_problems_reported_at_once_with_paths():
    raw = yaml.safe_load(
        """
name: bad
dataset: {name: digitz}
model: {name: mlp, params: {widths: [16], depth: 3}}
regularizer: {name: dropout, params: {keep: 1.5}}
train: {epochs: 0, lr: 1e-4}
space:
  train.lr: {type: float, low: 0.1, high: 0.01}
  regularizer.rho: {type: float, low: 0.0, high: 0.5}
  train.batch_size: {type: int, low: 8, high: 64, when: {train.epochs: 3}}
seeds: [0, 0]
search: {sampler: annealing, mode: up}
"""
    )
    probs = problems_of(raw)
    text = "\n".join(probs)
    assert "dataset.name: unknown dataset 'digitz'" in text and "did you mean 'digits'" in text
    assert "model.params.depth: unknown key; valid keys are widths" in text
    assert "regularizer.params.keep: keep must be in (0, 1], got 1.5" in text
    assert "train.epochs: epochs must be in [1, 100000], got 0" in text  # not hidden by train.lr's type error
    assert "train.lr: expected a number, got str '1e-4'" in text and "write 1.0e-4" in text
    assert "space.train.lr: empty range: low <= high must hold, got low=0.1, high=0.01" in text
    assert "space.regularizer.rho: regularizer 'dropout' has no parameter 'rho'" in text
    assert "space.train.batch_size.when.train.epochs" in text
    assert "seeds: seeds must be distinct" in text
    assert "search.sampler: must be one of tpe, random, grid, nsga2" in text
    assert "search.mode" in text
    assert len(probs) >= 10


def test_range_endpoints_are_checked_against_the_params_dataclass():
    raw = {**GOOD, "space": {**GOOD["space"], "regularizer.keep": {"type": "float", "low": 0.3, "high": 1.5,
                                                                   "when": {"regularizer.name": "dropout"}}}}
    assert any(p.startswith("space.regularizer.keep: regularizer 'dropout': value 1.5 is invalid: keep must be in (0, 1], got 1.5")
               for p in problems_of(raw))


def test_grid_needs_steps_and_enumerates_conditions():
    raw = {**GOOD, "search": {"sampler": "grid"}}
    assert any("needs step" in p for p in problems_of(raw))
    raw["space"] = {
        "regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]},
        "regularizer.keep": {"type": "float", "low": 0.5, "high": 0.9, "step": 0.2, "when": {"regularizer.name": "dropout"}},
        "regularizer.per_channel": {"value": True, "when": {"regularizer.name": "dropout"}},
    }
    s = spec.from_dict(raw)
    grid = s.grid()
    assert {"regularizer.name": "softmax"} in grid
    assert sorted(g.get("regularizer.keep") for g in grid if g["regularizer.name"] == "dropout") == [0.5, 0.7, 0.9]
    assert all(g.get("regularizer.per_channel") is True for g in grid if g["regularizer.name"] == "dropout")
    assert len(grid) == 4


def test_yaml_syntax_error_is_one_problem(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(spec.SpecError) as e:
        spec.load(f)
    assert len(e.value.problems) == 1 and "not valid YAML" in e.value.problems[0]


def test_define_by_run_respects_conditions_and_is_reproducible():
    s = spec.from_dict(GOOD)

    def sample(seed: int) -> list[dict]:
        study = optuna.create_study(sampler=space.make_sampler(spec.from_dict({**GOOD, "search": {"sampler_seed": seed}})))
        out = []
        for _ in range(12):
            t = study.ask()
            space.define_by_run(s)(t)
            out.append(dict(t.params))
            study.tell(t, t.params["train.lr"])
        return out

    a, b, c = sample(0), sample(0), sample(1)
    assert a == b and a != c
    for p in a:
        assert ("regularizer.keep" in p) == (p["regularizer.name"] == "dropout")


SPACES = sorted((REPO / "search_spaces").rglob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[str(p.relative_to(REPO)) for p in SPACES])
def test_every_search_space_loads_and_builds(path):
    s = spec.load(path)
    param_space, searcher, n = space.search_setup(s)
    if s.search.sampler == "grid":
        assert len(s.grid()) >= 1 and param_space
    else:
        study = optuna.create_study(sampler=space.make_sampler(s), directions=["minimize"] * len(s.search.metric))
        for _ in range(3):
            t = study.ask()
            space.define_by_run(s)(t)
        assert n == s.search.num_samples * max(len(per_method.methods(s)), 1) * len(s.seeds)


def test_quickstart_space_is_shipped():
    assert (REPO / "search_spaces" / "maldrop_rho.yaml") in SPACES
