"""The driver's one plug point for another trainable: ``SWEEPER_TRAINABLE=module:function``.

The fault tests install ``tests/support/misbehaving_trial.py`` through it (their sweeps are the
end-to-end check); here, what the launcher picks and how a bad value is refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.driver import launch
from sweeper.driver.preflight import PreflightError
from trainables import entry

REPO = Path(__file__).resolve().parents[2]


def test_the_default_trainable_is_the_entry_point(monkeypatch):
    monkeypatch.delenv(launch.TRAINABLE_ENV, raising=False)
    assert launch.trial_function() is entry.run_trial


def test_a_named_trainable_is_imported(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # as the fault tests' PYTHONPATH does for the driver and Ray workers
    monkeypatch.setenv(launch.TRAINABLE_ENV, "tests.support.misbehaving_trial:run_trial")
    fn = launch.trial_function()
    assert (fn.__module__, fn.__name__) == ("tests.support.misbehaving_trial", "run_trial")  # Tune pickles it by name


@pytest.mark.parametrize("value,why", [("no_such_module:run_trial", "No module named 'no_such_module'"),
                                       ("trainables.entry:nope", "has no attribute 'nope'")])
def test_a_bad_trainable_is_one_clear_error(monkeypatch, value, why):
    monkeypatch.setenv(launch.TRAINABLE_ENV, value)
    with pytest.raises(PreflightError, match=rf"SWEEPER_TRAINABLE='{value}': .*{why}.*valid: module:function"):
        launch.trial_function()
