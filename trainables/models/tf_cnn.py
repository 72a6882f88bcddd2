"""The TensorFlow-tutorial CNN used in the DropMax paper (Table 1, MNIST).

conv c1@5x5 (same), ReLU, maxpool 2 -> drop_layer(c1, "conv")
conv c2@5x5 (same), ReLU, maxpool 2 -> drop_layer(c2, "conv")
flatten, FC fc, ReLU                -> drop_layer(fc, "penultimate") -> h (B, fc)

``widths = (c1, c2, fc)`` defaults to (32, 64, 1024). The tutorial's dropout
before the last FC is the "penultimate" position (a gate regularizer, or none).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import DropLayer
from trainables.models.params import TfCnnParams as Params


class TFCNN(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], widths: tuple[int, int, int], drop_layer: DropLayer):
        super().__init__()
        c, h, w = in_shape
        c1, c2, fc = widths
        self.conv1 = nn.Conv2d(c, c1, 5, padding=2)
        self.gate1 = drop_layer(c1, "conv")
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
        self.gate2 = drop_layer(c2, "conv")
        if h < 4 or w < 4:
            raise ValueError(f"input {tuple(in_shape)} is too small for two 2x2 max-pools")
        self.fc1 = nn.Linear(c2 * (h // 4) * (w // 4), fc)
        self.gate3 = drop_layer(fc, "penultimate")
        self.feature_dim = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gate1(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = self.gate2(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return self.gate3(F.relu(self.fc1(x.flatten(1))))


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> TFCNN:
    return TFCNN(tuple(in_shape), params.widths, drop_layer)
