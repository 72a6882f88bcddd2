"""Nothing in a training step forces a host-device synchronisation, for every head and gate.

A sync is any read of a device tensor's *value* by the host: ``.item()``, ``.tolist()``,
``.numpy()``, ``float()/int()/bool()`` of a tensor (also hidden in ``if tensor:``), ``.cpu()`` or
``.to("cpu")``, ``nonzero``/``masked_select``/``unique`` and boolean-mask indexing (their output
size depends on the values). On CUDA each one stalls the host until the GPU catches up.

CPU check (runs in CI): ``SyncRecorder`` is a ``TorchFunctionMode`` that follows provenance: the
network's parameters and buffers, their gradients and the device-resident data splits are "device
data", and so is every output of a torch call that takes device data. A value read of device data
is recorded with the Python frame that made it. Host-side values (the loop's CPU generator, the
Malicious Dropout schedule's host RNG, optimizer step counters) are not device data, so reading
them is allowed, exactly as on a GPU. The test runs ``Trainer.train_epoch`` for a 2-step and a
6-step epoch of every regularizer and asserts (1) no regularizer, model or data code reads device
data during training, and (2) the loop's own reads do not grow with the number of steps (they are
the once-per-epoch totals). ``test_the_recorder_catches_a_sync`` shows the check can fail.

CUDA check (when a GPU is present): the same step under ``torch.cuda.set_sync_debug_mode("error")``.
"""
from __future__ import annotations

import sys
from collections import Counter

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from trainables import regularizers as reg_registry
from trainables.config import Section
from trainables.data.splits import Splits
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build

NAMES = sorted(reg_registry.REGULARIZERS)
K = 4
READS = {"item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__complex__", "cpu",
         "nonzero", "masked_select", "unique", "unique_consecutive", "argwhere", "equal", "allclose"}


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _caller() -> str:
    """The innermost frame outside torch and this file: who asked for the value."""
    f = sys._getframe(2)
    while f is not None and (f.f_code.co_filename.startswith(torch.__path__[0]) or f.f_code.co_filename == __file__):
        f = f.f_back
    return "?" if f is None else f"{f.f_code.co_filename.rsplit('/', 2)[-2]}/{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_code.co_name}"


class SyncRecorder(TorchFunctionMode):
    """Records host reads of device data (see the module docstring) as ``(caller, op)`` pairs."""

    def __init__(self, net: nn.Module, data: list[torch.Tensor]):
        super().__init__()
        self.device_data: dict[int, torch.Tensor] = {}  # id -> tensor (kept alive so ids stay unique)
        for t in [*net.parameters(), *net.buffers(), *data]:
            self._mark(t)
        self.hooks = [p.register_post_accumulate_grad_hook(lambda p: self._mark(p.grad))
                      for p in net.parameters() if p.requires_grad]
        self.reads: list[tuple[str, str]] = []

    def _mark(self, t: torch.Tensor) -> None:
        self.device_data[id(t)] = t

    def _is_device_data(self, obj) -> bool:
        return any(id(t) in self.device_data or (t._base is not None and id(t._base) in self.device_data)
                   for t in _tensors(obj))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        on_device = self._is_device_data((args, kwargs))
        if on_device:
            to_host = name == "to" and any(str(a) == "cpu" for a in (*args[1:], kwargs.get("device")) if a is not None)
            mask_index = name in ("__getitem__", "__setitem__", "index_put_", "index_put") and any(
                t.dtype == torch.bool for t in _tensors(args[1:]))
            if name in READS or to_host or mask_index:
                self.reads.append((_caller(), name))
        out = func(*args, **kwargs)
        if on_device:
            for t in _tensors(out):
                self._mark(t)
        return out

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()
        return super().__exit__(*exc)


def _splits(n_train: int) -> Splits:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + 32, 1, 8, 8, generator=g)
    y = torch.arange(n_train + 32) % K
    return Splits(x[:n_train], y[:n_train], x[n_train:n_train + 16], y[n_train:n_train + 16], x[-16:], y[-16:], K,
                  augment="crop_flip")


def _epoch_reads(name: str, steps: int, device: torch.device, net_name: str = "lenet") -> list[tuple[str, str]]:
    torch.manual_seed(0)
    splits = _splits(16 * steps)
    model = Section(net_name, {"widths": (4, 6, 8), "padding": "same"} if net_name == "lenet" else {"widths": (8,)})
    cfg = trial_config(Section("digits"), model, Section(name), TrainConfig(epochs=2, batch_size=16), seed=0)
    tr = Trainer(build(cfg, splits), splits, cfg.train, device, 0)
    data = [t for src in tr.sources.values() for t in vars(src).values() if isinstance(t, torch.Tensor)]
    assert data, "found no device-resident split tensors to track"
    with torch.no_grad():  # materialise lazy parameters (e.g. gates sized at the first batch) before tracking
        tr.net.eval()(tr.sources["val"].x[:2])
    with SyncRecorder(tr.net, data) as rec:
        tr.train_epoch()
    return rec.reads


@pytest.mark.parametrize("name", NAMES)
def test_no_host_sync_inside_the_training_step(name, device):
    short, long = _epoch_reads(name, 2, device), _epoch_reads(name, 6, device)
    outside_loop = [r for r in long if not r[0].startswith("trainables/loop.py:")]
    assert not outside_loop, f"{name}: host reads of device data during training: {Counter(outside_loop)}"
    assert Counter(long) == Counter(short), (
        f"{name}: the loop's host reads grow with the number of steps (a sync per step): "
        f"2 steps {Counter(short)}, 6 steps {Counter(long)}")
    assert len(long) >= 1  # the epoch's summed loss is read once: the recorder sees the loop's reads


class _SyncingHead(nn.Module):
    """A head with a per-step ``.item()`` and a boolean-mask index: what the recorder must catch."""

    def __init__(self, d: int):
        super().__init__()
        self.o = nn.Linear(d, K)

    def forward(self, h, target=None):
        from trainables.contract import HeadOutput

        logits = self.o(h)
        scale = 1.0 + 0.0 * logits.mean().item()
        kept = logits[logits > -1e9]  # boolean mask: the output size needs the values
        loss = None if target is None else nn.functional.cross_entropy(logits * scale, target) + 0 * kept.sum()
        return HeadOutput(logits, loss, {})


def test_the_recorder_catches_a_sync():
    torch.manual_seed(0)
    splits = _splits(32)
    cfg = trial_config(Section("digits"), Section("mlp", {"widths": (8,)}), Section("softmax"),
                       TrainConfig(epochs=1, batch_size=16), seed=0)
    net = build(cfg, splits)
    net.head = _SyncingHead(net.backbone.feature_dim)
    tr = Trainer(net, splits, cfg.train, torch.device("cpu"), 0)
    data = [t for src in tr.sources.values() for t in vars(src).values() if isinstance(t, torch.Tensor)]
    with SyncRecorder(tr.net, data) as rec:
        tr.train_epoch()
    ops = Counter(op for caller, op in rec.reads if caller.endswith("test_sync.py:forward") or "forward" in caller)
    assert ops["item"] == 2 and ops["__getitem__"] == 2, rec.reads  # one of each per step, 2 steps


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: set_sync_debug_mode is a CUDA facility")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_step_under_sync_debug_mode_error(name):
    """On a GPU: forward, loss, penalties, backward, optimizer and hooks with syncs made errors."""
    device = torch.device("cuda")
    torch.manual_seed(0)
    splits = _splits(32)
    cfg = trial_config(Section("digits"), Section("lenet", {"widths": (4, 6, 8), "padding": "same"}), Section(name),
                       TrainConfig(epochs=1, batch_size=16), seed=0)
    tr = Trainer(build(cfg, splits), splits, cfg.train, device, 0)
    x, y = tr.sources["train"].batches(16, torch.arange(32)).__iter__().__next__()
    tr.net.train()
    for _ in range(2):  # the second step runs with every lazily created state already there
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            loss, _ = tr.step(x, y)  # raises on any host-device sync while the debug mode is "error"
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert torch.isfinite(loss).item()  # read back only after the step, outside the debug mode
