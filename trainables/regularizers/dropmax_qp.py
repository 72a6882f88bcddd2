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

The head is DropMax's (``dropmax.DropMaxHead`` without the label head rh); this
module supplies its pure objective ``dropmax_qp_loss``. Precision as in DropMax:
o and ph are taken to float32 before the sigmoid, the mask noise and every
term, also under bf16 autocast.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from trainables.contract import (
    BuildContext,
    FinalArtifacts,
    NoWeightDecay,
    OnBatchStart,
    Regularizer,
    SplitBatches,
)
from trainables.regularizers.dropmax import (
    DropMaxHead,
    concrete_mask,
    log_eps,
    masked_cross_entropy,
    neg_entropy,
    retain_on_test,
)
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import DropmaxQpParams as Params


def dropmax_qp_loss(
    o: torch.Tensor, ph: torch.Tensor, target: torch.Tensor, gamma: float, tau: float, target_kl: bool = True,
    u: torch.Tensor | None = None, eps: float = 1e-20,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The q = p objective from the two heads' logits (taken to float32 first); returns (loss, terms)."""
    o, ph = fp32(o), fp32(ph)
    p = torch.sigmoid(ph)
    z = concrete_mask(p, target, tau, u, eps)
    ce = masked_cross_entropy(o, z, target, eps)
    kl = -log_eps(p.gather(1, target[:, None]), eps).mean() if target_kl else torch.zeros((), dtype=o.dtype, device=o.device)
    ne = neg_entropy(p, eps)
    return ce + kl + gamma * ne, {"ce": ce, "kl_target": kl, "neg_entropy": ne}


def objective(o: torch.Tensor, ph: torch.Tensor, rh: torch.Tensor | None, target: torch.Tensor,
              prm: Params) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The q = p variant's objective for the shared :class:`DropMaxHead` (no label head: ``rh`` is None)."""
    return dropmax_qp_loss(o, ph, target, prm.gamma, prm.tau, prm.target_kl, eps=prm.eps)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> DropMaxHead:
    return DropMaxHead(params, in_features, num_classes, prefix="dropmax_qp", objective=objective,
                       label_head=False, decay_retain=params.retain_weight_decay)


def finalize(net: nn.Module, params: Params, test_batches: SplitBatches, device: torch.device,
             artifact_dir: Path) -> dict[str, float]:
    """Figure 4e over the test images (all and misclassified), as for DropMax."""
    return retain_on_test(net, test_batches, device, artifact_dir, "dropmax_qp")


PLUGIN = Regularizer(name="dropmax_qp", kind="head", params=Params, build_head=build_head,
                     hooks=(OnBatchStart, NoWeightDecay, FinalArtifacts), finalize=finalize)
