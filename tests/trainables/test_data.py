"""Every dataset loader on real files or generated files in the real on-disk format."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables import data
from trainables.data import DatasetNotFound
from trainables.data.idx import read_idx, write_idx

T10K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-t10k"
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


def test_every_dataset_params_has_valid_defaults():
    import dataclasses

    for name in data.DATASETS:
        p = data.get(name).Params()  # raises if a default is out of its own valid range
        assert dataclasses.is_dataclass(p) and p.__dataclass_params__.frozen, name


# --- mnist (full, generated files in the official IDX format) -------------------------------------
def _write_mnist(folder: Path, n_train: int, n_test: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    xtr, ytr = _fake_mnist(n_train, 2)
    xte, yte = _fake_mnist(n_test, 3)
    write_idx(folder / f"train-images-idx3-ubyte{ext}", xtr)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", ytr)
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", xte)
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", yte)
    return ytr, yte


@pytest.mark.parametrize("layout", ["root", "torchvision"])
def test_mnist_per_class_and_standard(tmp_path, layout):
    folder = tmp_path if layout == "root" else tmp_path / "MNIST" / "raw"
    ytr, yte = _write_mnist(folder, 600, 50, gz=layout == "root")
    s = _load("mnist", tmp_path, n_per_class=10, download=False)
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (100, 100, 50)
    assert torch.equal(torch.bincount(s.train_y), torch.full((10,), 10))
    first = np.concatenate([np.flatnonzero(ytr == c)[:10] for c in range(10)])
    idx = torch.round(s.train_x[:, 0, 0, 0] * 255).long().numpy()
    assert np.array_equal(np.sort(idx), np.sort(first % 256))
    assert torch.equal(s.test_y, torch.from_numpy(yte.astype(np.int64)))
    st = _load("mnist", tmp_path, protocol="standard", val_size=100, download=False)
    assert (len(st.train_y), len(st.val_y)) == (500, 100)
    assert torch.equal(st.val_y, torch.from_numpy(ytr[:100].astype(np.int64)))  # TF convention: first images are validation
    assert st.train_x.shape[1:] == (1, 28, 28) and 0 <= float(st.train_x.min()) and float(st.train_x.max()) <= 1


def test_mnist_missing_files_error(tmp_path):
    with pytest.raises(DatasetNotFound) as e:
        _load("mnist", tmp_path, download=False)
    assert str(tmp_path) in str(e.value) and "mnist_t10k" in str(e.value)


# --- CIFAR (generated pickle batches in the official python format) -------------------------------
def _write_cifar(root: Path, which: str, n_per_batch: int = 20) -> np.ndarray:
    import pickle

    rng = np.random.default_rng(4)
    if which == "cifar10":
        folder, names, keys = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], ("labels",)
    else:
        folder, names, keys = root / "cifar-100-python", ["train", "test"], ("fine_labels", "coarse_labels")
    folder.mkdir(parents=True)
    all_labels = []
    for n in names:
        m = n_per_batch * (5 if n == "train" else 1)
        labels = rng.integers(0, 10, m)
        d = {b"data": rng.integers(0, 256, (m, 3072), dtype=np.uint8), b"batch_label": n.encode()}
        for k in keys:
            d[k.encode()] = [int(v) * (1 if k != "coarse_labels" else 2) % 20 for v in labels]
        with open(folder / n, "wb") as f:
            pickle.dump(d, f, protocol=2)
        all_labels.append(labels)
    return np.concatenate(all_labels)


@pytest.mark.parametrize("which", ["cifar10", "cifar100"])
def test_cifar_pickle_batches(tmp_path, which):
    labels = _write_cifar(tmp_path, which)
    s = _load(which, tmp_path, val_size=10, download=False)
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (90, 10, 20)
    assert s.train_x.shape == (90, 3, 32, 32) and s.augment == "crop_flip"
    assert torch.equal(torch.cat([s.train_y, s.val_y, s.test_y]), torch.from_numpy(labels))
    assert torch.allclose(s.train_x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(s.train_x.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    raw = _load(which, tmp_path, val_size=10, download=False, normalize=False, augment=False)
    assert raw.augment is None and 0 <= float(raw.train_x.min()) and float(raw.train_x.max()) <= 1
    assert s.num_classes == (10 if which == "cifar10" else 100)
    if which == "cifar100":
        c = _load(which, tmp_path, val_size=10, download=False, labels="coarse")
        assert c.num_classes == 20 and torch.equal(c.test_y, (2 * s.test_y) % 20)


def test_cifar_missing_error(tmp_path):
    with pytest.raises(DatasetNotFound) as e:
        _load("cifar10", tmp_path, download=False)
    assert str(tmp_path / "cifar-10-batches-py") in str(e.value) and "cs.toronto.edu" in str(e.value)


# --- image folders (generated PNGs) -----------------------------------------------------------------
COLORS = {"ant": (255, 0, 0), "bee": (0, 255, 0), "cat": (0, 0, 255)}


def _write_pngs(folder: Path, n: int):
    from PIL import Image

    for cls, rgb in COLORS.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (12 + i, 10), rgb).save(folder / cls / f"{i}.png")


def test_imagefolder_split_layout(tmp_path):
    for split, n in (("train", 4), ("val", 2), ("test", 3)):
        _write_pngs(tmp_path / "birds" / split, n)
    s = _load("imagefolder", tmp_path, subdir="birds", size=8, normalize=False, cache=False)
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (12, 6, 9) and s.num_classes == 3
    assert s.train_x.shape == (12, 3, 8, 8)
    # classes sorted by folder name; the colour channel identifies the class
    for x, y in ((s.train_x, s.train_y), (s.test_x, s.test_y)):
        assert torch.equal(x.mean((2, 3)).argmax(1), y)
        assert torch.allclose(x.amax((1, 2, 3)), torch.ones(len(y)))


def test_imagefolder_flat_layout_carves_splits(tmp_path):
    _write_pngs(tmp_path, 10)
    cache = tmp_path.parent / (tmp_path.name + "-cache")
    s = _load("imagefolder", tmp_path, size=8, val_fraction=0.2, test_fraction=0.2, cache_dir=str(cache))
    assert len(list(cache.glob("*.pt"))) == 1
    again = _load("imagefolder", tmp_path, size=8, val_fraction=0.2, test_fraction=0.2, cache_dir=str(cache))
    assert torch.equal(again.train_x, s.train_x) and torch.equal(again.test_y, s.test_y)
    from PIL import Image

    Image.new("RGB", (12, 10), (0, 0, 255)).save(tmp_path / "ant" / "0.png")  # a changed file: a new cache entry
    changed = _load("imagefolder", tmp_path, size=8, val_fraction=0.2, test_fraction=0.2, cache_dir=str(cache))
    everything = lambda t: torch.cat([t.train_x, t.val_x, t.test_x])  # noqa: E731
    assert len(list(cache.glob("*.pt"))) == 2 and not torch.equal(everything(changed), everything(s))
    assert (len(s.train_y), len(s.val_y), len(s.test_y)) == (18, 6, 6)
    assert torch.equal(torch.bincount(s.val_y), torch.full((3,), 2))
    assert "carved" in s.description
    with pytest.raises(ValueError, match="max_memory_gb"):
        _load("imagefolder", tmp_path, size=8, max_memory_gb=1e-9, mode="memory", cache=False)
    with pytest.raises(DatasetNotFound):
        _load("imagefolder", tmp_path / "nothing")


# --- tabular (generated CSV and Parquet) ------------------------------------------------------------
def _table(n: int = 90):
    import pandas as pd

    rng = np.random.default_rng(5)
    y = np.array(["no", "yes", "maybe"])[np.arange(n) % 3]
    return pd.DataFrame({"a": rng.normal(10, 3, n), "b": rng.integers(0, 5, n), "flag": rng.random(n) > 0.5, "target": y})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tabular_files(tmp_path, fmt):
    df = _table()
    path = tmp_path / f"t.{fmt}"
    df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path)
    s = _load("tabular", tmp_path, path=f"t.{fmt}", label_column="target")
    assert s.num_classes == 3 and s.train_x.shape == (54, 3) and len(s.val_y) == 18 and len(s.test_y) == 18
    assert torch.allclose(s.train_x.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(s.train_x.std(0), torch.ones(3), atol=1e-5)
    assert torch.equal(torch.bincount(s.test_y), torch.full((3,), 6))  # stratified
    raw = _load("tabular", None, path=str(path), label_column="target", standardize=False)
    # classes are the sorted label values: maybe=0, no=1, yes=2; raw features come back unchanged
    a_of = dict(zip(df["a"].round(4), df["target"]))
    names = ["maybe", "no", "yes"]
    assert all(a_of[round(float(a), 4)] == names[int(c)] for a, c in zip(raw.train_x[:, 0], raw.train_y))
    assert raw.class_names == tuple(names)  # the data's own labels, for the figures (artifacts/classes.json)
    from trainables.trial import write_class_names

    (tmp_path / fmt).mkdir()
    write_class_names(raw, tmp_path / fmt)
    assert json.loads((tmp_path / fmt / "artifacts" / "classes.json").read_text()) == {"class_names": names}


def test_tabular_errors(tmp_path):
    df = _table()
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="label_column 'label'"):
        _load("tabular", tmp_path, path="t.csv")
    df.assign(s="x").to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(ValueError, match=r"non-numeric feature columns \['s'\]"):
        _load("tabular", tmp_path, path="u.csv", label_column="target")
    with pytest.raises(DatasetNotFound, match="not found"):
        _load("tabular", tmp_path, path="missing.csv")
    with pytest.raises(ValueError, match="path must end"):
        data.get("tabular").Params(path="t.xlsx")


# --- digits ----------------------------------------------------------------------------------------
def test_digits_split():
    s = _load("digits", None)
    assert len(s.train_y) + len(s.val_y) + len(s.test_y) == 1797 and s.in_shape == (1, 8, 8)
    assert float(s.train_x.max()) == 1.0


def test_digits_cached_split_is_sklearns_split_bit_for_bit(tmp_path):
    """The first load writes the cache, later loads read it (no scikit-learn import): both give the
    tensors of scikit-learn's own stratified split; a damaged cache file is recomputed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from trainables.data.digits import cache_file

    params = data.get("digits").Params(val_fraction=0.1, test_fraction=0.3, split_seed=3)
    d = load_digits()
    rest, test = train_test_split(np.arange(1797), test_size=0.3, stratify=d.target, random_state=3)
    train, val = train_test_split(rest, test_size=0.1 / 0.7, stratify=d.target[rest], random_state=3)
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target)
    path = cache_file(params, tmp_path)
    assert not path.exists()
    loads = [_load("digits", tmp_path, val_fraction=0.1, test_fraction=0.3, split_seed=3)]
    assert path.exists()
    loads.append(_load("digits", tmp_path, val_fraction=0.1, test_fraction=0.3, split_seed=3))
    path.write_bytes(path.read_bytes()[:1000])  # damaged: recomputed and rewritten
    loads.append(_load("digits", tmp_path, val_fraction=0.1, test_fraction=0.3, split_seed=3))
    for s in loads:
        for got, idx in ((s.train_x, train), (s.val_x, val), (s.test_x, test)):
            assert got.dtype == torch.float32 and torch.equal(got, x[torch.as_tensor(idx)])
        for got, idx in ((s.train_y, train), (s.val_y, val), (s.test_y, test)):
            assert got.dtype == torch.long and torch.equal(got, y[torch.as_tensor(idx)])
    assert path.stat().st_size > 100_000


# --- on-device augmentation ---------------------------------------------------------------------------
def test_crop_flip_matches_a_per_image_reference():
    from trainables.data.augment import AUGMENTATIONS, PAD

    x = torch.randn(64, 3, 10, 12)
    out = AUGMENTATIONS["crop_flip"](x, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)  # replay the draws in the documented order: offsets, then flips
    off = torch.randint(0, 2 * PAD + 1, (2, 64), generator=g)
    flips = torch.rand(64, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (PAD,) * 4)
    for b in range(64):
        ref = padded[b, :, off[0, b] : off[0, b] + 10, off[1, b] : off[1, b] + 12]
        assert torch.equal(out[b], ref.flip(-1) if flips[b] else ref)
    assert 0 < int(flips.sum()) < 64 and len(set(off[0].tolist())) > 3
    again = AUGMENTATIONS["crop_flip"](x, torch.Generator().manual_seed(7))
    assert torch.equal(out, again)
    f = AUGMENTATIONS["flip"](x, torch.Generator().manual_seed(1))
    fl = torch.rand(64, generator=torch.Generator().manual_seed(1)) < 0.5
    assert torch.equal(f[fl], x[fl].flip(-1)) and torch.equal(f[~fl], x[~fl])


def test_imagefolder_tiny_imagenet_layout(tmp_path):
    from PIL import Image

    base = tmp_path / "tiny-imagenet-200"
    for cls, rgb in COLORS.items():  # train/<wnid>/images/*.JPEG as distributed
        (base / "train" / cls / "images").mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("RGB", (16, 16), rgb).save(base / "train" / cls / "images" / f"{cls}_{i}.JPEG")
    (base / "val" / "images").mkdir(parents=True)
    lines = []
    for i, cls in enumerate(["cat", "ant", "bee", "cat"]):
        Image.new("RGB", (16, 16), COLORS[cls]).save(base / "val" / "images" / f"val_{i}.JPEG")
        lines.append(f"val_{i}.JPEG\t{cls}\t0\t0\t15\t15")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (base / "test" / "images").mkdir(parents=True)  # the unlabelled test split is ignored
    Image.new("RGB", (16, 16), (9, 9, 9)).save(base / "test" / "images" / "test_0.JPEG")
    s = _load("imagefolder", tmp_path, subdir="tiny-imagenet-200", size=8, normalize=False, test_fraction=1 / 3, cache=False)
    assert torch.equal(s.val_y, torch.tensor([2, 0, 1, 2]))
    assert torch.equal(s.val_x.mean((2, 3)).argmax(1), s.val_y)
    assert (len(s.train_y), len(s.test_y)) == (6, 3) and "test carved" in s.description


class _Evil:
    """Unpickling this calls ``builtins.open(canary, "w")``: code execution if a loader lets it through."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return (open, (str(self.canary), "w"))


@pytest.mark.parametrize("payload", ["reduce", "wrong_types"])
def test_cifar_refuses_a_malicious_or_malformed_pickle(tmp_path, payload):
    import pickle

    from trainables.data.cifar import UnsafeBatch

    _write_cifar(tmp_path / "data", "cifar10")
    canary = tmp_path / "canary"
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    if payload == "reduce":
        d = {b"data": _Evil(canary), b"labels": [0]}
    else:  # only allowed globals, but a float array and string labels
        d = {b"data": np.zeros((2, 3072), dtype=np.float32), b"labels": ["a", "b"]}
    batch.write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(UnsafeBatch) as e:
        _load("cifar10", tmp_path / "data", val_size=10, download=False)
    assert "data_batch_3" in str(e.value)
    assert ("refused to load io.open" in str(e.value)) if payload == "reduce" else ("uint8" in str(e.value))
    assert not canary.exists(), "the pickle's payload ran"
