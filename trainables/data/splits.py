"""What a dataset module's ``load(params, root, seed)`` returns.

``Splits`` are CPU tensors; the training loop moves them to the trial's device once
and slices batches from them. A dataset too large for memory (``imagefolder`` above
its memory cap) returns ``StreamedSplits`` instead: datasets read from disk by a
DataLoader each epoch (``data/sources.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


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
