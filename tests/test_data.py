"""Every dataset loader on real files or generated files in the real on-disk format."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables import data
from trainables.data import DatasetNotFound
from trainables.data.idx import read_idx, write_idx

T10K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist-t10k"
needs_t10k = pytest.mark.skipif(not (T10K / "t10k-images-idx3-ubyte.gz").is_file(), reason=f"{T10K} absent")


def _load(name: str, root, **params):
    mod = data.get(name)
    return mod.load(mod.Params(**params), None if root is None else Path(root), 0)


def _fake_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first pixel encodes the index (so file order is checkable), labels cycling 0..9 unevenly."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x[:, 0, 0] = np.arange(n) % 256
    y = rng.integers(0, 10, size=n).astype(np.uint8)
    return x, y


# --- IDX ---------------------------------------------------------------------------------------
def test_idx_roundtrip_and_header(tmp_path):
    x, y = _fake_mnist(30)
    write_idx(tmp_path / "a-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "a-labels-idx1-ubyte", y)
    raw = gzip.open(tmp_path / "a-images-idx3-ubyte.gz").read()
    assert raw[:4] == bytes([0, 0, 8, 3]) and int.from_bytes(raw[4:8], "big") == 30 and len(raw) == 16 + 30 * 784
    assert np.array_equal(read_idx(tmp_path / "a-images-idx3-ubyte.gz"), x)
    assert np.array_equal(read_idx(tmp_path / "a-labels-idx1-ubyte"), y)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "bad")


# --- mnist_t10k ------------------------------------------------------------------------------------
@needs_t10k
def test_mnist_t10k_real_per_class():
    s = _load("mnist_t10k", T10K)
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (1000, 1000, 8000)
    assert s.train_x.shape == (1000, 1, 28, 28) and s.train_x.dtype == torch.float32
    assert s.train_x.min() == 0 and s.train_x.max() == 1
    assert torch.equal(torch.bincount(s.train_y), torch.full((10,), 100))
    assert torch.equal(torch.bincount(s.val_y), torch.full((10,), 100))
    labels = torch.from_numpy(read_idx(T10K / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    assert int(labels[0]) == 7 and torch.equal(torch.bincount(labels), torch.bincount(torch.cat([s.train_y, s.val_y, s.test_y])))
    # first image of the file (a 7) is the first training image
    images = torch.from_numpy(read_idx(T10K / "t10k-images-idx3-ubyte.gz").copy()).float() / 255
    assert torch.equal(s.train_x[0, 0], images[0])
    assert "1000" in s.description and "8000" in s.description


@needs_t10k
def test_mnist_t10k_real_plain():
    s = _load("mnist_t10k", T10K, protocol="plain")
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (7000, 1000, 2000)
    labels = torch.from_numpy(read_idx(T10K / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    assert torch.equal(s.test_y, labels[8000:]) and torch.equal(s.val_y, labels[7000:8000])


def test_mnist_t10k_generated_per_class_order(tmp_path):
    x, y = _fake_mnist(400, seed=1)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x)  # uncompressed also accepted
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y)
    s = _load("mnist_t10k", tmp_path, n_per_class=5)
    for split, (lo, hi) in (("train", (0, 5)), ("val", (5, 10))):
        sy, sx = getattr(s, f"{split}_y"), getattr(s, f"{split}_x")
        idx = torch.round(sx[:, 0, 0, 0] * 255).long()  # pixel (0,0) encodes the file index
        assert torch.all(idx[1:] > idx[:-1])  # file order kept
        for c in range(10):
            want = np.flatnonzero(y == c)[lo:hi]
            assert np.array_equal(idx[sy == c].numpy(), want)
    assert len(s.test_y) == 400 - 100
    with pytest.raises(ValueError, match="n_per_class"):
        _load("mnist_t10k", tmp_path, n_per_class=40)


def test_mnist_t10k_missing_root_errors(tmp_path):
    with pytest.raises(DatasetNotFound, match="no default location"):
        _load("mnist_t10k", None)
    with pytest.raises(DatasetNotFound) as e:
        _load("mnist_t10k", tmp_path)
    assert str(tmp_path) in str(e.value) and "mnist-t10k" in str(e.value)
    with pytest.raises(ValueError, match="protocol"):
        data.get("mnist_t10k").Params(protocol="random")
