"""DropMax (Lee et al., NeurIPS 2018, "DropMax: Adaptive Variational Softmax"), the full method.

Three linear heads on the penultimate features h (B, D):

    o  = W_o h + b_o                 class logits
    ph = W_p h + b_p,  p = sigmoid(ph)          retain probabilities rho(x) = p(z|x)
    rh = W_r h + b_r,  r = sigmoid(rh)          label-encoding head (eq. 11)
    q  = sigmoid(stopgrad(ph) + rh)             approximate posterior (eq. 10)

Training (one sample per example, S = 1):

    z  = sigmoid((logit(q) + logit(u)) / tau),  u ~ U(0, 1)     binary concrete
    z_y = 1 exactly (q(z_t|x, y) = Ber(1), eq. 12; no gradient through it)
    ce  = mean_n CE(o + log(z + eps), y)        = -log (z_y+eps)e^{o_y} / sum_k (z_k+eps)e^{o_k}
    kl  = sum_k mean_n [ k == y: -log p_k ;  else: q log(q/p) + (1-q) log((1-q)/(1-p)) ]
    aux = sum_k mean_n BCE(r_k, onehot(y)_k)
    neg_entropy = sum_k mean_n [ p log p + (1-p) log(1-p) ]   (eq. 13, minimised)
    loss = ce + kl + aux + neg_entropy          (all coefficients 1)

These are the reductions of the authors' TensorFlow code (cross-entropy a batch
mean; the other terms batch means summed over the K classes); every log is
``log(x + 1e-20)`` as there. Because of the stop-gradient the classification
term never updates the retain head ``ph``; p is trained by the KL and entropy
terms only. Weight decay skips ``ph`` and ``rh`` (paper section 4.4) through
``no_weight_decay()``; the trunk and ``o`` get it from the training config.

Prediction: eq. 15 (default): ``logits = o + log(p + eps)``, i.e.
p(y|x) ~ (p_y + eps) e^{o_y}. Option ``eval_mc_samples = S > 0``: eq. 14,
p(y|x) = 1/S sum_s softmax(o + log(z_s + eps)) with hard z_s ~ Bernoulli(p); the
samples come from a generator re-seeded with ``eval_mc_seed`` at every call, so
evaluation stays deterministic.

Hyperparameters: ``tau`` > 0 (paper 0.1), ``eps`` in (0, 1e-3] (1e-20),
``eval_mc_samples`` >= 0.

Logged terms: dropmax_ce, dropmax_kl, dropmax_aux, dropmax_neg_entropy and the
mean retain probability of the target (dropmax_p_target) and of the other
classes (dropmax_p_nontarget). Figure 4e artifact: during each training epoch
the head sums p per target class in buffers (reset at the first batch of every
epoch), so after training ``final_artifacts()`` returns the K x K matrix of mean
retain probabilities per true class over the LAST training epoch (training
images: the head never sees labels at evaluation time). After training,
``finalize`` adds the same matrix over the TEST images, all of them and the
"hard" ones the model misclassifies (``retain_on_test``): once the training set
is fitted, the training-image matrix loses its class structure (at 200 epochs
on MNIST-1K every row is ~0.78 target / ~0.22 elsewhere), the held-out one
keeps it.

Precision (a choice): the three heads' outputs o, ph, rh are taken to float32
(``fp32.fp32``) before any sigmoid, log or sample, so under ``precision: bf16``
only the linear layers run in bf16 while p, q, r, the KL, aux and entropy terms,
the concrete-mask noise u and the cross-entropy are float32. In bf16 a sigmoid
of a logit above ~6.2 is exactly 1 and log(1 - p + 1e-20) = -46 (aux 49.0
instead of 10.05 for logits [7, -3]); float32 resolves 1 - p down to 6e-8,
i.e. logits up to ~17. The log-sigmoid form would also be stable but would
change the float32 arithmetic of the authors' ``log(x + 1e-20)``.

Structure: the pure functions below (shared by the DropMax family) compute the
objective; ``DropMaxHead`` is the one head of both DropMax and DropMax (q = p)
(``dropmax_qp.py``): linear layers, prediction and retain statistics, with the
variant's pure objective passed in (``objective`` here: ``dropmax_loss``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import (
    BuildContext,
    FinalArtifacts,
    HeadOutput,
    NoWeightDecay,
    OnBatchStart,
    Regularizer,
    SplitBatches,
)
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import DropmaxParams as Params

EPS = 1e-20


# ---- pure functions (shared by the family) -------------------------------------------------


def log_eps(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """The authors' ``log(x + 1e-20)``."""
    return torch.log(x + eps)


def concrete_mask(
    prob: torch.Tensor, target: torch.Tensor, tau: float, u: torch.Tensor | None = None, eps: float = EPS
) -> torch.Tensor:
    """Binary-concrete relaxed Bernoulli(prob) sample, with the target's entry forced to exactly 1.

    ``z = sigmoid((logit(prob) + logit(u)) / tau)``; ``u`` may be given (tests), else U(0, 1).
    """
    prob = fp32(prob)
    if u is None:
        u = torch.rand_like(prob)
    logit = lambda x: log_eps(x, eps) - log_eps(1 - x, eps)  # noqa: E731
    z = torch.sigmoid((logit(prob) + logit(u)) / tau)
    return force_target(z, target)


def force_target(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``z`` with column ``target[n]`` of row n set to exactly 1 (no gradient through that entry)."""
    onehot = F.one_hot(target, z.shape[-1]).bool()
    return torch.where(onehot, torch.ones_like(z), z)


def masked_cross_entropy(o: torch.Tensor, z: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Batch mean of -log[(z_y+eps) e^{o_y} / sum_k (z_k+eps) e^{o_k}], computed as CE(o + log(z+eps))."""
    return F.cross_entropy(fp32(o) + log_eps(fp32(z), eps), target)


def dropmax_kl(p: torch.Tensor, q: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """KL(q || p) of eq. 12's posterior: target -log p_y; others Bernoulli KL. Batch mean, summed over K."""
    onehot = F.one_hot(target, p.shape[-1]).bool()
    nontarget = q * (log_eps(q, eps) - log_eps(p, eps)) + (1 - q) * (log_eps(1 - q, eps) - log_eps(1 - p, eps))
    kl = torch.where(onehot, -log_eps(p, eps), nontarget)
    return kl.mean(0).sum()


def aux_loss(r: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 11: binary cross-entropy of r against onehot(y). Batch mean, summed over K."""
    onehot = F.one_hot(target, r.shape[-1]).bool()
    return torch.where(onehot, -log_eps(r, eps), -log_eps(1 - r, eps)).mean(0).sum()


def neg_entropy(p: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 13 negated: sum_k mean_n p log p + (1-p) log(1-p)."""
    return (p * log_eps(p, eps) + (1 - p) * log_eps(1 - p, eps)).mean(0).sum()


def dropmax_loss(
    o: torch.Tensor, ph: torch.Tensor, rh: torch.Tensor, target: torch.Tensor, tau: float,
    u: torch.Tensor | None = None, eps: float = EPS,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The full DropMax objective from the three heads' logits; returns (loss, terms)."""
    o, ph, rh = fp32(o), fp32(ph), fp32(rh)
    p, r = torch.sigmoid(ph), torch.sigmoid(rh)
    q = torch.sigmoid(ph.detach() + rh)
    z = concrete_mask(q, target, tau, u, eps)
    terms = {
        "ce": masked_cross_entropy(o, z, target, eps),
        "kl": dropmax_kl(p, q, target, eps),
        "aux": aux_loss(r, target, eps),
        "neg_entropy": neg_entropy(p, eps),
    }
    return terms["ce"] + terms["kl"] + terms["aux"] + terms["neg_entropy"], terms


def retain_logits(o: torch.Tensor, p: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Eq. 15 prediction logits: softmax(o + log(p + eps)) = p(y | x, z = E[z])."""
    return o + log_eps(p, eps)


def mc_logits(o: torch.Tensor, p: torch.Tensor, samples: int, gen: torch.Generator | None, eps: float = EPS) -> torch.Tensor:
    """Eq. 14: log of the mean over ``samples`` hard masks z ~ Bernoulli(p) of softmax(o + log(z + eps))."""
    o, p = fp32(o), fp32(p)
    u = torch.rand((samples, *p.shape), generator=gen, device=p.device, dtype=p.dtype)
    z = (u < p).to(p.dtype)
    logp = F.log_softmax(o + log_eps(z, eps), dim=-1)
    return torch.logsumexp(logp, dim=0) - torch.log(torch.tensor(float(samples), dtype=p.dtype, device=p.device))


def predict_logits(o: torch.Tensor, p: torch.Tensor, mc_samples: int, mc_seed: int, training: bool,
                   eps: float = EPS) -> torch.Tensor:
    """Prediction logits: eq. 15 (``mc_samples == 0`` or training), else eq. 14 with a generator
    re-seeded with ``mc_seed`` on every call, so evaluation stays deterministic."""
    if mc_samples > 0 and not training:
        gen = torch.Generator(device=o.device).manual_seed(mc_seed)
        return mc_logits(o, p, mc_samples, gen, eps)
    return retain_logits(o, p, eps)


def target_split_means(p: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of p at the target entries and at the non-target entries (detached)."""
    onehot = F.one_hot(target, p.shape[-1]).to(p.dtype)
    p = p.detach()
    k = p.shape[-1]
    return (p * onehot).sum() / p.shape[0], (p * (1 - onehot)).sum() / (p.shape[0] * max(k - 1, 1))


# ---- module ------------------------------------------------------------------------------------


class RetainStats(nn.Module):
    """Per-true-class sums of retain probabilities over the current training epoch (Figure 4e)."""

    def __init__(self, num_classes: int, prefix: str):
        super().__init__()
        self.prefix = prefix
        self.register_buffer("p_sum", torch.zeros(num_classes, num_classes))
        self.register_buffer("count", torch.zeros(num_classes))

    def on_batch_start(self, epoch: int, batch: int) -> None:
        if batch == 0:
            self.p_sum.zero_()
            self.count.zero_()

    def add(self, p: torch.Tensor, target: torch.Tensor) -> None:
        self.p_sum.index_add_(0, target, p.detach().to(self.p_sum.dtype))
        self.count.index_add_(0, target, torch.ones_like(target, dtype=self.count.dtype))

    def final_artifacts(self) -> dict[str, object]:
        mean = (self.p_sum / self.count.clamp(min=1).unsqueeze(1)).cpu()
        return {
            f"{self.prefix}_retain_per_class": {
                "description": "mean retain probability p_k(x) (columns k) over training images of true class c "
                "(rows c), last training epoch (DropMax paper Figure 4e)",
                "mean_p": mean.tolist(),
                "count": self.count.cpu().tolist(),
            }
        }


Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, Any],
                     tuple[torch.Tensor, dict[str, torch.Tensor]]]


def objective(o: torch.Tensor, ph: torch.Tensor, rh: torch.Tensor | None, target: torch.Tensor,
              prm: Params) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Full DropMax's training objective for :class:`DropMaxHead`: :func:`dropmax_loss` with ``prm``'s tau, eps."""
    return dropmax_loss(o, ph, rh, target, prm.tau, eps=prm.eps)


class DropMaxHead(nn.Module):
    """The DropMax family's head, shared by DropMax and DropMax (q = p).

    Linear heads ``o``, ``ph`` and, with ``label_head``, ``rh`` on h; their outputs are taken to
    float32 (``fp32``) before anything else. Prediction: eq. 15 or eq. 14 (``predict_logits``).
    Training loss: the variant's pure ``objective(o, ph, rh, target, params) -> (loss, terms)``
    (rh is None without a label head); terms are logged as ``<prefix>_<name>``, with the mean
    retain probability of the target and of the other classes. ``decay_retain``: weight decay
    also on ph (and rh); otherwise they are excluded (paper section 4.4).
    """

    def __init__(self, params: Any, in_features: int, num_classes: int, *, prefix: str, objective: Objective,
                 label_head: bool, decay_retain: bool = False):
        super().__init__()
        self.params, self.prefix, self.objective, self.decay_retain = params, prefix, objective, decay_retain
        self.o = nn.Linear(in_features, num_classes)
        self.ph = nn.Linear(in_features, num_classes)
        self.rh = nn.Linear(in_features, num_classes) if label_head else None
        self.stats = RetainStats(num_classes, prefix)

    def no_weight_decay(self) -> list[nn.Parameter]:
        if self.decay_retain:
            return []
        return [*self.ph.parameters(), *(self.rh.parameters() if self.rh is not None else ())]

    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        prm = self.params
        o, ph = fp32(self.o(h)), fp32(self.ph(h))
        p = torch.sigmoid(ph)
        logits = predict_logits(o, p, prm.eval_mc_samples, prm.eval_mc_seed, self.training, prm.eps)
        if target is None:
            return HeadOutput(logits, None, {})
        rh = None if self.rh is None else self.rh(h)
        loss, terms = self.objective(o, ph, rh, target, prm)
        if self.training:
            self.stats.add(p, target)
        pt, pn = target_split_means(p, target)
        out = {f"{self.prefix}_{k}": v.detach() for k, v in terms.items()}
        out.update({f"{self.prefix}_p_target": pt, f"{self.prefix}_p_nontarget": pn})
        return HeadOutput(logits.detach(), loss, out)


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> DropMaxHead:
    return DropMaxHead(params, in_features, num_classes, prefix="dropmax", objective=objective, label_head=True)


@torch.no_grad()
def retain_on_test(net: nn.Module, test_batches: SplitBatches, device: torch.device, artifact_dir: Path,
                   prefix: str = "dropmax") -> dict[str, float]:
    """Figure 4e on held-out images, after the last epoch (the entry's ``finalize``).

    One pass over the test split: mean retain probability p_k(x) per true class
    c over all test images of class c, and over the "hard" ones, which the
    trained model itself misclassifies (our choice: the paper's hard instances
    are those its base softmax model gets wrong, which one trial does not
    have). Labels only group the rows; the head still predicts without them.
    Writes ``<prefix>_retain_per_class_test.json``; returns the mean target /
    non-target retain probability on all and on hard test images.
    """
    head = net.head
    net.eval()
    k = head.ph.out_features
    sums = {g: torch.zeros(k, k, dtype=torch.float64, device=device) for g in ("all", "hard")}
    counts = {g: torch.zeros(k, dtype=torch.float64, device=device) for g in ("all", "hard")}
    for x, y in test_batches():
        h = net.backbone(x)
        p = torch.sigmoid(head.ph(h)).double()
        wrong = head(h).logits.argmax(1) != y
        for g, keep in (("all", slice(None)), ("hard", wrong)):
            sums[g].index_add_(0, y[keep], p[keep])
            counts[g].index_add_(0, y[keep], torch.ones_like(y[keep], dtype=torch.float64))
    out, mats = {}, {}
    eye = torch.eye(k, dtype=torch.bool, device=device)
    for g in ("all", "hard"):
        mean = sums[g] / counts[g].clamp(min=1)[:, None]
        present = counts[g] > 0
        mats[g] = {"mean_p": mean.cpu().tolist(), "count": counts[g].cpu().tolist()}
        rows = mean[present]
        out[f"{prefix}_test_{g}_p_target"] = float(rows[eye[present]].mean()) if len(rows) else float("nan")
        out[f"{prefix}_test_{g}_p_nontarget"] = float(rows[~eye[present]].mean()) if len(rows) else float("nan")
    artifact_dir.mkdir(parents=True, exist_ok=True)
    (artifact_dir / f"{prefix}_retain_per_class_test.json").write_text(json.dumps({
        "description": "mean retain probability p_k(x) (columns k) over TEST images of true class c (rows c), "
        "after training (DropMax paper Figure 4e); 'hard' = test images the trained model misclassifies",
        **mats,
    }, indent=1))
    return out


def finalize(net: nn.Module, params: Params, test_batches: SplitBatches, device: torch.device,
             artifact_dir: Path) -> dict[str, float]:
    return retain_on_test(net, test_batches, device, artifact_dir, "dropmax")


PLUGIN = Regularizer(name="dropmax", kind="head", params=Params, build_head=build_head,
                     hooks=(OnBatchStart, NoWeightDecay, FinalArtifacts), finalize=finalize)
