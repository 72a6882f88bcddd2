"""Tiny sweep specs for tests: :func:`write_spec` (one MLP on digits, a few trials, seconds each)
and :data:`TINY` (the session's finished sweep: softmax vs dropout x 2 seeds, grid, 2 epochs)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

TINY = {
    "name": "tiny",
    "description": "Tiny check: softmax vs dropout on digits",
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 2, "batch_size": 128},
    "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]}},
    "seeds": [0, 1],
    "search": {"sampler": "grid"},
}
"""4 trials: ``softmax``/``dropout`` x seeds 0, 1; child runs ``"<regularizer> seed=<seed>"``."""


def write_spec(folder: Path, name: str, *, samples: int = 2, epochs: int = 2, seeds=(0,), grid: bool = False,
               **search) -> Path:
    """``folder/<name>.yaml``: a 16-unit MLP with softmax on digits, batch 256, one CPU per trial;
    ``grid``: one configuration (lr 0.01), else ``samples`` random log-uniform lrs in [1e-3, 3e-2];
    ``search`` adds to (or overrides) the search section (``snapshot_every_s`` is 1: tests watch Tune's
    storage mid-sweep; ``trial_figures`` is ``none``: the tests of these specs read no per-trial figure,
    and drawing them costs ~0.7 CPU-s a trial; the figure tests use :data:`TINY`)."""
    spec = {
        "name": name,
        "dataset": {"name": "digits"},
        "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"},
        "train": {"epochs": epochs, "batch_size": 256},
        "space": ({"train.lr": {"type": "categorical", "choices": [0.01]}} if grid else
                  {"train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True}}),
        "seeds": list(seeds),
        "search": {"sampler": "grid" if grid else "random", **({} if grid else {"num_samples": samples}),
                   "sampler_seed": 0, "max_failures": 0,
                   "snapshot_every_s": 1, "trial_figures": "none",
                   **search},
        "resources": {"cpu": 1},
    }
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def copy_sweep(src: Path, dest: Path, name: str) -> Path:
    """``src`` (a folder holding ``mlflow.db`` and ``sweeps/<name>``) copied to ``dest``, with the
    copy's ``sweep.json`` pointing at the copy's own Tune storage; returns ``dest``."""
    shutil.copytree(src, dest, symlinks=True)
    meta_file = dest / "sweeps" / name / "sweep.json"
    meta = json.loads(meta_file.read_text())
    meta["storage"] = str(dest / "sweeps" / name)
    meta_file.write_text(json.dumps(meta))
    return dest
