"""ResNet-18 / ResNet-34 from torchvision (DropMax: ResNet-34 on CIFAR, ResNet-18 on AWA/CUB).

``stem="cifar"`` (default) replaces torchvision's 7x7 stride-2 conv and max-pool
with a 3x3 stride-1 conv and no pool (the usual CIFAR form); ``"imagenet"``
keeps torchvision's stem for larger images. The final ``fc`` is the
``drop_layer(512, "penultimate")`` gate (the classifier lives in the head), so
``forward`` returns the pooled 512-d features. With ``gate_every_block`` a
``drop_layer(C, "conv")`` follows the stem and every BasicBlock (our reading of
"Dropout++ after every layer"). Trained from scratch: no pretrained weights.
"""
from __future__ import annotations

from torch import nn
from torchvision.models import resnet18, resnet34

from trainables.contract import DropLayer
from trainables.models.params import ResnetParams as Params


def build(params: Params, in_shape: tuple[int, ...], num_classes: int, drop_layer: DropLayer) -> nn.Module:
    net = (resnet18 if params.depth == 18 else resnet34)(weights=None)
    if params.stem == "cifar":
        net.conv1 = nn.Conv2d(in_shape[0], 64, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.maxpool = nn.Identity()
    elif in_shape[0] != 3:
        net.conv1 = nn.Conv2d(in_shape[0], 64, 7, 2, 3, bias=False)
    gate = (lambda c: drop_layer(c, "conv")) if params.gate_every_block else (lambda c: nn.Identity())
    net.relu = nn.Sequential(nn.ReLU(inplace=True), gate(64))  # self.relu is only used by the stem
    for name in ("layer1", "layer2", "layer3", "layer4"):
        layer = getattr(net, name)
        mods: list[nn.Module] = []
        for block in layer:
            mods += [block, gate(block.conv2.out_channels)]
        setattr(net, name, nn.Sequential(*mods))
    net.fc = drop_layer(512, "penultimate")
    net.feature_dim = 512
    return net
