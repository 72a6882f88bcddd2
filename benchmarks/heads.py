"""Training-step time of every DropMax-family head relative to base softmax (issue 3).

What: one full training step (forward, loss, backward, Adam step with coupled
weight decay 1e-4) of LeNet 20-50-500 with each head, on one fixed batch of 100
random 1x28x28 images (MNIST-1K's batch size), on CPU with one thread.
How: every network is built by ``trainables.trial.build`` with the same seed
(same trunk weights), warmed up, then timed in ``rounds`` interleaved rounds
(each round times ``steps`` consecutive steps of every head, heads in a rotated
order); a head's time is the median over rounds of the per-step mean. The clock
is the calling thread's CPU time (``time.thread_time``; torch runs single-threaded
here, so the step executes in this thread): on a machine shared with other jobs,
wall time mostly measures waiting for a core, CPU time does not.
Ratio = head / softmax from the same run. Target: at most 1.15x.
"""
from __future__ import annotations

import statistics
import time

import torch

from trainables.config import Section
from trainables.data.splits import Splits
from trainables.loop import TrainConfig, make_optimizer
from trainables.resolve import trial_config
from trainables.trial import build

HEADS = ("softmax", "sparsemax", "sampled_softmax", "random_dropmax", "det_attention", "det_dropmax", "dropmax_qp", "dropmax")
TARGET = 1.15


def _step_fn(name: str, x: torch.Tensor, y: torch.Tensor, splits: Splits):
    cfg = trial_config(Section("mnist_t10k"), Section("lenet"), Section(name),
                       TrainConfig(batch_size=len(y), weight_decay=1e-4, init="glorot"), seed=0)
    net = build(cfg, splits).train()
    opt = make_optimizer(net, cfg.train)

    def step() -> None:
        out = net(x, y)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    return step


def run(quick: bool = False) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(100, 1, 28, 28, generator=g)
        y = torch.arange(100) % 10
        splits = Splits(x, y, x[:10], y[:10], x[:10], y[:10], 10)
        steps, rounds, warmup = (2, 3, 2) if quick else (5, 9, 5)
        fns = {n: _step_fn(n, x, y, splits) for n in HEADS}
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        times: dict[str, list[float]] = {n: [] for n in HEADS}
        for r in range(rounds):
            order = HEADS[r % len(HEADS):] + HEADS[: r % len(HEADS)]
            for n in order:
                t0 = time.thread_time()
                for _ in range(steps):
                    fns[n]()
                times[n].append((time.thread_time() - t0) / steps * 1e3)
        base = statistics.median(times["softmax"])
        rows = []
        for n in HEADS:
            ms = statistics.median(times[n])
            rows.append({"name": n, "baseline": "softmax", "ms": round(ms, 3), "baseline_ms": round(base, 3),
                         "ratio": round(ms / base, 3), "target": TARGET,
                         "setup": f"LeNet 20-50-500, batch 100x1x28x28, CPU 1 thread, thread CPU time, "
                                  f"median of {rounds} rounds x {steps} steps"})
        return rows
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    for row in run():
        print(row)
