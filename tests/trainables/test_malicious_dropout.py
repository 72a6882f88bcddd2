"""Malicious Dropout (seed 004): drop mask vs brute force, rho = 0, p_pass, schedules, eval."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainables.contract import BuildContext
from trainables.regularizers import malicious_dropout as md
from trainables.regularizers import softmax

CTX = BuildContext(n_train=100, num_classes=5)


def head(d: int = 12, k: int = 5, seed: int = 0, **kw) -> md.MaliciousDropoutHead:
    torch.manual_seed(seed)
    return md.build_head(md.Params(**kw), d, k, CTX)


def brute_force_drop(h, w, y, rho, omega):
    """Loops over examples, units and classes: V by the seed's formula, then the top rho by sorting."""
    b, d = h.shape
    drop = torch.zeros(b, d, dtype=torch.bool)
    for n in range(b):
        v = []
        for j in range(d):
            wrong = sum(float(w[k, j]) for k in range(w.shape[0]) if k != int(y[n]))
            v.append(float(h[n, j]) * float(w[y[n], j]) - omega * float(h[n, j]) * wrong)
        for j in sorted(range(d), key=lambda j: -v[j])[:rho]:
            drop[n, j] = True
    return drop


@pytest.mark.parametrize("rho", [0, 1, 3, 7, 12])
def test_dropped_units_equal_brute_force_top_rho(rho):
    g = torch.Generator().manual_seed(rho)
    h, w, y = torch.randn(6, 12, generator=g), torch.randn(5, 12, generator=g), torch.randint(0, 5, (6,), generator=g)
    got = md.malicious_drop_mask(h, w, y, rho, omega=0.3)
    want = brute_force_drop(h, w, y, rho, 0.3)
    assert torch.equal(got, want)
    assert torch.equal(got.sum(1), torch.full((6,), rho))


def test_module_drops_brute_force_units_and_logits_match():
    m = head(rho=4, rho_unit="count", omega=None).train()
    assert m.omega == pytest.approx(1 / 11)
    g = torch.Generator().manual_seed(1)
    h, y = torch.rand(8, 12, generator=g), torch.randint(0, 5, (8,), generator=g)
    out = m(h, y)
    drop = brute_force_drop(h, m.o.weight.detach(), y, 4, 1 / 11)
    with torch.no_grad():
        want = F.linear(h * (~drop), m.o.weight, m.o.bias)
    torch.testing.assert_close(out.logits.detach(), want, rtol=0, atol=1e-6)
    assert float(out.loss.detach()) == pytest.approx(float(F.cross_entropy(want, y)), abs=1e-6)


def test_ties_drop_top_values():
    """With ReLU zeros V ties at 0: the dropped V values are still the rho largest of each row."""
    g = torch.Generator().manual_seed(2)
    h = torch.relu(torch.randn(5, 20, generator=g))
    w, y = torch.randn(4, 20, generator=g), torch.randint(0, 4, (5,), generator=g)
    drop = md.malicious_drop_mask(h, w, y, 15, 0.1)
    v = md.malicious_scores(h, w, y, 0.1)
    for n in range(5):
        assert torch.equal(v[n][drop[n]].sort().values, v[n].sort().values[-15:])


def test_rho_zero_is_exactly_the_no_dropout_network():
    m = head(rho=0)
    torch.manual_seed(0)
    s = softmax.build_head(softmax.Params(), 12, 5, CTX)
    assert torch.equal(m.o.weight, s.o.weight) and torch.equal(m.o.bias, s.o.bias)
    h, y = torch.randn(9, 12, requires_grad=True), torch.randint(0, 5, (9,))
    for net in (m.train(), s.train()):
        net(h, y).loss.backward()
    torch.testing.assert_close(m.o.weight.grad, s.o.weight.grad, rtol=0, atol=0)
    assert torch.equal(m(h, y).logits, s(h, y).logits)
    m.eval(), s.eval()
    assert torch.equal(m(h).logits, s(h).logits)  # p_pass == 1 exactly


def test_p_pass_matches_hand_count_and_scales_at_test():
    m = head(rho=3, rho_unit="count", omega=0.2).train()
    g = torch.Generator().manual_seed(3)
    kept, seen = torch.zeros(12), 0
    for b in (4, 7, 5):
        m.on_batch_start(0, 0)
        h, y = torch.randn(b, 12, generator=g), torch.randint(0, 5, (b,), generator=g)
        kept += (~brute_force_drop(h, m.o.weight.detach(), y, 3, 0.2)).float().sum(0)
        seen += b
        m(h, y)
    assert torch.equal(m.kept, kept.long()) and int(m.seen) == 16
    torch.testing.assert_close(m.p_pass(), kept / seen)
    m.eval()
    h = torch.randn(3, 12)
    torch.testing.assert_close(m(h).logits, F.linear(h * (kept / seen), m.o.weight, m.o.bias))


def test_p_pass_ema_matches_hand_recursion():
    m = head(rho=0.25, omega=0.0, p_pass_window="ema", ema_decay=0.8).train()
    g = torch.Generator().manual_seed(4)
    ema = torch.zeros(12)
    for t in range(1, 4):
        m.on_batch_start(0, t)
        h, y = torch.randn(6, 12, generator=g), torch.randint(0, 5, (6,), generator=g)
        frac = (~brute_force_drop(h, m.o.weight.detach(), y, 3, 0.0)).float().mean(0)
        ema = 0.8 * ema + 0.2 * frac
        m(h, y)
    torch.testing.assert_close(m.p_pass(), ema / (1 - 0.8**3))


@pytest.mark.parametrize("kind,offset", [("forward", -2.0), ("reverse", 1.5), ("forward", 0.0)])
def test_annealing_follows_the_seed_formula(kind, offset):
    m = head(d=64, schedule=kind, anneal_offset=offset)
    for epoch in (0, 1, 4, 9):
        m.on_batch_start(epoch, 3)
        s = 1 / (1 + math.exp(-(offset + epoch)))
        want = 64 * s if kind == "forward" else 64 * (1 - s)
        assert m.rho_now == math.floor(want + 0.5)
    assert md.anneal_rho("forward", 0, 4096, -math.log(15)) == 256
    assert md.anneal_rho("reverse", 0, 4096, math.log(15)) == 256
    assert md.anneal_rho("forward", 2, 100, 0.0, rate=0.5) == round(100 / (1 + math.exp(-1)))


def test_standard_and_fraction_rounding():
    m = head(d=10, rho=0.25)  # 2.5 -> 3 (half up)
    assert m.base_rho == 3 and m.rho_now == 3
    for e, b in [(0, 0), (5, 17)]:
        m.on_batch_start(e, b)
        assert m.rho_now == 3
    assert head(d=10, rho=4).base_rho == 4 and head(d=10, rho=1.0, rho_unit="fraction").base_rho == 10
    with pytest.raises(ValueError, match="rho must be at most the layer width"):
        head(d=10, rho=11)


def test_randomized_is_uniform_over_0_to_L_and_follows_the_seed():
    torch.manual_seed(5)
    m = md.build_head(md.Params(schedule="randomized"), 8, 3, CTX)
    torch.manual_seed(5)
    draws = []
    for b in range(4000):
        m.on_batch_start(0, b)
        draws.append(m.rho_now)
    counts = torch.bincount(torch.tensor(draws), minlength=9)
    assert len(counts) == 9 and counts.min() > 350 and counts.max() < 550  # expected 444 each
    torch.manual_seed(5)
    again = []
    for b in range(20):
        m.on_batch_start(0, b)
        again.append(m.rho_now)
    assert again == draws[:20]


def test_periodic_active_exactly_every_t_period_batches():
    m = head(d=12, schedule="periodic", t_period=5, rho=2).train()
    active = []
    for epoch in range(3):
        for b in range(7):  # 7 batches per epoch: the period runs across epoch boundaries
            m.on_batch_start(epoch, b)
            h, y = torch.randn(4, 12), torch.randint(0, 5, (4,))
            out = m(h, y)
            undropped = torch.equal(out.logits, m.o(h))
            assert undropped == (m.rho_now == 0)
            active.append(m.rho_now > 0)
    assert [i for i, a in enumerate(active) if a] == [4, 9, 14, 19]
    metrics = m.epoch_metrics()
    assert metrics["malicious_dropout_active"] == pytest.approx(4 / 21)
    assert metrics["malicious_dropout_rho"] == pytest.approx(8 / 21)
    state = m.state_dict()
    m2 = head(d=12, schedule="periodic", t_period=5, rho=2)
    m2.load_state_dict(state)
    assert m2.step == 21 and torch.equal(m2.kept, m.kept)
    nxt = []
    for b in range(5):
        m2.on_batch_start(3, b)
        nxt.append(m2.rho_now)
    assert nxt == [0, 0, 0, 2, 0]  # global batches 21..25: 24 is active


def test_evaluation_is_deterministic_and_does_not_count():
    m = head(rho=5, rho_unit="count").train()
    m.on_batch_start(0, 0)
    m(torch.randn(10, 12), torch.randint(0, 5, (10,)))
    m.eval()
    kept, seen = m.kept.clone(), m.seen.clone()
    h, y = torch.randn(7, 12), torch.randint(0, 5, (7,))
    a, b = m(h, y), m(h, y)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.loss, b.loss)
    assert torch.equal(m.kept, kept) and torch.equal(m.seen, seen)
    assert not torch.equal(m.p_pass(), torch.ones(12))


def test_dropped_units_get_no_gradient_from_the_pure_loss():
    """(Its float64 gradcheck is registry-driven: tests/test_regularizer_gradcheck.py.)"""
    g = torch.Generator().manual_seed(6)
    h = torch.randn(4, 9, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 9, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(0, 3, (4,), generator=g)
    loss, logits, drop = md.malicious_dropout_loss(h, w, b, y, 3, 0.5)
    loss.backward()
    assert torch.equal(drop, md.malicious_drop_mask(h, w, y, 3, 0.5)) and torch.equal(drop.sum(1), torch.full((4,), 3))
    assert torch.equal(h.grad == 0, drop)  # dropped units get no gradient
    assert torch.equal(logits, F.linear(h.masked_fill(drop, 0.0), w, b))


@pytest.mark.parametrize(
    "kw,field",
    [({"schedule": "cyclic"}, "schedule"), ({"rho": 2.5}, "rho"), ({"rho": 1.5, "rho_unit": "fraction"}, "rho"),
     ({"omega": -1.0}, "omega"), ({"t_period": 0}, "t_period"), ({"p_pass_window": "last"}, "p_pass_window"),
     ({"ema_decay": 1.0}, "ema_decay"), ({"rho_unit": "percent"}, "rho_unit")],
)
def test_params_errors_name_the_field(kw, field):
    with pytest.raises(ValueError, match=f"^{field} must"):
        md.Params(**kw)


def test_trains_in_the_project_loop_on_digits():
    from trainables.loop import Trainer
    from trainables.resolve import from_dict
    from trainables.trial import build, load_splits

    cfg = from_dict({
        "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [64]}},
        "regularizer": {"name": "malicious_dropout", "params": {"schedule": "periodic", "t_period": 3, "rho": 8}},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.01}, "seed": 1,
    })
    splits = load_splits(cfg)
    trainer = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), 1)
    trainer.run_epoch()
    out = trainer.run_epoch()
    steps = trainer.steps_per_epoch
    assert out["diverged"] == 0 and out["test_error"] < 0.2
    assert out["malicious_dropout_rho"] == pytest.approx(8 * sum((s + 1) % 3 == 0 for s in range(steps, 2 * steps)) / steps)
    assert 0.5 < out["malicious_dropout_p_pass_min"] <= out["malicious_dropout_p_pass_mean"] < 1.0
