"""SAL architecture selection: gate selection rules, the really-pruned network (same function in
eval mode, right parameter counts, loadable as a smaller LeNet), and SAL's finalize step."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from trainables.config import Section
from trainables.contract import BuildContext
from trainables.loop import Net, TrainConfig, Trainer
from trainables.models import lenet, mlp
from trainables.regularizers import sal, softmax
from trainables.regularizers import sal_prune as P
from trainables.regularizers.dropout_pp import GDGate
from trainables.resolve import trial_config
from trainables.trial import build, load_splits, run_finalize

CTX = BuildContext(n_train=100, num_classes=10)


def _identity(n: int, kind: str) -> nn.Module:
    return nn.Identity()


def _lenet(widths=(20, 50, 500), gated=True) -> Net:
    make = sal.layer_factory(sal.Params(), CTX) if gated else _identity
    bb = lenet.build(lenet.Params(widths=widths), (1, 28, 28), 10, make)
    return Net(bb, softmax.build_head(softmax.Params(), bb.feature_dim, 10, CTX))


def _lenet_params(c1: int, c2: int, fc: int, k: int = 10) -> int:
    return (c1 * 25 + c1) + (c2 * c1 * 25 + c2) + (c2 * 16 * fc + fc) + (fc * k + k)


def _random_gates(net: Net, p_zero: float = 0.4) -> None:
    torch.manual_seed(1)
    for g in net.modules():
        if isinstance(g, GDGate):
            k = torch.rand_like(g.k)
            k[torch.rand_like(k) < p_zero] = 0.0
            with torch.no_grad():
                g.k.copy_(k)


@pytest.mark.parametrize("widths,paper,digit", [((20, 50, 500), 431_000, 1000), ((18, 50, 296), 263_000, 1000),
                                                ((11, 33, 38), 29_800, 100), ((7, 13, 16), 5_900, 100)])
def test_parameter_counts_match_the_paper(widths, paper, digit):
    n = P.count_params(_lenet(widths, gated=False))
    assert n == _lenet_params(*widths)
    assert paper <= n < paper + digit  # Table 1 truncates: 431k, 263k, 29.8k, 5.9k (5,984)
    assert P.architecture(widths, 10) == "-".join(map(str, (*widths, 10)))


def test_pruned_lenet_computes_the_gated_function():
    net = _lenet()
    _random_gates(net)
    _, gates, _ = P.gated_chain(net)
    keeps = [P.keep_mask(g.unit_k(), threshold=0.0) for g in gates]  # remove exactly the k = 0 gates
    pruned = P.prune(net, keeps)
    widths = tuple(int(k.sum()) for k in keeps)
    assert all(w < full for w, full in zip(widths, (20, 50, 500)))
    assert not any(isinstance(m, GDGate) for m in pruned.modules())
    assert pruned.backbone.conv1.out_channels == widths[0] and pruned.backbone.fc1.in_features == widths[1] * 16
    assert P.count_params(pruned) == _lenet_params(*widths)
    net.eval(), pruned.eval()
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(net(x).logits, pruned(x).logits, atol=1e-5, rtol=1e-4)
    # the stored weights load into a plain LeNet built with the pruned widths
    plain = _lenet(widths, gated=False)
    plain.load_state_dict(pruned.state_dict())
    plain.eval()
    with torch.no_grad():
        assert torch.allclose(plain(x).logits, pruned(x).logits, atol=1e-6)


def test_pruned_mlp_matches_and_a_threshold_cut_differs_by_removed_units_only():
    make = sal.layer_factory(sal.Params(), CTX)
    bb = mlp.build(mlp.Params(widths=(24, 16)), (1, 8, 8), 10, make)
    net = Net(bb, softmax.build_head(softmax.Params(), bb.feature_dim, 10, CTX))
    _random_gates(net, p_zero=0.3)
    _, gates, _ = P.gated_chain(net)
    x = torch.randn(32, 1, 8, 8)
    net.eval()
    exact = P.prune(net, [P.keep_mask(g.unit_k(), threshold=0.0) for g in gates]).eval()
    keeps = [P.keep_mask(g.unit_k(), threshold=0.5) for g in gates]
    cut = P.prune(net, keeps).eval()
    with torch.no_grad():
        assert torch.allclose(net(x).logits, exact(x).logits, atol=1e-5)
        assert not torch.allclose(net(x).logits, cut(x).logits, atol=1e-3)
        for g, keep in zip(gates, keeps):  # zero the gates the 0.5 cut removes: now the cut net is exact too
            g.k[~keep] = 0.0
        assert torch.allclose(net(x).logits, cut(x).logits, atol=1e-5)
    w1, w2 = (int(k.sum()) for k in keeps)
    assert 0 < w1 < 24 and 0 < w2 < 16
    assert P.count_params(cut) == (64 * w1 + w1) + (w1 * w2 + w2) + (w2 * 10 + 10)


def test_keep_rules():
    k = torch.tensor([0.02, 0.9, 0.0, 0.97, 0.05, 0.6, 1.0])
    assert P.keep_mask(k, "threshold", 0.5).tolist() == [False, True, False, True, False, True, True]
    cut, rise = P.sharp_rise_cut(k)
    assert rise == pytest.approx(0.55) and cut == pytest.approx(0.325)
    assert P.keep_mask(k, "sharp_rise", 0.95).tolist() == [False, True, False, True, False, True, True]
    flat = torch.tensor([0.8, 0.82, 0.85, 0.9])  # no sharp rise: falls back to the threshold
    assert P.keep_mask(flat, "sharp_rise", 0.84, min_rise=0.25).tolist() == [False, False, True, True]
    assert P.keep_mask(torch.zeros(5), "threshold", 0.5).sum() == 1  # never an empty layer


def test_non_chain_and_element_gates_are_rejected():
    from trainables.regularizers import dropout_pp

    make = dropout_pp.layer_factory(dropout_pp.Params(conv_gates="element"), CTX)
    bb = lenet.build(lenet.Params(), (1, 28, 28), 10, make)
    with pytest.raises(ValueError, match="per-unit / per-feature-map"):
        P.gated_chain(Net(bb, softmax.build_head(softmax.Params(), 500, 10, CTX)))


def test_sal_finalize_end_to_end(tmp_path):
    torch.set_num_threads(1)
    cfg = trial_config(Section("digits"), Section("mlp", {"widths": (64, 48)}),
                       Section("sal", {"beta_over_alpha": 10.0, "prior_weight": 1e-4}),
                       TrainConfig(epochs=3, batch_size=32, lr=1e-2), seed=0)
    splits = load_splits(cfg)
    tr = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), 0)
    while not tr.done:
        last = tr.run_epoch()
    out = run_finalize(cfg, tr, tmp_path / "artifacts")
    w1, w2 = int(out["sal_width_1"]), int(out["sal_width_2"])
    assert 1 < w1 < 64 and 1 < w2 < 48  # gates below 0.5 are pruned, the net keeps working units
    assert out["sal_params"] == (64 * w1 + w1) + (w1 * w2 + w2) + (w2 * 10 + 10)
    assert out["sal_params_full"] == (64 * 64 + 64) + (64 * 48 + 48) + (48 * 10 + 10)
    assert out["sal_gated_test_error"] == pytest.approx(last["test_error"]) and last["test_error"] < 0.15
    assert out["sal_match"] == float(out["sal_error_gap"] <= 0.005)
    arch = json.loads((tmp_path / "artifacts" / "sal_architecture.json").read_text())
    assert arch["architecture"] == f"{w1}-{w2}-10" and arch["params"] == out["sal_params"]
    state = torch.load(tmp_path / "artifacts" / "sal_pruned_weights.pt")
    plain = Net(mlp.build(mlp.Params(widths=(w1, w2)), (1, 8, 8), 10, _identity),
                softmax.build_head(softmax.Params(), w2, 10, CTX))
    plain.load_state_dict(state)
    x, y = tr.sources["test"].x, tr.sources["test"].y
    plain.eval()
    with torch.no_grad():
        err = float((plain(x).logits.argmax(1) != y).float().mean())
    assert err == pytest.approx(out["sal_pruned_test_error"], abs=1e-6)
