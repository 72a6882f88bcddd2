"""The ``Params`` of every model (the YAML's ``model.params``), torch-free.

One frozen dataclass per backbone; the registry (``trainables/models/__init__.py``) maps each
YAML name to its class here and to its implementation module (``trainables/models/<name>.py``,
which imports torch and re-exports its class as ``Params``), so that ``sweeper validate``
checks a spec without importing torch. ``__post_init__`` raises ``ValueError`` naming the
field and its valid range; ``Literal[...]`` fields list their valid values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LenetParams:
    widths: tuple[int, int, int] = (20, 50, 500)
    padding: Literal["valid", "same"] = "valid"

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (c1, c2, fc), got {list(self.widths)}")
        if self.padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {self.padding!r}")


@dataclass(frozen=True)
class MaldropCnnParams:
    depth: int = 10

    def __post_init__(self):
        if int(self.depth) < 1:
            raise ValueError(f"depth must be a positive int, got {self.depth}")


@dataclass(frozen=True)
class MlpParams:
    widths: tuple[int, ...] = (256, 256)

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive ints, got {list(self.widths)}")


@dataclass(frozen=True)
class ResnetParams:
    depth: int = 18
    stem: Literal["cifar", "imagenet"] = "cifar"
    gate_every_block: bool = True

    def __post_init__(self):
        if self.depth not in (18, 34):
            raise ValueError(f"depth must be 18 or 34, got {self.depth}")
        if self.stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {self.stem!r}")


@dataclass(frozen=True)
class ResnetCifarParams:
    depth: int = 20
    shortcut: Literal["A", "B"] = "A"
    width: int = 1  # channel multiplier: stages have 16w, 32w, 64w channels
    gate_every_block: bool = True

    def __post_init__(self):
        if self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 with n >= 1 (20, 32, 56, 110), got {self.depth}")
        if self.shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {self.shortcut!r}")
        if self.width < 1:
            raise ValueError(f"width must be >= 1, got {self.width}")


@dataclass(frozen=True)
class TfCnnParams:
    widths: tuple[int, int, int] = (32, 64, 1024)

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 3 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive ints (c1, c2, fc), got {list(self.widths)}")


@dataclass(frozen=True)
class Vgg16Params:
    hidden: int = 4096
    batch_norm: bool = True
    gate_every_layer: bool = True

    def __post_init__(self):
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
