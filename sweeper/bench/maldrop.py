"""Malicious Dropout training-step time relative to vanilla dropout on the same network.

Network: the project's ``mlp`` backbone 784 -> 1024 -> 4096 (ReLU), a 4,096-unit
penultimate layer feeding a 10-class linear classifier, MNIST-shaped random inputs,
batch 128, Adam; built with ``trainables.trial.build`` exactly as a trial builds it.
Baseline: vanilla dropout (keep 0.5) at the penultimate layer + softmax head.
Candidates: the ``malicious_dropout`` head (no gate) with the standard schedule
(rho = 256 of 4,096, the seed's setting), randomized (rho ~ U{0..4096} per batch: the
worst case for top-k) and forward annealing at epoch 0 (rho = 2,048). A third row
pair uses the seed's small CNN (``maldrop_cnn``, 784 units) where the backbone is
so cheap that the head's share is largest.

One step = the loop's ``on_batch_start`` hooks, forward, backward, optimizer step.
Method: one thread (``torch.set_num_threads(1)``), 5 warm-up steps per network, then
``repeats`` rounds interleaving baseline and candidate (``steps`` steps each, timed
with ``perf_counter``); the reported times are medians over rounds of the mean step
time, and ratio = candidate / baseline. Target: at most 1.10x (the seed reports ~2x).
"""
from __future__ import annotations

import statistics
import time

import torch

from trainables.data import Splits
from trainables.loop import make_optimizer, TrainConfig
from trainables.trial import Section, TrialConfig, build

TARGET = 1.10


def _net(model: Section, reg: Section, splits: Splits):
    cfg = TrialConfig(dataset=Section("digits"), model=model, regularizer=reg, train=TrainConfig(), seed=0)
    net = build(cfg, splits).train()
    hooks = [m.on_batch_start for m in net.modules() if callable(getattr(m, "on_batch_start", None))]
    opt = make_optimizer(net, cfg.train)

    def step(i: int) -> None:
        for fn in hooks:
            fn(0, i)
        loss = net(x, y).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    g = torch.Generator().manual_seed(0)
    x = torch.rand(128, *splits.in_shape, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    return step


def _time(step, steps: int, start: int) -> float:
    t0 = time.perf_counter()
    for i in range(steps):
        step(start + i)
    return (time.perf_counter() - t0) / steps * 1e3


def _compare(name: str, base, cand, steps: int, repeats: int, extra: dict) -> dict:
    for i in range(5):
        base(i), cand(i)
    b_ms, c_ms = [], []
    for r in range(repeats):
        b_ms.append(_time(base, steps, r * steps))
        c_ms.append(_time(cand, steps, r * steps))
    bm, cm = statistics.median(b_ms), statistics.median(c_ms)
    return {"name": name, "baseline": "dropout", "ms": round(cm, 3), "baseline_ms": round(bm, 3),
            "ratio": round(cm / bm, 3), "target": TARGET, **extra}


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
    steps, repeats = (3, 3) if quick else (10, 7)
    z = torch.zeros(2, 1, 28, 28)
    splits = Splits(z, torch.zeros(2, dtype=torch.long), z, torch.zeros(2, dtype=torch.long), z,
                    torch.zeros(2, dtype=torch.long), 10)
    rows = []
    mlp = Section("mlp", {"widths": (1024, 4096)})
    vanilla = _net(mlp, Section("dropout", {"keep": 0.5}), splits)
    for label, params in [
        ("standard rho=256", {"rho": 256}),
        ("randomized", {"schedule": "randomized"}),
        ("forward epoch0 rho=2048", {"schedule": "forward", "anneal_offset": 0.0}),
    ]:
        cand = _net(mlp, Section("malicious_dropout", params), splits)
        rows.append(_compare(f"malicious_dropout {label}", vanilla, cand, steps, repeats,
                             {"network": "mlp 784-1024-4096, batch 128"}))
    cnn = Section("maldrop_cnn", {})
    rows.append(_compare("malicious_dropout standard rho=1/16", _net(cnn, Section("dropout", {"keep": 0.5}), splits),
                         _net(cnn, Section("malicious_dropout", {"rho": 0.0625}), splits), steps * 3, repeats,
                         {"network": "maldrop_cnn (784 units), batch 128"}))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
