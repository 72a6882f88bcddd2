"""Images laid out as class folders (AWA, CUB, Tiny ImageNet, a user's own), resized, via torchvision.

Folder: ``root / subdir``. Either ``train/<class>/*`` with optional ``val/<class>/*``
and ``test/<class>/*`` (same class names), or ``<class>/*`` directly. A missing
``val`` or ``test`` split is carved from the training images by a stratified
random split fixed by ``split_seed`` (``val_fraction``, ``test_fraction``).
Classes are sorted folder names (torchvision ``ImageFolder``, which also finds
images in nested folders such as Tiny ImageNet's ``train/<wnid>/images/``).
A split folder holding ``images/`` and ``val_annotations.txt`` (Tiny
ImageNet's original ``val/``) is read through the annotation file; one holding
only ``images/`` (Tiny ImageNet's unlabelled ``test/``) is ignored, so that
split is carved from train.

Images are converted to RGB, resized to ``size`` x ``size`` (bilinear),
scaled to [0, 1] and, with ``normalize``, standardised per channel with the
training split's statistics. They are decoded once, in parallel by a
``DataLoader`` with ``workers`` processes, into tensors that then live on the
trial's device like every other dataset. The decoded float32 tensors must fit
under ``max_memory_gb``; above it the loader refuses with the numbers (lower
``size``, or raise the cap) rather than swapping. With ``cache`` the decoded
uint8 images are kept in ``cache_dir`` (default ``default_root()/cache/
imagefolder``) under a key of the size and every file's path, byte size and
mtime, so the trials of a sweep decode once per machine. ``augment`` names the
on-device "crop_flip" augmentation.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound, Splits, default_root


@dataclass(frozen=True)
class Params:
    subdir: str = ""
    size: int = 64
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    normalize: bool = True
    augment: bool = False
    max_memory_gb: float = 8.0
    workers: int = 0
    cache: bool = True
    cache_dir: str = ""

    def __post_init__(self):
        if not 8 <= self.size <= 1024:
            raise ValueError(f"size must be in [8, 1024], got {self.size}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"val_fraction and test_fraction must be in (0, 1) with sum < 1, got {self.val_fraction}, {self.test_fraction}")
        if not self.max_memory_gb > 0:
            raise ValueError(f"max_memory_gb must be > 0, got {self.max_memory_gb}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")


class Annotated(torch.utils.data.Dataset):
    """Tiny ImageNet's ``val/``: ``images/*.JPEG`` and ``val_annotations.txt`` (file, class, box) lines."""

    def __init__(self, path: Path, classes: list[str], transform):
        index = {c: i for i, c in enumerate(classes)}
        rows = [line.split("\t")[:2] for line in (path / "val_annotations.txt").read_text().splitlines() if line.strip()]
        unknown = sorted({c for _, c in rows} - set(index))
        if unknown:
            raise ValueError(f"imagefolder: {path}/val_annotations.txt names classes absent from train: {unknown[:5]}")
        self.samples = [(path / "images" / f, index[c]) for f, c in rows]
        self.targets = [t for _, t in self.samples]
        self.classes, self.transform = classes, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        from torchvision.datasets.folder import pil_loader

        path, target = self.samples[i]
        return self.transform(pil_loader(str(path))), target


def _unlabeled(path: Path) -> bool:
    """Tiny ImageNet's ``test/``: only ``images/`` and no annotation file, so no labels."""
    subdirs = [c.name for c in path.iterdir() if c.is_dir()]
    return subdirs == ["images"] and not (path / "val_annotations.txt").is_file()


def _folder(path: Path, size: int, classes: list[str] | None = None):
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    if classes is not None and (path / "val_annotations.txt").is_file() and (path / "images").is_dir():
        return Annotated(path, classes, tf)
    return datasets.ImageFolder(str(path), transform=tf)  # default loader: PIL, converted to RGB


def _decode(ds, p: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode every image once; with ``cache`` keep the uint8 result keyed by size and file paths/sizes/mtimes."""
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    stats = [(str(f), os.stat(f).st_size, os.stat(f).st_mtime_ns, t) for f, t in ds.samples]
    key = hashlib.sha256(repr((p.size, stats)).encode()).hexdigest()[:20]
    cache = (Path(p.cache_dir).expanduser() if p.cache_dir else default_root() / "cache" / "imagefolder") / f"{key}.pt"
    if p.cache and cache.is_file():
        return torch.load(cache).float().div_(255.0), y
    x = torch.empty(len(ds), 3, p.size, p.size, dtype=torch.uint8)
    loader = torch.utils.data.DataLoader(ds, batch_size=256, shuffle=False, num_workers=p.workers)
    i = 0
    for xb, _ in loader:  # ToTensor gives uint8/255 exactly, so uint8 storage is lossless
        x[i : i + len(xb)] = xb.mul(255).round_().to(torch.uint8)
        i += len(xb)
    if p.cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        torch.save(x, tmp)
        os.replace(tmp, cache)  # atomic: concurrent trials never read a half-written file
    return x.float().div_(255.0), y


def load(params: Params, root: Path | None, seed: int) -> Splits:
    if root is None:
        raise DatasetNotFound(
            "imagefolder has no default location: set the dataset root (YAML dataset.root) to the folder holding the class folders."
        )
    base = Path(root) / params.subdir
    split_layout = (base / "train").is_dir()
    dirs = {s: base / s for s in ("train", "val", "test") if (base / s).is_dir()} if split_layout else {"train": base}
    dirs = {s: d for s, d in dirs.items() if s == "train" or not _unlabeled(d)}
    try:
        folders = {"train": _folder(dirs["train"], params.size)}
        folders.update({s: _folder(d, params.size, folders["train"].classes) for s, d in dirs.items() if s != "train"})
    except OSError as e:  # torchvision raises FileNotFoundError for a missing or empty folder
        raise DatasetNotFound(
            f"imagefolder: no class folders with images under {base} ({e}). Lay the images out as "
            f"{base}/train/<class>/*.jpg (optional val/ and test/) or {base}/<class>/*.jpg."
        ) from e
    classes = folders["train"].classes
    for s, f in folders.items():
        if f.classes != classes:
            raise ValueError(f"imagefolder: {dirs[s]} has classes {f.classes[:5]}... but {dirs['train']} has {classes[:5]}...")
    n = sum(len(f) for f in folders.values())
    gb = n * 3 * params.size**2 * 4 / 1e9
    if gb > params.max_memory_gb:
        raise ValueError(f"imagefolder: {n} images at {params.size}x{params.size} need {gb:.1f} GB as float32 tensors, "
                         f"above max_memory_gb={params.max_memory_gb}; lower size or raise max_memory_gb")
    data = {s: _decode(f, params) for s, f in folders.items()}
    x, y = data["train"]
    carve = [s for s in ("test", "val") if s not in data]
    if carve:
        from sklearn.model_selection import train_test_split

        idx, used = np.arange(len(y)), 0.0
        for s in carve:  # test first, then val, each a fraction of the original training images
            frac = params.test_fraction if s == "test" else params.val_fraction
            try:
                idx, out = train_test_split(idx, test_size=frac / (1 - used), stratify=y[idx].numpy(), random_state=params.split_seed)
            except ValueError as e:  # too few images per class for a stratified split
                raise ValueError(f"imagefolder: cannot carve a stratified {s} split ({s}_fraction={frac}) from {len(idx)} images "
                                 f"of {len(classes)} classes in {dirs['train']}: {e}") from e
            used += frac
            data[s] = (x[torch.as_tensor(out)], y[torch.as_tensor(out)])
        x, y = x[torch.as_tensor(idx)], y[torch.as_tensor(idx)]
    (xva, yva), (xte, yte) = data["val"], data["test"]
    if params.normalize:
        mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        for t in (x, xva, xte):  # in place: every split is its own tensor by now
            t.sub_(mean).div_(std)
    return Splits(
        x, y, xva, yva, xte, yte, len(classes), augment="crop_flip" if params.augment else None,
        description=f"imagefolder {base}: {len(classes)} classes, {len(y)} train / {len(yva)} val / {len(yte)} test at "
        f"{params.size}x{params.size}" + (f"; {'+'.join(carve)} carved from train (split_seed={params.split_seed})" if carve else ""),
    )
