"""Deterministic DropMax, a DropMax Table 1 baseline: deterministic attention trained with labels.

Same model as ``det_attention`` (logits = o + logsigmoid(a), in training and at
test), plus the supervised term of DropMax's label-encoding head:

    loss = mean_n CE(o + logsigmoid(a), y) + sum_k mean_n BCE(sigmoid(a)_k, onehot(y)_k)

with the DropMax authors' reductions (BCE a batch mean summed over the K
classes, logs as log(x + 1e-20)), coefficient 1. ``attention_weight_decay`` as in
``det_attention`` (default: the attention head is decayed like the rest).

The head is ``det_attention.AttentionHead`` given this module's pure loss
``det_dropmax_loss``. Precision: the BCE is computed from sigmoid(a) in float32
(a taken to float32 first): in bf16 sigmoid(7) rounds to 1 and the 1e-20 floor
gives a BCE term of 46 instead of 7.
"""
from __future__ import annotations

import torch

from trainables.contract import BuildContext, NoWeightDecay, Regularizer
from trainables.regularizers.det_attention import AttentionHead, attention_loss
from trainables.regularizers.dropmax import aux_loss
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import DetDropmaxParams as Params


def det_dropmax_loss(o: torch.Tensor, a: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy of the attention-weighted softmax + supervised BCE of the attentions, from the
    logits taken to float32; returns (loss, {"ce", "aux"})."""
    ce, terms = attention_loss(o, a, target)
    aux = aux_loss(torch.sigmoid(fp32(a)), target)
    return ce + aux, {**terms, "aux": aux}


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> AttentionHead:
    return AttentionHead(in_features, num_classes, params.attention_weight_decay, loss=det_dropmax_loss,
                         prefix="det_dropmax")


PLUGIN = Regularizer(name="det_dropmax", kind="head", params=Params, build_head=build_head, hooks=(NoWeightDecay,))
