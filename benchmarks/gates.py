"""Training-step time of Dropout++ / SAL gates relative to vanilla dropout on the same network (issue 4).

Network: LeNet 20-50-500 on MNIST-shaped random inputs (batch 64), gates at every
gated position (conv1, conv2, FC-500), softmax head, Adam. A step is what the
project loop does: forward, loss (+ the gates' ``penalty()``), backward, Adam
step, ``after_optimizer_step()`` (k clamp). Measured with the real
``Trainer.train_epoch`` on an in-memory split of ``steps`` (5) batches; short
epochs of the gated net and of the baseline alternate (31 interleaved repeats,
one warm-up epoch each, so load bursts on a shared machine hit both sides), and
each row reports the median ms per step. One torch thread.

Pairs (baseline -> candidate): vanilla Dropout2d on conv maps + Dropout on FC
(keep 0.5) -> Dropout++ per-feature-map gates (flat, and 0.5 with its prior);
-> SAL; vanilla element-wise dropout -> Dropout++ per-element gates. Target:
ratio <= 1.05.
"""
from __future__ import annotations

import statistics
import time

import torch

from trainables.contract import BuildContext
from trainables.data.splits import Splits
from trainables.loop import Net, TrainConfig, Trainer
from trainables.models import lenet
from trainables.regularizers import dropout, dropout_pp, sal, softmax

TARGET = 1.05


def _trainer(reg, params, splits: Splits, cfg: TrainConfig) -> Trainer:
    torch.manual_seed(0)
    ctx = BuildContext(n_train=len(splits.train_y), num_classes=10)
    bb = lenet.build(lenet.Params(), (1, 28, 28), 10, reg.layer_factory(params, ctx))
    return Trainer(Net(bb, softmax.build_head(softmax.Params(), bb.feature_dim, 10, ctx)), splits, cfg,
                   torch.device("cpu"), 0)


def _ms_per_step(tr: Trainer) -> float:
    t0 = time.perf_counter()
    tr.train_epoch()
    return 1000 * (time.perf_counter() - t0) / tr.steps_per_epoch


def run(quick: bool = False) -> list[dict]:
    torch.set_num_threads(1)
    steps, repeats = (3, 7) if quick else (5, 31)
    g = torch.Generator().manual_seed(0)
    n = 64 * steps
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    splits = Splits(x, y, x[:64], y[:64], x[:64], y[:64], 10)
    cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3)
    chan = (dropout, dropout.Params(keep=0.5, layers="all", per_channel=True))
    elem = (dropout, dropout.Params(keep=0.5, layers="all", per_channel=False))
    pairs = [
        ("dropout_pp flat, per map", chan, (dropout_pp, dropout_pp.Params(variant="flat"))),
        ("dropout_pp 0.5 (prior), per map", chan, (dropout_pp, dropout_pp.Params(variant="0.5", init=0.9))),
        ("sal beta/alpha=10", chan, (sal, sal.Params(beta_over_alpha=10.0))),
        ("dropout_pp flat, per element", elem, (dropout_pp, dropout_pp.Params(conv_gates="element"))),
    ]
    rows = []
    for name, base, cand in pairs:
        tb, tc = _trainer(*base, splits, cfg), _trainer(*cand, splits, cfg)
        _ms_per_step(tb), _ms_per_step(tc)  # warm-up (and materialises lazy element gates)
        b, c = [], []
        for _ in range(repeats):
            b.append(_ms_per_step(tb))
            c.append(_ms_per_step(tc))
        bm, cm = statistics.median(b), statistics.median(c)
        rows.append({"name": name, "baseline": "vanilla dropout (same positions)", "ms": round(cm, 3),
                     "baseline_ms": round(bm, 3), "ratio": round(cm / bm, 3), "target": TARGET})
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
