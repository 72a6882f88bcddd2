"""Random DropMax ("class dropout"), a DropMax Table 1 baseline.

Training: z_k ~ Bernoulli(rho) for the non-target classes, z_y = 1 (the target
is never dropped), and the masked softmax of DropMax

    loss = mean_n CE(o + log(z + eps), y)  = -log (z_y+eps) e^{o_y} / sum_k (z_k+eps) e^{o_k}

(the masked *exponentials*, not summed logits). Test: plain softmax(o), no masks.
``rho`` is the fixed retain probability in (0, 1] (paper tunes {0.2, 0.4, 0.6});
rho = 1 is plain cross-entropy. ``eps`` as in DropMax (1e-20).
Precision: the mask and the masked cross-entropy are float32 (o taken to float32
by ``masked_cross_entropy``), also under bf16 autocast.
"""
from __future__ import annotations

import torch
from torch import nn

from trainables.contract import BuildContext, HeadOutput, Regularizer
from trainables.regularizers.dropmax import force_target, masked_cross_entropy
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import RandomDropmaxParams as Params


def random_mask(target: torch.Tensor, num_classes: int, rho: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """z (B, K): Bernoulli(rho) entries, the target's entry exactly 1."""
    z = (torch.rand(target.shape[0], num_classes, device=target.device) < rho).to(dtype)
    return force_target(z, target)


class RandomDropMaxHead(nn.Module):
    def __init__(self, params: Params, in_features: int, num_classes: int):
        super().__init__()
        self.params = params
        self.o = nn.Linear(in_features, num_classes)

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        o = self.o(h)
        if target is None:
            return HeadOutput(o, None, {})
        if self.training:
            z = random_mask(target, o.shape[-1], self.params.rho, fp32(o).dtype)
        else:
            z = torch.ones_like(o)
        return HeadOutput(o.detach(), masked_cross_entropy(o, z, target, self.params.eps), {})


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> RandomDropMaxHead:
    return RandomDropMaxHead(params, in_features, num_classes)


PLUGIN = Regularizer(name="random_dropmax", kind="head", params=Params, build_head=build_head, hooks=())
