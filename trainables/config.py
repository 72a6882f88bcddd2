"""Torch-free configuration records of a trial: ``TrainConfig`` (the ``train:`` section of a sweep YAML).

Kept apart from ``loop.py`` (which imports torch) so that the spec validator can
check a YAML's ``train:`` section without importing torch; ``loop.py`` re-exports it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

MAX_EPOCHS = 100_000
MAX_BATCH = 10_000_000


@dataclass(frozen=True)
class TrainConfig:
    """The ``train:`` section of a sweep YAML.

    ``momentum`` is SGD's heavy-ball coefficient in [0, 1) (Adam ignores it);
    ``eval_batch_size`` only sets how many examples are evaluated at once.
    Sizes are bounded (epochs <= 100,000, batch sizes <= 10^7) so that an absurd
    value is refused by ``sweeper validate`` instead of failing every trial."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    decoupled_weight_decay: bool = False
    momentum: float = 0.9
    lr_schedule: Literal["constant", "thirds", "cosine"] = "constant"
    init: Literal["default", "glorot"] = "default"
    eval_batch_size: int = 1000

    def __post_init__(self):
        problems = []
        if not 1 <= self.epochs <= MAX_EPOCHS:
            problems.append(f"epochs must be in [1, {MAX_EPOCHS}], got {self.epochs}")
        if not 1 <= self.batch_size <= MAX_BATCH:
            problems.append(f"batch_size must be in [1, {MAX_BATCH}], got {self.batch_size}")
        if not 1 <= self.eval_batch_size <= MAX_BATCH:
            problems.append(f"eval_batch_size must be in [1, {MAX_BATCH}], got {self.eval_batch_size}")
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"lr must be a finite number > 0, got {self.lr}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            problems.append(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        if not 0.0 <= self.momentum < 1.0:
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        if self.lr_schedule not in ("constant", "thirds", "cosine"):
            problems.append(f"lr_schedule must be 'constant', 'thirds' or 'cosine', got {self.lr_schedule!r}")
        if self.init not in ("default", "glorot"):
            problems.append(f"init must be 'default' or 'glorot', got {self.init!r}")
        if problems:
            raise ValueError("; ".join(problems))
