"""One training epoch through the project's loop vs a minimal hand-written torch loop (issue 6).

What: one epoch of LeNet 20-50-500 + softmax on MNIST-1K (1,000 images, batch
100, 10 steps, Adam 1e-3, coupled weight decay 1e-4), CPU, one thread.
Project: ``trainables.trial.build`` + ``trainables.loop.Trainer.train_epoch``
(device-resident tensors, index-slice batches, LR scheduler, regularizer hooks,
on-device loss accumulation). Baseline: the same backbone and linear head
(same initial weights), ``torch.optim.Adam``, the same batches (a randperm per
epoch, index slices), ``F.cross_entropy``, zero_grad/backward/step, nothing else.
Data: ``mnist_t10k`` per-class 100 from ``../shared/data/mnist-t10k`` (or
``$SWEEPER_BENCH_MNIST``) when present, else 1,000 generated 28x28 images (the
row says which). How: one warm-up epoch each, then ``repeats`` interleaved
rounds (alternating which goes first); median epoch time of each; ratio =
project / baseline. Target: at most 1.15x.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from trainables.config import Section
from trainables.data.splits import Splits
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build

TARGET = 1.15
MNIST_T10K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-t10k"


def _splits() -> tuple[Splits, str]:
    root = Path(os.environ.get("SWEEPER_BENCH_MNIST", MNIST_T10K))
    if (root / "t10k-images-idx3-ubyte.gz").is_file() or (root / "t10k-images-idx3-ubyte").is_file():
        from trainables.data import mnist_t10k

        return mnist_t10k.load(mnist_t10k.Params(n_per_class=100), root, 0), "MNIST-1K (real, mnist_t10k per-class 100)"
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(1000, 1, 28, 28, generator=g), torch.arange(1000) % 10
    return Splits(x, y, x[:100], y[:100], x[:100], y[:100], 10), "generated 1000x1x28x28 (MNIST files absent)"


def _hand_loop(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, seed: int):
    backbone, head = net.backbone, net.head.o  # plain modules: the LeNet trunk and its Linear classifier
    model = torch.nn.Sequential(backbone, head)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    n = len(y)

    def epoch() -> None:
        model.train()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = perm[s : s + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return epoch


def run(quick: bool = False) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        splits, data_desc = _splits()
        cfg = trial_config(Section("mnist_t10k"), Section("lenet"), Section("softmax"),
                           TrainConfig(epochs=200, batch_size=100, lr=1e-3, weight_decay=1e-4), seed=0)
        trainer = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), cfg.seed)
        hand = _hand_loop(build(cfg, splits), splits.train_x, splits.train_y, 100, cfg.seed)
        fns = {"project": trainer.train_epoch, "hand": hand}
        for fn in fns.values():
            fn()
        repeats = 3 if quick else 9
        times: dict[str, list[float]] = {k: [] for k in fns}
        for r in range(repeats):
            for k in (("project", "hand") if r % 2 == 0 else ("hand", "project")):
                t0 = time.perf_counter()
                fns[k]()
                times[k].append((time.perf_counter() - t0) * 1e3)
        ms, base = statistics.median(times["project"]), statistics.median(times["hand"])
        return [{
            "name": "loop_epoch_lenet_mnist1k", "baseline": "hand-written torch loop",
            "ms": round(ms, 2), "baseline_ms": round(base, 2), "ratio": round(ms / base, 3), "target": TARGET,
            "setup": f"{data_desc}; LeNet 20-50-500 + softmax, batch 100, Adam, CPU 1 thread, "
                     f"median of {repeats} interleaved epochs",
        }]
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    for row in run():
        print(row)
