"""Vanilla (inverted) dropout as a gate layer: the baseline of papers 003 and 004.

    train: y = x * m / keep,  m ~ Bernoulli(keep);   eval: y = x

``keep`` is the keep probability (0, 1]. ``layers`` chooses where gates go:
``"all"`` (every gated position of the backbone) or ``"penultimate"`` (only the
layer feeding the classifier, the Malicious Dropout seed's placement).
Convolution positions drop whole feature maps (``nn.Dropout2d``) when
``per_channel`` is true, else single elements.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from trainables.regularizers.contract import BuildContext, DropLayer

KIND = "gate"


@dataclass(frozen=True)
class Params:
    keep: float = 0.5
    layers: str = "penultimate"
    per_channel: bool = False

    def __post_init__(self):
        if not 0.0 < self.keep <= 1.0:
            raise ValueError(f"keep must be in (0, 1], got {self.keep}")
        if self.layers not in ("all", "penultimate"):
            raise ValueError(f"layers must be 'all' or 'penultimate', got {self.layers!r}")


def layer_factory(params: Params, ctx: BuildContext) -> DropLayer:
    p = 1.0 - params.keep

    def make(num_features: int, kind: str) -> nn.Module:
        if params.layers == "penultimate" and kind != "penultimate":
            return nn.Identity()
        if kind == "conv" and params.per_channel:
            return nn.Dropout2d(p)
        return nn.Dropout(p)

    return make
