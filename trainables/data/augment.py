"""On-device batch augmentations: ``AUGMENTATIONS[name](x, gen) -> x`` for a batch (B, C, H, W).

``gen`` is the trainer's CPU generator (seeded by the trial seed): the random
numbers are drawn on the CPU with it (B offsets and flips per batch, a few
hundred bytes) and moved to ``x.device``, so the same seed gives the same
augmentation on any device. The work itself is one gather on the device; no
Python loop over the batch, no host sync.

- ``crop_flip``: zero-pad 4 pixels per side, take a random HxW crop, flip
  horizontally with probability 1/2 (the standard CIFAR augmentation of He et
  al. 2016). On standardised images zero padding is padding with the mean.
- ``flip``: horizontal flip with probability 1/2 only.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

PAD = 4


def _gather(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """out[b, c, i, j] = x[b, c, rows[b, i], cols[b, j]]."""
    b = torch.arange(x.shape[0], device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def _flip_cols(b: int, w: int, gen: torch.Generator, device: torch.device, offset: torch.Tensor | None = None) -> torch.Tensor:
    flip = torch.rand(b, generator=gen) < 0.5
    base = torch.arange(w)
    cols = torch.where(flip[:, None], base.flip(0), base)  # (B, W)
    if offset is not None:
        cols = cols + offset[:, None]
    return cols.to(device, non_blocking=True)


def crop_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if x.dim() != 4:
        raise ValueError(f"crop_flip needs images (B, C, H, W), got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    off = torch.randint(0, 2 * PAD + 1, (2, b), generator=gen)
    rows = (off[0][:, None] + torch.arange(h)).to(x.device, non_blocking=True)
    cols = _flip_cols(b, w, gen, x.device, off[1])
    return _gather(F.pad(x, (PAD, PAD, PAD, PAD)), rows, cols)


def flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b, _, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None].expand(b, h)
    return _gather(x, rows, _flip_cols(b, w, gen, x.device))


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "crop_flip": crop_flip,
    "flip": flip,
}
