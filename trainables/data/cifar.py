"""CIFAR-10/100 reader for the original "python version" pickle batches (shared by cifar10 and cifar100).

Layout (as published and as torchvision extracts it): ``root/cifar-10-batches-py/
data_batch_1..5, test_batch`` (key ``labels``) and ``root/cifar-100-python/
train, test`` (keys ``fine_labels``, ``coarse_labels``); each batch holds
``data`` uint8 (N, 3072), channel-major 32x32. Missing files and ``download``:
torchvision's CIFAR10/CIFAR100(download=True) fetches and extracts them.

Splits: the last ``val_size`` training images (file order) are validation;
test = the official test batch. ``normalize`` standardises each channel with
the mean/std of the training split (applied to all splits). ``augment`` names
the on-device "crop_flip" (pad 4, random 32x32 crop, horizontal flip).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound, Splits, default_root
from trainables.data.params import CifarParams as Params

LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], 10, "CIFAR10"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], 100, "CIFAR100"),
}


def _read(files: list[Path], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for f in files:
        with open(f, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
        xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d[label_key], dtype=np.int64))
    return torch.from_numpy(np.concatenate(xs)).float().div_(255.0), torch.from_numpy(np.concatenate(ys))


def load_cifar(which: str, params: Params, root: Path | None, label_key: str = "labels") -> Splits:
    folder, train_files, test_files, k, tv_name = LAYOUT[which]
    root = Path(root) if root is not None else default_root()
    base = root / folder
    missing = [n for n in train_files + test_files if not (base / n).is_file()]
    if missing and params.download:
        try:
            import torchvision.datasets as tvd

            getattr(tvd, tv_name)(str(root), train=True, download=True)
        except Exception as e:  # any download failure means "not available here"
            raise DatasetNotFound(
                f"{which}: {', '.join(missing)} not found in {base} and the torchvision download failed ({e}). "
                f"Get the python version from https://www.cs.toronto.edu/~kriz/cifar.html and extract it under the data root."
            ) from e
        missing = [n for n in train_files + test_files if not (base / n).is_file()]
    if missing:
        raise DatasetNotFound(
            f"{which}: {', '.join(missing)} not found in {base}. Get the python version from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html, extract it under the data root, or set download: true."
        )
    x, y = _read([base / n for n in train_files], label_key)
    xte, yte = _read([base / n for n in test_files], label_key)
    if params.val_size >= len(y):
        raise ValueError(f"val_size={params.val_size} must be below the {len(y)} training images in {base}")
    n_tr = len(y) - params.val_size
    xtr, ytr, xva, yva = x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]
    if params.normalize:
        mean, std = xtr.mean((0, 2, 3), keepdim=True), xtr.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        xtr, xva, xte = ((t - mean) / std for t in (xtr, xva, xte))
    return Splits(
        xtr, ytr, xva, yva, xte, yte, k, augment="crop_flip" if params.augment else None,
        description=f"{which} ({label_key}): {n_tr} train / {params.val_size} val (last of train) / {len(yte)} test"
        f"{', per-channel standardised with train statistics' if params.normalize else ''}; from {base}",
    )
