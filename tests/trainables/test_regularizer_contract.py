"""The head / gate contract, checked for EVERY registry entry through ``trainables.trial.build``.

Every registered regularizer's ``PLUGIN`` entry is complete (kind, Params, the one builder
of its kind, hooks, finalize) and its declared hooks are exactly those its built network
implements; each hook runs.

Each regularizer is built with a small MLP on random data (gates are injected into
the backbone by the layer factory), trained for one step's forward/backward and
evaluated twice, on every available device (the ``device`` fixture: cpu, plus cuda
when present) and in fp32 and under bf16 autocast. A registry entry whose module is
missing fails here (no skip).
"""
from __future__ import annotations

import inspect
import io
import math
import re
from dataclasses import is_dataclass

import pytest
import torch
from torch import nn

from trainables import contract as C
from trainables import regularizers as reg_registry
from trainables.config import Section, TrialConfig
from trainables.contract import HeadOutput
from trainables.data.splits import Splits
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build, read_state, regularizer_params, run_finalize

NAMES = sorted(reg_registry.REGULARIZERS)
B, F_IN, K = 32, 12, 4
PLAIN_MLP = (nn.Sequential, nn.Linear, nn.ReLU, nn.Flatten, nn.Identity)


def _splits(seed: int = 0) -> Splits:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, F_IN, generator=g)
    y = torch.arange(96) % K
    return Splits(x[:64], y[:64], x[64:80], y[64:80], x[80:], y[80:], K, description="random")


def _cfg(name: str, **train) -> TrialConfig:
    return trial_config(Section("digits"), Section("mlp", {"widths": (16, 16)}), Section(name),
                        TrainConfig(**{"epochs": 2, "batch_size": 16, **train}), seed=0)


def test_registry_lists_the_planned_methods():
    for name in ("softmax", "sparsemax", "sampled_softmax", "random_dropmax", "det_attention", "det_dropmax",
                 "dropmax_qp", "dropmax", "malicious_dropout", "dropout", "dropout_pp", "sal"):
        assert name in reg_registry.REGULARIZERS


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name):
    reg = reg_registry.plugin(name)  # imports the module: fails (does not skip) if missing
    assert isinstance(reg, C.Regularizer) and reg.name == name and reg.kind in ("head", "gate")
    assert reg.params is reg_registry.params(name)  # the registry line and the module name the same class
    params = reg.params()
    assert is_dataclass(params) and type(params).__dataclass_params__.frozen
    builder = reg.build_head if reg.kind == "head" else reg.layer_factory
    assert callable(builder) and (reg.layer_factory if reg.kind == "head" else reg.build_head) is None
    assert list(inspect.signature(builder).parameters) == (
        ["params", "in_features", "num_classes", "ctx"] if reg.kind == "head" else ["params", "ctx"])
    if reg.finalize is not None:
        assert list(inspect.signature(reg.finalize).parameters) == ["net", "params", "test_batches", "device", "artifact_dir"]
    assert set(reg.hooks) <= set(C.HOOKS) and len(set(reg.hooks)) == len(reg.hooks)
    mod = reg_registry.get(name)
    assert mod.PLUGIN is reg and mod.__doc__ and len(mod.__doc__) > 80
    assert not hasattr(mod, "KIND")  # the entry says the kind; no second, name-found copy


@pytest.mark.parametrize("name", NAMES)
def test_declared_hooks_are_implemented_and_run(name, tmp_path):
    """The hooks the entry declares are exactly the hook protocols its built network implements
    (glorot init re-applies gate values), and each runs: schedules, projections, a finite penalty
    with a gradient, no-decay parameters of the network, declared epoch metrics, artifacts, finalize."""
    torch.manual_seed(0)
    splits = _splits()
    cfg = _cfg(name, init="glorot")
    net = build(cfg, splits)
    reg = reg_registry.plugin(name)
    found = {h for h in C.HOOKS if C.implementers(net, h)}
    assert found == set(reg.hooks), f"{name}: declares {[h.__name__ for h in reg.hooks]}, implements {[h.__name__ for h in found]}"
    net.train()
    for m in C.implementers(net, C.OnBatchStart):
        m.on_batch_start(0, 0)
    out = net(splits.train_x[:B], splits.train_y[:B])
    loss = out.loss + sum((m.penalty() for m in C.implementers(net, C.Penalty)), torch.zeros(()))
    assert torch.isfinite(loss)
    loss.backward()
    for m in C.implementers(net, C.AfterOptimizerStep):
        m.after_optimizer_step()
    own = {id(p) for p in net.parameters()}
    for m in C.implementers(net, C.NoWeightDecay):
        assert all(id(p) in own for p in m.no_weight_decay())
    for m in C.implementers(net, C.EpochMetrics):
        metrics = m.epoch_metrics()
        assert metrics and all(_declared(reg.params, k) and math.isfinite(v) for k, v in metrics.items()), metrics
    for m in C.implementers(net, C.FinalArtifacts):
        assert isinstance(m.final_artifacts(), dict)
    for m in C.implementers(net, C.ResetGates):
        m.reset_gates()
        assert torch.all(m.k == m.init)
    if reg.finalize is not None:
        batches = lambda: [(splits.test_x, splits.test_y)]  # noqa: E731
        extra = reg.finalize(net, regularizer_params(cfg), batches, torch.device("cpu"), tmp_path / "art")
        assert extra and all(_declared(reg.params, k) for k in extra), extra
        assert any((tmp_path / "art").iterdir())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", NAMES)
def test_build_train_step_and_eval(name, device, precision):
    torch.manual_seed(0)
    splits = _splits()
    net = build(_cfg(name), splits).to(device)
    if reg_registry.plugin(name).kind == "gate":  # the factory really put gate layers into the backbone
        assert any(not isinstance(m, PLAIN_MLP) for m in net.backbone.modules() if m is not net.backbone)
    x, y = splits.train_x[:B].to(device), splits.train_y[:B].to(device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")  # noqa: E731

    net.train()
    for m in C.implementers(net, C.OnBatchStart):  # schedules that need an epoch/batch (Malicious Dropout) see the first batch
        m.on_batch_start(0, 0)
    with autocast():
        out = net(x, y)
    assert isinstance(out, HeadOutput)
    assert out.logits.shape == (B, K) and out.logits.device.type == device.type
    assert out.logits.dtype in ((torch.float32,) if precision == "fp32" else (torch.float32, torch.bfloat16))
    assert out.loss is not None and out.loss.dim() == 0 and torch.isfinite(out.loss)
    for k, v in out.terms.items():
        assert k.startswith(name + "_"), f"term {k!r} is not prefixed with the regularizer name"
        assert torch.as_tensor(v).dim() == 0 and torch.isfinite(torch.as_tensor(v)), k
    loss = out.loss
    for m in C.implementers(net, C.Penalty):
        loss = loss + m.penalty()
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{pname} received no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} received an all-zero gradient"

    for pname, p in net.named_parameters():  # autocast never changes what is stored
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32, pname

    net.eval()
    with torch.no_grad(), autocast():
        a, b = net(splits.val_x.to(device)), net(splits.val_x.to(device))
    assert a.logits.shape == (len(splits.val_y), K)
    assert torch.isfinite(torch.log_softmax(a.logits, 1)).all()
    assert torch.equal(a.logits, b.logits), "evaluation must be deterministic"


def _declared(params_cls, metric: str) -> bool:
    return any(re.fullmatch(re.escape(m).replace(re.escape("{i}"), r"[1-9][0-9]*"), metric) for m in params_cls.METRICS)


@pytest.mark.parametrize("name", NAMES)
def test_two_epochs_through_the_loop(name, device, tmp_path):
    """The real Trainer: finite metrics, error/NLL/ECE present; the checkpoint, written with torch.save
    and read back by ``read_state`` (``weights_only=True``), reproduces evaluation."""
    torch.manual_seed(0)
    splits = _splits()
    cfg = _cfg(name, weight_decay=1e-4, init="glorot")
    tr = Trainer(build(cfg, splits), splits, cfg.train, device, 0)
    m = {}
    while not tr.done:
        m = tr.run_epoch()
    assert m["diverged"] == 0
    for k in ("train_loss", "val_error", "val_nll", "val_ece", "test_error", "test_nll", "test_ece"):
        assert math.isfinite(m[k]), k
    assert 0 <= m["test_ece"] <= 1 and 0 <= m["test_error"] <= 1
    # every metric beyond the common ones is declared in the regularizer's Params.METRICS (the list
    # the spec validator accepts as objectives), including what finalize reports
    m = {**m, **run_finalize(cfg, tr, tmp_path)}
    common = {"epoch", "diverged", "seconds", "train_loss"} | {f"{s}_{x}" for s in ("val", "test") for x in ("error", "nll", "ece")}
    common |= {"best_epoch", "best_val_error", "best_test_error", "best_test_nll", "best_test_ece"}  # the loop's, every trial
    undeclared = [k for k in m if k not in common and not _declared(reg_registry.params(name), k)]
    assert not undeclared, f"{name} reports metrics not declared in its Params.METRICS: {undeclared}"
    buf = io.BytesIO()
    torch.save(tr.state_dict(), buf)
    buf.seek(0)
    tr2 = Trainer(build(cfg, splits), splits, cfg.train, device, 1)
    tr2.load_state_dict(read_state(buf))
    assert tr2.epoch == tr.epoch and tr2.evaluate("test") == tr.evaluate("test")
    assert tr2.state_dict()["net"].keys() == tr.state_dict()["net"].keys()


class _Evil:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (open, (str(self.canary), "w"))


def test_a_checkpoint_naming_a_python_object_is_refused(tmp_path):
    """``read_state`` (what ``run_trial`` resumes from) uses ``weights_only=True``: a checkpoint on
    shared storage that smuggles a callable is refused and the callable never runs."""
    canary = tmp_path / "canary"
    torch.save({"net": {}, "epoch": 1, "payload": _Evil(canary)}, tmp_path / "state.pt")
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        read_state(tmp_path / "state.pt")
    assert not canary.exists()
