"""The ``Params`` of every model (the YAML's ``model.params``), torch-free.

One frozen dataclass per backbone; the registry (``trainables/models/__init__.py``) maps each
YAML name to its class here and to its implementation module (``trainables/models/<name>.py``,
which imports torch and re-exports its class as ``Params``), so that ``sweeper validate``
checks a spec without importing torch. Each field is declared once, ``param(default, valid, doc)``
(``trainables/paramdoc.py``: ``check`` enforces the valid range, ``sweeper show model NAME`` prints
it); ``__post_init__`` runs ``check(self)`` and then the rules one interval cannot state (a list of
widths, a depth of the form 6n + 2), raising ``ValueError`` naming the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trainables.paramdoc import check, param


@dataclass(frozen=True)
class LenetParams:
    widths: tuple[int, int, int] = param(
        (20, 50, 500), "three integers >= 1",
        "(c1, c2, fc): channels of the two 5x5 convolutions and units of the hidden FC layer (the paper's 20-50-500)",
    )
    padding: Literal["valid", "same"] = param(
        "valid", "",
        "convolution padding: valid (the original) or same (pad 2; runs on inputs smaller than 28x28, e.g. the 8x8 digits)",
    )

    def __post_init__(self):
        check(self)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (c1, c2, fc), got {list(self.widths)}")


@dataclass(frozen=True)
class MaldropCnnParams:
    depth: int = param(
        10, "[1, inf)",
        "channels of the first 3x3 convolution (the Malicious Dropout seed fixes 10)",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class MlpParams:
    widths: tuple[int, ...] = param(
        (256, 256), "one or more integers >= 1",
        "hidden layer widths, each Linear -> ReLU -> gate; the last one's output feeds the head",
    )

    def __post_init__(self):
        check(self)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive ints, got {list(self.widths)}")


@dataclass(frozen=True)
class ResnetParams:
    depth: int = param(
        18, "18 or 34",
        "torchvision ResNet-18 or ResNet-34, trained from scratch",
    )
    stem: Literal["cifar", "imagenet"] = param(
        "cifar", "",
        "cifar: a 3x3 stride-1 convolution and no max-pool (32x32 images); imagenet: torchvision's 7x7 "
        "stride-2 convolution and max-pool",
    )
    gate_every_block: bool = param(
        True, "",
        "a convolution gate after the stem and after every BasicBlock; false: only the penultimate 512-d gate",
    )

    def __post_init__(self):
        check(self)
        if self.depth not in (18, 34):
            raise ValueError(f"depth must be 18 or 34, got {self.depth}")


@dataclass(frozen=True)
class ResnetCifarParams:
    depth: int = param(
        20, "6n + 2 with n >= 1 (20, 32, 56, 110)",
        "He et al.'s CIFAR ResNet depth: three stages of n basic blocks",
    )
    shortcut: Literal["A", "B"] = param(
        "A", "",
        "A: identity with a stride-2 subsample and zero-padded channels (parameter-free, the paper's CIFAR "
        "choice); B: 1x1 convolution + BN projection",
    )
    width: int = param(
        1, "[1, inf)",
        "channel multiplier w: the stages have 16w, 32w, 64w channels",
    )  # channel multiplier: stages have 16w, 32w, 64w channels
    gate_every_block: bool = param(
        True, "",
        "a convolution gate after the stem and after every residual block; false: only the gate on the pooled features",
    )

    def __post_init__(self):
        check(self)
        if self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1 (20, 32, 56, 110), got {self.depth}")


@dataclass(frozen=True)
class TfCnnParams:
    widths: tuple[int, int, int] = param(
        (32, 64, 1024), "three integers >= 1",
        "(c1, c2, fc): channels of the two 5x5 same-padded convolutions and units of the hidden FC layer (the "
        "tutorial's 32-64-1024)",
    )

    def __post_init__(self):
        check(self)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (c1, c2, fc), got {list(self.widths)}")


@dataclass(frozen=True)
class Vgg16Params:
    hidden: int = param(
        4096, "[1, inf)",
        "units of the two hidden classifier layers (4096: the Malicious Dropout seed's VGG16-Mal; 512 is usual on CIFAR)",
    )
    batch_norm: bool = param(
        True, "",
        "BatchNorm after every convolution (torchvision's VGG-16 configuration D with BN)",
    )
    gate_every_layer: bool = param(
        True, "",
        "a convolution gate after every conv ReLU (Generalized Dropout's VGG-like net), besides the two classifier gates",
    )

    def __post_init__(self):
        check(self)
