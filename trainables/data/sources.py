"""Where the training loop's batches come from: one ``Source`` per split.

- ``TensorSource``: the split lives as two tensors on the trial's device and a
  batch is an index slice (every dataset that fits in memory; no DataLoader).
- ``LoaderSource``: the split is a map-style ``Dataset`` of ``(uint8 image
  (C, H, W), label)`` read from disk by a ``DataLoader`` each epoch (image
  folders larger than memory). Workers decode and resize; the uint8 batch is
  moved to the device (pinned on CUDA) and scaled to [0, 1] and standardised
  there, with the same float32 operations the in-memory path applies once.

Both take the same ``order`` (a permutation drawn by the trainer's seeded
generator), so a streamed split yields exactly the batches, in the same order,
as the same images held in memory: the trial seed fixes the data order on
either path. ``order=None`` is the sequential pass used for evaluation.
"""
from __future__ import annotations

from typing import Iterator, Protocol

import torch

from trainables.data.splits import Splits, StreamedSplits

Batch = tuple[torch.Tensor, torch.Tensor]


class Source(Protocol):
    def __len__(self) -> int: ...

    def batches(self, batch_size: int, order: torch.Tensor | None = None) -> Iterator[Batch]: ...


class TensorSource:
    """A split held as ``x``, ``y`` on the device; batches are index slices."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, device: torch.device):
        self.x, self.y = x.to(device), y.to(device)

    def __len__(self) -> int:
        return len(self.y)

    def batches(self, batch_size: int, order: torch.Tensor | None = None) -> Iterator[Batch]:
        if order is None:
            for s in range(0, len(self.y), batch_size):
                yield self.x[s : s + batch_size], self.y[s : s + batch_size]
            return
        order = order.to(self.x.device)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            yield self.x[idx], self.y[idx]


class _Order(torch.utils.data.Sampler):
    """The sampler of a persistent DataLoader: the indices of the current pass, set before each pass.

    The DataLoader iterates its sampler in the main process, so replacing
    ``order`` between passes reaches the (persistent) workers.
    """

    def __init__(self, n: int):
        self.n, self.order = n, None

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(range(self.n) if self.order is None else self.order)


class LoaderSource:
    """A split streamed from disk: ``DataLoader`` workers decode, the device scales and standardises."""

    def __init__(self, dataset: torch.utils.data.Dataset, device: torch.device, mean: torch.Tensor | None,
                 std: torch.Tensor | None, workers: int):
        self.dataset, self.device, self.workers = dataset, device, workers
        shape = (1, -1, 1, 1)
        self.mean = None if mean is None else mean.to(device, torch.float32).reshape(shape)
        self.std = None if std is None else std.to(device, torch.float32).reshape(shape)
        self.sampler = _Order(len(dataset))
        self.loaders: dict[int, torch.utils.data.DataLoader] = {}  # one persistent loader per batch size

    def __len__(self) -> int:
        return len(self.dataset)

    def _loader(self, batch_size: int) -> torch.utils.data.DataLoader:
        if batch_size not in self.loaders:
            self.loaders[batch_size] = torch.utils.data.DataLoader(
                self.dataset, batch_size=batch_size, sampler=self.sampler, num_workers=self.workers,
                pin_memory=self.device.type == "cuda", persistent_workers=self.workers > 0,
                # its own generator: otherwise each pass draws the workers' base seed from torch's global
                # RNG, which the regularizers' masks use, and a streamed run would diverge from in-memory
                generator=torch.Generator().manual_seed(0),
            )
        return self.loaders[batch_size]

    def batches(self, batch_size: int, order: torch.Tensor | None = None) -> Iterator[Batch]:
        self.sampler.order = None if order is None else order.tolist()
        for x, y in self._loader(batch_size):
            x = x.to(self.device, non_blocking=True).float().div_(255.0)
            if self.mean is not None:
                x = x.sub_(self.mean).div_(self.std)
            yield x, y.to(self.device, non_blocking=True)


def make_sources(splits: Splits | StreamedSplits, device: torch.device) -> dict[str, Source]:
    """``{"train", "val", "test"} -> Source`` on ``device``."""
    if isinstance(splits, StreamedSplits):
        return {s: LoaderSource(getattr(splits, s), device, splits.mean, splits.std, splits.workers)
                for s in ("train", "val", "test")}
    return {
        "train": TensorSource(splits.train_x, splits.train_y, device),
        "val": TensorSource(splits.val_x, splits.val_y, device),
        "test": TensorSource(splits.test_x, splits.test_y, device),
    }
