"""Every registered backbone: forward/backward shapes with and without injected gates; LeNet and
mal-drop CNN specifics; determinism of a whole trial under a seed."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables import models
from trainables.regularizers.contract import glorot_

# name -> (in_shape, params): small inputs keep the deep nets fast
CASES = {
    "mlp": ((1, 8, 8), {"widths": (16, 12)}),
    "lenet": ((1, 28, 28), {}),
    "maldrop_cnn": ((3, 32, 32), {}),
    "tf_cnn": ((1, 28, 28), {}),
    "resnet": ((3, 16, 16), {"depth": 18}),
    "resnet_cifar": ((3, 16, 16), {"depth": 20}),
    "vgg16": ((3, 32, 32), {"hidden": 64}),
}


class ScaleGate(nn.Module):
    """A real gate layer: a learnable per-feature (per-channel for conv) scale."""

    def __init__(self, n: int, kind: str):
        super().__init__()
        self.n, self.kind = n, kind
        self.k = nn.Parameter(torch.linspace(0.5, 1.5, n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == self.n, (x.shape, self.n, self.kind)
        return x * (self.k.view(1, -1, 1, 1) if x.dim() == 4 else self.k)


def _gates():
    made: list[ScaleGate] = []

    def factory(n: int, kind: str) -> nn.Module:
        assert kind in ("conv", "fc", "penultimate")
        made.append(ScaleGate(n, kind))
        return made[-1]

    return factory, made


def _build(name: str, drop_layer):
    in_shape, p = CASES[name]
    mod = models.get(name)
    return mod.build(mod.Params(**p), in_shape, 10, drop_layer), in_shape


def test_every_registered_model_has_a_case():
    assert set(CASES) == set(models.MODELS)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("gated", [False, True])
def test_forward_backward_shapes(name, gated):
    torch.manual_seed(0)
    if gated:
        factory, made = _gates()
    else:
        factory, made = (lambda n, kind: nn.Identity()), []
    net, in_shape = _build(name, factory)
    x = torch.randn(2, *in_shape)
    h = net(x)
    assert h.shape == (2, net.feature_dim)
    assert torch.isfinite(h).all()
    h.square().sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, pname
    if gated:
        kinds = [g.kind for g in made]
        assert kinds.count("penultimate") == 1 and kinds[-1] == "penultimate", kinds
        assert made[-1].n == net.feature_dim
        assert all(g.k.grad is not None and g.k.grad.abs().sum() > 0 for g in made)
    net.eval()
    assert torch.equal(net(x), net(x))


def test_lenet_layout_and_pruned_widths():
    factory, made = _gates()
    net, _ = _build("lenet", factory)
    assert [(g.n, g.kind) for g in made] == [(20, "conv"), (50, "conv"), (500, "penultimate")]
    assert net.gate1 is made[0] and net.gate2 is made[1] and net.gate3 is made[2]
    assert net.conv1.weight.shape == (20, 1, 5, 5) and net.conv2.weight.shape == (50, 20, 5, 5)
    assert net.fc1.weight.shape == (500, 800)
    # LeNet 20-50-500-10 has 431,080 parameters with its 10-way classifier (Generalized Dropout: "431k")
    assert sum(p.numel() for n, p in net.named_parameters() if not n.startswith("gate")) + 500 * 10 + 10 == 431_080
    small = models.get("lenet").build(models.get("lenet").Params(widths=(7, 13, 16)), (1, 28, 28), 10, lambda n, k: nn.Identity())
    assert small.fc1.weight.shape == (16, 13 * 16) and small(torch.zeros(2, 1, 28, 28)).shape == (2, 16)
    same = models.get("lenet").build(models.get("lenet").Params(padding="same"), (1, 8, 8), 10, lambda n, k: nn.Identity())
    assert same(torch.zeros(2, 1, 8, 8)).shape == (2, 500)
    with pytest.raises(ValueError, match="too small"):
        models.get("lenet").build(models.get("lenet").Params(), (1, 8, 8), 10, lambda n, k: nn.Identity())
    with pytest.raises(ValueError, match="widths"):
        models.get("lenet").Params(widths=(20, 0, 500))


def test_maldrop_cnn_layout():
    factory, made = _gates()
    net, _ = _build("maldrop_cnn", factory)
    assert [(g.n, g.kind) for g in made] == [(32 * 32, "penultimate")]
    assert net.conv1.weight.shape == (10, 3, 3, 3) and net.conv2.weight.shape == (1, 10, 3, 3)
    assert isinstance(net.bn1, nn.BatchNorm2d)
    h = net(torch.randn(4, 3, 32, 32))
    assert (h >= 0).all()  # ReLU precedes the dropout position


def test_glorot_applies_to_backbones():
    net, _ = _build("lenet", lambda n, k: nn.Identity())
    glorot_(net)
    assert torch.count_nonzero(net.fc1.bias) == 0
    bound = (6 / (800 + 500)) ** 0.5
    assert net.fc1.weight.abs().max() <= bound and net.fc1.weight.abs().max() > 0.9 * bound


def _count(name: str, in_shape, **p) -> int:
    mod = models.get(name)
    return sum(q.numel() for q in mod.build(mod.Params(**p), in_shape, 10, lambda n, k: nn.Identity()).parameters())


def test_parameter_counts_match_the_papers():
    # He et al. 2016 Table 6: ResNet-20 0.27M, -32 0.46M, -56 0.85M (the 10-way classifier adds 650)
    assert [_count("resnet_cifar", (3, 32, 32), depth=d) + 650 for d in (20, 32, 56)] == [269_722, 464_154, 853_018]
    assert _count("resnet_cifar", (3, 32, 32), depth=20, shortcut="B") > 269_722 - 650
    # torchvision ResNet-18 / 34 without fc, with the 3x3 CIFAR stem (9,408 - 1,728 fewer stem weights)
    assert _count("resnet", (3, 32, 32), depth=18) == 11_689_512 - 513_000 - 9_408 + 1_728
    assert _count("resnet", (3, 32, 32), depth=34) == 21_797_672 - 513_000 - 9_408 + 1_728
    # TensorFlow tutorial CNN on MNIST: 3,274,634 parameters with its 1024x10 classifier
    assert _count("tf_cnn", (1, 28, 28)) + 1024 * 10 + 10 == 3_274_634
    # VGG-16-BN conv stack (14,723,136 in torchvision's vgg16_bn features) + classifier sized by the input
    conv = 14_723_136
    assert _count("vgg16", (3, 32, 32), hidden=16) == conv + 512 * 16 + 16 + 16 * 16 + 16
    assert _count("vgg16", (3, 64, 64), hidden=16) == conv + 2048 * 16 + 16 + 16 * 16 + 16


def test_deep_nets_gate_positions():
    factory, made = _gates()
    mod = models.get("resnet_cifar")
    net = mod.build(mod.Params(depth=32), (3, 8, 8), 10, factory)
    assert [g.n for g in made] == [16] * 6 + [32] * 5 + [64] * 5 + [64]  # stem + 15 blocks + penultimate
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 64)
    factory, made = _gates()
    mod = models.get("resnet")
    mod.build(mod.Params(depth=34), (3, 8, 8), 10, factory)
    assert [g.n for g in made] == [64] + [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3 + [512]
    factory, made = _gates()
    net = models.get("vgg16").build(models.get("vgg16").Params(hidden=32), (3, 64, 64), 10, factory)
    assert [g.kind for g in made] == ["conv"] * 13 + ["fc", "penultimate"]
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 32)
    factory, made = _gates()
    models.get("vgg16").build(models.get("vgg16").Params(hidden=32, gate_every_layer=False), (3, 32, 32), 10, factory)
    assert [g.kind for g in made] == ["fc", "penultimate"]
