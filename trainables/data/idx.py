"""The IDX file format of MNIST (LeCun et al.), read and written with numpy.

Header: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
dimension as a big-endian int32; the data follows in C order, big-endian.
Files may be gzip-compressed (``.gz``). Also the MNIST split helpers shared by
``mnist`` and ``mnist_t10k``.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


def read_idx(path: Path) -> np.ndarray:
    raw = (gzip.open if str(path).endswith(".gz") else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    data = np.frombuffer(raw, _DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but holds {data.size} values")
    return data.reshape(dims).astype(np.dtype(_DTYPES[raw[2]]).newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in ``.gz``)."""
    a = np.ascontiguousarray(array)
    code = _CODES[a.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">i4").tobytes()
    body = a.astype(_DTYPES[code]).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(header + body)


def find_file(roots: list[Path], stem: str) -> Path | None:
    """First of ``root/stem``, ``root/stem.gz`` over ``roots`` that exists."""
    for r in roots:
        for name in (stem, stem + ".gz"):
            if (r / name).is_file():
                return r / name
    return None


def load_pair(roots: list[Path], prefix: str, how_to_get: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) float in [0, 1] and labels int64 from ``<prefix>-images-idx3-ubyte[.gz]``."""
    img = find_file(roots, f"{prefix}-images-idx3-ubyte")
    lab = find_file(roots, f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        looked = ", ".join(str(r.resolve()) for r in roots)
        if not roots[0].is_absolute():
            looked += f" (the relative root {roots[0]} taken from the working directory {Path.cwd()})"
        raise DatasetNotFound(
            f"MNIST files {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz] not found; "
            f"looked in: {looked}. {how_to_get}"
        )
    x = torch.from_numpy(read_idx(img).copy()).float().div_(255.0).unsqueeze(1)
    y = torch.from_numpy(read_idx(lab).astype(np.int64))
    if len(x) != len(y):
        raise ValueError(f"{img} holds {len(x)} images but {lab} holds {len(y)} labels")
    return x, y


def per_class_split(y: torch.Tensor, n: int, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices (in file order) of the first ``n`` of each class, the next ``n`` of each class, and the rest."""
    onehot = torch.nn.functional.one_hot(y, num_classes)
    rank = (onehot.cumsum(0) * onehot).sum(1) - 1  # position of each example within its class, file order
    idx = torch.arange(len(y))
    return idx[rank < n], idx[(rank >= n) & (rank < 2 * n)], idx[rank >= 2 * n]


def check_per_class(y: torch.Tensor, n: int, need_rest: bool, where: str) -> None:
    counts = torch.bincount(y, minlength=10)
    need = 2 * n + (1 if need_rest else 0)
    if int(counts.min()) < need:
        raise ValueError(
            f"n_per_class={n} needs at least {need} images of every class in {where}, "
            f"but the smallest class has {int(counts.min())}; valid n_per_class is 1..{(int(counts.min()) - int(need_rest)) // 2}"
        )
