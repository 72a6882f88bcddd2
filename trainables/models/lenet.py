"""LeNet 20-50-500 (the DropMax authors' code; Generalized Dropout's SAL network).

conv c1@5x5 (valid), ReLU, maxpool 2 -> gate1 = drop_layer(c1, "conv")
conv c2@5x5 (valid), ReLU, maxpool 2 -> gate2 = drop_layer(c2, "conv")
flatten, FC fc, ReLU                 -> gate3 = drop_layer(fc, "penultimate")  -> h (B, fc)

The gates sit after each block (after pooling: one gate per feature map acts the
same before or after a max-pool). ``widths = (c1, c2, fc)`` defaults to
(20, 50, 500); SAL builds pruned variants with smaller widths. ``padding``
"valid" is the original; "same" (pad 2) lets the net run on inputs smaller than
28x28 (e.g. the 8x8 digits). Module attributes are stable for pruning code:
``conv1, conv2, fc1, gate1, gate2, gate3``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import DropLayer
from trainables.models.params import LenetParams as Params


class LeNet(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], widths: tuple[int, int, int], drop_layer: DropLayer, padding: str = "valid"):
        super().__init__()
        c, h, w = in_shape
        c1, c2, fc = widths
        pad = 0 if padding == "valid" else 2
        self.conv1 = nn.Conv2d(c, c1, 5, padding=pad)
        self.gate1 = drop_layer(c1, "conv")
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=pad)
        self.gate2 = drop_layer(c2, "conv")
        for _ in range(2):  # conv then pool 2 (floor), twice
            h, w = (h + 2 * pad - 4) // 2, (w + 2 * pad - 4) // 2
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(in_shape)} is too small for LeNet with padding={padding!r}; use padding 'same'")
        self.fc1 = nn.Linear(c2 * h * w, fc)
        self.gate3 = drop_layer(fc, "penultimate")
        self.widths = widths
        self.feature_dim = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gate1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = self.gate2(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return self.gate3(F.relu(self.fc1(x.flatten(1))))


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> LeNet:
    return LeNet(tuple(in_shape), params.widths, drop_layer, params.padding)
