"""A trial's identity and flattened configuration, as the store and the Tune callbacks read them.

A trial reports its own identity record with its first result (``trainables.identity``:
``config_id``, the ``config`` label, regularizer, seed, epoch budget and the flattened resolved
configuration ``params``); ``from_results`` reads it. A trial still waiting for its first
report is shown with what is known without resolving (``provisional``). Only for a trial that
ended without a record (a row written before trials reported it, or a trial that failed
before its first report) does the driver derive it from the Tune config, once per distinct
configuration (``derive``, cached).
"""
from __future__ import annotations

import functools
import json
from typing import Any, Iterable

from sweeper.spec import SweepSpec
from sweeper.spec.model import BASE_SECTIONS
from trainables import identity as trial_id
from trainables.config import SECTIONS, Scalar, TrainConfig, TrialConfig, flatten, merge, scalar
from trainables.overrides import tune_overrides
from trainables.resolve import resolve


def trial_base(spec: SweepSpec) -> dict[str, Any]:
    """What every trial starts from (``run_trial``'s ``base``): the fixed sections plus the seed list."""
    return {**{k: spec.base[k] for k in BASE_SECTIONS}, "seeds": list(spec.seeds)}


def resolve_trial(base: dict[str, Any], overrides: dict[str, Any]) -> tuple[TrialConfig | None, dict[str, Scalar]]:
    """(resolved configuration, its ``flatten``) of a trial's suggested values. Values the entry's
    ``Params`` refuse (the trial itself fails on them and says why) give ``None`` and the flat names
    that can be read without resolving: each section's name and the suggested values."""
    try:
        cfg = resolve(base, overrides)
        return cfg, flatten(cfg)
    except (TypeError, ValueError, KeyError):  # KeyError: registry.UnknownName
        merged = merge(base, overrides)
        flat: dict[str, Scalar] = {f"{s}.name": (merged.get(s) or {}).get("name") for s in SECTIONS}
        flat.update({k: scalar(v) for k, v in overrides.items()})
        return None, flat


@functools.lru_cache(maxsize=4096)
def _derive(base_json: str, overrides_json: str) -> str:
    base, overrides = json.loads(base_json), json.loads(overrides_json)
    _, flat = resolve_trial(base, overrides)
    default_epochs = (base.get("train") or {}).get("epochs") or TrainConfig.epochs
    return trial_id.encode(trial_id.identity(overrides, flat, int(default_epochs)))


def derive(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The identity record of a trial from its Tune config, resolved on the driver (cached)."""
    overrides = tune_overrides(config, base.get("seeds", [0]))
    return json.loads(_derive(json.dumps(base, sort_keys=True, default=str), json.dumps(overrides, default=str)))


def provisional(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """What is known of a trial that has not reported yet, without resolving: each section's name
    and the suggested values (defaults not filled in); replaced by the trial's record once it reports."""
    overrides = tune_overrides(config, base.get("seeds", [0]))
    merged = merge(base, overrides)
    flat: dict[str, Scalar] = {f"{s}.name": (merged.get(s) or {}).get("name") for s in SECTIONS}
    flat.update({k: scalar(v) for k, v in overrides.items()})
    default_epochs = (base.get("train") or {}).get("epochs") or TrainConfig.epochs
    return trial_id.identity(overrides, flat, int(default_epochs))


def from_results(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The identity record the trial reported (its first result of an attempt carries it), or None."""
    for r in rows:
        record = trial_id.read(r)
        if record is not None:
            return record
    return None


def trial_params(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Scalar]:
    """A trial's flattened resolved configuration derived from its Tune config (see ``derive``)."""
    return derive(base, config)["params"]


def trial_identity(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A trial's identity record derived from its Tune config (see ``derive``)."""
    return derive(base, config)
