"""Deterministic DropMax, a DropMax Table 1 baseline: deterministic attention trained with labels.

Same model as ``det_attention`` (logits = o + logsigmoid(a), in training and at
test), plus the supervised term of DropMax's label-encoding head:

    loss = mean_n CE(o + logsigmoid(a), y) + sum_k mean_n BCE(sigmoid(a)_k, onehot(y)_k)

with the DropMax authors' reductions (BCE a batch mean summed over the K
classes, logs as log(x + 1e-20)), coefficient 1. ``attention_weight_decay`` as in
``det_attention`` (default: the attention head is decayed like the rest).
"""
from __future__ import annotations


import torch

from trainables.contract import BuildContext, NoWeightDecay, Regularizer
from trainables.regularizers.det_attention import AttentionHead, attention_loss
from trainables.regularizers.dropmax import aux_loss
from trainables.regularizers.params import DetDropmaxParams as Params


def det_dropmax_loss(o: torch.Tensor, a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the attention-weighted softmax + supervised BCE of the attentions."""
    return attention_loss(o, a, target) + aux_loss(torch.sigmoid(a), target)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> AttentionHead:
    return AttentionHead(in_features, num_classes, params.attention_weight_decay, supervised=True, prefix="det_dropmax")


PLUGIN = Regularizer(name="det_dropmax", kind="head", params=Params, build_head=build_head, hooks=(NoWeightDecay,))
