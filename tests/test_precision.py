"""``train.precision`` (bf16 autocast), ``train.channels_last`` and ``train.compile`` through the real Trainer.

Stated tolerance: on a fixed seed (scikit-learn digits, MLP 64, Adam 3e-3, batch 64, 5 epochs, CPU),
every regularizer's final validation error under bf16 autocast is within 2 points (7 of 360 images)
of its fp32 value and its final training loss within 0.02 + 2%. Measured 2026-11-29 on this CPU:
the largest gap was 0.55 points (dropmax), 0.28 for four others, 0 for seven.
channels_last: the same LeNet epoch in NHWC gives the same losses within 1e-4 relative (measured on
this CPU: equal train loss, val NLL 1e-7 apart; NHWC kernels may sum in another order) and validation
error within one image; one forward pass agrees to 1e-4 for every model (tests/test_models.py).
compile: ``torch.compile`` on this 2-core CPU took 230 s for two digits epochs (vs 1 s eagerly), too
slow for CI: tested for its wiring only (the compiled forward shares the network's parameters, so
checkpoints and hooks are those of the eager network); ``sweeper bench gpu`` times it where it pays.
"""
from __future__ import annotations

import pytest
import torch

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


@pytest.mark.parametrize("name", sorted(reg_registry.REGULARIZERS))
def test_bf16_autocast_stays_within_tolerance_of_fp32(name, device):
    fp32 = _final(_trainer(name, device))
    tr = _trainer(name, device, precision="bf16")
    bf16 = _final(tr)
    assert bf16["diverged"] == 0 and all(
        v == v and abs(v) != float("inf") for v in bf16.values() if isinstance(v, float)), bf16
    assert abs(bf16["val_error"] - fp32["val_error"]) * 100 <= BF16_MAX_POINTS, (fp32["val_error"], bf16["val_error"])
    assert bf16["train_loss"] == pytest.approx(fp32["train_loss"], rel=0.02, abs=0.02)
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


def test_channels_last_epoch_matches_the_default_layout(device):
    ma = _final(_trainer("dropout", device, model="lenet", epochs=1))  # build + run each in turn: same RNG stream
    b = _trainer("dropout", device, model="lenet", epochs=1, channels_last=True)
    assert b.net.backbone.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert not b.net.backbone.conv2.weight.is_contiguous()
    mb = _final(b)
    assert mb["train_loss"] == pytest.approx(ma["train_loss"], rel=1e-4)
    assert mb["val_nll"] == pytest.approx(ma["val_nll"], rel=1e-4)
    assert abs(mb["val_error"] - ma["val_error"]) <= 1 / 360  # at most one borderline image


def test_compile_wraps_the_same_network():
    tr = _trainer("malicious_dropout", torch.device("cpu"), compile=True)
    assert isinstance(tr.forward, torch._dynamo.eval_frame.OptimizedModule) and tr.forward._orig_mod is tr.net
    eager = _trainer("malicious_dropout", torch.device("cpu"))
    assert tr.state_dict()["net"].keys() == eager.state_dict()["net"].keys()  # no "_orig_mod." prefix
    assert [h.__self__ for h in tr.hooks["on_batch_start"]] == [tr.net.head]


@pytest.mark.parametrize("bad, msg", [({"precision": "fp16"}, "precision must be 'fp32' or 'bf16'"),
                                      ({"channels_last": "yes"}, "channels_last must be true or false"),
                                      ({"compile": 1}, "compile must be true or false")])
def test_bad_precision_options_are_refused(bad, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**bad)


def test_defaults_are_fp32_no_channels_last_no_compile():
    c = TrainConfig()
    assert (c.precision, c.channels_last, c.compile) == ("fp32", False, False)
