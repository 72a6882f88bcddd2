"""MNIST offline protocol: only the official test files (10,000 real images) in a data root.

Reads ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` from
``root`` (or ``root/MNIST/raw``); on project machines the root is
``../shared/data/mnist-t10k``. No root means no data: a clear error, never a
fallback. Pixels in [0, 1], no normalisation, shape (N, 1, 28, 28).

Protocols (``protocol``):

- ``per_class`` (DropMax authors' protocol transposed to this file): train =
  the first ``n_per_class`` images of each class in file order, validation =
  the next ``n_per_class`` of each class, test = every remaining image.
  n_per_class = 100 gives MNIST-1K: 1,000 / 1,000 / 8,000. The smallest class
  (5) has 892 images, so n_per_class <= 445.
- ``plain``: images [0, split_at) for training, of which the last ``val_size``
  are validation; images [split_at, 10000) are the test set. Defaults:
  7,000 / 1,000 / 2,000.
"""
from __future__ import annotations

from pathlib import Path

from trainables.data import DatasetNotFound
from trainables.data.idx import check_per_class, load_pair, per_class_split
from trainables.data.params import MnistT10kParams as Params
from trainables.data.splits import Splits

HOW_TO_GET = (
    "Set the dataset root (YAML dataset.root / --data-root) to a folder holding the official MNIST test files "
    "(on project machines: ../shared/data/mnist-t10k; elsewhere: download them from http://yann.lecun.com/exdb/mnist/)."
)


def load(params: Params, root: Path | None, seed: int) -> Splits:
    if root is None:
        raise DatasetNotFound(f"mnist_t10k has no default location. {HOW_TO_GET}")
    root = Path(root)
    x, y = load_pair([root, root / "MNIST" / "raw"], "t10k", HOW_TO_GET)
    if params.protocol == "per_class":
        check_per_class(y, params.n_per_class, need_rest=True, where=str(root))
        tr, va, te = per_class_split(y, params.n_per_class)
        desc = (f"MNIST t10k per-class: first {params.n_per_class}/class train ({len(tr)}), "
                f"next {params.n_per_class}/class val ({len(va)}), rest test ({len(te)}); from {root}")
    else:
        if len(y) <= params.split_at:
            raise ValueError(f"split_at={params.split_at} must be below the number of images ({len(y)}) in {root}")
        n_tr = params.split_at - params.val_size
        tr, va, te = slice(0, n_tr), slice(n_tr, params.split_at), slice(params.split_at, len(y))
        desc = (f"MNIST t10k plain: images [0,{n_tr}) train, [{n_tr},{params.split_at}) val, "
                f"[{params.split_at},{len(y)}) test; from {root}")
    return Splits(x[tr], y[tr], x[va], y[va], x[te], y[te], 10, description=desc)
