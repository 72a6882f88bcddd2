"""Dropout++ (Srinivas & Babu, "Generalized Dropout", 2016; seed 003): learned Bernoulli gates.

Every gated unit (FC) or feature map / element (conv) i has a learned k_i:

    train:  y = x * theta,  theta ~ Bernoulli(clip(k)),  d theta / d k := 1 (straight-through,
            also through the clip, so gates sitting at 0 or 1 still receive gradient)
    eval:   y = x * clip(k)                      (re-scaling, no sampling)
    no inverted scaling in training (unlike vanilla dropout's x * m / keep)
    loss += prior_weight * sum_i [ -(alpha-1) log(k_i + eps) - (beta-1) log(1 - k_i + eps) ]
    after every optimiser step: k <- clamp(k, 0, 1)   (``after_optimizer_step`` hook)

``prior_weight`` defaults to 1/N_train: the paper's objective sums the data log
likelihood over N examples, the loop minimises a minibatch mean, so the Beta
prior is divided by N (the paper does not state this weight; it is a field).

Variants, chosen by the intended mode of Beta(alpha, beta) (field ``variant``):

    flat   alpha = beta = 1               no prior term at all, no hyperparameter
    0.5    alpha = beta = c   (c > 1)     mode 0.5; c -> inf is dropout at 0.5
    1      alpha = c, beta = 1            mode at k = 1 (pushes gates on)
    0      alpha = 1, beta = c            mode at k = 0 (pushes gates off)
    custom alpha, beta as given

c is ``concentration``. The paper's text swaps the (alpha, beta) labels of (0)
and (1) relative to its own objective; here they follow the intended mode, and
the (alpha, beta) used are reported each epoch (``dropout_pp_alpha/beta``).
SAL (alpha, beta < 1) lives in ``sal.py`` and reuses :class:`GDGate`.

Choices left open by the paper: gate k initialised to ``init`` (default 1.0,
the paper's fastest-training choice); k is excluded from weight decay;
convolution gates are per feature map (``conv_gates: channel``, one k per map,
one coin per map and example) or per element (``element``: k of shape
(C, H, W), created on the first forward pass); ``layers`` = ``all`` gates every
position the backbone offers, ``penultimate`` only the last hidden layer.
``eps`` (1e-6) keeps the log prior finite at k in {0, 1}.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from trainables.regularizers.contract import BuildContext, DropLayer
from trainables.regularizers.params import DropoutPpParams as Params

KIND = "gate"


def beta_params(p: Params) -> tuple[float, float]:
    """(alpha, beta) of the Beta hyperprior for a Dropout++ variant (by intended mode)."""
    c = p.concentration
    return {"flat": (1.0, 1.0), "0.5": (c, c), "1": (c, 1.0), "0": (1.0, c), "custom": (p.alpha, p.beta)}[p.variant]


# --- pure functions --------------------------------------------------------------------------------
def gd_gate(x: torch.Tensor, k: torch.Tensor, training: bool) -> torch.Tensor:
    """Generalized-dropout gate. ``k`` broadcasts against one example ``x[0]``.

    Training: x * theta, theta ~ Bernoulli(clip(k)) drawn per example, with
    d theta / d k = 1 (straight-through). Eval: x * clip(k).
    """
    kc = k.clamp(0.0, 1.0)
    if not training:
        return x * kc.to(x.dtype)
    shape = (x.shape[0],) + tuple(k.shape)
    mask = (torch.rand(shape, device=x.device) < kc.detach()).to(x.dtype)  # fp32 coins, also under bf16
    return x * (mask + (k - k.detach()).to(x.dtype))  # value = mask, gradient wrt k = 1


def beta_prior(k: torch.Tensor, alpha: float, beta: float, eps: float) -> torch.Tensor:
    """-log Beta(k; alpha, beta) up to a constant, summed: -(a-1) log(k+eps) - (b-1) log(1-k+eps)."""
    out = k.new_zeros(())
    if alpha != 1.0:
        out = out - (alpha - 1.0) * torch.log(k + eps).sum()
    if beta != 1.0:
        out = out - (beta - 1.0) * torch.log(1.0 - k + eps).sum()
    return out


# --- modules -----------------------------------------------------------------------------------------
class GDGate(nn.Module):
    """A Dropout++ / SAL gate over ``num_features`` units or feature maps (see module docstring)."""

    def __init__(self, num_features: int, kind: str, alpha: float, beta: float, init: float,
                 prior_weight: float, eps: float, threshold: float, prefix: str, index: int):
        super().__init__()
        self.kind, self.alpha, self.beta, self.init = kind, float(alpha), float(beta), float(init)
        self.prior_weight, self.eps, self.threshold = float(prior_weight), float(eps), float(threshold)
        self.prefix, self.index, self.num_features = prefix, index, num_features
        shape = (num_features, 1, 1) if kind == "conv" else (num_features,)
        self.k = nn.Parameter(torch.full(shape, self.init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gd_gate(x, self.k, self.training)

    def unit_k(self) -> torch.Tensor:
        """k per unit / feature map (an element gate averages its map), clipped, detached."""
        k = self.k.detach().clamp(0, 1)
        return k.flatten(1).mean(1) if k.dim() > 1 else k

    # hooks called by the training loop (contract.py)
    def after_optimizer_step(self) -> None:
        if not isinstance(self.k, UninitializedParameter):
            with torch.no_grad():
                self.k.clamp_(0.0, 1.0)

    def penalty(self) -> torch.Tensor:
        if (self.alpha == 1.0 and self.beta == 1.0) or self.prior_weight == 0.0:
            return torch.zeros((), device=self.k.device)  # flat: no prior term
        return self.prior_weight * beta_prior(self.k, self.alpha, self.beta, self.eps)

    def no_weight_decay(self) -> list[nn.Parameter]:
        return [self.k]

    def reset_gates(self) -> None:
        if not isinstance(self.k, UninitializedParameter):
            with torch.no_grad():
                self.k.fill_(self.init)

    def epoch_metrics(self) -> dict[str, float]:
        if isinstance(self.k, UninitializedParameter):
            return {}
        k = self.k.detach().clamp(0, 1)
        i, p = self.index, self.prefix
        return {
            f"{p}_k_mean_{i}": float(k.mean()),
            f"{p}_active_{i}": float((self.unit_k() > self.threshold).sum()),
            f"{p}_alpha": self.alpha,
            f"{p}_beta": self.beta,
        }


class GDElementGate(LazyModuleMixin, GDGate):
    """Per-element conv gate: k has the shape (C, H, W) of one feature map stack, made on first use."""

    def __init__(self, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lazy modules are a new feature" notice
            super().__init__(*args, **kwargs)
        self.k = UninitializedParameter()

    def initialize_parameters(self, x: torch.Tensor) -> None:
        if self.has_uninitialized_params():
            with torch.no_grad():
                self.k.materialize(tuple(x.shape[1:]), device=x.device, dtype=x.dtype)
                self.k.fill_(self.init)


def make_gate(num_features: int, kind: str, alpha: float, beta: float, p, ctx: BuildContext,
              prefix: str, index: int, element: bool = False) -> GDGate:
    """A gate for Dropout++ / SAL Params ``p`` (fields init, prior_weight, eps, threshold)."""
    weight = 1.0 / ctx.n_train if p.prior_weight is None else p.prior_weight
    kind = "conv" if kind == "conv" else "fc"
    cls = GDElementGate if kind == "conv" and element else GDGate
    return cls(num_features, kind, alpha, beta, p.init, weight, p.eps, p.threshold, prefix, index)


def layer_factory(params: Params, ctx: BuildContext) -> DropLayer:
    alpha, beta = beta_params(params)
    count = [0]

    def make(num_features: int, kind: str) -> nn.Module:
        if params.layers == "penultimate" and kind != "penultimate":
            return nn.Identity()
        count[0] += 1
        return make_gate(num_features, kind, alpha, beta, params, ctx, "dropout_pp", count[0],
                         element=params.conv_gates == "element")

    return make
