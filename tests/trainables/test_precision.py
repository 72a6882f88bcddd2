"""``train.precision`` (bf16 autocast), ``train.channels_last`` and ``train.compile`` through the real Trainer.

Stated tolerance: on a fixed seed (scikit-learn digits, MLP 64, Adam 3e-3, batch 64, 5 epochs, CPU),
every regularizer's final validation error under bf16 autocast is within 2 points (7 of 360 images)
of its fp32 value and its final training loss within 0.02 + 2%. Measured 2026-12-03 on this CPU, with
the heads' losses in float32: the largest gap was 0.28 points (dropmax_qp, dropout, malicious_dropout,
softmax), 0 for the eight others.
channels_last: the same LeNet epoch in NHWC gives the same losses within 1e-4 relative (measured on
this CPU: equal train loss, val NLL 1e-7 apart; NHWC kernels may sum in another order) and validation
error within one image; one forward pass agrees to 1e-4 for every model (tests/trainables/test_models.py).
On CUDA this holds in ``fp32`` because the Trainer turns TF32 off (``precision: tf32`` turns it on).
compile: ``torch.compile`` on this 2-core CPU took 230 s for two digits epochs (vs 1 s eagerly), too
slow for CI: tested for its wiring only (the compiled forward shares the network's parameters, so
checkpoints and hooks are those of the eager network); ``sweeper bench gpu`` times it where it pays.
bf16 without silent precision loss: lazily made parameters (Dropout++'s per-element conv gates) are
float32 and train like fp32; the DropMax family's KL, aux, entropy and cross-entropy terms with logits
[7, -3], the sparsemax loss and the concrete-mask noise are float32 under autocast (each of these
tests fails when the heads compute in bf16).
"""
from __future__ import annotations

import pytest
import torch

from trainables import loop
from trainables import regularizers as reg_registry
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import from_dict
from trainables.trial import build, load_splits

BF16_MAX_POINTS = 2.0


def _trainer(reg: str, device: torch.device, model: str = "mlp", **train) -> Trainer:
    params = {"widths": (64,)} if model == "mlp" else {"padding": "same", "widths": (8, 16, 32)}
    cfg = from_dict({"dataset": {"name": "digits"}, "model": {"name": model, "params": params},
                                 "regularizer": {"name": reg}, "seed": 0,
                                 "train": {"epochs": 5, "batch_size": 64, "lr": 3e-3, **train}})
    splits = load_splits(cfg)
    return Trainer(build(cfg, splits), splits, cfg.train, device, cfg.seed)


def _final(tr: Trainer) -> dict[str, float]:
    m = {}
    while not tr.done:
        m = tr.run_epoch()
    return m


def _dropout_masks_depend_on_dtype(device: torch.device) -> bool:
    """Whether ``F.dropout`` draws other masks for a bf16 than for a float32 tensor under the same seed
    (CUDA's fused kernel does on an H200 with torch 2.11; the CPU's does not)."""
    x = torch.ones(4096, device=device)
    torch.manual_seed(0)
    a = torch.nn.functional.dropout(x, 0.5) != 0
    torch.manual_seed(0)
    b = torch.nn.functional.dropout(x.bfloat16(), 0.5) != 0
    return not torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(reg_registry.REGULARIZERS))
def test_bf16_autocast_stays_within_tolerance_of_fp32(name, device):
    fp32 = _final(_trainer(name, device))
    tr = _trainer(name, device, precision="bf16")
    bf16 = _final(tr)
    assert bf16["diverged"] == 0 and all(
        v == v and abs(v) != float("inf") for v in bf16.values() if isinstance(v, float)), bf16
    assert abs(bf16["val_error"] - fp32["val_error"]) * 100 <= BF16_MAX_POINTS, (fp32["val_error"], bf16["val_error"])
    # nn.Dropout with masks that depend on the dtype: the two runs train on different masks, so their
    # training losses differ as two seeds' do (measured on an H200: 5 %), not only by bf16's rounding
    rel = 0.1 if name == "dropout" and _dropout_masks_depend_on_dtype(device) else 0.02
    assert bf16["train_loss"] == pytest.approx(fp32["train_loss"], rel=rel, abs=0.02)
    assert all(p.dtype == torch.float32 for p in tr.net.parameters())  # master weights stay fp32
    for v in tr.opt.state.values():
        assert all(t.dtype == torch.float32 for k, t in v.items() if k != "step" and torch.is_tensor(t))


def test_bf16_really_runs_the_network_in_bf16(device):
    """Autocast is on: the first Linear's output is bf16 inside the step, the head's loss comes back fp32."""
    tr = _trainer("softmax", device, precision="bf16")
    seen = []
    first = next(m for m in tr.net.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    m = tr.train_epoch()
    assert seen and set(seen) == {torch.bfloat16}
    assert isinstance(m["train_loss"], float) and m["train_loss"] == m["train_loss"]
    fp = _trainer("softmax", device)
    seen.clear()
    next(m for m in fp.net.modules() if isinstance(m, torch.nn.Linear)).register_forward_hook(
        lambda mod, inp, out: seen.append(out.dtype))
    fp.train_epoch()
    assert set(seen) == {torch.float32}


@pytest.mark.parametrize("reg", ["dropout", "dropout_pp"])  # dropout_pp: lazily made per-element conv gates
def test_channels_last_epoch_matches_the_default_layout(reg, device):
    ma = _final(_trainer(reg, device, model="lenet", epochs=1))  # build + run each in turn: same RNG stream
    b = _trainer(reg, device, model="lenet", epochs=1, channels_last=True)
    assert b.net.backbone.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert not b.net.backbone.conv2.weight.is_contiguous()
    mb = _final(b)
    assert mb["train_loss"] == pytest.approx(ma["train_loss"], rel=1e-4)
    assert mb["val_nll"] == pytest.approx(ma["val_nll"], rel=1e-4)
    assert abs(mb["val_error"] - ma["val_error"]) <= 1 / 360  # at most one borderline image


@pytest.mark.parametrize("precision, on", [("fp32", False), ("tf32", True), ("bf16", False)])
def test_precision_sets_tf32_for_the_trial(precision, on):
    """``fp32`` means float32 on CUDA too (TF32 off for matmuls and cuDNN convolutions; PyTorch's default
    has it on for convolutions); ``tf32`` turns both on. Set per Trainer, whatever a previous trial set."""
    for before in (True, False):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = before
        _trainer("softmax", torch.device("cpu"), precision=precision)
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (on, on)
    loop.set_tf32(False)


def test_compile_wraps_the_same_network():
    tr = _trainer("malicious_dropout", torch.device("cpu"), compile=True)
    assert isinstance(tr.forward, torch._dynamo.eval_frame.OptimizedModule) and tr.forward._orig_mod is tr.net
    eager = _trainer("malicious_dropout", torch.device("cpu"))
    assert tr.state_dict()["net"].keys() == eager.state_dict()["net"].keys()  # no "_orig_mod." prefix
    assert [h.__self__ for h in tr.hooks["on_batch_start"]] == [tr.net.head]


@pytest.mark.parametrize("bad, msg", [({"precision": "fp16"}, "precision must be one of fp32, tf32, bf16"),
                                      ({"channels_last": "yes"}, "channels_last must be true or false"),
                                      ({"compile": 1}, "compile must be true or false")])
def test_bad_precision_options_are_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**bad)


def test_defaults_are_fp32_no_channels_last_no_compile():
    c = TrainConfig()
    assert (c.precision, c.channels_last, c.compile) == ("fp32", False, False)


# ---- bf16 without silent precision loss: lazily made gates, losses, KL / aux terms and masks in float32 --------


def _element_gates(tr: Trainer) -> list[torch.nn.Module]:
    from trainables.regularizers.dropout_pp import GDElementGate

    return [m for m in tr.net.modules() if isinstance(m, GDElementGate)]


def test_bf16_per_element_conv_gates_are_float32_and_move_like_fp32(device):
    """Dropout++'s per-element conv gates (k of shape (C, H, W)) are made on the first forward, which runs
    inside bf16 autocast: k and its Adam state must still be float32, and k must move as far as in fp32
    (a bf16 k just below 1 has a spacing of 2^-8: Adam's steps of ~lr = 1e-3 round away and k never moves;
    measured on this CPU: mean |k - 1| after 34 steps 3.4e-3 in fp32, 3.4e-3 in bf16 with float32 gates,
    0.0 with bf16 gates)."""
    moved = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        tr = _trainer("dropout_pp", device, model="lenet", precision=precision, epochs=2, lr=1e-3)
        gates = _element_gates(tr)
        assert len(gates) >= 2
        _final(tr)
        assert all(g.k.dim() == 3 and g.k.dtype == torch.float32 for g in gates), [g.k.dtype for g in gates]
        for g in gates:
            state = tr.opt.state[g.k]
            assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32
        moved[precision] = float(torch.cat([(g.k.detach() - g.init).abs().flatten() for g in gates]).mean())
    assert moved["fp32"] > 1e-4, moved
    assert 0.5 < moved["bf16"] / moved["fp32"] < 2.0, moved


LARGE = (7.0, -3.0, 7.0, -3.0)  # exact in bf16; sigmoid(7) = 0.99909 rounds to 1.0 there


def _large_logit_head(name: str, device: torch.device) -> torch.nn.Module:
    """A head of ``name`` whose every linear layer outputs LARGE (zero weights, exact bf16 biases)."""
    from trainables.contract import BuildContext

    plug = reg_registry.plugin(name)
    torch.manual_seed(0)
    head = plug.build_head(plug.params(), 6, len(LARGE), BuildContext(n_train=100, num_classes=len(LARGE)))
    with torch.no_grad():
        for lin in (m for m in head.modules() if isinstance(m, torch.nn.Linear)):
            lin.weight.zero_()
            lin.bias.copy_(torch.tensor(LARGE))
    return head.to(device).train()


def _forward(head: torch.nn.Module, device: torch.device, bf16: bool):
    g = torch.Generator().manual_seed(1)
    h, y = torch.randn(64, 6, generator=g).to(device), torch.randint(0, len(LARGE), (64,), generator=g).to(device)
    torch.manual_seed(2)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        return head(h, y)


@pytest.mark.parametrize("name", ["dropmax", "dropmax_qp", "det_dropmax", "det_attention"])
def test_bf16_dropmax_family_terms_match_fp32_with_large_logits(name, device):
    """With logits [7, -3] every loss term (KL, aux, negative entropy, cross-entropy) under bf16 autocast is the
    fp32 value (the heads take their layers' outputs to float32 before any sigmoid, log or noise draw), not
    e.g. DropMax's aux of 49.0 from log(1 - 1 + 1e-20) against 10.05 in fp32."""
    head = _large_logit_head(name, device)
    want, got = _forward(head, device, False), _forward(head, device, True)
    assert got.loss.dtype == torch.float32
    assert float(got.loss.detach()) == pytest.approx(float(want.loss.detach()), rel=1e-5)
    assert got.terms.keys() == want.terms.keys() and len(got.terms) >= 3
    for k in want.terms:
        assert got.terms[k].dtype == torch.float32, k
        assert float(got.terms[k]) == pytest.approx(float(want.terms[k]), rel=1e-5, abs=1e-7), k


def test_bf16_sparsemax_loss_is_computed_in_float32(device):
    head = _large_logit_head("sparsemax", device)
    with torch.no_grad():
        head.o.bias.copy_(torch.tensor([1.0, 0.8125, 0.5, -3.0]))  # a support of three classes, exact in bf16
    want, got = _forward(head, device, False), _forward(head, device, True)
    assert got.loss.dtype == torch.float32
    assert float(got.loss.detach()) == pytest.approx(float(want.loss.detach()), rel=1e-6)
    assert got.logits.dtype == torch.float32


def test_bf16_concrete_mask_noise_has_no_exact_zeros(device):
    """The concrete-mask noise u ~ U(0, 1) of DropMax and DropMax (q = p) (both sample with ``concrete_mask``)
    is float32 under bf16 autocast, even from a bf16 probability: bf16 noise is exactly 0 in ~0.2 % of draws.
    With p = 0.5 and tau = 1, z = sigmoid(logit(u)) = u: fp32's rate of u < 1e-6 is 1e-6 per draw (~0.1 in
    these 100,000 draws). (That the heads draw this same float32 noise under autocast is checked by the
    cross-entropy term in test_bf16_dropmax_family_terms_match_fp32_with_large_logits.)"""
    from trainables.regularizers import dropmax

    y = torch.zeros(25_000, dtype=torch.long, device=device)
    prob = torch.full((25_000, 5), 0.5, dtype=torch.bfloat16, device=device)  # a bf16 sigmoid output
    torch.manual_seed(3)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        z = dropmax.concrete_mask(prob, y, 1.0)[:, 1:]
    assert z.dtype == torch.float32
    assert int((z < 1e-6).sum()) <= 3
    assert len(torch.unique(z)) > 50_000  # not bf16's 2^8 levels per octave


def test_bf16_every_head_returns_float32_loss_and_terms(device):
    """Registry-wide: under bf16 autocast every head's training loss and logged terms are float32 (a new head
    that computes its loss from its bf16 layer outputs fails here)."""
    from trainables.contract import BuildContext, OnBatchStart

    heads = [n for n in sorted(reg_registry.REGULARIZERS) if reg_registry.plugin(n).kind == "head"]
    assert len(heads) >= 9
    g = torch.Generator().manual_seed(4)
    h, y = torch.randn(32, 16, generator=g).to(device), torch.randint(0, 5, (32,), generator=g).to(device)
    wrong = {}
    for name in heads:
        plug = reg_registry.plugin(name)
        head = plug.build_head(plug.params(), 16, 5, BuildContext(n_train=100, num_classes=5)).to(device).train()
        if isinstance(head, OnBatchStart):
            head.on_batch_start(0, 0)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = head(h, y)
        dtypes = {"loss": out.loss.dtype, **{k: v.dtype for k, v in out.terms.items()}}
        wrong.update({f"{name}.{k}": d for k, d in dtypes.items() if d != torch.float32})
    assert not wrong, wrong
