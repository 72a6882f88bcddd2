"""One training epoch on an image folder read from disk (streamed) vs the same folder held in memory (issue 6).

What: a generated folder of JPEGs (10 classes, 40x40, ``n`` per class), loaded
by ``imagefolder`` at size 32 with 20% carved for val and test; one training
epoch (``Trainer.train_epoch``) of LeNet 20-50-500 (padding same) + softmax,
batch 100, Adam, CPU, one torch thread. Baseline: ``mode: memory`` (decoded
once, device-resident tensors, index-slice batches). Measured: ``mode:
stream`` with ``workers`` 0 (decode in the trial process) and 1 (one
DataLoader worker process decoding while the trial trains). How: one warm-up
epoch each, then ``repeats`` interleaved rounds; median epoch time; ratio =
streamed / in-memory. No target: the ratio is the price of not fitting in
memory, and depends on decode cost (image size, format, disk) against step
cost (model, batch); it says how many spare cores ``workers`` should get.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from trainables.config import Section
from trainables.data import imagefolder
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build


def _write_folder(root: Path, per_class: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(10):
        d = root / f"class_{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 200, size=(40, 40, 3), dtype=np.uint8)
            img[..., c % 3] += 40
            Image.fromarray(img).save(d / f"{i}.jpg", quality=90)


def run(quick: bool = False) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    per_class = 100 if quick else 200
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _write_folder(root, per_class)
            cfg = trial_config(Section("imagefolder"), Section("lenet", {"padding": "same"}), Section("softmax"),
                               TrainConfig(epochs=100, batch_size=100, lr=1e-3), seed=0)
            trainers = {}
            for name, mode, workers in (("memory", "memory", 0), ("stream_w0", "stream", 0), ("stream_w1", "stream", 1)):
                p = imagefolder.Params(size=32, val_fraction=0.2, test_fraction=0.2, mode=mode, workers=workers, cache=False)
                splits = imagefolder.load(p, root, 0)
                trainers[name] = Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), cfg.seed)
            for t in trainers.values():
                t.train_epoch()
            repeats = 3 if quick else 7
            times: dict[str, list[float]] = {k: [] for k in trainers}
            for r in range(repeats):
                for k in (list(trainers) if r % 2 == 0 else list(reversed(trainers))):
                    t0 = time.perf_counter()
                    trainers[k].train_epoch()
                    times[k].append((time.perf_counter() - t0) * 1e3)
            base = statistics.median(times["memory"])
            n_train = trainers["memory"].n_train
            rows = []
            for k in ("stream_w0", "stream_w1"):
                ms = statistics.median(times[k])
                rows.append({
                    "name": f"imagefolder_epoch_{k}", "baseline": "same folder in memory",
                    "ms": round(ms, 2), "baseline_ms": round(base, 2), "ratio": round(ms / base, 3), "target": "-",
                    "setup": f"{n_train} train JPEGs 40x40 -> 32x32, LeNet + softmax, batch 100, CPU 1 torch thread, "
                             f"workers={k[-1]}, median of {repeats} interleaved epochs",
                })
            return rows
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    for row in run():
        print(row)
