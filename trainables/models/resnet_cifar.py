"""ResNet-20/32/56/110 for CIFAR (He et al. 2016, section 4.2), written compactly.

3x3 conv 16, BN, ReLU; three stages of n basic blocks at 16, 32, 64 channels
(stride 2 at the start of stages 2 and 3); global average pool -> h (B, 64).
depth = 6n + 2 (20, 32, 56, 110). Shortcuts: ``shortcut="A"`` (the paper's
CIFAR choice: identity, with a stride-2 subsample and zero-padded channels when
the shape changes; parameter-free) or ``"B"`` (1x1 conv + BN projection).

Gates (Generalized Dropout Table 2, "Dropout++ after every layer"): our choice
is one ``drop_layer(C, "conv")`` after the stem and after every residual block
(after its final ReLU), when ``gate_every_block``; always one
``drop_layer(64 * width, "penultimate")`` on the pooled features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import DropLayer
from trainables.models.params import ResnetCifarParams as Params


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, shortcut: str, gate: nn.Module):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = 0
        self.proj: nn.Module | None = None
        self.stride = stride
        if stride != 1 or cin != cout:
            if shortcut == "B":
                self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            else:
                self.pad = cout - cin
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.proj is not None:
            x = self.proj(x)
        elif self.stride != 1 or self.pad:
            x = x[:, :, :: self.stride, :: self.stride]
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return self.gate(F.relu(out + x))


class ResNetCIFAR(nn.Module):
    def __init__(self, in_ch: int, p: Params, drop_layer: DropLayer):
        super().__init__()
        n = (p.depth - 2) // 6
        widths = [16 * p.width, 32 * p.width, 64 * p.width]
        gate = (lambda c: drop_layer(c, "conv")) if p.gate_every_block else (lambda c: nn.Identity())
        self.stem = nn.Sequential(nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.stem_gate = gate(widths[0])
        blocks, cin = [], widths[0]
        for s, c in enumerate(widths):
            for i in range(n):
                blocks.append(Block(cin, c, 2 if (s > 0 and i == 0) else 1, p.shortcut, gate(c)))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.gate = drop_layer(cin, "penultimate")
        self.feature_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem_gate(self.stem(x)))
        return self.gate(x.mean((2, 3)))


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> ResNetCIFAR:
    return ResNetCIFAR(in_shape[0], params, drop_layer)
