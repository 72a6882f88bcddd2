"""CIFAR-100 (fine labels by default) through the pickle-batch reader of ``cifar.py``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainables.data import Splits
from trainables.data.cifar import Params as _Base
from trainables.data.cifar import load_cifar


@dataclass(frozen=True)
class Params(_Base):
    labels: str = "fine"  # "fine" (100 classes) or "coarse" (20 superclasses)

    def __post_init__(self):
        super().__post_init__()
        if self.labels not in ("fine", "coarse"):
            raise ValueError(f"labels must be 'fine' or 'coarse', got {self.labels!r}")


def load(params: Params, root: Path | None, seed: int) -> Splits:
    base = _Base(params.val_size, params.augment, params.normalize, params.download)
    s = load_cifar("cifar100", base, root, label_key=f"{params.labels}_labels")
    if params.labels == "coarse":
        from dataclasses import replace

        s = replace(s, num_classes=20)
    return s
