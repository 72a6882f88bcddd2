"""Sparsemax (Martins & Astudillo, ICML 2016), a DropMax Table 1 baseline.

    o = W h + b
    sparsemax(o) = argmin_{p in simplex} ||p - o||^2      (Euclidean projection)
    loss = mean_n L_sparsemax(o_n, y_n),  L = -o_y + 1/2 sum_{j in S(o)} (o_j^2 - tau(o)^2) + 1/2
    dL/do = sparsemax(o) - onehot(y)                         (Fenchel-Young loss)

Trained with the sparsemax loss, never with cross-entropy on sparsemax outputs.
Both come from the maintained ``entmax`` package. Prediction: argmax(o)
(= argmax sparsemax(o)).

Choice (metrics): the predictive distribution sparsemax(o) has exact zeros, so
its NLL is infinite whenever the target gets zero mass. The head's prediction
logits are ``log(sparsemax(o) + nll_floor)``: argmax and ECE are those of
sparsemax(o) (up to the floor), NLL is finite and large for confidently wrong
zero-mass predictions. ``nll_floor`` in (0, 0.1], default 1e-6.

Precision: o is taken to float32 (``fp32.fp32``) and sparsemax and its loss run
with autocast off (entmax's loss uses ``einsum``, which autocast would run in
bf16), so under bf16 autocast only the linear layer runs in bf16.
"""
from __future__ import annotations

import torch
from entmax import sparsemax as _sparsemax
from entmax import sparsemax_loss as _sparsemax_loss
from torch import nn

from trainables.contract import BuildContext, HeadOutput, Regularizer
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import SparsemaxParams as Params


def sparsemax(o: torch.Tensor) -> torch.Tensor:
    """Row-wise sparsemax (entmax implementation), in float32 or float64 with autocast off."""
    with torch.autocast(o.device.type, enabled=False):
        return _sparsemax(fp32(o), dim=-1)


def sparsemax_loss(o: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Batch mean of the sparsemax loss (entmax implementation), in float32 or float64 with autocast off
    (entmax's loss takes its inner product with ``einsum``, which autocast would run in bf16)."""
    with torch.autocast(o.device.type, enabled=False):
        return _sparsemax_loss(fp32(o), target).mean()


class SparsemaxHead(nn.Module):
    def __init__(self, params: Params, in_features: int, num_classes: int):
        super().__init__()
        self.floor = params.nll_floor
        self.o = nn.Linear(in_features, num_classes)

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        o = self.o(h)
        logits = torch.log(sparsemax(o) + self.floor)
        loss = None if target is None else sparsemax_loss(o, target)
        return HeadOutput(logits if target is None else logits.detach(), loss, {})


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> SparsemaxHead:
    return SparsemaxHead(params, in_features, num_classes)


PLUGIN = Regularizer(name="sparsemax", kind="head", params=Params, build_head=build_head, hooks=())
