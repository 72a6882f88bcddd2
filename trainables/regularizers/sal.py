"""Stochastic Architecture Learning (SAL; Generalized Dropout, seed 003, Sec. 2.3 and 4.1.5).

SAL is the Dropout++ gate (``dropout_pp.GDGate``: Bernoulli(clip(k)) with the
straight-through gradient, k clamped to [0, 1] after every step, x * k at test)
with a bimodal Beta(alpha, beta) hyperprior, alpha, beta < 1:

    loss += prior_weight * sum_i [ -(alpha-1) log(k_i + eps) - (beta-1) log(1 - k_i + eps) ]

The prior pushes k towards 0 with strength (1-alpha)/k and towards 1 with
(1-beta)/(1-k); without data the split point is k* = (1-alpha)/((1-alpha)+(1-beta)).
The paper sweeps beta/alpha (1, 10, 100: larger -> smaller networks) without
giving alpha, beta themselves. Choice (fields): r = ``beta_over_alpha`` and the
geometric mean s = sqrt(alpha*beta) = ``geomean`` fix alpha = s/sqrt(r),
beta = s*sqrt(r) (s*sqrt(r) < 1 must hold); s = 0.09 gives k* = 0.50, 0.58, 0.91
for r = 1, 10, 100. The (alpha, beta) used are reported (``sal_alpha/beta``).

Gates: one per feature map on conv layers (architecture selection removes whole
maps; Dropout++ defaults to the paper's per-element dropout gates, Sec. 2.6,
and offers per-map gates as ``conv_gates: channel``) and one per unit on FC layers, at
every gated position of the backbone (LeNet: conv1, conv2, FC-500; the output
layer lives in the head and is not gated). ``init`` is 0.5 by default: k = 0 and
k = 1 are absorbing for this prior (its gradient there is ~ 1/eps), so a gate
started at 1 never moves. ``prior_weight`` null = 1/N_train.

After training, ``finalize`` prunes (``sal_prune.py`` beside this module: rule ``threshold`` =
k > ``threshold``, or ``sharp_rise`` on the sorted gates), builds the smaller
network with the kept k folded into the weights, evaluates it on the test
split, checks that its test error is within ``match_tol`` of the gated net's,
and writes ``sal_architecture.json`` (widths, "18-50-296-10" form, kept units
and k) and ``sal_pruned_weights.pt`` (the pruned Net's state_dict: it loads
into the same model built with the pruned widths and no gates).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from trainables import metrics as M
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
    SplitBatches,
)
from trainables.regularizers import sal_prune as P
from trainables.regularizers.dropout_pp import make_gate
from trainables.regularizers.params import SalParams as Params
from trainables.regularizers.params import sal_alpha_beta


def layer_factory(params: Params, ctx: BuildContext) -> DropLayer:
    alpha, beta = sal_alpha_beta(params)
    count = [0]

    def make(num_features: int, kind: str) -> nn.Module:
        if params.layers == "penultimate" and kind != "penultimate":
            return nn.Identity()
        count[0] += 1
        return make_gate(num_features, kind, alpha, beta, params, ctx, "sal", count[0], element=False)

    return make


@torch.no_grad()
def _compare(net: nn.Module, pruned: nn.Module, test_batches: SplitBatches) -> tuple[dict[str, float], dict[str, float], float]:
    """Test metrics of the gated and the pruned net in one pass over the test split, and their max logit difference."""
    net.eval(), pruned.eval()
    gated = small = None
    diff = 0.0
    for x, y in test_batches():
        gl, pl = net(x).logits, pruned(x).logits
        gated = M.accumulate(gated, M.classification_metrics(gl, y))
        small = M.accumulate(small, M.classification_metrics(pl, y))
        diff = max(diff, float((gl - pl).abs().max()))
    return M.finalize(gated, "test"), M.finalize(small, "test"), diff


def finalize(net: nn.Module, params: Params, test_batches: SplitBatches, device: torch.device,
             artifact_dir: Path) -> dict[str, float]:
    """Prune the trained gated net, build and test the smaller net, write its JSON + weights."""
    layers, gates, _ = P.gated_chain(net)
    g0 = gates[0]
    p = params
    keeps = [P.keep_mask(g.unit_k(), p.rule, p.threshold, p.min_rise) for g in gates]
    pruned = P.prune(net, keeps).to(device)
    gm, pm, max_diff = _compare(net, pruned, test_batches)
    widths = tuple(int(k.sum()) for k in keeps)
    num_classes = layers[-1].out_features
    removed_k = [g.unit_k()[~k] for g, k in zip(gates, keeps)]
    removed_max = max((float(r.max()) for r in removed_k if r.numel()), default=0.0)
    out = {
        "sal_params": float(P.count_params(pruned)),
        "sal_params_full": float(P.count_params(net) - sum(g.k.numel() for g in gates)),
        "sal_pruned_test_error": pm["test_error"],
        "sal_gated_test_error": gm["test_error"],
        "sal_error_gap": abs(pm["test_error"] - gm["test_error"]),
        "sal_max_logit_diff": max_diff,
        "sal_removed_k_max": removed_max,
        "sal_alpha": g0.alpha,
        "sal_beta": g0.beta,
    }
    out["sal_match"] = float(out["sal_error_gap"] <= p.match_tol)
    out.update({f"sal_width_{i + 1}": float(w) for i, w in enumerate(widths)})
    arch = {
        "architecture": P.architecture(widths, num_classes),
        "widths": list(widths),
        "num_classes": num_classes,
        "params": int(out["sal_params"]),
        "params_full": int(out["sal_params_full"]),
        "rule": p.rule, "threshold": p.threshold, "min_rise": p.min_rise,
        "alpha": g0.alpha, "beta": g0.beta,
        "kept_units": [torch.nonzero(k).flatten().tolist() for k in keeps],
        "kept_k": [g.unit_k()[k].tolist() for g, k in zip(gates, keeps)],
        "pruned_test_error": pm["test_error"], "gated_test_error": gm["test_error"],
    }
    artifact_dir = Path(artifact_dir)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    (artifact_dir / "sal_architecture.json").write_text(json.dumps(arch, indent=1))
    torch.save({k: v.cpu() for k, v in pruned.state_dict().items()}, artifact_dir / "sal_pruned_weights.pt")
    return out


PLUGIN = Regularizer(name="sal", kind="gate", params=Params, layer_factory=layer_factory,
                     hooks=(AfterOptimizerStep, Penalty, NoWeightDecay, EpochMetrics, FinalArtifacts, ResetGates),
                     finalize=finalize)
