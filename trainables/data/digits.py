"""scikit-learn's embedded handwritten digits (1,797 real 8x8 images, 10 classes): the offline default.

Pixels scaled from [0, 16] to [0, 1], shape (N, 1, 8, 8). Split: a stratified
random split fixed by ``split_seed`` (not the trial seed, so every trial of a
sweep sees the same data): ``val_fraction`` and ``test_fraction`` of the
images, the rest for training.
"""
from __future__ import annotations

from pathlib import Path

import torch

from trainables.data.params import DigitsParams as Params
from trainables.data.splits import Splits


def load(params: Params, root: Path | None, seed: int) -> Splits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    idx = torch.arange(len(y)).numpy()
    rest, test = train_test_split(idx, test_size=params.test_fraction, stratify=d.target, random_state=params.split_seed)
    val_share = params.val_fraction / (1 - params.test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=d.target[rest], random_state=params.split_seed)
    t = torch.as_tensor
    return Splits(
        x[t(train)], y[t(train)], x[t(val)], y[t(val)], x[t(test)], y[t(test)], 10,
        description=f"sklearn digits 8x8: {len(train)} train / {len(val)} val / {len(test)} test "
                    f"(split_seed={params.split_seed})",
    )
