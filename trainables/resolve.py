"""Resolution: names and dicts -> one trial's typed ``TrialConfig`` (every default filled in).

One floor above the registry tables and ``trainables/config.py``: the tables name each entry's
torch-free ``Params`` class, ``config.py`` holds the records, the merge and the flattening. Torch-free,
so the driver resolves a trial's configuration exactly as the trial does.

- ``params_class(section, name)``: the ``Params`` class of registry entry ``name`` of ``section``.
- ``trial_config(dataset, model, regularizer, train, seed, data_root)``: ``TrialConfig`` with each
  section's dict of params made the entry's ``Params`` (defaults filled in, values checked by its
  ``__post_init__``); a ``Params`` instance given is kept when it is the entry's class.
- ``from_dict(d)``: from ``TrialConfig.to_dict``'s form (the provenance record) or a spec's sections.
- ``resolve(base, suggested)``: ``from_dict(merge(base, suggested))``.

Errors: an unknown name raises ``UnknownName`` (valid names, closest match); an invalid value the
``Params``' own ``ValueError``; an unknown key ``TypeError``; all before any data is loaded.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from trainables import data, models, regularizers
from trainables.config import SECTIONS, Section, TrainConfig, TrialConfig, merge

_TABLES = {"dataset": data, "model": models, "regularizer": regularizers}


def params_class(section: str, name: str) -> type:
    """The torch-free ``Params`` class of registry entry ``name`` of ``section``
    (``UnknownName`` lists the valid names)."""
    if section not in _TABLES:
        raise KeyError(f"unknown section {section!r}: valid are {', '.join(SECTIONS)}")
    return _TABLES[section].params(name)


def typed(section: str, s: Section) -> Section:
    """``s`` with its params the entry's ``Params`` instance (a dict is turned into one)."""
    cls = params_class(section, s.name)
    if isinstance(s.params, cls):
        return s
    if dataclasses.is_dataclass(s.params):
        raise TypeError(f"{section}.params: expected {cls.__name__} for {s.name!r}, got {type(s.params).__name__}")
    return Section(s.name, cls(**dict(s.params or {})))


def trial_config(dataset: Section, model: Section, regularizer: Section,
                 train: TrainConfig | dict[str, Any] | None = None, seed: int = 0,
                 data_root: str | None = None) -> TrialConfig:
    """``TrialConfig(...)`` with typed sections: what hand-built configurations (benchmarks, tests) call."""
    return TrialConfig(typed("dataset", dataset), typed("model", model), typed("regularizer", regularizer),
                       TrainConfig() if train is None else train, seed, data_root)


def from_dict(d: dict[str, Any]) -> TrialConfig:
    """From ``TrialConfig.to_dict``'s form, or a spec's sections (what the YAML wrote) with ``seed``."""
    def section(key: str) -> Section:
        s = d.get(key) or {}
        return Section(s["name"], dict(s.get("params") or {}))

    sections = [section(key) for key in SECTIONS]  # named sections first, then train, then each Params
    return trial_config(*sections, TrainConfig(**(d.get("train") or {})), int(d.get("seed", 0)),
                        (d.get("dataset") or {}).get("root"))


def resolve(base: dict[str, Any], suggested: dict[str, Any]) -> TrialConfig:
    """The resolved configuration of one trial: ``merge(base, suggested)`` with every default filled in."""
    return from_dict(merge(base, suggested))
