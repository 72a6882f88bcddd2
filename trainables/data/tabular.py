"""A user's own table: a CSV (``.csv``, ``.tsv``, optionally ``.gz``) or Parquet (``.parquet``, ``.pq``) file.

``path`` is the file; a relative path is resolved against the data root when
one is given (else the working directory). ``label_column`` holds the class;
its distinct values, sorted, become classes 0..K-1. Every other column is a
feature and must be numeric (bool counts) with no missing values; otherwise
the loader names the offending columns. Split: stratified random split fixed by
``split_seed`` (``val_fraction``, ``test_fraction`` of the rows). With
``standardize`` every feature is centred and scaled by the training split's
mean and standard deviation (constant columns are left unscaled). Features are
float32 (N, F).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainables.data import DatasetNotFound
from trainables.data.params import TabularParams as Params
from trainables.data.splits import Splits


def _read(path: Path):
    import pandas as pd

    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if ".tsv" in name else ",")


def load(params: Params, root: Path | None, seed: int) -> Splits:
    from sklearn.model_selection import train_test_split

    if not params.path:
        raise DatasetNotFound("tabular: dataset.params.path is not set; point it at your CSV or Parquet file.")
    path = Path(params.path).expanduser()
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    if not path.is_file():
        raise DatasetNotFound(f"tabular: file {path.resolve()} not found (path={params.path!r}, root={root}). "
                              "Point dataset.params.path at your CSV/Parquet file (relative paths are resolved "
                              "against dataset.root).")
    df = _read(path)
    if params.label_column not in df.columns:
        raise ValueError(f"tabular: label_column {params.label_column!r} is not a column of {path}; columns: {list(df.columns)}")
    feats = df.drop(columns=[params.label_column])
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    bad = [c for c in feats.columns if not (is_numeric_dtype(feats[c]) or is_bool_dtype(feats[c]))]
    if bad:
        raise ValueError(f"tabular: non-numeric feature columns {bad} in {path}; encode them first")
    missing = [c for c in df.columns if df[c].isna().any()]
    if missing:
        raise ValueError(f"tabular: missing values in columns {missing} of {path}")
    classes, y = np.unique(df[params.label_column].to_numpy(), return_inverse=True)
    x = feats.to_numpy(dtype=np.float32)
    idx = np.arange(len(y))
    rest, te = train_test_split(idx, test_size=params.test_fraction, stratify=y, random_state=params.split_seed)
    tr, va = train_test_split(rest, test_size=params.val_fraction / (1 - params.test_fraction), stratify=y[rest],
                              random_state=params.split_seed)
    x, y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    if params.standardize:
        mean, std = x[tr].mean(0), x[tr].std(0)
        x = (x - mean) / torch.where(std > 0, std, torch.ones_like(std))
    t = torch.as_tensor
    return Splits(
        x[t(tr)], y[t(tr)], x[t(va)], y[t(va)], x[t(te)], y[t(te)], len(classes),
        description=f"tabular {path}: {x.shape[1]} features, {len(classes)} classes {list(classes)[:10]}, "
        f"{len(tr)}/{len(va)}/{len(te)} train/val/test (stratified, split_seed={params.split_seed})"
        f"{', standardised with train statistics' if params.standardize else ''}",
        class_names=tuple(str(c) for c in classes),
    )
