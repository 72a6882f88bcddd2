"""scikit-learn's embedded handwritten digits (1,797 real 8x8 images, 10 classes): the offline default.

Pixels scaled from [0, 16] to [0, 1], shape (N, 1, 8, 8). Split: a stratified
random split fixed by ``split_seed`` (not the trial seed, so every trial of a
sweep sees the same data): ``val_fraction`` and ``test_fraction`` of the
images, the rest for training (``sklearn.model_selection.train_test_split``,
stratified, twice: test first, then validation out of the rest).

The images, labels and the three index arrays are cached as one ``.npz`` under
``ROOT/digits/`` (``root``, else ``default_root()``), named by scikit-learn's version
and the three parameters: importing scikit-learn costs ~2 CPU-seconds (it imports
pandas and scipy.stats), paid by every trial process otherwise. The cache holds
exactly what scikit-learn returned (pixel values 0..16 as uint8, exact), so a cached
load gives the same tensors, bit for bit, and the same data fingerprint. A missing,
unreadable or damaged cache file is recomputed; one that cannot be written is
skipped (a read-only root works, only slower).
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from trainables.data import default_root
from trainables.data.params import DigitsParams as Params
from trainables.data.splits import Splits

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # images, target, train, val, test


def load(params: Params, root: Path | None, seed: int) -> Splits:
    images, target, train, val, test = _arrays(params, root)
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(target, dtype=torch.long)
    t = torch.as_tensor
    return Splits(
        x[t(train)], y[t(train)], x[t(val)], y[t(val)], x[t(test)], y[t(test)], 10,
        description=f"sklearn digits 8x8: {len(train)} train / {len(val)} val / {len(test)} test "
                    f"(split_seed={params.split_seed})",
    )


def cache_file(params: Params, root: Path | None) -> Path:
    """Where the split of ``params`` is cached (see the module docstring)."""
    version = importlib.metadata.version("scikit-learn")
    name = f"sklearn-{version}-val{params.val_fraction!r}-test{params.test_fraction!r}-seed{params.split_seed}.npz"
    return (root or default_root()) / "digits" / name


def _arrays(params: Params, root: Path | None) -> Arrays:
    path = cache_file(params, root)
    try:
        with np.load(path) as f:
            return f["images"], f["target"], f["train"], f["val"], f["test"]
    except Exception:  # noqa: BLE001 - missing or damaged: recomputed below (module docstring)
        pass
    arrays = _split(params)
    _store(path, arrays)
    return arrays


def _split(params: Params) -> Arrays:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    idx = np.arange(len(d.target))
    rest, test = train_test_split(idx, test_size=params.test_fraction, stratify=d.target, random_state=params.split_seed)
    val_share = params.val_fraction / (1 - params.test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=d.target[rest], random_state=params.split_seed)
    return d.images.astype(np.uint8), d.target.astype(np.int64), train, val, test


def _store(path: Path, arrays: Arrays) -> None:
    """Write ``arrays`` to ``path`` atomically (a temporary file renamed), or not at all."""
    images, target, train, val, test = arrays
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, images=images, target=target, train=train, val=val, test=test)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from the other users of a shared root
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
