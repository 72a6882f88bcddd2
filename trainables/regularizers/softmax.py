"""Base softmax (DropMax paper Table 1, "Base softmax"): a linear head and cross-entropy.

    o = W h + b,   loss = mean_n CE(o_n, y_n),   predict argmax softmax(o)

No hyperparameters. Weight decay (set in the training config) applies to
every parameter, as in the paper's baseline. Precision: the cross-entropy is
computed from the logits taken to float32 (``fp32.fp32``), also under bf16 autocast.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import BuildContext, HeadOutput, Regularizer
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import SoftmaxParams as Params


def softmax_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Batch mean of CE(logits, y), computed in float32."""
    return F.cross_entropy(fp32(logits), target)


class SoftmaxHead(nn.Module):
    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.o = nn.Linear(in_features, num_classes)

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        logits = self.o(h)
        loss = None if target is None else softmax_loss(logits, target)
        return HeadOutput(logits, loss, {})


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> SoftmaxHead:
    return SoftmaxHead(in_features, num_classes)


PLUGIN = Regularizer(name="softmax", kind="head", params=Params, build_head=build_head, hooks=())
