"""The ``Params`` of every dataset (the YAML's ``dataset.params``), torch-free.

One frozen dataclass per dataset; the registry (``trainables/data/__init__.py``) maps each YAML
name to its class here and to its loader module (``trainables/data/<name>.py``, which imports
torch and re-exports its class as ``Params``), so that ``sweeper validate`` checks a spec
without importing torch. ``__post_init__`` raises ``ValueError`` naming the field and its valid
range; ``Literal[...]`` fields list their valid values; ``DOCS`` gives every field its valid
range and one line of meaning (``trainables/paramdoc.py``; ``sweeper show dataset NAME``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal
from pathlib import Path

N_TOTAL = 10_000  # images in the MNIST t10k file


@dataclass(frozen=True)
class CifarParams:
    val_size: int = 5000
    augment: bool = True
    normalize: bool = True
    download: bool = True
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "val_size": ("[1, 49999]", "the last val_size training images (file order) form the validation split; the test split is the official test batch"),
        "augment": ("", "on-device crop_flip augmentation of training batches (pad 4, random 32x32 crop, horizontal flip)"),
        "normalize": ("", "standardise each channel with the training split's mean and standard deviation"),
        "download": ("", "fetch the files with torchvision when they are missing from the data root"),
    }

    def __post_init__(self):
        if not 1 <= self.val_size <= 49_999:
            raise ValueError(f"val_size must be in [1, 49999], got {self.val_size}")


@dataclass(frozen=True)
class Cifar100Params(CifarParams):
    labels: Literal["fine", "coarse"] = "fine"  # "fine" (100 classes) or "coarse" (20 superclasses)
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        **CifarParams.DOCS,
        "labels": ("", "fine (100 classes) or coarse (20 superclasses)"),
    }

    def __post_init__(self):
        super().__post_init__()
        if self.labels not in ("fine", "coarse"):
            raise ValueError(f"labels must be 'fine' or 'coarse', got {self.labels!r}")


@dataclass(frozen=True)
class DigitsParams:
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "val_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the 1,797 images in the validation split (stratified random split)"),
        "test_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the 1,797 images in the test split (stratified random split)"),
        "split_seed": ("any integer", "seed of the random split; not the trial seed, so every trial of a sweep sees the same split"),
    }

    def __post_init__(self):
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError(
                f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}"
            )


@dataclass(frozen=True)
class ImagefolderParams:
    subdir: str = ""
    size: int = 64
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    normalize: bool = True
    augment: bool = False
    max_memory_gb: float = 8.0
    mode: Literal["auto", "memory", "stream"] = "auto"
    stats_images: int = 10000
    workers: int = 0
    cache: bool = True
    cache_dir: str = ""
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "subdir": ("a folder under the data root ('' = the root)", "the folder holding train/ (and optionally val/, test/) or the class folders directly"),
        "size": ("[8, 1024]", "images are converted to RGB and resized to size x size (bilinear)"),
        "val_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the training images carved out as validation when there is no val/ folder"),
        "test_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the training images carved out as test when there is no test/ folder"),
        "split_seed": ("any integer", "seed of the random split; not the trial seed, so every trial of a sweep sees the same split"),
        "normalize": ("", "standardise each channel with the training split's statistics"),
        "augment": ("", "on-device crop_flip augmentation of training batches"),
        "max_memory_gb": ("(0, inf)", "cap on the float32 tensors of the in-memory mode: memory is refused above it, auto streams instead"),
        "mode": ("", "memory (decoded once into tensors on the device), stream (read from disk every epoch by a DataLoader), auto (memory when it fits under max_memory_gb)"),
        "stats_images": ("[1, inf)", "stream mode: number of training images (drawn with split_seed) the normalisation statistics come from"),
        "workers": ("[0, inf)", "DataLoader processes that decode images (0: in the trial process)"),
        "cache": ("", "memory mode: keep the decoded uint8 images in cache_dir, so the trials of a sweep decode once per machine"),
        "cache_dir": ("a folder ('' = default_root()/cache/imagefolder)", "where the decoded-image cache lives"),
    }

    def __post_init__(self):
        if not 8 <= self.size <= 1024:
            raise ValueError(f"size must be in [8, 1024], got {self.size}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}")
        if not self.max_memory_gb > 0:
            raise ValueError(f"max_memory_gb must be > 0, got {self.max_memory_gb}")
        if self.mode not in ("auto", "memory", "stream"):
            raise ValueError(f"mode must be 'auto', 'memory' or 'stream', got {self.mode!r}")
        if self.stats_images < 1:
            raise ValueError(f"stats_images must be >= 1, got {self.stats_images}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class MnistParams:
    protocol: Literal["per_class", "standard"] = "per_class"
    n_per_class: int = 100
    val_size: int = 5000
    download: bool = True
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "protocol": ("", "per_class: the first n_per_class images of each class train, the next n_per_class validate, the 10,000 test images test (100: MNIST-1K); standard: MNIST-55K, the first val_size training images validate"),
        "n_per_class": ("[1, 2710]", "per_class: training (and as many validation) images per class"),
        "val_size": ("[1, 59999]", "standard: the first val_size training images form the validation split"),
        "download": ("", "fetch the files with torchvision when they are missing from the data root"),
    }

    def __post_init__(self):
        if self.protocol not in ("per_class", "standard"):
            raise ValueError(f"protocol must be 'per_class' or 'standard', got {self.protocol!r}")
        if not 1 <= self.n_per_class <= 2710:
            raise ValueError(f"n_per_class must be in [1, 2710] (smallest training class has 5,421 images), got {self.n_per_class}")
        if not 1 <= self.val_size <= 59_999:
            raise ValueError(f"val_size must be in [1, 59999], got {self.val_size}")


@dataclass(frozen=True)
class MnistT10kParams:
    protocol: Literal["per_class", "plain"] = "per_class"
    n_per_class: int = 100
    split_at: int = 8000
    val_size: int = 1000
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "protocol": ("", "per_class: the first n_per_class images of each class train, the next n_per_class validate, the rest test (100: MNIST-1K, 1,000 / 1,000 / 8,000); plain: split by position at split_at"),
        "n_per_class": ("[1, 445]", "per_class: training (and as many validation) images per class; the smallest class has 892 images"),
        "split_at": ("[2, 9999], above val_size", "plain: images [0, split_at) train (the last val_size of them validate), [split_at, 10000) test"),
        "val_size": ("[1, split_at - 1]", "plain: the last val_size images before split_at form the validation split"),
    }

    def __post_init__(self):
        if self.protocol not in ("per_class", "plain"):
            raise ValueError(f"protocol must be 'per_class' or 'plain', got {self.protocol!r}")
        if not 1 <= self.n_per_class <= 445:
            raise ValueError(f"n_per_class must be in [1, 445] (10,000 test images, smallest class 892), got {self.n_per_class}")
        if not 2 <= self.split_at <= N_TOTAL - 1:
            raise ValueError(f"split_at must be in [2, {N_TOTAL - 1}], got {self.split_at}")
        if not 1 <= self.val_size <= self.split_at - 1:
            raise ValueError(f"val_size must be in [1, split_at-1={self.split_at - 1}], got {self.val_size}")


@dataclass(frozen=True)
class TabularParams:
    path: str = ""
    label_column: str = "label"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    standardize: bool = True
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "path": ("a .csv or .tsv (optionally .gz), .parquet or .pq file", "the table; a relative path is resolved against the data root when one is given"),
        "label_column": ("a column of the table", "the class column; its sorted distinct values become classes 0..K-1, every other column is a numeric feature"),
        "val_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the rows in the validation split (stratified random split)"),
        "test_fraction": ("(0, 1), with val_fraction + test_fraction < 1", "share of the rows in the test split (stratified random split)"),
        "split_seed": ("any integer", "seed of the random split; not the trial seed, so every trial of a sweep sees the same split"),
        "standardize": ("", "centre and scale every feature by the training split's mean and standard deviation"),
    }

    def __post_init__(self):
        if self.path and not Path(self.path).name.lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq")):
            raise ValueError(f"path must end in .csv, .tsv (optionally .gz), .parquet or .pq, got {self.path!r}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}")
