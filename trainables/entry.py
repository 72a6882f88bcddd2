"""The Ray Tune entry point of a trial, importable without torch.

``sweeper.driver.launch`` hands Tune ``run_trial`` from this module. Tune pickles the function
by reference (module and name), so a trial process imports the trial code
(``trainables.trial``: torch, models, regularizers) on its first call, once per process,
while the driver never imports torch: on the 2-core machine ``import torch`` was 3.5 s of
the driver's start (``python -X importtime -c "import sweeper.driver.launch"``, 2026-11-29) and
it maps about 3 GB of address space, for a process that only schedules and records.
"""
from __future__ import annotations

from typing import Any

CHECKPOINT_EVERY_S = "checkpoint_every_s"  # base key: the spec's search.checkpoint_every_s (set by the launcher)


def run_trial(config: dict[str, Any], base: dict[str, Any]) -> None:
    """Ray Tune function trainable (``tune.with_parameters(run_trial, base=...)``): ``trainables.trial.run_trial``."""
    from trainables import trial

    trial.run_trial(config, base)
