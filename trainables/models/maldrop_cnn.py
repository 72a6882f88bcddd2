"""The small CNN of the Malicious Dropout seed (section 4.3).

conv depth@3x3 (pad 1, stride 1), ReLU, spatial BatchNorm, conv 1@3x3 (pad 1),
ReLU, flatten -> drop_layer(H*W, "penultimate") -> h (B, H*W). The affine layer
(and Malicious Dropout, which needs its weights) lives in the head. The seed
fixes depth = 10; it is a Params field for completeness. The order ReLU then
BatchNorm is the seed's.
"""
from __future__ import annotations

import torch
from torch import nn

from trainables.contract import DropLayer
from trainables.models.params import MaldropCnnParams as Params


class MalDropCNN(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], depth: int, drop_layer: DropLayer):
        super().__init__()
        c, h, w = in_shape
        self.conv1 = nn.Conv2d(c, depth, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(depth)
        self.conv2 = nn.Conv2d(depth, 1, 3, padding=1)
        self.feature_dim = h * w
        self.gate = drop_layer(self.feature_dim, "penultimate")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(torch.relu(self.conv1(x)))
        return self.gate(torch.relu(self.conv2(x)).flatten(1))


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> MalDropCNN:
    return MalDropCNN(tuple(in_shape), int(params.depth), drop_layer)
