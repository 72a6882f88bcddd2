"""Sweeps launched with the flat layout (``sweeper/results.py``, ``sweeper/tracking.py``, ...) still resume.

Tune pickles a sweep's callbacks with the experiment by module path. This test writes a pickle
the way the flat layout did (classes under their old module names, callbacks reduced through
``sweeper.tune_callback._rebuild``), then unpickles it with ``pickle_compat.install()`` and
checks the objects are today's classes with their state. A real resume of a sweep launched by
the flat layout was checked by hand (see CHANGELOG).
"""
from __future__ import annotations

import pickle
import sys
import types

import pytest

from sweeper.driver import pickle_compat
from sweeper.driver.callbacks.ledger import LedgerCallback
from sweeper.driver.callbacks.progress import ProgressCallback
from sweeper.spec import SweepSpec

SPEC = {"name": "old", "dataset": {"name": "digits"}, "model": {"name": "mlp"}, "regularizer": {"name": "softmax"},
        "train": {"epochs": 1}, "seeds": [0], "space": {}, "search": {"sampler": "random", "metric": "val_error",
                                                                    "mode": "min"}}


def _old_pickle() -> bytes:
    """Bytes as the flat layout wrote them: an old LedgerCallback (state with ``spec_dict``) and ProgressCallback."""
    rebuild_mod = types.ModuleType("sweeper.tune_callback")
    results_mod, progress_mod = types.ModuleType("sweeper.results"), types.ModuleType("sweeper.progress")

    def _rebuild(cls, state):  # the flat layout's reducer, never called here
        raise AssertionError

    _rebuild.__module__, _rebuild.__qualname__ = "sweeper.tune_callback", "_rebuild"
    rebuild_mod._rebuild = _rebuild
    made = {}
    for mod, name, state in ((results_mod, "LedgerCallback", {"sweep_dir": "x", "spec_dict": SPEC, "every_s": 15.0,
                                                               "_written": 0.0}),
                             (progress_mod, "ProgressCallback", {"name": "old", "total": 2, "metric": "val_error",
                                                                 "mode": "min", "identify": None, "every_s": 20.0})):
        cls = type(name, (), {"__module__": mod.__name__, "__reduce__": lambda self, s=state: (_rebuild, (type(self), s))})
        setattr(mod, name, cls)
        made[name] = cls()
    saved = {m.__name__: sys.modules.get(m.__name__) for m in (rebuild_mod, results_mod, progress_mod)}
    sys.modules.update({m.__name__: m for m in (rebuild_mod, results_mod, progress_mod)})
    try:
        return pickle.dumps([made["LedgerCallback"], made["ProgressCallback"]])
    finally:
        for k, v in saved.items():
            sys.modules.pop(k) if v is None else sys.modules.__setitem__(k, v)


def test_callbacks_pickled_by_the_flat_layout_unpickle_as_todays(monkeypatch):
    data = _old_pickle()
    for old in pickle_compat.OLD_NAMES:  # as in a fresh driver process
        monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)  # without the aliases the old names do not resolve
    pickle_compat.install()
    ledger, progress = pickle.loads(data)
    assert type(ledger) is LedgerCallback and isinstance(ledger.spec, SweepSpec) and ledger.spec.name == "old"
    assert not hasattr(ledger, "spec_dict")
    assert type(progress) is ProgressCallback and progress.total == 2
    assert progress._states([]) == []  # a callback of the flat layout has no default_epochs: the view still works
