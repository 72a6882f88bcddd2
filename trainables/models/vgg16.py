"""VGG-16 from torchvision with an input-size-aware classifier (CIFAR 32x32, Tiny ImageNet 64x64).

torchvision's VGG-16 conv stack (configuration "D", with BatchNorm when
``batch_norm``, the default):
13 conv layers, 5 max-pools, so a 32x32 input ends at 1x1x512 and a 64x64 input
at 2x2x512. torchvision's 7x7 adaptive pool is removed; the classifier is
flatten -> Linear(512*s*s, hidden) -> ReLU -> drop_layer(hidden, "fc") ->
Linear(hidden, hidden) -> ReLU -> drop_layer(hidden, "penultimate") -> h,
with ``hidden`` = 4096 by default (the Malicious Dropout seed's VGG16-Mal layer)
and 512 the usual CIFAR choice. torchvision's own Dropout layers are left out:
dropout is whatever gate the regularizer injects. With ``gate_every_layer`` a
``drop_layer(C, "conv")`` follows every conv ReLU (Generalized Dropout's
"VGG-like" net with Dropout++ after every layer).
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from trainables.contract import DropLayer
from trainables.models.params import Vgg16Params as Params


class VGG16(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], p: Params, drop_layer: DropLayer):
        super().__init__()
        c, h, w = in_shape
        if h < 32 or w < 32 or h % 32 or w % 32:
            raise ValueError(f"VGG-16 needs a height and width that are multiples of 32, got {(h, w)}")
        features = make_layers(cfgs["D"], batch_norm=p.batch_norm)  # torchvision's VGG-16 conv stack
        mods: list[nn.Module] = []
        channels = c
        for m in features:
            if isinstance(m, nn.Conv2d):
                if m.in_channels != channels:  # first conv on a non-RGB input
                    m = nn.Conv2d(channels, m.out_channels, 3, padding=1)
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # torchvision's VGG init
                nn.init.zeros_(m.bias)
                channels = m.out_channels
            mods.append(m)
            if isinstance(m, nn.ReLU) and p.gate_every_layer:
                mods.append(drop_layer(channels, "conv"))
        self.features = nn.Sequential(*mods)
        flat = 512 * (h // 32) * (w // 32)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, p.hidden), nn.ReLU(inplace=True), drop_layer(p.hidden, "fc"),
            nn.Linear(p.hidden, p.hidden), nn.ReLU(inplace=True), drop_layer(p.hidden, "penultimate"),
        )
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        self.feature_dim = p.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> VGG16:
    return VGG16(tuple(in_shape), params, drop_layer)
