"""MNIST (60,000 train / 10,000 test real digits), pixels in [0, 1], no normalisation, (N, 1, 28, 28).

Files: the four official IDX files (``train-images-idx3-ubyte[.gz]``, ...,
``t10k-labels-idx1-ubyte[.gz]``) directly in ``root`` or in
``root/MNIST/raw`` (torchvision's layout). When they are missing and
``download`` is true, ``torchvision.datasets.MNIST(root, download=True)``
fetches them into ``root/MNIST/raw``; if that fails too, one
``DatasetNotFound`` says where we looked and how to get them. No root means
``default_root()`` (``$SWEEPER_DATA_ROOT`` or ``~/.cache/sweeper/data``).

Protocols (``protocol``):

- ``per_class`` (DropMax authors' code): train = the first ``n_per_class``
  images of each class of the training file in file order, validation = the
  next ``n_per_class`` of each class, test = the full 10,000 test set.
  n_per_class 100 -> MNIST-1K, 500 -> MNIST-5K. (The authors' ``mnist_input``
  is not in their public repository; "first N of each class" is read here on
  the official 60,000-image training file, in file order.)
- ``standard`` (MNIST-55K): TensorFlow's ``read_data_sets`` convention, the
  first ``val_size`` (5,000) training images are validation, the other 55,000
  train; test = the 10,000 test set.
"""
from __future__ import annotations

from pathlib import Path

from trainables.data import DatasetNotFound, default_root
from trainables.data.idx import check_per_class, find_file, load_pair, per_class_split
from trainables.data.params import MnistParams as Params
from trainables.data.splits import Splits

HOW_TO_GET = (
    "Get the four IDX files from http://yann.lecun.com/exdb/mnist/ (or any mirror) into the data root, "
    "or run on a machine with internet access with download: true (torchvision). "
    "Offline with only the test files, use the dataset mnist_t10k."
)


def _ensure_files(root: Path, download: bool) -> list[Path]:
    roots = [root, root / "MNIST" / "raw"]
    have = all(find_file(roots, f"{p}-{k}") for p in ("train", "t10k") for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
    if have or not download:
        return roots
    try:
        from torchvision.datasets import MNIST

        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as e:  # network errors come in many types; all mean "not available"
        looked = ", ".join(str(r) for r in roots)
        raise DatasetNotFound(f"MNIST not found in {looked} and the torchvision download failed ({e}). {HOW_TO_GET}") from e
    return roots


def load(params: Params, root: Path | None, seed: int) -> Splits:
    root = Path(root) if root is not None else default_root()
    roots = _ensure_files(root, params.download)
    xtr, ytr = load_pair(roots, "train", HOW_TO_GET)
    xte, yte = load_pair(roots, "t10k", HOW_TO_GET)
    if params.protocol == "per_class":
        check_per_class(ytr, params.n_per_class, need_rest=False, where=f"the MNIST training file in {root}")
        tr, va, _ = per_class_split(ytr, params.n_per_class)
        n = params.n_per_class
        desc = f"MNIST per-class: first {n}/class train ({len(tr)}), next {n}/class val ({len(va)}), test {len(yte)}"
    else:
        if params.val_size >= len(ytr):
            raise ValueError(f"val_size={params.val_size} must be below the {len(ytr)} training images in {root}")
        va, tr = slice(0, params.val_size), slice(params.val_size, len(ytr))
        desc = f"MNIST standard: training images [{params.val_size},{len(ytr)}) train, [0,{params.val_size}) val, test {len(yte)}"
    return Splits(xtr[tr], ytr[tr], xtr[va], ytr[va], xte, yte, 10, description=f"{desc}; from {root}")
