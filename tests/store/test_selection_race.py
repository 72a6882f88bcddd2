"""The selection rule in a raced sweep: the race decides before the means (sweeper/store/selection.py)."""
from __future__ import annotations

import pandas as pd

from sweeper.store.selection import best_per_method, ranked

OBJ = ("val_error", "min")


def _trials(rounds: list[int | None]) -> pd.DataFrame:
    """a: best mean over 2 lucky seeds but eliminated at round 2; b: survivor; c (method y): eliminated at 3."""
    return pd.DataFrame({
        "config_id": ["a", "a", "b", "b", "b", "c", "c", "c"], "seed": [0, 1, 0, 1, 2, 0, 1, 2],
        "status": ["finished"] * 8, "regularizer": ["x", "x", "x", "x", "x", "y", "y", "y"],
        "val_error": [0.01, 0.01, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3], "trial_id": list("12345678"),
        "race_eliminated_round": pd.array(rounds, dtype="Int64"),
    })


def test_an_eliminated_configuration_is_never_selected_over_a_survivor():
    t = _trials([2, 2, None, None, None, 3, 3, 3])
    assert ranked(t, OBJ) == ["b", "c", "a"]
    assert best_per_method(t, OBJ) == {"x": "b", "y": "c"}


def test_without_racing_the_mean_decides():
    t = _trials([None] * 8)
    assert ranked(t, OBJ) == ["a", "b", "c"]
    assert ranked(t.drop(columns="race_eliminated_round"), OBJ) == ["a", "b", "c"]
