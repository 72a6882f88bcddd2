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

Safety: a pickle can run any code it names, so the batches are read with a
restricted unpickler that resolves only the globals a numpy array needs
(``numpy.ndarray``, ``numpy.dtype``, numpy's ``_reconstruct`` and
``_codecs.encode``); anything else (``os.system``, ``builtins.eval``, ...)
raises ``UnsafeBatch`` before it is called. The result must then be a dict
whose ``data`` is a uint8 array of shape (N, 3072) and whose label list holds
N ints in range; an untrusted data folder cannot execute code.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound, default_root
from trainables.data.params import CifarParams as Params
from trainables.data.splits import Splits

LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], 10, "CIFAR10"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], 100, "CIFAR100"),
}


class UnsafeBatch(ValueError):
    """A CIFAR batch file that is not a plain dict of a uint8 array and integer labels."""


# (module, name) pairs a CIFAR batch may reference: enough to rebuild numpy arrays, nothing else.
_ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),  # pickles written by numpy 1.x (the published files)
    ("numpy._core.multiarray", "_reconstruct"),  # pickles written by numpy 2.x
    ("_codecs", "encode"),  # protocol-2 bytes written by Python 3
})


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafeBatch(f"refused to load {module}.{name}: a CIFAR batch may only hold numpy arrays, "
                              f"lists, ints, bytes and strings")
        return super().find_class(module, name)


def read_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8 (N, 3, 32, 32), labels int64 (N,)) of one pickle batch, checked (see module docstring)."""
    with open(path, "rb") as fh:
        try:
            d = _BatchUnpickler(fh, encoding="latin1").load()
        except UnsafeBatch as e:
            raise UnsafeBatch(f"{path}: {e}") from None
        except Exception as e:  # truncated or not a pickle at all
            raise UnsafeBatch(f"{path}: not a CIFAR pickle batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise UnsafeBatch(f"{path}: expected a dict, got {type(d).__name__}")
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}
    data, labels = d.get("data"), d.get(label_key)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        raise UnsafeBatch(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got "
                          f"{type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}")
    if not (isinstance(labels, (list, np.ndarray)) and len(labels) == len(data)
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels)):
        raise UnsafeBatch(f"{path}: {label_key!r} must be a list of {len(data)} ints")
    y = np.asarray(labels, dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() >= 100):
        raise UnsafeBatch(f"{path}: {label_key!r} values must be in [0, 100), got [{y.min()}, {y.max()}]")
    return data.reshape(-1, 3, 32, 32), y


def _read(files: list[Path], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for f in files:
        x, y = read_batch(f, label_key)
        xs.append(x)
        ys.append(y)
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
