"""One float64 gradient check over every registered regularizer's pure loss, driven by the registry.

Every name in ``trainables.regularizers.REGULARIZERS`` has either a ``CASES`` entry or an
``EXEMPT`` entry, never both, never neither (a new regularizer fails here until it has one):

- a case lists the regularizer's pure loss function(s) on random float64 tensors, each checked
  by ``torch.autograd.gradcheck``, and says how its built module's training loss (a head) or
  penalty (a gate) is computed from its own layers with that pure function: the test builds the
  module from the registry entry and checks that the two are equal bit for bit (same RNG stream),
  so the module really trains on the function that was gradchecked;
- an exemption states why the regularizer has no differentiable loss of its own; the test checks
  that claim (a gate whose layers add no penalty).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

from trainables import regularizers as R
from trainables.contract import BuildContext, OnBatchStart, Penalty
from trainables.regularizers import (
    det_attention,
    det_dropmax,
    dropmax,
    dropmax_qp,
    dropout_pp,
    malicious_dropout,
    random_dropmax,
    sal,
    sampled_softmax,
    softmax,
    sparsemax,
)

B, K, D = 6, 5, 7
HEAD_D = 32  # the built heads' width: Malicious Dropout's default rho (1/16 of D) drops 2 units
CTX = BuildContext(n_train=100, num_classes=K)
F64 = torch.float64

Check = tuple[str, Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]


def _t(seed: int, *shape: int, lo: float | None = None, hi: float | None = None, prob: bool = False) -> torch.Tensor:
    """A float64 leaf: N(0, 1), or U(lo, hi) when ``prob``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g, dtype=F64) * (hi - lo) + lo if prob else torch.randn(*shape, generator=g, dtype=F64)
    return x.requires_grad_(True)


def _y(seed: int = 9, n: int = B, k: int = K) -> torch.Tensor:
    return torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))


def _u() -> torch.Tensor:
    return _t(8, B, K, lo=0.05, hi=0.95, prob=True).detach()


# ---- the cases: gradchecks of each pure loss, and how the built module uses it --------------------------------


def _dropmax_checks() -> list[Check]:
    y, u = _y(), _u()
    p, q = _t(3, B, K, lo=0.05, hi=0.95, prob=True), _t(4, B, K, lo=0.05, hi=0.95, prob=True)
    # dropmax_loss w.r.t. o and rh only: ph enters q through a stop-gradient, so a finite difference in ph
    # moves q as well (its gradient is checked in test_dropmax_family against KL + entropy instead)
    return [
        ("dropmax_loss(o, rh)", lambda o, rh: dropmax.dropmax_loss(o, _t(2, B, K).detach(), rh, y, 0.5, u)[0],
         (_t(1, B, K), _t(5, B, K))),
        ("masked_cross_entropy", lambda o, z: dropmax.masked_cross_entropy(o, z, y), (_t(1, B, K), _u().requires_grad_())),
        ("dropmax_kl", lambda a, b: dropmax.dropmax_kl(a, b, y), (p, q)),
        ("aux_loss", lambda r: dropmax.aux_loss(r, y), (q,)),
        ("neg_entropy", dropmax.neg_entropy, (p,)),
        ("concrete_mask", lambda a: dropmax.concrete_mask(a, y, 0.5, u), (q,)),
        ("mc_logits", lambda o, a: dropmax.mc_logits(o, a, 3, torch.Generator().manual_seed(2)), (_t(1, B, K), p)),
    ]


def _dropmax_qp_checks() -> list[Check]:
    y, u = _y(), _u()
    return [(f"dropmax_qp_loss(target_kl={kl})",
             lambda o, ph, kl=kl: dropmax_qp.dropmax_qp_loss(o, ph, y, 0.1, 0.5, kl, u)[0], (_t(1, B, K), _t(2, B, K)))
            for kl in (True, False)]


def _beta_prior_checks(alpha: float, beta: float, eps: float) -> list[Check]:
    k = _t(6, 10, lo=0.05, hi=0.95, prob=True)
    return [(f"beta_prior({alpha:.3g}, {beta:.3g}, eps={eps})", lambda t: dropout_pp.beta_prior(t, alpha, beta, eps), (k,))]


def _gate_penalty(gate: nn.Module) -> torch.Tensor:
    """What a Dropout++ / SAL gate's ``penalty()`` must be: its weight times the pure Beta prior of its k."""
    return gate.prior_weight * dropout_pp.beta_prior(gate.k, gate.alpha, gate.beta, gate.eps)


@dataclass(frozen=True)
class Case:
    """``checks()``: (what, pure function, float64 leaf inputs) for gradcheck. Exactly one of:
    ``head_loss(head, h, y)``, the training loss from the head's own layers and its pure loss
    (given the same RNG state as the head's forward); ``gate_penalty(gate)``, a gate's penalty;
    with ``params`` the Params field values the module is built with (a gate needs a prior)."""

    checks: Callable[[], list[Check]]
    head_loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    gate_penalty: Callable[[nn.Module], torch.Tensor] | None = None
    params: dict | None = None


CASES: dict[str, Case] = {
    "softmax": Case(lambda: [("softmax_loss", lambda o: softmax.softmax_loss(o, _y()), (_t(1, B, K),))],
                    head_loss=lambda hd, h, y: softmax.softmax_loss(hd.o(h), y)),
    "sparsemax": Case(lambda: [("sparsemax_loss", lambda o: sparsemax.sparsemax_loss(o, _y()), (_t(1, B, K),))],
                      head_loss=lambda hd, h, y: sparsemax.sparsemax_loss(hd.o(h), y)),
    "sampled_softmax": Case(
        lambda: [("sampled_softmax_loss",
                  lambda o: sampled_softmax.sampled_softmax_loss(o, _y(), sampled_softmax.sample_keep_mask(_y(), K, 0.5, _u())),
                  (_t(1, B, K),))],
        head_loss=lambda hd, h, y: sampled_softmax.sampled_softmax_loss(
            hd.o(h), y, sampled_softmax.sample_keep_mask(y, K, hd.fraction, count_over=hd.count_over))),
    "random_dropmax": Case(
        lambda: [("masked_cross_entropy", lambda o, z: dropmax.masked_cross_entropy(o, z, _y()),
                  (_t(1, B, K), _u().requires_grad_()))],
        head_loss=lambda hd, h, y: dropmax.masked_cross_entropy(
            hd.o(h), random_dropmax.random_mask(y, K, hd.params.rho, F64), y, hd.params.eps)),
    "det_attention": Case(
        lambda: [("attention_loss", lambda o, a: det_attention.attention_loss(o, a, _y())[0], (_t(1, B, K), _t(2, B, K)))],
        head_loss=lambda hd, h, y: det_attention.attention_loss(hd.o(h), hd.a(h), y)[0]),
    "det_dropmax": Case(
        lambda: [("det_dropmax_loss", lambda o, a: det_dropmax.det_dropmax_loss(o, a, _y())[0], (_t(1, B, K), _t(2, B, K)))],
        head_loss=lambda hd, h, y: det_dropmax.det_dropmax_loss(hd.o(h), hd.a(h), y)[0]),
    "dropmax_qp": Case(
        _dropmax_qp_checks,
        head_loss=lambda hd, h, y: dropmax_qp.dropmax_qp_loss(
            hd.o(h), hd.ph(h), y, hd.params.gamma, hd.params.tau, hd.params.target_kl, eps=hd.params.eps)[0]),
    "dropmax": Case(
        _dropmax_checks,
        head_loss=lambda hd, h, y: dropmax.dropmax_loss(hd.o(h), hd.ph(h), hd.rh(h), y, hd.params.tau, eps=hd.params.eps)[0]),
    "malicious_dropout": Case(
        lambda: [("malicious_dropout_loss(rho=3)",
                  lambda h, w, b: malicious_dropout.malicious_dropout_loss(h, w, b, _y(6, 4, 3), 3, 0.5)[0],
                  (_t(11, 4, 9), _t(12, 3, 9), _t(13, 3)))],
        head_loss=lambda hd, h, y: malicious_dropout.malicious_dropout_loss(
            h, hd.o.weight, hd.o.bias, y, hd.rho_now, hd.omega)[0]),
    "dropout_pp": Case(
        lambda: _beta_prior_checks(*dropout_pp.beta_params(dropout_pp.Params(variant="0.5", concentration=3.0)), 0.0)
        + _beta_prior_checks(*dropout_pp.beta_params(dropout_pp.Params(variant="0", concentration=5.0)), 0.0),
        gate_penalty=_gate_penalty, params={"variant": "0.5", "concentration": 3.0}),
    "sal": Case(lambda: _beta_prior_checks(*sal.sal_alpha_beta(sal.Params()), sal.Params().eps),
                gate_penalty=_gate_penalty, params={}),
}

EXEMPT: dict[str, str] = {
    "dropout": "vanilla dropout, y = x * m / keep with m ~ Bernoulli(keep): no loss term of its own "
               "(the network trains on its softmax head's loss, checked as 'softmax')",
}

NAMES = sorted(R.REGULARIZERS)


def test_every_registered_regularizer_has_a_case_or_a_stated_exemption():
    assert not set(CASES) & set(EXEMPT), "a regularizer is either checked or exempt"
    assert set(CASES) | set(EXEMPT) == set(R.REGULARIZERS), (
        f"no gradient check for {sorted(set(R.REGULARIZERS) - set(CASES) - set(EXEMPT))}: add a Case (its pure loss) "
        f"or an EXEMPT entry with the reason; stale: {sorted(set(CASES) | set(EXEMPT) - set(R.REGULARIZERS))}")
    assert all(len(reason) > 40 for reason in EXEMPT.values())


def _check_exemption(name: str) -> None:
    """An exempt regularizer is a gate whose layers add no loss term (no Penalty hook, none built)."""
    plug = R.plugin(name)
    assert plug.kind == "gate" and Penalty not in plug.hooks, f"{name} is exempt but has a loss of its own"
    make = plug.layer_factory(plug.params(), CTX)
    layers = [make(4, "fc"), make(3, "conv"), make(4, "penultimate")]
    assert not any(isinstance(m, Penalty) for layer in layers for m in layer.modules())


@pytest.mark.parametrize("name", NAMES)
def test_pure_loss_gradcheck(name):
    if name in EXEMPT:
        return _check_exemption(name)
    assert name in CASES, f"{name}: no gradient check and no stated exemption"
    checks = CASES[name].checks()
    assert checks
    for what, fn, inputs in checks:
        assert all(t.dtype == F64 and t.requires_grad for t in inputs), what
        assert gradcheck(fn, inputs), f"{name}: {what}"


def _head_trains_on_its_pure_loss(name: str, case: Case) -> None:
    plug = R.plugin(name)
    assert plug.kind == "head" and case.head_loss is not None
    torch.manual_seed(0)
    head = plug.build_head(plug.params(), HEAD_D, K, CTX).double().train()
    h, y = _t(21, 2 * B, HEAD_D).detach() * 3, _y(22, 2 * B)
    if isinstance(head, OnBatchStart):
        head.on_batch_start(0, 0)
    torch.manual_seed(1)
    got = head(h, y).loss
    torch.manual_seed(1)
    want = case.head_loss(head, h, y)
    assert got.dtype == F64 and torch.equal(got, want), (name, got, want)
    (g_got,) = torch.autograd.grad(got, head.o.weight)
    (g_want,) = torch.autograd.grad(want, head.o.weight)
    assert torch.count_nonzero(g_got) > 0 and torch.equal(g_got, g_want)


def _gate_penalty_is_its_pure_prior(name: str, case: Case) -> None:
    plug = R.plugin(name)
    assert plug.kind == "gate" and case.gate_penalty is not None and Penalty in plug.hooks
    gate = plug.layer_factory(plug.params(**case.params), CTX)(10, "fc").double()
    with torch.no_grad():
        gate.k.copy_(torch.linspace(0.1, 0.9, 10, dtype=F64))
    got, want = gate.penalty(), case.gate_penalty(gate)
    assert float(got.detach()) != 0.0 and torch.equal(got, want), (name, got, want)


@pytest.mark.parametrize("name", NAMES)
def test_built_module_trains_on_its_checked_pure_loss(name):
    if name in EXEMPT:
        return _check_exemption(name)
    case = CASES[name]
    if R.plugin(name).kind == "head":
        _head_trains_on_its_pure_loss(name, case)
    else:
        _gate_penalty_is_its_pure_prior(name, case)
