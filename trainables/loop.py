"""Train / evaluate epochs. No Ray or MLflow here.

``Trainer.run_epoch()`` trains one epoch, evaluates on the validation split,
and returns a plain dict of floats. Batches come from one source per split
(``data/sources.py``): index slices of tensors already on the device, or a
DataLoader for image folders larger than memory; either way in an order drawn
each epoch by a generator seeded from the trial seed. Per-batch statistics
stay on the device; the host reads them once per epoch. Regularizer hooks (the protocols
``OnBatchStart``, ``AfterOptimizerStep``, ``Penalty``, ``NoWeightDecay``, ``EpochMetrics`` of
``trainables/contract.py``) are collected once from the network's submodules.

Best validation epoch: after each validation the loop keeps a copy of the
model state (on the device) when its ``val_error`` is the lowest so far (ties:
lower ``val_nll``); after the last epoch that state is evaluated on the test
split once (``best_epoch``, ``best_val_error``, ``best_test_error``,
``best_test_nll``, ``best_test_ece``) next to the final model's ``test_*``. No
test evaluation happens during training. The copy is part of the checkpoint.

Learning-rate schedules: ``constant``; ``thirds`` (x0.1 after a third of the
steps and again after two thirds, the DropMax authors' protocol); ``cosine``
(to zero over the run).

Precision and layout (``precision``, ``channels_last``, ``compile``; see
``TrainConfig``): bf16 autocast wraps the network's forward and its loss in
training and evaluation; weights, gradients, optimizer state, the summed loss
and the metrics stay fp32 (the loss and logits are cast back to fp32 before
anything reads them). ``fp32`` and ``bf16`` switch TF32 off on CUDA (``set_tf32``), ``tf32`` on.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch
from torch import nn

from trainables import metric_names as M
from trainables import metrics
from trainables.config import TrainConfig
from trainables.contract import (
    AfterOptimizerStep,
    EpochMetrics,
    HeadOutput,
    NoWeightDecay,
    OnBatchStart,
    Penalty,
    implementers,
)
from trainables.data.augment import AUGMENTATIONS
from trainables.data.sources import make_sources
from trainables.data.splits import Splits, StreamedSplits


class Net(nn.Module):
    """Backbone + head: ``forward(x, target) -> HeadOutput``."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        return self.head(self.backbone(x), target)


def set_tf32(on: bool) -> None:
    """TF32 tensor cores for float32 CUDA matmuls and cuDNN convolutions, on or off (process-global flags,
    set by every Trainer from ``precision``; they do nothing on the CPU)."""
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def place(net: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """``net`` on ``device``; with ``channels_last``, its 4-D and 5-D parameters and buffers in NHWC.

    What ``net.to(device, memory_format=torch.channels_last)`` does, except that lazily made
    parameters still unmade (Dropout++ / SAL per-element conv gates, made at the first forward and
    never 4-D) are left alone: ``Module.to`` with a memory format fails on them.
    """
    net = net.to(device)
    if channels_last:
        for t in [*net.parameters(), *net.buffers()]:
            if not isinstance(t, nn.parameter.UninitializedTensorMixin) and t.dim() in (4, 5):
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    return net


def make_optimizer(net: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    no_decay = {id(p) for m in implementers(net, NoWeightDecay) for p in m.no_weight_decay()}
    decay = [p for p in net.parameters() if id(p) not in no_decay]
    rest = [p for p in net.parameters() if id(p) in no_decay]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    cls = torch.optim.AdamW if cfg.decoupled_weight_decay else torch.optim.Adam
    return cls(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)


def _lr_factor(schedule: str, total_steps: int):
    def factor(step: int) -> float:
        if schedule == "thirds":
            return 1.0 if step < total_steps / 3 else (0.1 if step < 2 * total_steps / 3 else 0.01)
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        return 1.0

    return factor


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A detached copy of a module state_dict on its device (extra state such as schedule counters deep-copied)."""
    return {k: v.detach().clone() if torch.is_tensor(v) else copy.deepcopy(v) for k, v in state.items()}


class Trainer:
    def __init__(self, net: Net, splits: Splits | StreamedSplits, cfg: TrainConfig, device: torch.device, seed: int):
        set_tf32(cfg.precision == "tf32")
        self.net = place(net, device, cfg.channels_last)
        self.forward = torch.compile(self.net) if cfg.compile else self.net  # shares self.net's parameters
        self.cfg = cfg
        self.device = device
        self.sources = make_sources(splits, device)
        self.n_train = len(self.sources["train"])
        self.steps_per_epoch = math.ceil(self.n_train / cfg.batch_size)
        self.augment = None
        if splits.augment:
            self.augment = AUGMENTATIONS[splits.augment]
        self.opt = make_optimizer(self.net, cfg)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, _lr_factor(cfg.lr_schedule, cfg.epochs * self.steps_per_epoch)
        )
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.epoch = 0
        self.hooks = {  # bound hook methods, by hook, in net.modules() order
            "on_batch_start": [m.on_batch_start for m in implementers(self.net, OnBatchStart)],
            "after_optimizer_step": [m.after_optimizer_step for m in implementers(self.net, AfterOptimizerStep)],
            "penalty": [m.penalty for m in implementers(self.net, Penalty)],
            "epoch_metrics": [m.epoch_metrics for m in implementers(self.net, EpochMetrics)],
        }
        self.best: dict[str, Any] | None = None  # {"epoch", "key": (val_error, val_nll), "net": state copy}

    # --- one epoch -------------------------------------------------------------------------
    def step(self, x: torch.Tensor, y: torch.Tensor, batch: int = 0):
        """One training step on a batch: hooks, forward (autocast), loss + penalties, backward, optimizer,
        lr schedule, after-step hooks. Returns (the fp32 loss tensor, the head's output); reads nothing
        back to the host. ``train_epoch``, ``sweeper bench gpu`` and the sync tests all run this."""
        for fn in self.hooks["on_batch_start"]:
            fn(self.epoch, batch)
        with self.autocast():
            out = self.forward(self.layout(x), y)
        loss = out.loss.float()
        for fn in self.hooks["penalty"]:
            loss = loss + fn()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        for fn in self.hooks["after_optimizer_step"]:
            fn()
        return loss, out

    def train_epoch(self) -> dict[str, float]:
        self.net.train()
        order = torch.randperm(self.n_train, generator=self.gen)
        loss_sum = torch.zeros((), device=self.device)
        term_sums: dict[str, torch.Tensor] = {}
        for b, (x, y) in enumerate(self.sources["train"].batches(self.cfg.batch_size, order)):
            if self.augment is not None:
                x = self.augment(x, self.gen)
            loss, out = self.step(x, y, b)
            loss_sum += loss.detach()
            for k, v in out.terms.items():
                term_sums[k] = term_sums.get(k, 0.0) + v.detach().float()
        n = self.steps_per_epoch
        out_metrics = {M.TRAIN_LOSS: float(loss_sum) / n}
        out_metrics.update({k: float(v) / n for k, v in term_sums.items()})
        return out_metrics

    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        self.net.eval()
        total = None
        for x, y in self.sources[split].batches(self.cfg.eval_batch_size):
            with self.autocast():
                logits = self.forward(self.layout(x)).logits
            total = metrics.accumulate(total, metrics.classification_metrics(logits.float(), y))
        if split == "test":
            self.last_test_bins = metrics.calibration_bins(total)
        return metrics.finalize(total, split)

    def autocast(self) -> torch.autocast:
        """bf16 autocast on the trial's device when ``precision: bf16``; a no-op context otherwise."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """Input batch in the network's memory format (NHWC for images when ``channels_last``)."""
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last and x.dim() == 4 else x

    def run_epoch(self) -> dict[str, float]:
        """Train one epoch, evaluate on validation (and on test after the last epoch)."""
        t0 = time.perf_counter()
        out = self.train_epoch()
        self.epoch += 1
        out[M.EPOCH] = self.epoch
        if not math.isfinite(out[M.TRAIN_LOSS]):
            out[M.DIVERGED] = 1
            out[M.SECONDS] = time.perf_counter() - t0
            return out
        out[M.DIVERGED] = 0
        out.update(self.evaluate("val"))
        self._keep_if_best(out)
        if self.epoch == self.cfg.epochs:
            out.update(self.evaluate("test"))
            self.test_calibration = self.last_test_bins  # the final model's bins (not the best epoch's)
            out.update(self.evaluate_best())
        for fn in self.hooks["epoch_metrics"]:
            out.update(fn())
        out[M.SECONDS] = time.perf_counter() - t0
        return out

    # --- best validation epoch ---------------------------------------------------------------
    def _keep_if_best(self, val: dict[str, float]) -> None:
        key = (val[M.VAL_ERROR], val[M.VAL_NLL])
        if not all(math.isfinite(v) for v in key) or (self.best is not None and key >= self.best["key"]):
            return
        self.best = {"epoch": self.epoch, "key": key, "net": _copy_state(self.net.state_dict())}

    def evaluate_best(self) -> dict[str, float]:
        """Test metrics of the best validation epoch's state (the net is restored afterwards)."""
        if self.best is None:
            return {}
        final = _copy_state(self.net.state_dict())
        self.net.load_state_dict(self.best["net"])
        try:
            test = self.evaluate("test")
        finally:
            self.net.load_state_dict(final)
        return {
            M.BEST_EPOCH: float(self.best["epoch"]), M.BEST_VAL_ERROR: self.best["key"][0],
            M.BEST_TEST_ERROR: test[M.TEST_ERROR], M.BEST_TEST_NLL: test[M.TEST_NLL], M.BEST_TEST_ECE: test[M.TEST_ECE],
        }

    @property
    def done(self) -> bool:
        return self.epoch >= self.cfg.epochs

    # --- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "opt": self.opt.state_dict(),
            "sched": self.sched.state_dict(),
            "gen": self.gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "best": self.best,
            **({"cuda_rng": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":  # masks drawn on the GPU follow its generator
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.epoch = state["epoch"]
        best = state.get("best")  # absent in checkpoints written before best-epoch tracking
        if best is not None:
            best = {**best, "net": {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in best["net"].items()}}
        self.best = best
