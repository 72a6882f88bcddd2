"""Vanilla (inverted) dropout as a gate layer: the baseline of papers 003 and 004.

    train: y = x * m / keep,  m ~ Bernoulli(keep);   eval: y = x

``keep`` is the keep probability (0, 1]. ``layers`` chooses where gates go:
``"all"`` (every gated position of the backbone) or ``"penultimate"`` (only the
layer feeding the classifier, the Malicious Dropout seed's placement).
Convolution positions drop whole feature maps (``nn.Dropout2d``) when
``per_channel`` is true, else single elements.
"""
from __future__ import annotations

from torch import nn

from trainables.contract import BuildContext, DropLayer, Regularizer
from trainables.regularizers.params import DropoutParams as Params


def layer_factory(params: Params, ctx: BuildContext) -> DropLayer:
    p = 1.0 - params.keep

    def make(num_features: int, kind: str) -> nn.Module:
        if params.layers == "penultimate" and kind != "penultimate":
            return nn.Identity()
        if kind == "conv" and params.per_channel:
            return nn.Dropout2d(p)
        return nn.Dropout(p)

    return make


PLUGIN = Regularizer(name="dropout", kind="gate", params=Params, layer_factory=layer_factory, hooks=())
