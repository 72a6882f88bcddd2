"""The ``Params`` of every dataset (the YAML's ``dataset.params``), torch-free.

One frozen dataclass per dataset; the registry (``trainables/data/__init__.py``) maps each YAML
name to its class here and to its loader module (``trainables/data/<name>.py``, which imports
torch and re-exports its class as ``Params``), so that ``sweeper validate`` checks a spec
without importing torch. Each field is declared once, ``param(default, valid, doc)``
(``trainables/paramdoc.py``: ``check`` enforces the valid range, ``sweeper show dataset NAME``
prints it); ``__post_init__`` runs ``check(self)`` and then the rules that join two fields (the
split fractions' sum, ``val_size`` below ``split_at``) or a file name, raising ``ValueError``
naming the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trainables.paramdoc import check, param

N_TOTAL = 10_000  # images in the MNIST t10k file


@dataclass(frozen=True)
class CifarParams:
    val_size: int = param(
        5000, "[1, 49999]",
        "the last val_size training images (file order) form the validation split; the test split is the official test batch",
    )
    augment: bool = param(
        True, "",
        "on-device crop_flip augmentation of training batches (pad 4, random 32x32 crop, horizontal flip)",
    )
    normalize: bool = param(
        True, "",
        "standardise each channel with the training split's mean and standard deviation",
    )
    download: bool = param(
        True, "",
        "fetch the files with torchvision when they are missing from the data root",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class Cifar100Params(CifarParams):
    labels: Literal["fine", "coarse"] = param(
        "fine", "",
        "fine (100 classes) or coarse (20 superclasses)",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class DigitsParams:
    val_fraction: float = param(
        0.2, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the 1,797 images in the validation split (stratified random split)",
    )
    test_fraction: float = param(
        0.2, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the 1,797 images in the test split (stratified random split)",
    )
    split_seed: int = param(
        0, "any integer",
        "seed of the random split; not the trial seed, so every trial of a sweep sees the same split",
    )

    def __post_init__(self):
        check(self)
        if not self.val_fraction + self.test_fraction < 1:
            raise ValueError(
                f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}"
            )


@dataclass(frozen=True)
class ImagefolderParams:
    subdir: str = param(
        "", "a folder under the data root ('' = the root)",
        "the folder holding train/ (and optionally val/, test/) or the class folders directly",
    )
    size: int = param(
        64, "[8, 1024]",
        "images are converted to RGB and resized to size x size (bilinear)",
    )
    val_fraction: float = param(
        0.1, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the training images carved out as validation when there is no val/ folder",
    )
    test_fraction: float = param(
        0.1, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the training images carved out as test when there is no test/ folder",
    )
    split_seed: int = param(
        0, "any integer",
        "seed of the random split; not the trial seed, so every trial of a sweep sees the same split",
    )
    normalize: bool = param(
        True, "",
        "standardise each channel with the training split's statistics",
    )
    augment: bool = param(
        False, "",
        "on-device crop_flip augmentation of training batches",
    )
    max_memory_gb: float = param(
        8.0, "(0, inf)",
        "cap on the float32 tensors of the in-memory mode: memory is refused above it, auto streams instead",
    )
    mode: Literal["auto", "memory", "stream"] = param(
        "auto", "",
        "memory (decoded once into tensors on the device), stream (read from disk every epoch by a "
        "DataLoader), auto (memory when it fits under max_memory_gb)",
    )
    stats_images: int = param(
        10000, "[1, inf)",
        "stream mode: number of training images (drawn with split_seed) the normalisation statistics come from",
    )
    workers: int = param(
        0, "[0, inf)",
        "DataLoader processes that decode images (0: in the trial process)",
    )
    cache: bool = param(
        True, "",
        "memory mode: keep the decoded uint8 images in cache_dir, so the trials of a sweep decode once per machine",
    )
    cache_dir: str = param(
        "", "a folder ('' = default_root()/cache/imagefolder)",
        "where the decoded-image cache lives",
    )

    def __post_init__(self):
        check(self)
        if not self.val_fraction + self.test_fraction < 1:
            raise ValueError(
                f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}"
            )


@dataclass(frozen=True)
class MnistParams:
    protocol: Literal["per_class", "standard"] = param(
        "per_class", "",
        "per_class: the first n_per_class images of each class train, the next n_per_class validate, the "
        "10,000 test images test (100: MNIST-1K); standard: MNIST-55K, the first val_size training images validate",
    )
    n_per_class: int = param(
        100, "[1, 2710]",
        "per_class: training (and as many validation) images per class",
    )
    val_size: int = param(
        5000, "[1, 59999]",
        "standard: the first val_size training images form the validation split",
    )
    download: bool = param(
        True, "",
        "fetch the files with torchvision when they are missing from the data root",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class MnistT10kParams:
    protocol: Literal["per_class", "plain"] = param(
        "per_class", "",
        "per_class: the first n_per_class images of each class train, the next n_per_class validate, the rest "
        "test (100: MNIST-1K, 1,000 / 1,000 / 8,000); plain: split by position at split_at",
    )
    n_per_class: int = param(
        100, "[1, 445]",
        "per_class: training (and as many validation) images per class; the smallest class has 892 images",
    )
    split_at: int = param(
        8000, "[2, 9999], above val_size",
        "plain: images [0, split_at) train (the last val_size of them validate), [split_at, 10000) test",
    )
    val_size: int = param(
        1000, "[1, split_at - 1]",
        "plain: the last val_size images before split_at form the validation split",
    )

    def __post_init__(self):
        check(self)
        if not 1 <= self.val_size <= self.split_at - 1:
            raise ValueError(f"val_size must be in [1, split_at-1={self.split_at - 1}], got {self.val_size}")


@dataclass(frozen=True)
class TabularParams:
    path: str = param(
        "", "a .csv or .tsv (optionally .gz), .parquet or .pq file",
        "the table; a relative path is resolved against the data root when one is given",
    )
    label_column: str = param(
        "label", "a column of the table",
        "the class column; its sorted distinct values become classes 0..K-1, every other column is a numeric feature",
    )
    val_fraction: float = param(
        0.2, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the rows in the validation split (stratified random split)",
    )
    test_fraction: float = param(
        0.2, "(0, 1), with val_fraction + test_fraction < 1",
        "share of the rows in the test split (stratified random split)",
    )
    split_seed: int = param(
        0, "any integer",
        "seed of the random split; not the trial seed, so every trial of a sweep sees the same split",
    )
    standardize: bool = param(
        True, "",
        "centre and scale every feature by the training split's mean and standard deviation",
    )

    def __post_init__(self):
        check(self)
        if self.path and not Path(self.path).name.lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq")):
            raise ValueError(f"path must end in .csv, .tsv (optionally .gz), .parquet or .pq, got {self.path!r}")
        if not self.val_fraction + self.test_fraction < 1:
            raise ValueError(
                f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}"
            )
