"""Validation holes of issue 26 (and the declarative checks of issue 21), each on the real validator.

- a ``paper:`` target naming an unknown metric (``tset_error``) or an unregistered method
  (``dropmaxx``) is an error; a registered method the sweep does not run is fine;
- a ``when:`` value that is a registered name not chosen in this sweep is a warning (so narrowing
  the DropMax paper spec to two methods validates), an unregistered one stays an error;
- ``train: []`` (and any non-mapping section) is refused, not read as an empty mapping;
- a sampled space that searches nothing runs one sample, with a warning, not ``num_samples`` copies;
- a long problem line is cut in the middle, so its did-you-mean survives;
- the quickstart spec is checked by interval arithmetic: a handful of Params builds, not hundreds.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeper import spec
from sweeper.spec import params_check, sections
from sweeper.spec.model import MAX_PROBLEM, shorten

ROOT = Path(__file__).resolve().parents[2]
DROPMAX = ROOT / "search_spaces" / "paper" / "dropmax_table1_mnist1k.yaml"
BASE = {"name": "t", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "dropout"}, "train": {"epochs": 1},
        "space": {"regularizer.keep": {"type": "float", "low": 0.3, "high": 0.9}},
        "search": {"sampler": "random", "num_samples": 2}}


def problems(raw: dict) -> list[str]:
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(raw)
    return e.value.problems


def with_paper(targets: dict) -> dict:
    return {**BASE, "paper": {"source": "a table", "targets": targets}}


def test_paper_target_with_unknown_metric_or_method_is_refused():
    probs = problems(with_paper({"dropout": {"tset_error": 1.0}, "dropmaxx": {"test_error": 2.0}}))
    assert any(p.startswith("paper.targets.dropout.tset_error: unknown metric 'tset_error'")
               and "did you mean 'test_error'" in p for p in probs), probs
    assert any(p.startswith("paper.targets.dropmaxx: 'dropmaxx' is no registered regularizer")
               and "did you mean 'dropmax'" in p for p in probs), probs
    assert len(probs) == 2


def test_paper_target_with_a_registered_method_not_run_and_declared_metrics_is_accepted():
    s = spec.from_dict(with_paper({"dropout": {"test_error": 1.0}, "sal": {"test_error": 1.1, "sal_params": 5900},
                                   "regularizer.keep=0.5": {"best_test_error": 1.2}}))
    assert set(s.paper["targets"]) == {"dropout", "sal", "regularizer.keep=0.5"} and s.warnings == ()


def _narrowed(choices: list) -> dict:
    raw = yaml.safe_load(DROPMAX.read_text(encoding="utf-8"))
    raw["space"]["regularizer.name"]["choices"] = choices
    return raw


def test_narrowing_a_paper_spec_to_two_methods_validates_with_warnings():
    s = spec.from_dict(_narrowed(["dropmax", "softmax"]))
    assert {c["regularizer.name"] for c in s.grid()} == {"dropmax", "softmax"}
    assert any(w.startswith("space.") and "'sampled_softmax': never taken by regularizer.name" in w for w in s.warnings)
    assert len(s.warnings) >= 1 and all("never taken" in w for w in s.warnings)


def test_unregistered_when_value_stays_an_error():
    raw = _narrowed(["dropmax", "softmax"])
    path = next(p for p, e in raw["space"].items() if "when" in e)
    raw["space"][path]["when"]["regularizer.name"] = "dropmaxx"
    assert any(p.startswith(f"space.{path}.when.regularizer.name: 'dropmaxx': never taken") for p in problems(raw))


@pytest.mark.parametrize("key", ["train", "space", "search"])
def test_a_section_that_is_no_mapping_is_refused(key):
    probs = problems({**BASE, key: []})
    assert any(p.startswith(f"{key}: expected a mapping") or p.startswith(f"{key}: expected a") for p in probs), probs


def test_a_space_that_searches_nothing_runs_one_sample_with_a_warning():
    raw = {**BASE, "space": {"regularizer.keep": {"value": 0.5}}}
    s = spec.from_dict(raw)
    assert s.search.num_samples == 1
    assert s.warnings and s.warnings[0].startswith("search.num_samples: 2 samples of a space that searches nothing")
    assert spec.from_dict({**BASE, "space": {}, "search": {}}).search.num_samples == 1  # the default 8 too
    assert spec.from_dict(BASE).search.num_samples == 2 and spec.from_dict(BASE).warnings == ()


@pytest.mark.cli
def test_the_warning_reaches_the_cli_and_validation_succeeds(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({**BASE, "space": {"regularizer.keep": {"value": 0.5}}}), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "sweeper.cli", "validate", str(f), "--no-data-check"],
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "running 1" in r.stderr and "1 trial(s)" in r.stdout


def test_a_long_problem_keeps_its_did_you_mean():
    raw = copy.deepcopy(BASE)
    raw["space"] = {"regularizer.name": {"type": "categorical",
                                         "choices": ["dropmax", "dropmax_qp", "sal", "malicious_dropout", "dropout_pp"]}}
    raw["search"] = {"sampler": "random", "num_samples": 2, "metric": "dropmax_p_targett"}
    line = next(p for p in problems(raw) if p.startswith("search.metric"))
    assert len(line) <= MAX_PROBLEM and " ... " in line
    assert line.endswith("did you mean 'dropmax_p_target'?")


def test_shorten_cuts_the_middle():
    line = "a.b: " + "x" * 1000 + "; did you mean 'y'?"
    out = shorten(line)
    assert len(out) == MAX_PROBLEM and out.startswith("a.b: xx") and out.endswith("; did you mean 'y'?")
    assert shorten("short") == "short"


def test_quickstart_is_checked_by_interval_arithmetic(monkeypatch):
    """Searched ranges are compared with the declared intervals; Params are built only at range ends
    for the cross-field rules (345 builds with the former 66-point probing)."""
    built = []
    real = params_check.construct

    def counting(cls, values):
        built.append(cls.__name__)
        return real(cls, values)

    monkeypatch.setattr(params_check, "construct", counting)
    monkeypatch.setattr(sections, "construct", counting)
    spec.load(ROOT / "search_spaces" / "maldrop_rho.yaml")
    assert 0 < len(built) <= 40, len(built)


def test_a_searched_range_past_the_declared_interval_is_refused_at_its_end():
    raw = {**BASE, "space": {"regularizer.keep": {"type": "float", "low": 0.5, "high": 1.5}}}
    assert any(p.startswith("space.regularizer.keep: regularizer 'dropout': value 1.5 is invalid: keep must be in (0, 1]")
               for p in problems(raw))
    # a grid that stops inside the interval is fine although high lies outside
    ok = {**BASE, "space": {"regularizer.keep": {"type": "float", "low": 0.5, "high": 1.05, "step": 0.25}}}
    assert spec.from_dict(ok).space[0].grid_values() == [0.5, 0.75, 1.0]


def test_a_field_declared_in_words_is_checked_at_every_integer_point():
    """resnet's depth is "18 or 34", no interval: an int range [18, 34] holds 19, which is refused."""
    raw = {**BASE, "model": {"name": "resnet"}, "space": {"model.depth": {"type": "int", "low": 18, "high": 34}}}
    assert any(p.startswith("space.model.depth: model 'resnet': value 19 is invalid: depth must be 18 or 34")
               for p in problems(raw))
    ok = {**raw, "space": {"model.depth": {"type": "int", "low": 18, "high": 34, "step": 16}}}
    assert spec.from_dict(ok).space[0].grid_values() == [18, 34]


def test_rho_counts_refuse_a_continuous_float_range():
    """With rho_unit: count only integers are valid, so a float range [2, 5] holds 2.5 (the class's own range rule)."""
    raw = {**BASE, "regularizer": {"name": "malicious_dropout", "params": {"rho_unit": "count", "rho": 2}},
           "space": {"regularizer.rho": {"type": "float", "low": 2.0, "high": 5.0}}}
    assert any(p.startswith("space.regularizer.rho: regularizer 'malicious_dropout': value 2.5 is invalid: rho must be "
                            "an integer >= 0 when rho_unit is 'count'") for p in problems(raw))
    ok = {**raw, "space": {"regularizer.rho": {"type": "float", "low": 2.0, "high": 5.0, "step": 1.0}}}
    assert spec.from_dict(ok).space[0].high == 5.0
