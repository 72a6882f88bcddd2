"""Every registered backbone: forward/backward shapes with and without injected gates (on every
available device, in the default and the channels_last memory format); LeNet and mal-drop CNN
specifics; determinism of a whole trial under a seed (on every device)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables import models
from trainables.loop import set_tf32
from trainables.weight_init import glorot_

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
def test_forward_backward_shapes(name, gated, device):
    torch.manual_seed(0)
    if gated:
        factory, made = _gates()
    else:
        factory, made = (lambda n, kind: nn.Identity()), []
    net, in_shape = _build(name, factory)
    net = net.to(device)
    x = torch.randn(2, *in_shape, device=device)
    h = net(x)
    assert h.shape == (2, net.feature_dim) and h.device.type == device.type
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


def _count(net: nn.Module, skip: str = "\0") -> int:
    return sum(q.numel() for n, q in net.named_parameters() if skip not in n)


def test_resnet_cifar_counts_and_gates():
    mod = models.get("resnet_cifar")
    ident = lambda n, k: nn.Identity()  # noqa: E731
    # He et al. 2016 Table 6: ResNet-20 0.27M, -32 0.46M, -56 0.85M (the 10-way classifier adds 650)
    counts = [_count(mod.build(mod.Params(depth=d), (3, 32, 32), 10, ident)) + 650 for d in (20, 32, 56)]
    assert counts == [269_722, 464_154, 853_018]
    assert _count(mod.build(mod.Params(depth=20, shortcut="B"), (3, 32, 32), 10, ident)) > 269_722 - 650
    factory, made = _gates()
    net = mod.build(mod.Params(depth=32), (3, 8, 8), 10, factory)
    assert [g.n for g in made] == [16] * 6 + [32] * 5 + [64] * 5 + [64]  # stem + 15 blocks + penultimate
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 64)
    factory, made = _gates()
    mod.build(mod.Params(depth=20, gate_every_block=False), (3, 8, 8), 10, factory)
    assert [g.kind for g in made] == ["penultimate"]
    with pytest.raises(ValueError, match="6n\\+2"):
        mod.Params(depth=21)


def test_torchvision_resnet34_counts_and_gates():
    mod = models.get("resnet")
    factory, made = _gates()
    net = mod.build(mod.Params(depth=34), (3, 8, 8), 10, factory)
    assert [g.n for g in made] == [64] + [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3 + [512]
    # torchvision ResNet-34 (21,797,672) without its 1000-way fc, 3x3 CIFAR stem instead of 7x7
    assert _count(net, "gate") - sum(g.n for g in made) == 21_797_672 - 513_000 - 9_408 + 1_728
    assert isinstance(net.maxpool, nn.Identity) and net.conv1.stride == (1, 1)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 512)  # no down-sampling in the stem
    big = mod.build(mod.Params(depth=18, stem="imagenet"), (1, 64, 64), 10, lambda n, k: nn.Identity())
    assert big.conv1.kernel_size == (7, 7) and isinstance(big.maxpool, nn.MaxPool2d)
    assert big(torch.randn(2, 1, 64, 64)).shape == (2, 512)


def test_tf_cnn_count():
    mod = models.get("tf_cnn")
    net = mod.build(mod.Params(), (1, 28, 28), 10, lambda n, k: nn.Identity())
    # TensorFlow tutorial CNN on MNIST: 3,274,634 parameters with its 1024x10 classifier
    assert _count(net) + 1024 * 10 + 10 == 3_274_634


def test_vgg16_input_sizes_and_gates():
    mod = models.get("vgg16")
    conv = 14_723_136  # torchvision vgg16_bn().features
    factory, made = _gates()
    net = mod.build(mod.Params(hidden=32), (3, 64, 64), 10, factory)  # Tiny ImageNet size: 2x2x512 at the end
    assert [g.kind for g in made] == ["conv"] * 13 + ["fc", "penultimate"]
    assert _count(net) - sum(g.n for g in made) == conv + 2048 * 32 + 32 + 32 * 32 + 32
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 32)
    factory, made = _gates()
    net = mod.build(mod.Params(hidden=16, gate_every_layer=False), (3, 32, 32), 10, factory)  # CIFAR size: 1x1x512
    assert [g.kind for g in made] == ["fc", "penultimate"]
    assert _count(net) - 32 == conv + 512 * 16 + 16 + 16 * 16 + 16
    with pytest.raises(ValueError, match="multiples of 32"):
        mod.build(mod.Params(), (3, 28, 28), 10, factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_channels_last_gives_the_same_features(name, device):
    """NHWC weights and inputs (``train.channels_last``) compute the same function as NCHW."""
    set_tf32(False)  # float32 as a trial's fp32 runs it (TF32 convolutions differ by layout at ~1e-3)
    torch.manual_seed(0)
    net, in_shape = _build(name, lambda n, kind: nn.Identity())
    net = net.to(device).eval()
    x = torch.randn(4, *in_shape, device=device)
    with torch.no_grad():
        ref = net(x)
        net = net.to(memory_format=torch.channels_last)
        out = net(x.contiguous(memory_format=torch.channels_last))
    if any(p.dim() == 4 for p in net.parameters()):
        assert any(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                   for p in net.parameters() if p.dim() == 4)
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-5), (out - ref).abs().max()


def _trial_losses(seed: int, model: str = "lenet", params: dict | None = None, device: str = "cpu") -> list[float]:
    from trainables.loop import Trainer
    from trainables.resolve import from_dict
    from trainables.trial import build, load_splits

    cfg = from_dict({
        "dataset": {"name": "digits"},
        "model": {"name": model, "params": params or {"padding": "same", "widths": (8, 16, 32)}},
        "regularizer": {"name": "dropout", "params": {"keep": 0.5, "layers": "all"}},
        "train": {"epochs": 2, "batch_size": 64, "lr": 1e-3},
        "seed": seed,
    })
    splits = load_splits(cfg)
    trainer = Trainer(build(cfg, splits), splits, cfg.train, torch.device(device), cfg.seed)
    return [trainer.run_epoch()["train_loss"] for _ in range(2)] + [trainer.evaluate("test")["test_nll"]]


def test_same_seed_same_numbers(device):
    a, b, c = (_trial_losses(s, device=device.type) for s in (3, 3, 4))
    if device.type == "cpu":
        assert a == b  # bit-identical: data order, initialisation and dropout masks follow the seed
    else:  # CUDA kernels (conv backward, atomics) may reorder sums: same numbers up to rounding
        assert a == pytest.approx(b, rel=1e-4)
    assert a != c
    assert a[1] < a[0]  # and it learns


def test_augmented_epochs_follow_the_seed():
    from trainables.config import Section
    from trainables.data.splits import Splits
    from trainables.loop import TrainConfig, Trainer
    from trainables.resolve import trial_config
    from trainables.trial import build

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 8, 8, generator=g), torch.arange(96) % 4
    splits = Splits(x, y, x[:8], y[:8], x[:8], y[:8], 4, augment="crop_flip")

    def losses(seed: int) -> list[float]:
        cfg = trial_config(Section("digits"), Section("resnet_cifar", {"depth": 8}), Section("dropout", {"layers": "all"}),
                           TrainConfig(epochs=2, batch_size=32), seed=seed)
        trainer = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), seed)
        return [trainer.train_epoch()["train_loss"] for _ in range(2)]

    assert losses(1) == losses(1) != losses(2)
