"""Raw Tune config -> a trial's settings: the dotted-key overrides applied onto the sweep's base.

Torch-free on purpose: the driver's readers (``sweeper.results``, ``sweeper status``)
resolve trial settings from Tune's stored configs without importing torch or Ray.
``trainables.trial`` re-exports these names.
"""
from __future__ import annotations

import copy
from typing import Any


TRIAL_INDEX = "__trial_index__"  # set by the replicate searcher: index into base["seeds"]
POINT = "point"  # grid sweeps: the whole configuration (seed included) under this key


def tune_overrides(config: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """Raw Tune config -> flat ``{dotted.path: value, "seed": s}``.

    Grid sweeps carry the configuration under ``POINT``; searched sweeps carry
    the suggested values as dotted keys plus ``TRIAL_INDEX`` (which seed of the
    replicate list this trial runs).
    """
    if POINT in config:
        return dict(config[POINT])
    out = {k: v for k, v in config.items() if not k.startswith("_")}
    out["seed"] = int(seeds[int(config.get(TRIAL_INDEX, 0))])
    return out


def merge_overrides(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Apply Tune's dotted keys onto the base spec.

    ``regularizer.name`` picks the registry entry; ``<section>.<key>`` sets
    ``<section>.params.<key>`` for dataset/model/regularizer and
    ``train.<key>`` directly. Keys starting with ``_`` are Tune/Ray bookkeeping.
    """
    d = copy.deepcopy(base)
    for key, value in config.items():
        if key.startswith("_"):
            continue
        if key == "seed":
            d["seed"] = value
            continue
        section, _, name = key.partition(".")
        if section == "train":
            d.setdefault("train", {})[name] = value
        elif name == "name":
            d[section] = {"name": value, "params": {}, **{k: v for k, v in d.get(section, {}).items() if k == "root"}}
        else:
            d.setdefault(section, {}).setdefault("params", {})[name] = value
    return d
