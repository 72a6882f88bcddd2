"""Image folders larger than memory: the streamed (DataLoader) path against the in-memory path.

The generated folders are real PNG class folders; the memory cap is set below
their size so that ``mode: auto`` has to stream them. The one real sweep (local Ray, DataLoader
workers inside trial actors) searches an empty space with ``num_samples: 2`` and so also checks
that such a sweep trains its one configuration once per seed (for tests/search/test_distinct_configs.py).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables import data
from trainables.config import Section
from trainables.data.sources import make_sources
from trainables.data.splits import Splits, StreamedSplits
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build

CLASSES = ("ant", "bee", "cat")


def _write_noise_pngs(folder: Path, n: int, seed: int = 0) -> None:
    """Noisy images whose mean colour depends on the class; sizes vary so the resize is exercised."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, cls in enumerate(CLASSES):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = rng.integers(0, 120, size=(10 + i % 5, 12, 3), dtype=np.uint8)
            img[..., c] += 120
            Image.fromarray(img).save(folder / cls / f"{i}.png")


def _load(root: Path, **params) -> Splits | StreamedSplits:
    mod = data.get("imagefolder")
    base = dict(size=8, val_fraction=0.2, test_fraction=0.2, cache=False)
    return mod.load(mod.Params(**{**base, **params}), root, 0)


def _trainer(splits, seed: int = 3) -> Trainer:
    cfg = trial_config(dataset=Section("imagefolder"), model=Section("mlp", {"widths": [32]}),
                       regularizer=Section("dropout", {"keep": 0.8}),
                       train=TrainConfig(epochs=3, batch_size=7, lr=3e-3, eval_batch_size=5), seed=seed)
    return Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), seed)


def _without_time(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "seconds"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("folder")
    _write_noise_pngs(root, 15)
    return root


def test_auto_streams_above_the_memory_cap_and_memory_mode_refuses(folder):
    assert isinstance(_load(folder), Splits)  # 45 images at 8x8: far below the default 8 GB
    s = _load(folder, max_memory_gb=1e-6)
    assert isinstance(s, StreamedSplits) and "streamed from disk" in s.description
    assert (len(s.train), len(s.val), len(s.test), s.num_classes, s.in_shape) == (27, 9, 9, 3, (3, 8, 8))
    assert torch.equal(torch.bincount(s.train_y), torch.full((3,), 9))
    sample = _load(folder, mode="stream", stats_images=10)  # statistics of 10 of the 27 training images
    pick = np.sort(np.random.default_rng(0).choice(27, 10, replace=False))  # drawn with split_seed 0
    x = _load(folder, mode="memory", normalize=False).train_x[torch.as_tensor(pick)]
    assert torch.allclose(sample.mean, x.mean((0, 2, 3)), atol=1e-6) and torch.allclose(sample.std, x.std((0, 2, 3)), atol=1e-5)
    with pytest.raises(ValueError, match="mode 'stream'"):
        _load(folder, max_memory_gb=1e-6, mode="memory")
    with pytest.raises(ValueError, match="mode must be"):
        data.get("imagefolder").Params(mode="disk")


@pytest.mark.parametrize("normalize", [False, True])
def test_streamed_batches_equal_the_in_memory_tensors(folder, normalize):
    mem = _load(folder, normalize=normalize, mode="memory")
    st = _load(folder, normalize=normalize, mode="stream")
    assert isinstance(st, StreamedSplits) and torch.equal(st.train_y, mem.train_y)
    sources = make_sources(st, torch.device("cpu"))
    for split in ("train", "val", "test"):
        x = torch.cat([xb for xb, _ in sources[split].batches(4)])
        y = torch.cat([yb for _, yb in sources[split].batches(4)])
        assert torch.equal(x, getattr(mem, f"{split}_x")) and torch.equal(y, getattr(mem, f"{split}_y"))
    order = torch.randperm(27, generator=torch.Generator().manual_seed(1))
    xb, yb = next(sources["train"].batches(6, order))
    assert torch.equal(xb, mem.train_x[order[:6]]) and torch.equal(yb, mem.train_y[order[:6]])
    if normalize:  # standardised with the training split's statistics
        assert torch.allclose(mem.train_x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
        assert torch.allclose(mem.train_x.std((0, 2, 3)), torch.ones(3), atol=1e-3)


def test_training_on_a_streamed_folder_equals_training_in_memory(folder):
    """Same seed, same data order, same masks: identical metrics, epoch by epoch, with on-device augmentation."""
    def run(mode: str) -> list[dict]:  # one after the other: the dropout masks come from torch's global RNG
        trainer = _trainer(_load(folder, augment=True, mode=mode))
        return [_without_time(trainer.run_epoch()) for _ in range(3)]

    mem, st = run("memory"), run("stream")
    assert mem == st
    assert "test_error" in st[-1] and np.isfinite(st[-1]["train_loss"]) and mem[0] != mem[1]


def test_streamed_resume_from_a_checkpoint_and_worker_processes(folder):
    """A checkpoint taken after epoch 1 resumes to the same epoch 2; DataLoader worker processes give the same batches."""
    splits = _load(folder, mode="stream", workers=2)
    straight = _trainer(splits)
    straight.run_epoch()
    state = copy.deepcopy(straight.state_dict())  # as saved to disk: the live dict aliases the weights
    second = straight.run_epoch()
    resumed = _trainer(_load(folder, mode="stream"))
    resumed.load_state_dict(state)
    assert _without_time(resumed.run_epoch()) == _without_time(second)
    assert straight.sources["train"].loaders[7].persistent_workers  # the worker processes outlive an epoch


@pytest.mark.ray
def test_a_sweep_streams_a_folder_inside_ray_trials(folder, tmp_path, monkeypatch):
    """Through launch(): a real local Ray instance, DataLoader worker processes inside the trial actors.

    The sweep has nothing to search and ``num_samples: 2`` (Optuna's TPE), which also checks what
    tests/search/test_distinct_configs.py asks of a real sweep of an empty space: the one configuration is
    trained once per seed, and the summary counts 2/2 distinct seeds (one sweep for both)."""
    from sweeper import spec
    from sweeper.driver import launch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    s = spec.from_dict({
        "name": "stream", "dataset": {"name": "imagefolder", "root": str(folder),
                                      "params": {"size": 8, "mode": "stream", "workers": 1, "cache": False}},
        "model": {"name": "mlp", "params": {"widths": [16]}}, "regularizer": {"name": "softmax"},
        "train": {"epochs": 2, "batch_size": 8},
        "seeds": [0, 1], "search": {"sampler": "tpe", "num_samples": 2, "sampler_seed": 0, "max_concurrent": 2},
    })
    res = launch.launch(s, num_cpus=2, out=tmp_path / "sweeps", verbose=0)
    t = res.trials
    assert len(t) == 2 and (t.status == "finished").all() and (t.epochs == 2).all()
    assert t.test_error.between(0, 1).all() and t.val_error.notna().all()
    # an empty space with num_samples 2: its one configuration once per seed
    assert sorted(t["seed"]) == [0, 1] and t["config_id"].nunique() == 1 and list(res.summary["seeds"]) == ["2/2"]
