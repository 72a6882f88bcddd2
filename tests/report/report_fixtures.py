"""Small fixed trials tables for the report tests (the columns of trials.parquet that the report reads)."""
from __future__ import annotations

import hashlib

import pandas as pd


def rows(method: str, label: str, values: dict[str, list[float]], seeds=(0, 1, 2, 3, 4), status=None, **params) -> list[dict]:
    """One row per seed of one configuration; ``values`` maps a column to its per-seed values; ``params``
    are configuration columns, ``section_field`` for the column ``section.field`` (``train_epochs=50``:
    ``train.epochs``, the name the spec, MLflow and the labels use)."""
    cid = hashlib.sha1(label.encode()).hexdigest()[:10]
    out = []
    for i, s in enumerate(seeds):
        r = {"sweep": "fixture", "trial_id": f"{cid}_{s}", "config_id": cid, "config": label, "seed": s,
             "regularizer": method, "model": "mlp", "dataset": "digits",
             "status": (status or {}).get(s, "finished"), "reason": "", "epochs": 2, "seconds": 1.0,
             "node_id": "n", "retries": 0, **{k.replace("_", ".", 1): v for k, v in params.items()}}
        for k, v in values.items():
            r[k] = v[i]
        out.append(r)
    return out


def table(*groups: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([r for g in groups for r in g])
    for c in ("test_error", "test_nll", "test_ece", "val_error"):
        if c not in df:
            df[c] = float("nan")
    return df


def dropmax_like() -> pd.DataFrame:
    """softmax (two configurations: the one better on validation is worse on test), dropmax, sal with its own metric."""
    sm_a = rows("softmax", "regularizer.name=softmax, train.lr=0.001",
                {"val_error": [.070, .068, .072, .069, .071], "test_error": [.052, .050, .054, .049, .053],
                 "test_nll": [.28, .27, .30, .26, .29], "test_ece": [.032, .031, .034, .030, .033]}, train_lr=0.001)
    sm_b = rows("softmax", "regularizer.name=softmax, train.lr=0.01",
                {"val_error": [.080, .079, .081, .078, .082], "test_error": [.045, .044, .046, .043, .047],
                 "test_nll": [.25, .25, .26, .24, .27], "test_ece": [.030, .029, .031, .028, .032]}, train_lr=0.01)
    dm = rows("dropmax", "regularizer.name=dropmax, train.lr=0.001",
              {"val_error": [.050, .052, .049, .051, .053], "test_error": [.035, .033, .037, .034, .038],
               "test_nll": [.11, .12, .11, .10, .12], "test_ece": [.007, .006, .009, .005, .008]}, train_lr=0.001)
    sal = rows("sal", "regularizer.beta_over_alpha=10, regularizer.name=sal",
               {"val_error": [.060, .061, .059], "test_error": [.040, .041, .039], "test_nll": [.2, .2, .2],
                "test_ece": [.02, .02, .02], "metric.sal_params": [29800.0, 30100.0, 29500.0]}, seeds=(0, 1, 2))
    return table(sm_a, sm_b, dm, sal)
