"""Deterministic attention, a DropMax Table 1 baseline.

An attention head a = W_a h + b_a next to the class logits o; sigmoid attentions
multiply the exponentials, in training and at test:

    p(y|x) = sigmoid(a_y) e^{o_y} / sum_k sigmoid(a_k) e^{o_k}
    logits = o + logsigmoid(a),   loss = mean_n CE(logits_n, y_n)   (cross-entropy only)

Choice: the paper removes weight decay from DropMax's retain head only; here the
attention head is an ordinary deterministic layer and gets the same weight
decay as the rest of the network by default (``attention_weight_decay: true``);
set it false to exclude it like DropMax's retain head.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import BuildContext, HeadOutput, NoWeightDecay, Regularizer
from trainables.regularizers.dropmax import aux_loss
from trainables.regularizers.params import DetAttentionParams as Params


def attention_logits(o: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """log of sigmoid(a) * e^o up to a constant: o + log sigmoid(a) (stable)."""
    return o + F.logsigmoid(a)


def attention_loss(o: torch.Tensor, a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(attention_logits(o, a), target)


class AttentionHead(nn.Module):
    """o and a heads; ``supervised`` adds Deterministic DropMax's BCE(sigmoid(a), onehot(y))."""

    def __init__(self, in_features: int, num_classes: int, attention_weight_decay: bool, supervised: bool = False, prefix: str = "det_attention"):
        super().__init__()
        self.o = nn.Linear(in_features, num_classes)
        self.a = nn.Linear(in_features, num_classes)
        self.decay_a = attention_weight_decay
        self.supervised = supervised
        self.prefix = prefix

    def no_weight_decay(self) -> list[nn.Parameter]:
        return [] if self.decay_a else list(self.a.parameters())

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        o, a = self.o(h), self.a(h)
        logits = attention_logits(o, a)
        if target is None:
            return HeadOutput(logits, None, {})
        ce = F.cross_entropy(logits, target)
        att = torch.sigmoid(a).detach()
        onehot = F.one_hot(target, o.shape[-1]).to(att.dtype)
        terms = {
            f"{self.prefix}_ce": ce.detach(),
            f"{self.prefix}_att_target": (att * onehot).sum() / att.shape[0],
            f"{self.prefix}_att_nontarget": (att * (1 - onehot)).sum() / (att.shape[0] * max(o.shape[-1] - 1, 1)),
        }
        loss = ce
        if self.supervised:
            sup = aux_loss(torch.sigmoid(a), target)
            terms[f"{self.prefix}_aux"] = sup.detach()
            loss = ce + sup
        return HeadOutput(logits.detach(), loss, terms)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> AttentionHead:
    return AttentionHead(in_features, num_classes, params.attention_weight_decay)


PLUGIN = Regularizer(name="det_attention", kind="head", params=Params, build_head=build_head, hooks=(NoWeightDecay,))
