"""Names that sweeps launched before the layered layout pickled, mapped to where they live now.

Tune pickles a sweep's callbacks, trainable arguments and searcher with the experiment
(``tuner.pkl``, the searcher state) by module path, and ``sweeper resume`` unpickles them.
A sweep started when ``sweeper/`` was flat refers to ``sweeper.results.LedgerCallback``,
``sweeper.tracking.MLflowTrialCallback`` and so on. ``install()`` registers each old module
path in ``sys.modules`` as a small module holding those names, so such a sweep resumes.
It never shadows a real module: the old paths are not importable otherwise.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# old module -> {name: "new.module:name"}
OLD_NAMES: dict[str, dict[str, str]] = {
    "sweeper.results": {
        "LedgerCallback": "sweeper.driver.callbacks.ledger:LedgerCallback",
        "trial_identity": "sweeper.store.identity:trial_identity",
        "trial_params": "sweeper.store.identity:trial_params",
    },
    "sweeper.progress": {"ProgressCallback": "sweeper.driver.callbacks.progress:ProgressCallback"},
    "sweeper.tracking": {
        "MLflowTrialCallback": "sweeper.driver.callbacks.mlflow:MLflowTrialCallback",
        "SweepTracker": "sweeper.store.mlflow_runs:SweepTracker",
    },
    "sweeper.watchdog": {"TrialWatchdog": "sweeper.driver.callbacks.watchdog:TrialWatchdog"},
    "sweeper.tune_loggers": {
        "NoCSVLogger": "sweeper.driver.callbacks.loggers:NoCSVLogger",
        "NoTensorBoardLogger": "sweeper.driver.callbacks.loggers:NoTensorBoardLogger",
    },
    "sweeper.per_method_search": {"PerMethodStudies": "sweeper.search.per_method_searcher:PerMethodStudies"},
    "sweeper.space": {
        "DefineByRun": "sweeper.search.space:DefineByRun",
        "SeedReplicates": "sweeper.search.space:SeedReplicates",
    },
    "sweeper.tune_callback": {"_rebuild": "sweeper.driver.pickle_compat:rebuild"},
}


def rebuild(cls: type, state: dict[str, Any]) -> Any:
    """An instance of ``cls`` with ``state``: how the flat layout pickled its lazily-based Tune callbacks."""
    obj = object.__new__(cls)
    if hasattr(cls, "__setstate__"):  # e.g. LedgerCallback maps the older ``spec_dict`` to the spec
        obj.__setstate__(state)
    else:
        obj.__dict__.update(state)
    return obj


def _resolve(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def install() -> None:
    """Register the old module paths (idempotent)."""
    for old, names in OLD_NAMES.items():
        if old in sys.modules:
            continue
        mod = types.ModuleType(old, f"compatibility alias of {old} for unpickling (sweeper.driver.pickle_compat)")
        for name, target in names.items():
            setattr(mod, name, _resolve(target))
        sys.modules[old] = mod
