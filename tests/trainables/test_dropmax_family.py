"""DropMax and its seven Table-1 baselines: limit cases, gradient-flow facts, the shared DropMax head."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainables.contract import BuildContext
from trainables.loop import TrainConfig, make_optimizer
from trainables.regularizers import (
    det_attention,
    det_dropmax,
    dropmax,
    dropmax_qp,
    random_dropmax,
    sampled_softmax,
    softmax,
    sparsemax,
)

B, K, D = 6, 5, 7
CTX = BuildContext(n_train=100, num_classes=K)
D64 = dict(dtype=torch.float64)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _data(seed=0):
    g = _gen(seed)
    o = torch.randn(B, K, generator=g, **D64)
    ph = torch.randn(B, K, generator=g, **D64)
    rh = torch.randn(B, K, generator=g, **D64)
    u = torch.rand(B, K, generator=g, **D64).clamp(0.05, 0.95)
    y = torch.randint(0, K, (B,), generator=g)
    return o, ph, rh, u, y


def _leaf(*ts):
    return [t.clone().requires_grad_(True) for t in ts]


# ---- gradient flow of the full objective (the float64 gradchecks of every pure loss are registry-driven:
# tests/test_regularizer_gradcheck.py) -------------------------------------------------------------


def test_retain_logits_gradient_of_the_full_objective_is_kl_plus_entropy():
    """ph enters q only through a stop-gradient: d loss / d ph is that of KL + negative entropy alone."""
    o, ph, rh, u, y = _data()
    q_fixed = torch.sigmoid(ph + rh)
    b = ph.clone().requires_grad_(True)
    g_full = torch.autograd.grad(dropmax.dropmax_loss(o, b, rh, y, 0.5, u)[0], b)[0]
    g_reg = torch.autograd.grad(dropmax.dropmax_kl(torch.sigmoid(b), q_fixed, y) + dropmax.neg_entropy(torch.sigmoid(b)), b)[0]
    assert torch.count_nonzero(g_reg) > 0
    assert torch.allclose(g_full, g_reg, atol=1e-12)


# ---- limit cases -------------------------------------------------------------------------------------


def test_all_masks_one_is_cross_entropy():
    o, *_, y = _data()
    got = dropmax.masked_cross_entropy(o, torch.ones_like(o), y)
    assert torch.allclose(got, F.cross_entropy(o, y), rtol=0, atol=1e-14)
    # and a mask that drops classes changes it (the test can fail)
    z = torch.ones_like(o)
    z[:, 0] = 0
    z = dropmax.force_target(z, y)
    assert not torch.allclose(dropmax.masked_cross_entropy(o, z, y), F.cross_entropy(o, y))


def test_sampled_softmax_keep_all_is_full_softmax():
    torch.manual_seed(0)
    o, *_, y = _data()
    keep = sampled_softmax.sample_keep_mask(y, K, 1.0)
    assert keep.all()
    assert torch.allclose(sampled_softmax.sampled_softmax_loss(o, y, keep), F.cross_entropy(o, y), atol=1e-14)
    head = sampled_softmax.build_head(sampled_softmax.Params(fraction=1.0), D, K, CTX).double().train()
    h = torch.randn(B, D, **D64)
    assert torch.allclose(head(h, y).loss, F.cross_entropy(head.o(h), y), atol=1e-14)


def test_sampled_softmax_fraction_of_total_classes_by_default():
    """The paper: a fraction "of total classes, while the target class is always selected"."""
    y = torch.randint(0, 10, (50,), generator=_gen(4))
    assert sampled_softmax.Params().count_over == "total"
    for frac, kept in ((0.2, 2), (0.4, 4), (0.6, 6), (1.0, 10)):
        keep = sampled_softmax.sample_keep_mask(y, 10, frac)
        assert (keep.sum(1) == kept).all() and keep.gather(1, y[:, None]).all(), frac
    head = sampled_softmax.build_head(sampled_softmax.Params(fraction=0.2), D, K, CTX).train()
    assert head.count_over == "total" and sampled_softmax.num_sampled(K, 0.2) == round(0.2 * K) - 1
    with pytest.raises(ValueError, match="count_over"):
        sampled_softmax.Params(count_over="others")


def test_sampled_softmax_keeps_target_plus_fraction_of_non_targets_as_option():
    y = torch.randint(0, 10, (200,), generator=_gen(3))
    torch.manual_seed(1)
    keep = sampled_softmax.sample_keep_mask(y, 10, 0.4, count_over="non_target")  # round(0.4 * 9) = 4 others
    assert (keep.sum(1) == 5).all()
    assert keep.gather(1, y[:, None]).all()
    # uniform over non-targets: every class is picked at roughly 4/9 of the rows where it is not the target
    freq = (keep.float().sum(0) - F.one_hot(y, 10).sum(0)) / (200 - F.one_hot(y, 10).sum(0))
    assert ((freq - 4 / 9).abs() < 0.15).all()


def test_random_dropmax_rho_one_is_cross_entropy_and_rho_small_is_not():
    h = torch.randn(B, D, **D64)
    o, *_, y = _data()
    head = random_dropmax.build_head(random_dropmax.Params(rho=1.0), D, K, CTX).double().train()
    assert torch.allclose(head(h, y).loss, F.cross_entropy(head.o(h), y), atol=1e-14)
    torch.manual_seed(0)
    z = random_dropmax.random_mask(y.repeat(500), K, 0.3, torch.float64)
    assert (z.gather(1, y.repeat(500)[:, None]) == 1).all()
    nontarget = z[~F.one_hot(y.repeat(500), K).bool()]
    assert abs(float(nontarget.mean()) - 0.3) < 0.03
    head.eval()
    out = head(h)
    assert torch.equal(out.logits, head.o(h))  # plain softmax at test


def test_sparsemax_known_values():
    o = torch.tensor([[1.0, 0.5, -1.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]], **D64)
    want = torch.tensor([[0.75, 0.25, 0.0], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]], **D64)
    assert torch.allclose(sparsemax.sparsemax(o), want, atol=1e-12)
    # sparsemax loss: -o_y + 1/2 sum_{j in S} (o_j^2 - tau^2) + 1/2; tau = 0.25 for row 0
    x = o[:1].clone().requires_grad_(True)
    loss = sparsemax.sparsemax_loss(x, torch.tensor([0]))
    assert math.isclose(loss.item(), -1 + 0.5 * ((1 - 0.0625) + (0.25 - 0.0625)) + 0.5, abs_tol=1e-12)
    loss.backward()
    assert torch.allclose(x.grad, torch.tensor([[-0.25, 0.25, 0.0]], **D64), atol=1e-12)  # sparsemax - onehot


def test_sparsemax_head_predicts_argmax_and_has_finite_nll():
    head = sparsemax.build_head(sparsemax.Params(), D, K, CTX).double().eval()
    h = torch.randn(50, D, **D64)
    logits = head(h).logits
    assert torch.equal(logits.argmax(1), head.o(h).argmax(1))
    assert torch.isfinite(F.log_softmax(logits, 1)).all()


def test_attention_logits_are_log_of_predictive_distribution():
    o, a, *_ = _data()
    want = torch.sigmoid(a) * o.exp()
    want = want / want.sum(1, keepdim=True)
    assert torch.allclose(F.softmax(det_attention.attention_logits(o, a), 1), want, atol=1e-12)


def test_det_dropmax_adds_supervised_bce():
    o, a, _, _, y = _data()
    diff = det_dropmax.det_dropmax_loss(o, a, y)[0] - det_attention.attention_loss(o, a, y)[0]
    bce = F.binary_cross_entropy_with_logits(a, F.one_hot(y, K).double(), reduction="none").mean(0).sum()
    assert torch.allclose(diff, bce, atol=1e-10)


# ---- DropMax gradient flow and prediction ----------------------------------------------------------


def test_classification_term_gives_retain_head_zero_gradient():
    o, ph, rh, u, y = _leaf(*_data()[:4]) + [_data()[4]]
    _, terms = dropmax.dropmax_loss(o, ph, rh, y, 0.1, u)
    terms["ce"].backward(retain_graph=True)
    assert ph.grad is None or torch.count_nonzero(ph.grad) == 0
    assert rh.grad is not None and torch.count_nonzero(rh.grad) > 0  # q is trained through the mask
    (terms["kl"] + terms["neg_entropy"]).backward()
    assert torch.count_nonzero(ph.grad) > 0  # p is trained by KL and entropy only


def test_dropmax_head_retain_layer_gets_no_gradient_from_classification():
    torch.manual_seed(0)
    head = dropmax.build_head(dropmax.Params(), D, K, CTX).double().train()
    h = torch.randn(B, D, **D64)
    y = torch.randint(0, K, (B,))
    out = head(h, y)
    ph_grad = torch.autograd.grad(out.loss, head.ph.weight, retain_graph=True)[0]
    torch.manual_seed(0)
    o, ph, rh = head.o(h), head.ph(h), head.rh(h)
    _, terms = dropmax.dropmax_loss(o, ph, rh, y, 0.1)
    only_reg = torch.autograd.grad(terms["kl"] + terms["aux"] + terms["neg_entropy"], head.ph.weight)[0]
    assert torch.allclose(ph_grad, only_reg, atol=1e-12)


def test_target_mask_is_exactly_one():
    g = _gen(4)
    y = torch.randint(0, K, (64,), generator=g)
    q = torch.full((64, K), 1e-6, **D64)
    z = dropmax.concrete_mask(q, y, 0.1)
    assert (z.gather(1, y[:, None]) == 1.0).all()
    others = z[~F.one_hot(y, K).bool()]
    assert (others < 0.5).float().mean() > 0.95


def test_constant_retain_probability_prediction_equals_softmax():
    head = dropmax.build_head(dropmax.Params(), D, K, CTX).double().eval()
    with torch.no_grad():
        head.ph.weight.zero_()
        head.ph.bias.fill_(0.3)
    h = torch.randn(B, D, **D64)
    assert torch.allclose(F.log_softmax(head(h).logits, 1), F.log_softmax(head.o(h), 1), atol=1e-12)
    with torch.no_grad():
        head.ph.bias.copy_(torch.arange(K, dtype=torch.float64))  # class-dependent p changes it
    assert not torch.allclose(F.log_softmax(head(h).logits, 1), F.log_softmax(head.o(h), 1), atol=1e-3)


def test_mc_evaluation_with_certain_retain_equals_softmax_and_is_deterministic():
    head = dropmax.build_head(dropmax.Params(eval_mc_samples=16), D, K, CTX).double().eval()
    h = torch.randn(B, D, **D64)
    with torch.no_grad():
        head.ph.weight.zero_()
        head.ph.bias.fill_(50.0)  # p = 1: every sampled mask is all ones
    assert torch.allclose(F.log_softmax(head(h).logits, 1), F.log_softmax(head.o(h), 1), atol=1e-10)
    with torch.no_grad():
        head.ph.bias.fill_(0.0)
    a, b = head(h).logits, head(h).logits
    assert torch.equal(a, b)
    assert not torch.allclose(a, dropmax.retain_logits(head.o(h), torch.sigmoid(head.ph(h))))


def test_evaluation_is_deterministic_for_every_head():
    h = torch.randn(B, D)
    for mod in (softmax, sparsemax, sampled_softmax, random_dropmax, det_attention, det_dropmax, dropmax_qp, dropmax):
        head = mod.build_head(mod.Params(), D, K, CTX).eval()
        assert torch.equal(head(h).logits, head(h).logits), mod.__name__


def test_weight_decay_skips_retain_and_label_heads():
    head = dropmax.build_head(dropmax.Params(), D, K, CTX)
    opt = make_optimizer(head, TrainConfig(weight_decay=1e-4))
    wd = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    for p in (*head.ph.parameters(), *head.rh.parameters()):
        assert wd[id(p)] == 0.0
    for p in head.o.parameters():
        assert wd[id(p)] == 1e-4
    qp = dropmax_qp.build_head(dropmax_qp.Params(), D, K, CTX)
    assert {id(p) for p in qp.no_weight_decay()} == {id(p) for p in qp.ph.parameters()}


def test_dropmax_and_dropmax_qp_share_one_head():
    """One head class; the q = p variant has no label head, its own objective and optional retain decay."""
    full = dropmax.build_head(dropmax.Params(), D, K, CTX)
    qp = dropmax_qp.build_head(dropmax_qp.Params(), D, K, CTX)
    assert type(full) is type(qp) is dropmax.DropMaxHead
    assert full.objective is dropmax.objective and qp.objective is dropmax_qp.objective
    assert qp.rh is None and isinstance(full.rh, torch.nn.Linear)
    assert {k.split(".")[0] for k in full.state_dict()} == {"o", "ph", "rh", "stats"}
    assert {k.split(".")[0] for k in qp.state_dict()} == {"o", "ph", "stats"}
    assert dropmax_qp.build_head(dropmax_qp.Params(retain_weight_decay=True), D, K, CTX).no_weight_decay() == []
    h, y = torch.randn(B, D), torch.randint(0, K, (B,))
    assert set(qp.train()(h, y).terms) == {f"dropmax_qp_{t}" for t in ("ce", "kl_target", "neg_entropy", "p_target", "p_nontarget")}
    assert set(full.train()(h, y).terms) == {f"dropmax_{t}" for t in ("ce", "kl", "aux", "neg_entropy", "p_target", "p_nontarget")}


def test_dropmax_qp_target_kl_flag():
    o, ph, _, u, y = _data()
    with_kl, t = dropmax_qp.dropmax_qp_loss(o, ph, y, 0.1, 0.1, True, u)
    without, _ = dropmax_qp.dropmax_qp_loss(o, ph, y, 0.1, 0.1, False, u)
    want = -F.logsigmoid(ph).gather(1, y[:, None]).mean()
    assert torch.allclose(with_kl - without, want, atol=1e-10)
    assert torch.allclose(t["kl_target"], want, atol=1e-10)


def test_retain_statistics_artifact_per_class(tmp_path):
    import json

    from trainables.trial import write_final_artifacts

    head = dropmax.build_head(dropmax.Params(), D, K, CTX).double().train()
    h = torch.randn(40, D, **D64)
    y = torch.arange(40) % K
    head.stats.on_batch_start(0, 0)
    out = head(h, y)
    p = torch.sigmoid(head.ph(h)).detach()
    art = head.stats.final_artifacts()["dropmax_retain_per_class"]
    assert torch.allclose(torch.tensor(art["mean_p"], **D64), torch.stack([p[y == c].mean(0) for c in range(K)]))
    assert art["count"] == [8.0] * K
    write_final_artifacts(head, tmp_path)  # what the trial stores at the end
    stored = json.loads((tmp_path / "artifacts" / "dropmax_retain_per_class.json").read_text())
    assert stored["mean_p"] == art["mean_p"]
    assert torch.allclose(out.terms["dropmax_p_target"], p.gather(1, y[:, None]).mean())
    head.stats.on_batch_start(1, 0)  # a new epoch starts from zero
    assert head.stats.count.sum() == 0


def test_params_validation_names_field():
    for mod, bad in ((dropmax, {"tau": 0.0}), (dropmax_qp, {"gamma": -1.0}), (sampled_softmax, {"fraction": 0.0}),
                     (random_dropmax, {"rho": 1.5}), (sparsemax, {"nll_floor": 0.0}), (dropmax, {"eval_mc_samples": -1})):
        with pytest.raises(ValueError, match=next(iter(bad))):
            mod.Params(**bad)


def test_dropmax_learns_digits(tmp_path):
    """A short real training run: DropMax on sklearn digits with an MLP gets well below chance."""
    from trainables import data as data_registry
    from trainables.config import Section
    from trainables.loop import Trainer
    from trainables.resolve import trial_config
    from trainables.trial import build, run_finalize

    torch.set_num_threads(1)
    cfg = trial_config(Section("digits"), Section("mlp", {"widths": (64,)}), Section("dropmax"),
                       TrainConfig(epochs=8, batch_size=64, lr=3e-3, weight_decay=1e-4, init="glorot"))
    splits = data_registry.get("digits").load(data_registry.get("digits").Params(), None, 0)
    tr = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), 0)
    m = {}
    while not tr.done:
        m = tr.run_epoch()
    assert m["test_error"] < 0.1
    assert m["dropmax_p_target"] > m["dropmax_p_nontarget"]
    assert all(k in m for k in ("dropmax_kl", "dropmax_aux", "dropmax_neg_entropy", "test_ece", "test_nll"))

    # Figure 4e on the test images (the trial's finalize hook): rows grouped by true class, all and misclassified
    import json

    out = run_finalize(cfg, tr, tmp_path / "artifacts")
    art = json.loads((tmp_path / "artifacts" / "dropmax_retain_per_class_test.json").read_text())
    x, y = tr.sources["test"].x, tr.sources["test"].y
    with torch.no_grad():
        h = tr.net.backbone(x)
        p, wrong = torch.sigmoid(tr.net.head.ph(h)), tr.net(x).logits.argmax(1) != y
    assert art["all"]["count"] == torch.bincount(y, minlength=10).double().tolist()
    assert sum(art["hard"]["count"]) == int(wrong.sum()) == round(m["test_error"] * len(y)) > 0
    assert torch.allclose(torch.tensor(art["all"]["mean_p"], dtype=torch.float64), torch.stack([p[y == c].mean(0) for c in range(10)]).double())
    c = int(y[wrong][0])  # a class with a misclassified image: its hard row averages exactly those
    assert torch.allclose(torch.tensor(art["hard"]["mean_p"][c], dtype=torch.float64), p[wrong & (y == c)].mean(0).double())
    assert out["dropmax_test_all_p_target"] > out["dropmax_test_all_p_nontarget"]
