"""Dataset registry: YAML name -> module.

A dataset module exports a frozen ``Params`` dataclass (the YAML's
``dataset.params``; defined in the torch-free ``data/params.py``, which the registry
entry names too, so this package imports without torch) and ``load(params, root, seed) -> Splits``. ``root`` is the
data-root option (``None`` means the module's default location); a missing
dataset raises ``DatasetNotFound`` saying where it looked and how to get it,
never a silent fallback. ``seed`` only matters for datasets whose split is
random. ``Splits`` and ``StreamedSplits`` (``data/splits.py``, torch) are what a
loader returns; this package's ``__init__`` (the table, ``get``, ``params``,
``DatasetNotFound``, ``default_root``) imports no torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

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


def default_root() -> Path:
    """Where downloadable datasets (mnist, cifar10, cifar100) go when no root is given:
    ``$SWEEPER_DATA_ROOT`` or ``~/.cache/sweeper/data``."""
    return Path(os.environ.get("SWEEPER_DATA_ROOT", "~/.cache/sweeper/data")).expanduser()


def get(name: str) -> ModuleType:
    return lookup(DATASETS, "dataset", name)


def params(name: str) -> type:
    """The ``Params`` class of dataset ``name``, without importing torch; ``UnknownName`` lists the valid ones."""
    return entry(DATASETS, "dataset", name).params
