"""Re-run one trial in this process, without Ray, from its recorded resolved configuration.

``replay(config, threads)`` repeats what ``trial.run_trial`` does for one trial, in
the same order (load the data, seed torch and build the network, train epoch by
epoch, write the final artifacts and call the regularizer's ``finalize`` after the
last epoch), minus Ray's reporting and checkpoints, which touch no random state.
On CPU with the same torch thread count, code, packages and data, a trial is
deterministic: the trial seed fixes the data order, the initialisation and every
mask, and ``replay`` returns bitwise the same floats. ``tests/commands/test_reproduce.py``
checks exactly that against a trial run by Ray, so a change to ``run_trial`` that
this module does not follow is caught there.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainables import provenance
from trainables.loop import Trainer
from trainables.resolve import from_dict
from trainables.trial import build, load_splits, pick_device, run_finalize, write_final_artifacts


@dataclass(frozen=True)
class Replay:
    metrics: dict[str, Any]  # the last epoch's report (the trial's final metrics)
    provenance: dict[str, Any]  # config, data fingerprint, hardware of this re-run


def replay(config: dict[str, Any], threads: int = 1, until_epoch: int | None = None,
           device: torch.device | None = None) -> Replay:
    """Train ``config`` (a resolved configuration, ``TrialConfig.to_dict()``'s shape)
    for its epochs (or up to ``until_epoch``) with ``threads`` torch threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        cfg = from_dict(config)
        dev = device or pick_device()
        splits = load_splits(cfg)
        prov = provenance.trial_provenance(cfg, splits, dev)
        trainer = Trainer(build(cfg, splits), splits, cfg.train, dev, cfg.seed)
        last: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as d:
            while not trainer.done and (until_epoch is None or trainer.epoch < until_epoch):
                last = trainer.run_epoch()
                if last.get("diverged"):
                    break
                if trainer.done:
                    write_final_artifacts(trainer.net, Path(d))
                    last.update(run_finalize(cfg, trainer, Path(d) / "artifacts"))
        return Replay(last, prov)
    finally:
        torch.set_num_threads(before)
