"""Sampled softmax with a uniform proposal (Jean et al., ACL 2015), a DropMax Table 1 baseline.

Training, per example n: keep the target y_n plus m non-target classes drawn
uniformly without replacement; cross-entropy over the kept classes only:

    loss = mean_n -log e^{o_y} / sum_{k in S_n} e^{o_k}

(the uniform proposal's log Q(k) correction is a constant and cancels). Test:
the full softmax over all K classes.

The paper (DropMax, Sec. 4) tunes "the number of sampled classes among {20%,
40%, 60%} of total classes, while the target class is always selected". Field
``count_over`` says what ``fraction`` counts:

    total       (default, the paper's reading) the kept set, target included, has
                round(fraction * K) classes: m = max(round(fraction * K), 1) - 1
                non-targets (K = 10, fraction 0.4: the target + 3 others);
    non_target  the other reading: m = round(fraction * (K - 1)) non-targets plus
                the target (K = 10, fraction 0.4: the target + 4 others).

Both keep every class at fraction 1 (the full softmax). ``fraction`` in (0, 1];
counts round half to even (Python's ``round``). The subset is drawn vectorised:
uniform scores, top-m over non-targets. Precision: the scores are float32 and
the cross-entropy is computed from o taken to float32, also under bf16 autocast.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import BuildContext, HeadOutput, Regularizer
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import SampledSoftmaxParams as Params


def num_sampled(num_classes: int, fraction: float, count_over: str = "total") -> int:
    """Non-target classes kept per example (see the module docstring)."""
    if count_over == "total":
        return max(round(fraction * num_classes), 1) - 1
    return round(fraction * (num_classes - 1))


def sample_keep_mask(target: torch.Tensor, num_classes: int, fraction: float, scores: torch.Tensor | None = None,
                     count_over: str = "total") -> torch.Tensor:
    """Bool (B, K): the target plus ``num_sampled`` uniformly chosen other classes per row."""
    m = num_sampled(num_classes, fraction, count_over)
    if scores is None:
        scores = torch.rand(target.shape[0], num_classes, device=target.device)
    onehot = F.one_hot(target, num_classes).bool()
    scores = scores.masked_fill(onehot, -1.0)  # never among the sampled non-targets
    keep = onehot.clone()
    if m > 0:
        keep.scatter_(1, scores.topk(m, dim=1).indices, True)
    return keep


def sampled_softmax_loss(o: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Batch mean of cross-entropy restricted to the kept classes, computed in float32."""
    return F.cross_entropy(fp32(o).masked_fill(~keep, float("-inf")), target)


class SampledSoftmaxHead(nn.Module):
    def __init__(self, params: Params, in_features: int, num_classes: int):
        super().__init__()
        self.fraction, self.count_over = params.fraction, params.count_over
        self.o = nn.Linear(in_features, num_classes)

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        o = self.o(h)
        if target is None:
            return HeadOutput(o, None, {})
        if self.training:
            keep = sample_keep_mask(target, o.shape[-1], self.fraction, count_over=self.count_over)
        else:
            keep = torch.ones_like(o, dtype=torch.bool)
        return HeadOutput(o.detach(), sampled_softmax_loss(o, target, keep), {})


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> SampledSoftmaxHead:
    return SampledSoftmaxHead(params, in_features, num_classes)


PLUGIN = Regularizer(name="sampled_softmax", kind="head", params=Params, build_head=build_head, hooks=())
