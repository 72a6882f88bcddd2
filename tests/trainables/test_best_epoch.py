"""Each trial reports the test metrics of its best validation epoch (kept as an on-device state copy,
tested once after training) next to the final model's, with that epoch."""
from __future__ import annotations

import io

import pytest
import torch

from trainables import metric_names as M
from trainables.config import Section
from trainables.loop import TrainConfig, Trainer
from trainables.resolve import trial_config
from trainables.trial import build, load_splits

EPOCHS = 6


def _trainer(epochs: int = EPOCHS) -> Trainer:
    # a learning rate high enough that validation error does not improve every epoch
    cfg = trial_config(Section("digits"), Section("mlp", {"widths": (32,)}), Section("softmax"),
                       TrainConfig(epochs=epochs, batch_size=64, lr=0.05), seed=3)
    splits = load_splits(cfg)
    return Trainer(build(cfg, splits), splits, cfg.train, torch.device("cpu"), 3)


def test_best_validation_epoch_is_tested_and_matches_a_replay():
    torch.set_num_threads(1)
    tr = _trainer()
    rows = [tr.run_epoch() for _ in range(EPOCHS)]
    last = rows[-1]
    assert all(M.BEST_TEST_ERROR not in r for r in rows[:-1])  # no test evaluation during training
    assert all(M.TEST_ERROR not in r for r in rows[:-1])
    keys = [(r[M.VAL_ERROR], r[M.VAL_NLL]) for r in rows]
    want = min(range(EPOCHS), key=lambda i: keys[i]) + 1
    assert last[M.BEST_EPOCH] == want and last[M.BEST_VAL_ERROR] == rows[want - 1][M.VAL_ERROR]
    assert want < EPOCHS, "the case must have a best epoch before the last to test anything"
    # the final model is restored after testing the best state
    assert tr.evaluate("test")[M.TEST_ERROR] == pytest.approx(last[M.TEST_ERROR])
    # replay: the same seed stopped at the best epoch gives exactly the best-state test metrics
    replay = _trainer()
    for _ in range(want):
        replay.run_epoch()
    t = replay.evaluate("test")
    assert last[M.BEST_TEST_ERROR] == pytest.approx(t[M.TEST_ERROR])
    assert last[M.BEST_TEST_NLL] == pytest.approx(t[M.TEST_NLL], rel=1e-5)
    assert last[M.BEST_TEST_ECE] == pytest.approx(t[M.TEST_ECE], rel=1e-5, abs=1e-7)
    assert last[M.BEST_TEST_NLL] != pytest.approx(last[M.TEST_NLL], rel=1e-5)


def test_best_state_survives_a_checkpoint_roundtrip():
    torch.set_num_threads(1)
    tr = _trainer()
    for _ in range(EPOCHS - 1):
        tr.run_epoch()
    buf = io.BytesIO()
    torch.save(tr.state_dict(), buf)  # as a Tune checkpoint does (no tensors shared between the two)
    buf.seek(0)
    resumed = _trainer()
    resumed.load_state_dict(torch.load(buf, weights_only=False))
    assert resumed.best is not None and resumed.best["epoch"] == tr.best["epoch"]
    a, b = tr.run_epoch(), resumed.run_epoch()
    for k in (M.BEST_EPOCH, M.BEST_TEST_ERROR, M.BEST_TEST_NLL, M.TEST_ERROR):
        assert a[k] == pytest.approx(b[k]), k
