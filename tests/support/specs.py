"""Tiny sweep specs for tests: :func:`write_spec` (one MLP on digits, a few trials, seconds each),
:data:`TINY` (the session's finished sweep: softmax vs dropout x 2 seeds, grid, 2 epochs) and
:func:`search_spec` with :func:`write_search_data` (the session's search sweep: Optuna's random sampler over
``regularizer.keep`` on a tabular CSV, 2 configurations x 2 seeds, 1 epoch)."""
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


SEARCH_NAME = "search"


def write_search_data(path: Path) -> Path:
    """A tabular CSV at ``path``: 240 rows, 6 normal features shifted by the label (3 classes), ``label``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    df = pd.DataFrame(rng.normal(size=(240, 6)) + y[:, None] * 0.8, columns=[f"f{i}" for i in range(6)])
    df["label"] = y
    df.to_csv(path, index=False)
    return path


def search_spec(data: Path) -> dict:
    """The session's search sweep (``search_sweep`` in tests/conftest.py): an MLP with dropout on the CSV
    ``data``, Optuna's random sampler drawing 2 values of ``regularizer.keep`` in [0.4, 0.9] (sampler seed 0),
    each on seeds 0 and 1, 1 epoch: 4 trials, 2 configurations."""
    return {
        "name": SEARCH_NAME,
        "dataset": {"name": "tabular", "params": {"path": str(data)}},
        "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "dropout"},
        "train": {"epochs": 1, "batch_size": 32},
        "space": {"regularizer.keep": {"type": "float", "low": 0.4, "high": 0.9}},
        "seeds": [0, 1],
        "search": {"sampler": "random", "num_samples": 2, "sampler_seed": 0, "max_failures": 0,
                   "snapshot_every_s": 1},  # Tune's snapshot every second: the table cache reads it mid-sweep
        "resources": {"cpu": 1},
    }


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
