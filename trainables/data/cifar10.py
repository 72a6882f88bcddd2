"""CIFAR-10 through the pickle-batch reader of ``cifar.py`` (see there for layout, splits, options)."""
from __future__ import annotations

from pathlib import Path

from trainables.data.cifar import Params, load_cifar
from trainables.data.splits import Splits

__all__ = ["Params", "load"]


def load(params: Params, root: Path | None, seed: int) -> Splits:
    return load_cifar("cifar10", params, root)
