"""The selected configuration: the one rule every table, figure, baseline and confirm calls.

Replicates (``replicates``): a configuration's (config_id) replicates are its distinct seeds. Of the
finished trials, one row per (config_id, seed) is kept, the first by trial_id (a sweep that ran an
identical pair twice holds bit-identical results, and a count, interval or test must not see it twice).

Score (``scores``): the mean of the sweep's validation objective (its first ``search.metric``) over
a configuration's distinct finished seeds. The test metric is never read here: selecting on it would
make the reported test numbers optimistic.

Ranking (``ranked``): best first by the score (``search.mode``); ties, and configurations without a
finished objective (last), in config_id order, so a report does not change its row order from run
to run with the order in which trials happened to finish. In a raced sweep (``search.racing``: the
``race_eliminated_round`` column) the race decides first: the configurations no race eliminated come
first, then the eliminated ones, latest round first, each group in score order. A configuration the race
found significantly worse on the seeds it shared with the round's best is never selected over a
survivor, even when its mean over its own (fewer) seeds happens to be better; within a method, the one
that survived longest is its race's winner (the methods' final race eliminates only winners).

- ``best_per_method``: method (regularizer) -> its first configuration in that ranking.
- ``baseline``: a config_id, a configuration label, or a method name (its best configuration).
"""
from __future__ import annotations

import pandas as pd

from sweeper.store.columns import FINISHED, column, race_eliminated_round


def replicates(trials: pd.DataFrame) -> pd.DataFrame:
    """The finished trials, one row per distinct (config_id, seed): the first by trial_id."""
    done = trials[trials["status"].isin(FINISHED)]
    if "trial_id" in done:
        done = done.sort_values("trial_id", kind="stable")
    return done.drop_duplicates(["config_id", "seed"], keep="first")


def distinct_runs(trials: pd.DataFrame) -> pd.DataFrame:
    """Every trial, one row per distinct (config_id, seed), a finished one where there is one."""
    order = trials.assign(_unfinished=~trials["status"].isin(FINISHED))
    order = order.sort_values(["_unfinished", "trial_id"] if "trial_id" in order else ["_unfinished"], kind="stable")
    return order.drop_duplicates(["config_id", "seed"], keep="first").drop(columns="_unfinished")


def scores(trials: pd.DataFrame, objective: tuple[str, str]) -> pd.Series:
    """config_id -> mean objective over its distinct finished seeds (NaN when none finished with it);
    every configuration of ``trials`` is in the index."""
    ids = pd.Index(trials["config_id"].drop_duplicates(), name="config_id")
    c = column(trials, objective[0])
    if c not in trials:
        return pd.Series(float("nan"), index=ids, dtype=float)
    reps = replicates(trials)
    return reps.groupby("config_id")[c].mean().reindex(ids).astype(float)


def ranked(trials: pd.DataFrame, objective: tuple[str, str]) -> list[str]:
    """Every config_id, best first by ``scores`` (``objective``'s mode); ties and NaN in config_id order."""
    s = scores(trials, objective).sort_index(kind="stable")
    s = s.sort_values(ascending=(objective[1] == "min"), na_position="last", kind="stable")
    rounds = race_eliminated_round(trials)
    if rounds.notna().any():  # a raced sweep: survivors first, then the latest eliminated (module docstring)
        gone = rounds.groupby(trials["config_id"]).max().reindex(s.index)
        s = s.iloc[(-gone.astype(float).fillna(float("inf"))).argsort(kind="stable")]
    return [str(c) for c in s.index]


def best_per_method(trials: pd.DataFrame, objective: tuple[str, str], finished_only: bool = True) -> dict[str, str]:
    """method -> config_id of its selected configuration, methods in the order of their selected one.
    ``finished_only``: leave out methods none of whose configurations finished with the objective."""
    s = scores(trials, objective)
    method = trials.drop_duplicates("config_id").set_index("config_id")["regularizer"]
    out: dict[str, str] = {}
    for cid in ranked(trials, objective):
        if finished_only and pd.isna(s.get(cid)):
            continue
        out.setdefault(str(method[cid]), cid)
    return out


def baseline(trials: pd.DataFrame, name: str | None, objective: tuple[str, str]) -> str | None:
    """The baseline's config_id: ``name`` as a config_id, a configuration label, or a method (its
    selected configuration); None when not given or nothing matches."""
    if not name:
        return None
    if (trials["config_id"] == name).any():
        return name
    hit = trials.loc[trials["config"] == name, "config_id"]
    if len(hit):
        return str(hit.iloc[0])
    return best_per_method(trials, objective, finished_only=False).get(name)
