"""Torch-free configuration records of a trial: ``TrainConfig`` (the ``train:`` section of a sweep YAML).

Kept apart from ``loop.py`` (which imports torch) so that the spec validator can
check a YAML's ``train:`` section without importing torch; ``loop.py`` re-exports it.
``TrainConfig.DOCS`` gives every field its valid range and one line of meaning
(``trainables/paramdoc.py``; printed by ``sweeper show train``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

MAX_EPOCHS = 100_000
MAX_BATCH = 10_000_000


@dataclass(frozen=True)
class TrainConfig:
    """The ``train:`` section of a sweep YAML.

    ``momentum`` is SGD's heavy-ball coefficient in [0, 1) (Adam ignores it);
    ``eval_batch_size`` only sets how many examples are evaluated at once.
    Sizes are bounded (epochs <= 100,000, batch sizes <= 10^7) so that an absurd
    value is refused by ``sweeper validate`` instead of failing every trial.

    Precision and layout options (defaults: fp32, no channels_last, no compile):

    - ``precision``: ``"fp32"`` (default) or ``"bf16"``: ``torch.autocast`` with
      bfloat16 around forward + loss on the trial's device (CPU and CUDA).
      Parameters, gradients and Adam/SGD state stay fp32, so no loss scaling is
      needed. bf16 keeps fp32's exponent range, so masks, top-k selections and
      log-probabilities behave as in fp32 at ~3 significant digits (tested:
      tests/test_precision.py, within 2 points of fp32 validation error).
    - ``channels_last``: ``False`` (default) or ``True``: NHWC memory format for
      the network's 4-D weights and the input batches (faster convolutions on
      tensor-core GPUs, ideally with bf16); MLPs are unaffected.
    - ``compile``: ``False`` (default) or ``True``: ``torch.compile`` (inductor)
      of the network's forward; the first steps pay the compile time (seconds
      to minutes), and a head whose Python state changes per batch (Malicious
      Dropout's rho) recompiles per distinct value until torch's limit, then
      runs eagerly.
    """

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
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "epochs": (f"[1, {MAX_EPOCHS}]", "passes over the training split; validation after each, test after the last"),
        "batch_size": (f"[1, {MAX_BATCH}]", "training examples per optimiser step (the last batch of an epoch may be smaller)"),
        "optimizer": ("", "adam (Adam, or AdamW with decoupled_weight_decay; betas 0.9, 0.999, eps 1e-8) or sgd (SGD with heavy-ball momentum)"),
        "lr": ("(0, inf)", "initial learning rate, scaled per step by lr_schedule"),
        "weight_decay": ("[0, inf)", "L2 coefficient added to the gradient (decoupled decay with AdamW); parameters a regularizer excludes (no_weight_decay) get none"),
        "decoupled_weight_decay": ("", "adam only: AdamW's decoupled weight decay instead of L2 through the gradient"),
        "momentum": ("[0, 1)", "SGD's heavy-ball coefficient mu: v <- mu v + g, w <- w - lr v (Adam ignores it)"),
        "lr_schedule": ("", "constant; thirds (x0.1 after a third of the steps and again after two thirds: the DropMax authors' protocol); cosine (to zero over the run)"),
        "init": ("", "weight initialisation: default (PyTorch's per layer) or glorot (Glorot-uniform weights and zero biases, the DropMax authors' code; gates keep their own init)"),
        "eval_batch_size": (f"[1, {MAX_BATCH}]", "examples evaluated at once: memory use and speed (metrics differ at most in float rounding)"),
        "precision": ("", "fp32, or bf16 autocast around forward and loss (weights, gradients and optimizer state stay fp32)"),
        "channels_last": ("", "NHWC memory format for 4-D weights and image batches (faster convolutions on tensor-core GPUs)"),
        "compile": ("", "torch.compile (inductor) the network's forward; the first steps pay the compile time"),
    }

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
        if self.precision not in ("fp32", "bf16"):
            problems.append(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        for flag in ("channels_last", "compile"):
            if not isinstance(getattr(self, flag), bool):
                problems.append(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        if problems:
            raise ValueError("; ".join(problems))
