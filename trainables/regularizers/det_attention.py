"""Deterministic attention, a DropMax Table 1 baseline.

An attention head a = W_a h + b_a next to the class logits o; sigmoid attentions
multiply the exponentials, in training and at test:

    p(y|x) = sigmoid(a_y) e^{o_y} / sum_k sigmoid(a_k) e^{o_k}
    logits = o + logsigmoid(a),   loss = mean_n CE(logits_n, y_n)   (cross-entropy only)

Choice: the paper removes weight decay from DropMax's retain head only; here the
attention head is an ordinary deterministic layer and gets the same weight
decay as the rest of the network by default (``attention_weight_decay: true``);
set it false to exclude it like DropMax's retain head.

The head (``AttentionHead``, shared with ``det_dropmax``) trains on the pure loss it
is given (here ``attention_loss``). Precision: o and a are taken to float32
(``fp32.fp32``) before logsigmoid, sigmoid and the cross-entropy, so under bf16
autocast only the two linear layers run in bf16.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import BuildContext, HeadOutput, NoWeightDecay, Regularizer
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import DetAttentionParams as Params

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def attention_logits(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """log of sigmoid(a) * e^o up to a constant: o + log sigmoid(a) (stable)."""
    return o + F.logsigmoid(a)


def attention_loss(o: torch.Tensor, a: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Batch mean of CE(o + logsigmoid(a), y), from the logits taken to float32; returns (loss, {"ce": loss})."""
    ce = F.cross_entropy(attention_logits(fp32(o), fp32(a)), target)
    return ce, {"ce": ce}


class AttentionHead(nn.Module):
    """Linear heads o and a; prediction logits o + logsigmoid(a) (float32); training loss the
    regularizer's pure ``loss(o, a, target) -> (loss, terms)`` (:func:`attention_loss`, or
    Deterministic DropMax's with its supervised BCE). Logged: ``<prefix>_<term>`` and the mean
    attention sigmoid(a) of the target and of the other classes."""

    def __init__(self, in_features: int, num_classes: int, attention_weight_decay: bool, loss: Loss = attention_loss,
                 prefix: str = "det_attention"):
        super().__init__()
        self.o = nn.Linear(in_features, num_classes)
        self.a = nn.Linear(in_features, num_classes)
        self.decay_a = attention_weight_decay
        self.loss = loss
        self.prefix = prefix

    def no_weight_decay(self) -> list[nn.Parameter]:
        return [] if self.decay_a else list(self.a.parameters())

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        o, a = self.o(h), self.a(h)
        logits = attention_logits(fp32(o), fp32(a))
        if target is None:
            return HeadOutput(logits, None, {})
        loss, parts = self.loss(o, a, target)
        att = torch.sigmoid(fp32(a)).detach()
        onehot = F.one_hot(target, o.shape[-1]).to(att.dtype)
        terms = {
            f"{self.prefix}_ce": parts["ce"].detach(),
            f"{self.prefix}_att_target": (att * onehot).sum() / att.shape[0],
            f"{self.prefix}_att_nontarget": (att * (1 - onehot)).sum() / (att.shape[0] * max(o.shape[-1] - 1, 1)),
        }
        terms.update({f"{self.prefix}_{k}": v.detach() for k, v in parts.items() if k != "ce"})
        return HeadOutput(logits.detach(), loss, terms)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> AttentionHead:
    return AttentionHead(in_features, num_classes, params.attention_weight_decay)


PLUGIN = Regularizer(name="det_attention", kind="head", params=Params, build_head=build_head, hooks=(NoWeightDecay,))
