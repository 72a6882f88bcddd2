"""MLP backbone: Linear -> ReLU -> gate, for each hidden width.

The last hidden layer's gate is called with kind ``"penultimate"``; its output
``h`` (B, widths[-1]) feeds the regularizer's head.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from trainables.contract import DropLayer
from trainables.models.params import MlpParams as Params


class MLP(nn.Module):
    def __init__(self, in_features: int, widths: tuple[int, ...], drop_layer: DropLayer):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        prev = in_features
        for i, w in enumerate(widths):
            kind = "penultimate" if i == len(widths) - 1 else "fc"
            layers += [nn.Linear(prev, w), nn.ReLU(), drop_layer(w, kind)]
            prev = w
        self.net = nn.Sequential(*layers)
        self.feature_dim = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> MLP:
    return MLP(math.prod(in_shape), params.widths, drop_layer)
