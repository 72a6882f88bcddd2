"""CIFAR-100 (fine labels by default) through the pickle-batch reader of ``cifar.py``."""
from __future__ import annotations

from pathlib import Path

from trainables.data.cifar import Params as _Base
from trainables.data.cifar import load_cifar
from trainables.data.params import Cifar100Params as Params
from trainables.data.splits import Splits


def load(params: Params, root: Path | None, seed: int) -> Splits:
    base = _Base(params.val_size, params.augment, params.normalize, params.download)
    s = load_cifar("cifar100", base, root, label_key=f"{params.labels}_labels")
    if params.labels == "coarse":
        from dataclasses import replace

        s = replace(s, num_classes=20)
    return s
