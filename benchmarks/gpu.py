"""GPU step and epoch times: every head and gate, fp32 vs bf16 vs channels_last (issue 17).

Runs where CUDA is present (``sweeper bench gpu``); elsewhere it raises ``Unavailable`` (the CLI
prints why and exits 2, or skips it in ``sweeper bench`` with no names). ``--device cpu`` runs the
same code on the CPU as a smoke check of the timing code (CPU numbers say nothing about a GPU).

What, all built by ``trainables.trial.build`` and stepped through ``trainables.loop.Trainer``'s own
``autocast()`` / ``layout()`` / ``forward`` (so the options are the ones trials use):

- ``step``: one training step (hooks, forward + loss under the mode, penalties, backward, Adam
  with coupled weight decay 1e-4, scheduler, projections) of LeNet 20-50-500 with every
  registered regularizer (8 DropMax-family heads, Malicious Dropout, dropout, Dropout++, SAL
  with their defaults), on one fixed batch of 100 x 1 x 28 x 28 (MNIST-1K's batch), in three
  modes: ``fp32`` (float32, TF32 off), ``bf16`` (autocast), ``channels_last`` (fp32, NHWC). Ratio = regularizer /
  softmax in the same mode and run; ``mode_ratio`` = this mode / fp32 for the same regularizer.
- ``resnet18``: the same step for torchvision ResNet-18 (CIFAR stem) + softmax on a batch of
  128 x 3 x 32 x 32, in fp32 (TF32 off), tf32, bf16, channels_last and bf16 + channels_last, and on CUDA also
  ``compile`` (``torch.compile`` of the network, default mode) alone and with bf16 + channels_last;
  ratio vs fp32. ``first_step_s``: wall time of each mode's first step (with ``compile``, the
  compilation); on the CPU compile is left out (minutes per model on 2 cores).
- ``epoch``: one epoch of the 200-epoch DropMax Table-1 trial (search_spaces/paper/
  dropmax_table1_mnist1k.yaml: LeNet 20-50-500 valid, batch 100, Adam 1e-3, thirds, wd 1e-4,
  Glorot): 10 training steps on 1,000 images + evaluation of 1,000 validation images,
  ``Trainer.run_epoch`` with DropMax and softmax; ratio = DropMax / softmax. Data: generated
  images of MNIST's shape (the timing does not depend on pixel values).

How: warm-up steps first (cuDNN autotuning, allocator, compilation; the first one timed alone),
then ``rounds`` interleaved rounds (each times ``steps`` consecutive steps of every configuration,
configurations in a rotated order); a configuration's time is the median over rounds of the per-step mean; wall clock with
``torch.cuda.synchronize()`` before reading it (no sync inside the timed steps). Rows carry the
device name. No target: these are measurements to read, not gates.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from benchmarks import Unavailable
from trainables import regularizers as reg_registry
from trainables.config import Section
from trainables.data.splits import Splits
from trainables.loop import TrainConfig, Trainer, set_tf32
from trainables.resolve import trial_config
from trainables.trial import build

MODES = {"fp32": {}, "bf16": {"precision": "bf16"}, "channels_last": {"channels_last": True}}
RESNET_MODES = {**MODES, "tf32": {"precision": "tf32"}, "bf16+channels_last": {"precision": "bf16", "channels_last": True}}
COMPILE_MODES = {"compile": {"compile": True},
                 "bf16+channels_last+compile": {"precision": "bf16", "channels_last": True, "compile": True}}
LENET = Section("lenet", {"widths": (20, 50, 500), "padding": "valid"})
TABLE1 = dict(epochs=200, batch_size=100, optimizer="adam", lr=1e-3, lr_schedule="thirds", weight_decay=1e-4,
              init="glorot", eval_batch_size=1000)


def pick(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    if not torch.cuda.is_available():
        raise Unavailable("gpu: no CUDA device here (torch.cuda.is_available() is False); run it on a GPU machine, "
                          "or `sweeper bench gpu --device cpu` to smoke-test the timing code on the CPU")
    return torch.device("cuda")


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU ({torch.get_num_threads()} threads)"


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _splits(x: torch.Tensor, y: torch.Tensor, k: int) -> Splits:
    return Splits(x, y, x[:10], y[:10], x[:10], y[:10], k)


def _trainer(reg: str, model: Section, splits: Splits, dev: torch.device, **train) -> Trainer:
    cfg = trial_config(Section("digits"), model, Section(reg), TrainConfig(**{**TABLE1, "epochs": 1, **train}), seed=0)
    return Trainer(build(cfg, splits), splits, cfg.train, dev, 0)


def _step_fn(tr: Trainer) -> Callable[[], None]:
    """One training step exactly as ``Trainer.train_epoch`` does it, on the split's first batch."""
    x, y = next(iter(tr.sources["train"].batches(len(tr.sources["train"]))))
    tr.net.train()

    def step() -> None:
        set_tf32(tr.cfg.precision == "tf32")  # process-global: the Trainer made last set it for all
        tr.step(x, y)

    return step


def _time(fns: dict[str, Callable[[], None]], dev: torch.device, steps: int, rounds: int,
          warmup: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median over interleaved rounds of the mean ms per call, and each function's first call in s."""
    first: dict[str, float] = {}
    for n, fn in fns.items():
        _sync(dev)
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        first[n] = time.perf_counter() - t0
        for _ in range(warmup - 1):
            fn()
    _sync(dev)
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[: r % len(names)]:
            _sync(dev)
            t0 = time.perf_counter()
            for _ in range(steps):
                fns[n]()
            _sync(dev)
            times[n].append((time.perf_counter() - t0) / steps * 1e3)
    return {n: statistics.median(v) for n, v in times.items()}, first


def _row(name: str, baseline: str, ms: float, base_ms: float, dev_name: str, setup: str, **extra) -> dict:
    return {"name": name, "baseline": baseline, "ms": round(ms, 4), "baseline_ms": round(base_ms, 4),
            "ratio": round(ms / base_ms, 3), "target": None, "device": dev_name, "setup": setup, **extra}


def _lenet_rows(dev: torch.device, name: str, g: torch.Generator, steps: int, rounds: int, warmup: int) -> list[dict]:
    """Every head and gate on LeNet 20-50-500, batch 100 x 1 x 28 x 28, in each mode."""
    mnist = _splits(torch.rand(100, 1, 28, 28, generator=g), torch.arange(100) % 10, 10)
    regs = sorted(reg_registry.REGULARIZERS, key=lambda n: (n != "softmax", n))
    fns = {(r, m): _step_fn(_trainer(r, LENET, mnist, dev, **opts)) for m, opts in MODES.items() for r in regs}
    ms, _ = _time({f"{r}|{m}": f for (r, m), f in fns.items()}, dev, steps, rounds, warmup)
    setup = f"LeNet 20-50-500, batch 100x1x28x28, median of {rounds} rounds x {steps} steps"
    return [_row(f"step {r} [{m}]", f"softmax [{m}]", ms[f"{r}|{m}"], ms[f"softmax|{m}"], name, setup,
                 mode_ratio=round(ms[f"{r}|{m}"] / ms[f"{r}|fp32"], 3)) for m in MODES for r in regs]


def _resnet_rows(dev: torch.device, name: str, g: torch.Generator, steps: int, rounds: int,
                 warmup: int) -> list[dict]:
    """ResNet-18 (CIFAR stem) + softmax, batch 128 x 3 x 32 x 32, in each mode (``compile`` on CUDA only)."""
    cifar = _splits(torch.randn(128, 3, 32, 32, generator=g), torch.arange(128) % 10, 10)
    resnet = Section("resnet", {"depth": 18})
    modes = {**RESNET_MODES, **(COMPILE_MODES if dev.type == "cuda" else {})}
    fns = {m: _step_fn(_trainer("softmax", resnet, cifar, dev, **opts)) for m, opts in modes.items()}
    ms, first = _time(fns, dev, max(1, steps // 2), rounds, warmup)
    setup = f"ResNet-18 (CIFAR stem), batch 128x3x32x32, median of {rounds} rounds x {max(1, steps // 2)} steps"
    return [_row(f"step resnet18 softmax [{m}]", "resnet18 softmax [fp32]", ms[m], ms["fp32"], name, setup,
                 first_step_s=round(first[m], 2)) for m in modes]


def _epoch_rows(dev: torch.device, name: str, g: torch.Generator, rounds: int, warmup: int) -> list[dict]:
    """One epoch of the 200-epoch DropMax Table-1 trial: 10 steps + validation of 1,000 images."""
    x = torch.rand(2000, 1, 28, 28, generator=g)
    y = torch.arange(2000) % 10
    table1 = Splits(x[:1000], y[:1000], x[1000:], y[1000:], x[1000:1010], y[1000:1010], 10)
    trainers = {r: _trainer(r, LENET, table1, dev, epochs=200) for r in ("softmax", "dropmax")}
    ms, _ = _time({r: tr.run_epoch for r, tr in trainers.items()}, dev, 1, rounds, max(1, warmup // 2))
    return [_row("epoch dropmax Table-1 trial", "epoch softmax Table-1 trial", ms["dropmax"], ms["softmax"], name,
                 "dropmax_table1_mnist1k.yaml settings, 1000 train (10 steps) + 1000 val images, "
                 f"Trainer.run_epoch, median of {rounds} epochs", epochs_200_s=round(ms["dropmax"] * 200 / 1e3, 1))]


def run(quick: bool = False, device: str | None = None) -> list[dict]:
    dev = pick(device)
    name = device_name(dev)
    steps, rounds, warmup = (2, 2, 1) if quick else (10, 7, 5)
    g = torch.Generator().manual_seed(0)
    return (_lenet_rows(dev, name, g, steps, rounds, warmup) + _resnet_rows(dev, name, g, steps, rounds, warmup)
            + _epoch_rows(dev, name, g, rounds, warmup))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default=None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    for row in run(a.quick, a.device):
        print(row)
