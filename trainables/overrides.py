"""Raw Tune config -> the values suggested for one trial (dotted spec paths, plus ``seed``).

The raw keys the driver hands a trial are defined here: those of Tune's ``config`` (read here
only) and ``CHECKPOINT_EVERY_S`` of the ``base`` the launcher binds to the trainable.
``trainables.resolve.resolve`` turns the suggested values into the trial's resolved
configuration. Torch-free on purpose: the driver's readers (``sweeper.store.tables``, ``sweeper
status``), the launcher and the search space (``sweeper.search.space``: ``POINT``) use it without
importing torch or Ray.
"""
from __future__ import annotations

from typing import Any

TRIAL_INDEX = "__trial_index__"  # set by the replicate searcher: index into base["seeds"]
POINT = "point"  # grid sweeps: the whole configuration (seed included) under this key
CHECKPOINT_EVERY_S = "checkpoint_every_s"  # base key: the spec's search.checkpoint_every_s (set by the launcher)
# set by the driver on a trial it does not retry (sweeper/driver/callbacks/not_retried.py): the reason; the
# start Tune still makes raises it at once, without training (trainables.entry)
NOT_RETRIED = "__not_retried__"


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
