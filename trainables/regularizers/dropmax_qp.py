"""DropMax (q = p), a DropMax Table 1 baseline: the mask is sampled from the prior itself.

Heads o = W_o h + b_o and ph = W_p h + b_p, p = sigmoid(ph); no label-encoding
head, no aux term. Training:

    z = sigmoid((logit(p) + logit(u)) / tau), u ~ U(0,1);  z_y = 1 exactly (q(z_t) = Ber(1))
    loss = mean_n CE(o + log(z + eps), y)
           + [target_kl] mean_n -log p_y          (KL[q || p] with q = p off the target)
           + gamma * sum_k mean_n [p log p + (1-p) log(1-p)]

Gradients reach p through the relaxed mask (reparameterisation; no stop-gradient,
q is p). Prediction: eq. 15, ``o + log(p + eps)``, or eq. 14 Monte Carlo with
``eval_mc_samples`` > 0 (as in ``dropmax``).

Choices: whether the target's -log p_y KL term is kept is not stated in the
paper: kept by default (it is what KL[q||p] gives with q(z_t) = Ber(1)),
``target_kl: false`` drops it. Weight decay skips the retain head by default,
as for DropMax (section 4.4); ``retain_weight_decay: true`` decays it.
Hyperparameters: gamma >= 0 (paper tunes {1, 0.1, 0.01}; default 0.1), tau > 0
(0.1), eps (1e-20). Logged: dropmax_qp_ce, _kl_target, _neg_entropy, _p_target,
_p_nontarget; artifact dropmax_qp_retain_per_class (as DropMax's Figure 4e).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from trainables.contract import (
    BuildContext, FinalArtifacts, HeadOutput, NoWeightDecay, OnBatchStart, Regularizer,
    SplitBatches,
)
from trainables.regularizers.dropmax import (
    RetainStats, concrete_mask, retain_on_test, log_eps, masked_cross_entropy, neg_entropy, predict_logits,
    target_split_means,
)
from trainables.regularizers.params import DropmaxQpParams as Params


def dropmax_qp_loss(
    o: torch.Tensor, ph: torch.Tensor, target: torch.Tensor, gamma: float, tau: float, target_kl: bool = True,
    u: torch.Tensor | None = None, eps: float = 1e-20,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The q = p objective; returns (loss, terms)."""
    p = torch.sigmoid(ph)
    z = concrete_mask(p, target, tau, u, eps)
    ce = masked_cross_entropy(o, z, target, eps)
    kl = -log_eps(p.gather(1, target[:, None]), eps).mean() if target_kl else torch.zeros((), dtype=o.dtype, device=o.device)
    ne = neg_entropy(p, eps)
    return ce + kl + gamma * ne, {"ce": ce, "kl_target": kl, "neg_entropy": ne}


class DropMaxQPHead(nn.Module):
    def __init__(self, params: Params, in_features: int, num_classes: int):
        super().__init__()
        self.params = params
        self.o = nn.Linear(in_features, num_classes)
        self.ph = nn.Linear(in_features, num_classes)
        self.stats = RetainStats(num_classes, "dropmax_qp")

    def no_weight_decay(self) -> list[nn.Parameter]:
        return [] if self.params.retain_weight_decay else list(self.ph.parameters())

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        prm = self.params
        o, ph = self.o(h), self.ph(h)
        p = torch.sigmoid(ph)
        logits = predict_logits(o, p, prm.eval_mc_samples, prm.eval_mc_seed, self.training, prm.eps)
        if target is None:
            return HeadOutput(logits, None, {})
        loss, terms = dropmax_qp_loss(o, ph, target, prm.gamma, prm.tau, prm.target_kl, eps=prm.eps)
        if self.training:
            self.stats.add(p, target)
        pt, pn = target_split_means(p, target)
        out = {f"dropmax_qp_{k}": v.detach() for k, v in terms.items()}
        out.update(dropmax_qp_p_target=pt, dropmax_qp_p_nontarget=pn)
        return HeadOutput(logits.detach(), loss, out)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> DropMaxQPHead:
    return DropMaxQPHead(params, in_features, num_classes)


def finalize(net: nn.Module, params: Params, test_batches: SplitBatches, device: torch.device,
             artifact_dir: Path) -> dict[str, float]:
    """Figure 4e over the test images (all and misclassified), as for DropMax."""
    return retain_on_test(net, test_batches, device, artifact_dir, "dropmax_qp")


PLUGIN = Regularizer(name="dropmax_qp", kind="head", params=Params, build_head=build_head,
                     hooks=(OnBatchStart, NoWeightDecay, FinalArtifacts), finalize=finalize)
