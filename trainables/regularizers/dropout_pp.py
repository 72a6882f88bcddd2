"""Dropout++ (Srinivas & Babu, "Generalized Dropout", 2016; seed 003): learned Bernoulli gates.

Every gated unit (FC) or element (conv, Sec. 2.6; per feature map on request) i has a learned k_i:

    train:  y = x * theta,  theta ~ Bernoulli(clip(k)),  d theta / d k := 1 (straight-through,
            also through the clip, so gates sitting at a bound still receive gradient)
    eval:   y = x * clip(k)                      (re-scaling, no sampling)
    no inverted scaling in training (unlike vanilla dropout's x * m / keep)
    loss += prior_weight * sum_i [ -(alpha-1) log(k_i) - (beta-1) log(1 - k_i) ]
    after every optimiser step: k <- clamp(k, k_lo, k_hi)   (``after_optimizer_step`` hook)

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

Range of k and ``eps`` (a choice, the paper leaves it open). With beta != 1 the
prior term -(beta-1) log(1-k) is infinite at k = 1, the paper's recommended
start; with alpha != 1, -(alpha-1) log k is infinite at k = 0. A ``log(1-k+eps)``
with a tiny eps (formerly 1e-6) made the first gradient at k = 1 equal to
(beta-1) * prior_weight / eps (~4,000 per gate for c = 5, N = 1,000): Adam's
second-moment estimate keeps that spike for thousands of steps, so every later
step is tiny and the gates froze near 0.999 whatever the prior (the variants
then compared gates that never learned). Here instead k is kept in
[k_lo, k_hi], k_lo = eps where alpha != 1 (else 0) and k_hi = 1 - eps where
beta != 1 (else 1): the initial value is clamped into that range (``init`` 1.0
starts at 1 - eps) and so is k after every optimiser step, and the prior uses
the exact logs on it. The prior's gradient is then bounded:

    |d prior / d k_i| <= prior_weight * (|alpha - 1| + |beta - 1|) / eps

(0.4 per gate for c = 5, N = 1,000, eps = 0.01). eps = 0.01 (default) is ten
times Adam's usual per-step move (lr 1e-3), so the prior's gradient changes by
under 10 % over one step and no single gradient dwarfs the ones that follow;
it also caps the prior's pull at the edges (gates stay in [0.01, 0.99] when a
prior is on, i.e. at most 1 % of units are dropped at the upper bound). The
flat variant has no prior and keeps the paper's [0, 1].

Choices left open by the paper: gate k initialised to ``init`` (default 1.0,
the paper's fastest-training choice); k is excluded from weight decay;
``layers`` = ``all`` gates every position the backbone offers, ``penultimate``
only the last hidden layer. Convolution gates: the paper's Sec. 2.6 follows
classical dropout, "k x k x n Bernoulli random variables" for a k x k x n
feature map, so the default ``conv_gates: element`` learns one k per element
(k of shape (C, H, W), created on the first forward pass, in float32 also
under bf16 autocast) with one float32 coin per element and example; ``channel`` (one k and one coin per feature map) is what
architecture selection uses (SAL, ``sal.py``) and is selectable here.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from trainables.contract import (
    AfterOptimizerStep,
    BuildContext,
    DropLayer,
    EpochMetrics,
    FinalArtifacts,
    NoWeightDecay,
    Penalty,
    Regularizer,
    ResetGates,
)
from trainables.regularizers.params import DropoutPpParams as Params

GATE_HIST_BINS = 20  # bins over [0, 1] of the stored gate-value histogram (final_artifacts)


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


def k_range(alpha: float, beta: float, eps: float) -> tuple[float, float]:
    """Dropout++'s range of k: [eps, 1 - eps] on each side where the prior's log term is singular."""
    return (eps if alpha != 1.0 else 0.0), (1.0 - eps if beta != 1.0 else 1.0)


def beta_prior(k: torch.Tensor, alpha: float, beta: float, eps: float) -> torch.Tensor:
    """-log Beta(k; alpha, beta) up to a constant, summed: -(a-1) log(k+eps) - (b-1) log(1-k+eps).

    Dropout++ calls it with eps = 0 on k kept in :func:`k_range` (exact logs); SAL with its small eps."""
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
                 prior_weight: float, eps: float, threshold: float, prefix: str, index: int,
                 bounds: tuple[float, float] = (0.0, 1.0)):
        """``eps`` is added inside the prior's logs; ``bounds`` is the range k is clamped to
        (initial value included): Dropout++ passes eps = 0 and :func:`k_range`, SAL 1e-6 and [0, 1]."""
        super().__init__()
        self.lo, self.hi = float(bounds[0]), float(bounds[1])
        self.kind, self.alpha, self.beta = kind, float(alpha), float(beta)
        self.init = min(max(float(init), self.lo), self.hi)
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
                self.k.clamp_(self.lo, self.hi)

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


    def final_artifacts(self) -> dict[str, object]:
        """This layer's gate values after training: k per unit / map, and a histogram of every k."""
        if isinstance(self.k, UninitializedParameter):
            return {}
        k = self.k.detach().clamp(0, 1).float().cpu()
        count = torch.histc(k.flatten(), bins=GATE_HIST_BINS, min=0.0, max=1.0)
        return {f"{self.prefix}_gates_{self.index}": {
            "description": "gate values k after training (clipped to [0, 1]): k_unit per unit / feature map "
            "(an element gate averages its map), hist_count over hist_edges for every k",
            "layer": self.index, "kind": self.kind, "shape": list(k.shape),
            "k_unit": self.unit_k().float().cpu().tolist(),
            "hist_edges": [i / GATE_HIST_BINS for i in range(GATE_HIST_BINS + 1)],
            "hist_count": [int(c) for c in count.tolist()],
        }}


class GDElementGate(LazyModuleMixin, GDGate):
    """Per-element conv gate: k has the shape (C, H, W) of one feature map stack, made on first use.

    k is made in the parameter's own dtype (float32, or what ``.to()`` set before the first use),
    never the input's: the first forward runs under bf16 autocast when ``precision: bf16``, and k
    and its optimizer state must stay float32 there (a bf16 k near 1 cannot take Adam's 1e-3 steps).
    """

    def __init__(self, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "lazy modules are a new feature" notice
            super().__init__(*args, **kwargs)
        self.k = UninitializedParameter()

    def initialize_parameters(self, x: torch.Tensor) -> None:
        if self.has_uninitialized_params():
            with torch.no_grad():
                self.k.materialize(tuple(x.shape[1:]), device=x.device)
                self.k.fill_(self.init)


def make_gate(num_features: int, kind: str, alpha: float, beta: float, p, ctx: BuildContext,
              prefix: str, index: int, element: bool = False, bounded: bool = False) -> GDGate:
    """A gate for Dropout++ / SAL Params ``p`` (fields init, prior_weight, eps, threshold).

    ``bounded`` (Dropout++) keeps k in :func:`k_range` with exact logs; otherwise (SAL) k stays in
    [0, 1] with ``eps`` inside the logs (0 and 1 are meant to be absorbing there)."""
    weight = 1.0 / ctx.n_train if p.prior_weight is None else p.prior_weight
    kind = "conv" if kind == "conv" else "fc"
    cls = GDElementGate if kind == "conv" and element else GDGate
    if bounded:
        log_eps, bounds = 0.0, k_range(alpha, beta, p.eps)
    else:
        log_eps, bounds = p.eps, (0.0, 1.0)
    return cls(num_features, kind, alpha, beta, p.init, weight, log_eps, p.threshold, prefix, index, bounds)


def layer_factory(params: Params, ctx: BuildContext) -> DropLayer:
    alpha, beta = beta_params(params)
    count = [0]

    def make(num_features: int, kind: str) -> nn.Module:
        if params.layers == "penultimate" and kind != "penultimate":
            return nn.Identity()
        count[0] += 1
        return make_gate(num_features, kind, alpha, beta, params, ctx, "dropout_pp", count[0],
                         element=params.conv_gates == "element", bounded=True)

    return make


PLUGIN = Regularizer(name="dropout_pp", kind="gate", params=Params, layer_factory=layer_factory,
                     hooks=(AfterOptimizerStep, Penalty, NoWeightDecay, EpochMetrics, FinalArtifacts, ResetGates))
