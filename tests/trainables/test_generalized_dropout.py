"""Dropout++ / SAL gates (Generalized Dropout, seed 003): straight-through gradient, Beta prior,
variants by intended mode, clamping through the training loop's generic hook, eval scaling."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables.config import Section
from trainables.contract import BuildContext
from trainables.loop import TrainConfig, Trainer
from trainables.regularizers import dropout_pp as D
from trainables.regularizers import sal as S
from trainables.resolve import trial_config
from trainables.trial import build, load_splits

CTX = BuildContext(n_train=100, num_classes=10)


def _gate(params: D.Params, n: int = 6, kind: str = "fc") -> D.GDGate:
    return D.layer_factory(params, CTX)(n, kind)


@pytest.mark.parametrize("kind,xshape", [("fc", (5, 6)), ("conv", (5, 6, 3, 4))])
def test_straight_through_gradient_equals_analytic(kind, xshape):
    torch.manual_seed(0)
    g = _gate(D.Params(init=0.6, conv_gates="channel"), 6, kind)
    with torch.no_grad():
        g.k.copy_(torch.rand_like(g.k) * 0.8 + 0.1)
    x = torch.randn(*xshape, requires_grad=True)
    w = torch.randn(*xshape)
    g.train()
    y = g(x)
    (y * w).sum().backward()
    mask = (y.detach() / x.detach())  # the sampled 0/1 gate values (x != 0 almost surely)
    assert set(mask.round().unique().tolist()) <= {0.0, 1.0} and torch.allclose(mask, mask.round())
    assert 0 < mask.mean() < 1
    if kind == "conv":  # conv_gates channel: one coin per feature map and example
        assert torch.equal(mask, mask[:, :, :1, :1].expand_as(mask))
    # d theta / d k = 1: dL/dk_i = sum over the batch (and the map) of dL/dy * x, whatever was sampled
    dims = (0, 2, 3) if kind == "conv" else (0,)
    assert torch.allclose(g.k.grad.flatten(), (w * x.detach()).sum(dims), atol=1e-5)
    assert torch.allclose(x.grad, w * mask)


def test_conv_gates_default_per_element_for_dropout_pp_and_per_map_for_sal():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 4, 4)
    g = _gate(D.Params(init=0.5), 3, "conv")
    g.train()
    mask = g(x) / x
    assert tuple(g.k.shape) == (3, 4, 4)  # Sec. 2.6: one Bernoulli variable per element of the map
    assert not torch.equal(mask, mask[:, :, :1, :1].expand_as(mask))
    sal_gate = S.layer_factory(S.Params(), CTX)(3, "conv")
    assert tuple(sal_gate.k.shape) == (3, 1, 1)  # architecture selection: one gate per map
    assert tuple(_gate(D.Params(conv_gates="channel"), 3, "conv").k.shape) == (3, 1, 1)


def test_prior_gradient_bounded_at_k1_and_priors_give_different_trajectories():
    """From the paper's start k = 1, the prior's first gradient is bounded by weight*(|a-1|+|b-1|)/eps,
    and two priors lead the gates of the same net (same seed, same data) to different places in a few
    real Adam steps; with the former log(1-k+1e-6) the mode-0 gate froze near 0.999."""
    torch.set_num_threads(1)
    g = _gate(D.Params(variant="0", concentration=5.0, init=1.0))
    assert float(g.k.detach().max()) == pytest.approx(0.99)  # started strictly inside (0, 1)
    g.penalty().backward()
    bound = (1.0 / CTX.n_train) * 4.0 / 0.01
    assert float(g.k.grad.abs().max()) <= bound * (1 + 1e-6)
    assert float(g.k.grad.abs().max()) > 0.5 * bound  # the prior does act at the start

    means = {}
    for variant in ("0", "1"):
        tr = _trainer("dropout_pp", {"variant": variant, "concentration": 5.0, "init": 1.0}, epochs=3)
        trace = []
        for _ in range(3):
            m = tr.run_epoch()
            trace.append(m["dropout_pp_k_mean_2"])
        means[variant] = trace
    assert means["0"][-1] < means["0"][0] < 0.99  # mode-0 prior keeps pulling the gates down
    assert means["1"][-1] > 0.99  # mode-1 prior keeps them at 1
    assert means["1"][-1] - means["0"][-1] > 0.03


def test_gradient_flows_at_boundaries_and_eval_scales_by_k():
    g = _gate(D.Params(init=1.0), 4)
    with torch.no_grad():
        g.k.copy_(torch.tensor([1.0, 0.0, 0.3, 0.7]))
    x = torch.randn(3, 4)
    g(x).sum().backward()
    assert torch.allclose(g.k.grad, x.sum(0))  # not blocked by the clip at k = 0 or 1
    g.eval()
    assert torch.allclose(g(x), x * torch.tensor([1.0, 0.0, 0.3, 0.7]))  # no sampling, no inverted scaling


def test_beta_prior_value():
    """(Its float64 gradcheck is registry-driven: tests/test_regularizer_gradcheck.py.)"""
    k = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    want = -(0.3 - 1) * torch.log(k + 1e-6).sum() - (2.5 - 1) * torch.log(1 - k + 1e-6).sum()
    assert torch.allclose(D.beta_prior(k, 0.3, 2.5, 1e-6), want)


def test_flat_has_no_prior_term():
    p = D.Params(variant="flat")
    assert D.beta_params(p) == (1.0, 1.0)
    g = _gate(p)
    with torch.no_grad():
        g.k.copy_(torch.linspace(0.05, 0.95, 6))
    pen = g.penalty()
    assert float(pen) == 0.0 and not pen.requires_grad
    assert float(_gate(D.Params(variant="0.5", concentration=3.0)).penalty().detach()) != 0.0


@pytest.mark.parametrize("variant,mode", [("0.5", 0.5), ("1", 1.0), ("0", 0.0)])
def test_variants_pull_k_to_their_intended_mode(variant, mode):
    p = D.Params(variant=variant, concentration=3.0, init=0.3 if variant == "1" else 0.7, prior_weight=1.0)
    g = _gate(p)
    opt = torch.optim.SGD(g.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        g.penalty().backward()
        opt.step()
        g.after_optimizer_step()
    assert torch.allclose(g.k, torch.full_like(g.k, mode), atol=0.02), (variant, g.k)
    a, b = D.beta_params(p)
    assert (a > b) == (mode == 1.0) and (b > a) == (mode == 0.0)


def _trainer(reg: str, rparams: dict, model: str = "mlp", mparams: dict | None = None, **train) -> Trainer:
    cfg = trial_config(Section("digits"), Section(model, mparams or {"widths": (32, 32)}), Section(reg, rparams),
                       TrainConfig(**{"epochs": 1, "batch_size": 64, **train}), seed=0)
    splits = load_splits(cfg)
    return Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), 0)


def test_k_stays_in_unit_interval_after_loop_steps():
    torch.set_num_threads(1)
    # a strong mode-0 prior and a large step drive k below 0 and the loop's after-step hook must clamp
    tr = _trainer("dropout_pp", {"variant": "0", "concentration": 50.0, "init": 0.9, "prior_weight": 1.0},
                  optimizer="sgd", lr=0.5)
    tr.run_epoch()
    ks = torch.cat([m.k.detach().flatten() for m in tr.net.modules() if isinstance(m, D.GDGate)])
    assert ks.numel() == 64
    assert float(ks.min()) == 0.0 and float(ks.max()) <= 1.0


def test_large_equal_alpha_beta_is_dropout_at_half():
    torch.manual_seed(0)
    # (init below 1: at k = 1 the prior's first gradient ~ 1/eps would inflate Adam's second moment)
    tr = _trainer("dropout_pp", {"variant": "0.5", "concentration": 1e6, "init": 0.7}, lr=0.01, epochs=2)
    tr.run_epoch()
    tr.run_epoch()
    gates = [m for m in tr.net.modules() if isinstance(m, D.GDGate)]
    ks = torch.cat([g.k.detach() for g in gates])
    assert (ks - 0.5).abs().max() < 0.03, ks
    g = gates[0]
    x = torch.ones(4000, 32)
    with torch.no_grad():
        g.train()
        assert abs(float(g(x).mean()) - 0.5) < 0.03  # Bernoulli(0.5) masks
        g.eval()
        assert torch.allclose(g(x), x * 0.5, atol=0.03)  # test-time rescaling by 0.5


def test_element_gates_on_conv_and_checkpoint_roundtrip():
    tr = _trainer("dropout_pp", {"conv_gates": "element", "init": 0.8}, model="lenet", mparams={"padding": "same"})
    tr.run_epoch()
    gates = [m for m in tr.net.modules() if isinstance(m, D.GDGate)]
    assert [tuple(g.k.shape) for g in gates] == [(20, 4, 4), (50, 2, 2), (500,)]
    assert all(not torch.all(g.k == 0.8) for g in gates)  # trained
    fresh = _trainer("dropout_pp", {"conv_gates": "element", "init": 0.8}, model="lenet", mparams={"padding": "same"})
    fresh.load_state_dict(tr.state_dict())
    x = tr.sources["test"].x[:8]
    tr.net.eval(), fresh.net.eval()
    assert torch.allclose(tr.net(x).logits, fresh.net(x).logits)


def test_glorot_reinit_keeps_configured_k_and_metrics_are_per_layer():
    tr = _trainer("sal", {"beta_over_alpha": 10.0, "init": 0.7}, init="glorot")
    assert all(torch.all(m.k == 0.7) for m in tr.net.modules() if isinstance(m, D.GDGate))
    m = tr.run_epoch()
    assert {"sal_k_mean_1", "sal_k_mean_2", "sal_active_1", "sal_active_2"} <= set(m)
    assert m["sal_alpha"] == pytest.approx(0.09 / 10**0.5) and m["sal_beta"] == pytest.approx(0.09 * 10**0.5)


def test_sal_prior_is_bimodal_and_ratio_moves_the_split():
    ks = {r: S.sal_alpha_beta(S.Params(beta_over_alpha=r)) for r in (1.0, 10.0, 100.0)}
    split = {r: (1 - a) / ((1 - a) + (1 - b)) for r, (a, b) in ks.items()}
    assert all(a < 1 and b < 1 for a, b in ks.values())
    assert split[1.0] == pytest.approx(0.5) and split[1.0] < split[10.0] < split[100.0]
    k = torch.tensor([0.3, 0.7])
    # gradient descent on the prior alone moves gates away from the split (towards 0 or 1)
    k.requires_grad_(True)
    D.beta_prior(k, *ks[1.0], 1e-6).backward()
    assert k.grad[0] > 0 and k.grad[1] < 0


@pytest.mark.parametrize("mod,bad,field", [
    (D, {"variant": "2"}, "variant"), (D, {"concentration": 1.0}, "concentration"), (D, {"init": 1.5}, "init"),
    (D, {"conv_gates": "pixel"}, "conv_gates"), (S, {"beta_over_alpha": 200.0}, "geomean"),
    (S, {"rule": "knee"}, "rule"), (D, {"prior_weight": -1.0}, "prior_weight"),
])
def test_params_validation_names_the_field(mod, bad, field):
    with pytest.raises(ValueError, match=field):
        mod.Params(**bad)


def test_identity_where_not_gated():
    make = D.layer_factory(D.Params(layers="penultimate"), CTX)
    assert isinstance(make(8, "fc"), nn.Identity) and isinstance(make(8, "penultimate"), D.GDGate)
