"""A trial's identity, computed once by the trial and reported with its first result.

- ``config_id``: a hash of the values suggested for the trial (dotted spec paths as Tune gave
  them), seed excluded, so the replicates of one configuration share it and a confirm sweep
  that re-runs the configuration keeps it;
- ``config``: the readable label, the searched values under the spec's names with the values
  of the flattened resolved configuration (``regularizer.rho=0.3, train.lr=0.001``);
- ``regularizer``, ``seed`` and the epoch budget ``epochs``;
- ``params``: the whole flattened resolved configuration (``trainables.config.flatten``).

The trial puts this record, as JSON under ``REPORT_KEY``, into the first result it reports
(each attempt's first, so a trial restored from a checkpoint reports it again). The driver's
progress view, MLflow callback and tables read it from there instead of resolving the
configuration again (``read``). Torch-free: the driver imports it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from trainables.config import scalar

REPORT_KEY = "trial_identity"  # result key of the JSON record (a string: Tune, MLflow and the tables skip it as a metric)


def config_id(overrides: dict[str, Any]) -> str:
    """Hash of the suggested values (seed excluded): replicates share it."""
    items = sorted((k, v) for k, v in overrides.items() if k != "seed")
    return hashlib.sha1(json.dumps(items, default=str).encode()).hexdigest()[:10]


def config_label(values: dict[str, Any]) -> str:
    """``regularizer.rho=0.3, train.lr=0.001``: ``values`` (name -> flattened value) sorted by name,
    floats to 4 significant digits; ``(fixed)`` when nothing was searched."""
    items = sorted(values.items())
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items) or "(fixed)"


def identity(overrides: dict[str, Any], flat: dict[str, Any], default_epochs: int) -> dict[str, Any]:
    """The record of a trial with suggested values ``overrides`` and flattened configuration ``flat``."""
    searched = {k: flat.get(k, scalar(v)) for k, v in overrides.items() if k != "seed"}
    return {
        "config_id": config_id(overrides),
        "config": config_label(searched),
        "regularizer": flat.get("regularizer.name"),
        "seed": int(overrides.get("seed", 0)),
        "epochs": int(flat.get("train.epochs") or default_epochs),
        "params": flat,
    }


def encode(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=False, default=str)


def read(result: dict[str, Any]) -> dict[str, Any] | None:
    """The identity record a result carries, or None (a later result, or a trial of an older sweep)."""
    raw = result.get(REPORT_KEY)
    if not isinstance(raw, str):
        return None
    try:
        record = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "config_id" in record else None
