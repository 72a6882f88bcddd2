"""The Ray Tune entry point of a trial, importable without torch.

``sweeper.driver.launch`` hands Tune ``run_trial`` from this module. Tune pickles the function
by reference (module and name), so a trial process imports the trial code
(``trainables.trial``: torch, models, regularizers) on its first call, once per process,
while the driver never imports torch: on the 2-core machine ``import torch`` was 3.5 s of
the driver's start (``python -X importtime -c "import sweeper.driver.launch"``, 2026-11-29) and
it maps about 3 GB of address space, for a process that only schedules and records.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainables.config import TrialConfig
from trainables.overrides import NOT_RETRIED

# called after each of a trial's reports (not after a diverged one) with the trial's resolved
# configuration and whether training is done; a wrapping trainable passes one (tests/support/)
AfterReport = Callable[[TrialConfig, bool], None]


class NotRetried(RuntimeError):
    """Raised, before any training, by a start of a trial that the driver decided not to retry."""


def run_trial(config: dict[str, Any], base: dict[str, Any], after_report: AfterReport | None = None) -> None:
    """Ray Tune function trainable (``tune.with_parameters(run_trial, base=...)``): ``trainables.trial.run_trial``.

    A config carrying ``NOT_RETRIED`` (the driver's reason) raises :class:`NotRetried` at once: Tune decides
    to retry a failed trial before the driver sees the failure, so the start it makes must end at once."""
    if config.get(NOT_RETRIED):
        raise NotRetried(str(config[NOT_RETRIED]))
    # Inside the function on purpose: this module is the driver's handle on the trial, and the driver
    # imports no torch; the trial process imports the trial code (torch) on its first call.
    from trainables import trial

    trial.run_trial(config, base, after_report)
