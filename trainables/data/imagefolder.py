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
training split's statistics (``channel_stats``). ``augment`` names the
on-device "crop_flip" augmentation.

Where the images live (``mode``):
- ``memory``: decoded once, in parallel by a ``DataLoader`` with ``workers``
  processes, into tensors that then live on the trial's device like every
  other dataset. With ``cache`` the decoded uint8 images are kept in
  ``cache_dir`` (default ``default_root()/cache/imagefolder``) under a key of
  the size and every file's path, byte size and mtime, so the trials of a
  sweep decode once per machine. Refused, with the numbers, when the float32
  tensors would exceed ``max_memory_gb``.
- ``stream``: a folder larger than memory. Each split is read from disk every
  epoch by a ``DataLoader`` (``workers`` processes decode and resize to uint8;
  the loop scales, standardises and augments on the device; see
  ``data/sources.py``). The batches and their order are exactly those of the
  in-memory path under the same seed. Standardisation statistics come from
  ``stats_images`` training images drawn with ``split_seed`` (all of them when
  there are fewer; then they equal the in-memory statistics), computed once
  per trial and not cached.
- ``auto`` (default): ``memory`` when the float32 tensors fit under
  ``max_memory_gb``, else ``stream``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound, default_root
from trainables.data.params import ImagefolderParams as Params
from trainables.data.splits import Splits, StreamedSplits


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

    tf = transforms.Compose([transforms.Resize((size, size)), transforms.PILToTensor()])  # uint8 (C, H, W)
    if classes is not None and (path / "val_annotations.txt").is_file() and (path / "images").is_dir():
        return Annotated(path, classes, tf)
    return datasets.ImageFolder(str(path), transform=tf)  # default loader: PIL, converted to RGB


def _decode(ds, p: Params) -> tuple[torch.Tensor, torch.Tensor]:  # uint8 images, labels
    """Decode every image once; with ``cache`` keep the uint8 result keyed by size and file paths/sizes/mtimes."""
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    stats = [(str(f), os.stat(f).st_size, os.stat(f).st_mtime_ns, t) for f, t in ds.samples]
    key = hashlib.sha256(repr((p.size, stats)).encode()).hexdigest()[:20]
    cache = (Path(p.cache_dir).expanduser() if p.cache_dir else default_root() / "cache" / "imagefolder") / f"{key}.pt"
    if p.cache and cache.is_file():
        return torch.load(cache, weights_only=True), y
    x = torch.empty(len(ds), 3, p.size, p.size, dtype=torch.uint8)
    loader = torch.utils.data.DataLoader(ds, batch_size=256, shuffle=False, num_workers=p.workers)
    i = 0
    for xb, _ in loader:
        x[i : i + len(xb)] = xb
        i += len(xb)
    if p.cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        torch.save(x, tmp)
        os.replace(tmp, cache)  # atomic: concurrent trials never read a half-written file
    return x, y


def channel_stats(batches) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (float32, shape (C,)) of uint8 image batches, scaled to [0, 1].

    Sums in float64, so the result does not depend on how the images are
    batched: the in-memory and the streamed paths get the same numbers.
    """
    n, s1, s2 = 0, 0.0, 0.0
    for xb in batches:
        xb = xb.double().div_(255.0)
        n += xb.numel() // xb.shape[1]
        s1 = s1 + xb.sum((0, 2, 3))
        s2 = s2 + xb.square().sum((0, 2, 3))
    mean = s1 / n
    std = ((s2 - n * mean.square()) / max(n - 1, 1)).clamp_min(0).sqrt()
    return mean.float(), std.float().clamp_min(1e-6)


def _discover(params: Params, root: Path | None):
    """The split folders under ``root/subdir`` as torchvision datasets (uint8 images), and the class names."""
    if root is None:
        raise DatasetNotFound(
            "imagefolder has no default location: set the dataset root (YAML dataset.root) to the folder holding "
            "the class folders."
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
    return base, dirs, folders, classes


def _carve(folders: dict, dirs: dict, classes: list[str], params: Params) -> dict[str, tuple[str, np.ndarray | None]]:
    """split -> (folder it comes from, indices into that folder or None for all of it).

    A missing test, then val, split is a stratified random part of the training
    folder (``test_fraction``, ``val_fraction`` of it, fixed by ``split_seed``).
    """
    parts = {s: (s, None) for s in folders}
    carve = [s for s in ("test", "val") if s not in folders]
    if not carve:
        return parts
    from sklearn.model_selection import train_test_split

    y = np.asarray(folders["train"].targets)
    idx, used = np.arange(len(y)), 0.0
    for s in carve:
        frac = params.test_fraction if s == "test" else params.val_fraction
        try:
            idx, out = train_test_split(idx, test_size=frac / (1 - used), stratify=y[idx], random_state=params.split_seed)
        except ValueError as e:  # too few images per class for a stratified split
            raise ValueError(f"imagefolder: cannot carve a stratified {s} split ({s}_fraction={frac}) from {len(idx)} images "
                             f"of {len(classes)} classes in {dirs['train']}: {e}") from e
        used += frac
        parts[s] = ("train", out)
    parts["train"] = ("train", idx)
    return parts


def load(params: Params, root: Path | None, seed: int) -> Splits | StreamedSplits:
    base, dirs, folders, classes = _discover(params, root)
    parts = _carve(folders, dirs, classes, params)
    n = sum(len(f) for f in folders.values())
    gb = n * 3 * params.size**2 * 4 / 1e9
    stream = params.mode == "stream" or (params.mode == "auto" and gb > params.max_memory_gb)
    if params.mode == "memory" and gb > params.max_memory_gb:
        raise ValueError(f"imagefolder: {n} images at {params.size}x{params.size} need {gb:.1f} GB as float32 tensors, "
                         f"above max_memory_gb={params.max_memory_gb}; lower size, raise max_memory_gb, or use mode "
                         f"'stream' (or 'auto') to read them from disk each epoch")
    carved = [s for s in ("test", "val") if parts[s][0] != s]
    desc = (f"imagefolder {base}: {len(classes)} classes, {{}} train / {{}} val / {{}} test at {params.size}x{params.size}"
            + (f"; {'+'.join(carved)} carved from train (split_seed={params.split_seed})" if carved else ""))
    if stream:
        return _streamed(folders, parts, classes, params, desc + f"; streamed from disk ({gb:.1f} GB as float32, "
                         f"max_memory_gb={params.max_memory_gb}, mode={params.mode}, workers={params.workers})")
    decoded = {s: _decode(f, params) for s, f in folders.items()}
    u8 = {}  # split -> (uint8 images, labels)
    for s, (src, idx) in parts.items():
        x, y = decoded[src]
        u8[s] = (x, y) if idx is None else (x[torch.as_tensor(idx)], y[torch.as_tensor(idx)])
    (x, y), (xva, yva), (xte, yte) = ((u8[s][0].float().div_(255.0), u8[s][1]) for s in ("train", "val", "test"))
    if params.normalize:
        mean, std = (t.reshape(1, -1, 1, 1) for t in channel_stats(u8["train"][0].split(1024)))
        for t in (x, xva, xte):  # in place: every split is its own tensor by now
            t.sub_(mean).div_(std)
    return Splits(x, y, xva, yva, xte, yte, len(classes), augment="crop_flip" if params.augment else None,
                  description=desc.format(len(y), len(yva), len(yte)), class_names=tuple(map(str, classes)))


def _streamed(folders: dict, parts: dict, classes: list[str], params: Params, desc: str) -> StreamedSplits:
    """Subsets of the folder datasets, read each epoch; standardisation statistics from a sample of training images."""
    subsets = {s: folders[src] if idx is None else torch.utils.data.Subset(folders[src], idx.tolist())
               for s, (src, idx) in parts.items()}
    train, idx = subsets["train"], parts["train"][1]
    train_y = torch.as_tensor(folders["train"].targets, dtype=torch.long)
    if idx is not None:
        train_y = train_y[torch.as_tensor(idx)]
    mean = std = None
    if params.normalize:
        mean, std = _stream_stats(train, params)
    return StreamedSplits(
        subsets["train"], subsets["val"], subsets["test"], train_y, len(classes), (3, params.size, params.size),
        mean=mean, std=std, workers=params.workers, augment="crop_flip" if params.augment else None,
        description=desc.format(len(train), len(subsets["val"]), len(subsets["test"])),
    )


def _stream_stats(train, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel statistics of ``stats_images`` training images drawn with ``split_seed`` (all of them when fewer)."""
    n = len(train)
    pick = np.arange(n)
    if n > params.stats_images:
        pick = np.sort(np.random.default_rng(params.split_seed).choice(n, params.stats_images, replace=False))
    sample = torch.utils.data.Subset(train, pick.tolist())
    loader = torch.utils.data.DataLoader(sample, batch_size=256, shuffle=False, num_workers=params.workers)
    return channel_stats(xb for xb, _ in loader)
