"""Dataset registry: YAML name -> module.

A dataset module exports a frozen ``Params`` dataclass (the YAML's
``dataset.params``; defined in the torch-free ``data/params.py``, which the registry
entry names too, so this package imports without torch) and ``load(params, root, seed) -> Splits``. ``root`` is the
data-root option (``None`` means the module's default location); a missing
dataset raises ``DatasetNotFound`` saying where it looked and how to get it,
never a silent fallback. ``seed`` only matters for datasets whose split is
random. ``Splits`` are CPU tensors; the training loop moves them to the trial's
device once and slices batches from them. A dataset too large for memory
(``imagefolder`` above its memory cap) returns ``StreamedSplits`` instead:
datasets read from disk by a DataLoader each epoch (``data/sources.py``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the registry (and its Params) must import without torch
    import torch

from trainables.data import params as P
from trainables.registry import Entry, entry, lookup

DATASETS: dict[str, Entry] = {
    "digits": Entry(P.DigitsParams, "trainables.data.digits"),
    "mnist_t10k": Entry(P.MnistT10kParams, "trainables.data.mnist_t10k"),
    "mnist": Entry(P.MnistParams, "trainables.data.mnist"),
    "cifar10": Entry(P.CifarParams, "trainables.data.cifar10"),
    "cifar100": Entry(P.Cifar100Params, "trainables.data.cifar100"),
    "imagefolder": Entry(P.ImagefolderParams, "trainables.data.imagefolder"),
    "tabular": Entry(P.TabularParams, "trainables.data.tabular"),
}


class DatasetNotFound(FileNotFoundError):
    """A dataset's files are missing: the message says where we looked and how to get them."""


@dataclass(frozen=True)
class Splits:
    """Tensors of one dataset: images float (N, C, H, W) or features (N, F); labels int64 (N,)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    augment: str | None = None  # name of an on-device batch augmentation ("crop_flip") or None
    description: str = ""
    class_names: tuple[str, ...] = ()  # the data's own label of class index k, where it has labels (tabular)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])


@dataclass(frozen=True)
class StreamedSplits:
    """Splits read from disk each epoch: map-style Datasets of ``(uint8 image (C, H, W), label)``.

    The loop scales batches to [0, 1] on the device and, when ``mean``/``std``
    (per channel, of the training images) are set, standardises them there.
    ``workers`` is the DataLoader's process count (0 reads in the trial process).
    """

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    train_y: torch.Tensor  # labels of the training split (sizes priors such as Dropout++'s 1/N)
    num_classes: int
    in_shape: tuple[int, ...]
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    workers: int = 0
    augment: str | None = None
    description: str = ""


def default_root() -> Path:
    """Where downloadable datasets (mnist, cifar10, cifar100) go when no root is given:
    ``$SWEEPER_DATA_ROOT`` or ``~/.cache/sweeper/data``."""
    return Path(os.environ.get("SWEEPER_DATA_ROOT", "~/.cache/sweeper/data")).expanduser()


def get(name: str) -> ModuleType:
    return lookup(DATASETS, "dataset", name)


def params(name: str) -> type:
    """The ``Params`` class of dataset ``name``, without importing torch; ``UnknownName`` lists the valid ones."""
    return entry(DATASETS, "dataset", name).params
