"""Networks that cannot be built are refused before the sweep starts (issue 26).

``model: lenet`` (padding 'valid') cannot take the 8x8 images of ``digits``: ``validate`` (no
torch) accepts the spec, and before the check every trial failed, each retried, each with a
traceback. Now the launch builds each distinct model x dataset x regularizer once, in a
subprocess, and refuses with one message (exit 2), creating nothing.
"""
from __future__ import annotations

import pytest
import yaml

from sweeper import spec as spec_mod
from sweeper.driver import build_check
from tests.support.cli import refused, sweeper
from tests.support.specs import write_spec


def _lenet_spec(tmp_path, name: str):
    p = write_spec(tmp_path, name, grid=True, epochs=1, max_failures=2)
    raw = yaml.safe_load(p.read_text())
    raw["model"] = {"name": "lenet"}
    raw["space"]["regularizer.name"] = {"type": "categorical", "choices": ["softmax", "dropmax"]}
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def test_combinations_follow_the_structural_choices_and_their_conditions(tmp_path):
    s = spec_mod.load(str(_lenet_spec(tmp_path, "combos")))
    assert build_check.combinations(s) == [{"regularizer.name": "softmax"}, {"regularizer.name": "dropmax"}]
    plain = spec_mod.load(str(write_spec(tmp_path, "plain")))  # only train.lr searched: the base alone
    assert build_check.combinations(plain) == [{}]


def test_check_builds_a_valid_network_and_remembers_only_a_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPER_CACHE_DIR", str(tmp_path / "cache"))
    ok_spec = spec_mod.load(str(write_spec(tmp_path, "mlp", grid=True)))
    check = build_check.start(ok_spec)
    assert check is not None
    build_check.wait(check, ok_spec)  # mlp on digits builds: no error
    assert build_check.start(ok_spec) is None  # the same job again: remembered
    other = spec_mod.load(str(write_spec(tmp_path, "wider", grid=True)))
    other.base["model"]["params"]["widths"] = [32]
    assert (second := build_check.start(other)) is not None  # another job: checked
    build_check.stop(second)
    bad = spec_mod.load(str(_lenet_spec(tmp_path, "bad")))
    for _ in range(2):  # a failing check is never remembered: it runs and says why every time
        check = build_check.start(bad)
        assert check is not None
        with pytest.raises(build_check.PreflightError, match="cannot be built"):
            build_check.wait(check, bad)


@pytest.mark.cli
def test_launch_refuses_lenet_on_digits_before_any_trial(tmp_path):
    _lenet_spec(tmp_path, "lenet")
    assert spec_mod.load(str(tmp_path / "lenet.yaml"))  # validate accepts it (no torch there)
    r = sweeper(tmp_path, "launch", "lenet.yaml", "--num-cpus", "1", "--quiet", timeout=600)
    refused(r, "2 of the sweep's networks cannot be built", "model lenet on dataset digits with regularizer dropmax",
            "input (1, 8, 8) is too small for LeNet")
    assert not (tmp_path / "sweeps").exists() and not (tmp_path / "mlflow.db").exists()
