"""Per-configuration and per-method tables of a sweep (pure functions on the trials DataFrame).

- ``config_table``: one row per configuration (config_id: the searched values, seed excluded), for each
  metric the mean, the half-width of the 95% Student-t interval and n over the distinct seeds that
  finished, and the per-seed values; rows in ``selection.ranked`` order (the sweep's validation
  objective, mean over seeds; ties by config_id), as the launch summary ranks them.
- ``method_table``: per regularizer, its selected configuration (``selection.best_per_method``: on the
  validation objective; the test columns are then only read), with how many configurations and trials it got.
- ``pick_baseline``: a config_id, or a regularizer name whose selected configuration is used
  (``selection.baseline``; the report says which, and out of how many).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from sweeper.report import markdown, units
from sweeper.report.data import FINISHED, column
from sweeper.report.stats import t_interval
from sweeper.store import selection

DEFAULT_METRICS = ("test_error", "test_nll", "test_ece", "val_error")
BEST_EPOCH_METRICS = ("best_test_error", "best_epoch")  # test metrics at the best validation epoch, when trials report them
MIN_SEEDS_FOR_CI = 3


def metric_list(trials: pd.DataFrame, extra: tuple[str, ...] = (), objective: str | None = None) -> list[str]:
    """Default metrics, then best-validation-epoch ones (when present), the objective, and ``extra``."""
    wanted = list(DEFAULT_METRICS) + [m for m in BEST_EPOCH_METRICS if column(trials, m) in trials]
    wanted += [objective] if objective else []
    wanted += list(extra)
    return [m for m in dict.fromkeys(wanted) if column(trials, m) in trials]


def config_table(trials: pd.DataFrame, metrics: list[str], objective: tuple[str, str] = ("val_error", "min")) -> pd.DataFrame:
    """One row per configuration; columns ``<m>``, ``<m>_ci95``, ``<m>_n``, ``<m>_seeds`` ({seed: value}).

    Values are over the configuration's distinct finished seeds and ``seeds`` counts distinct seeds
    (``selection.replicates``); rows are in ``selection.ranked`` order."""
    obj, _ = objective
    reps, runs = selection.replicates(trials), selection.distinct_runs(trials)
    rows = []
    for cid in selection.ranked(trials, objective):
        g = runs[runs["config_id"] == cid]
        done = reps[reps["config_id"] == cid].sort_values("seed")
        row = {"config_id": cid, "method": g["regularizer"].iloc[0], "config": g["config"].iloc[0],
               "seeds": f"{len(done)}/{len(g)}", "n_finished": len(done), "n_trials": len(g)}
        for m in dict.fromkeys([*metrics, obj]):
            c = column(trials, m)
            if c not in done:
                continue
            vals = done[["seed", c]].dropna()
            iv = t_interval(vals[c].to_numpy())
            row[m], row[f"{m}_ci95"], row[f"{m}_n"] = iv.mean, iv.half, iv.n
            row[f"{m}_seeds"] = dict(zip(vals["seed"].astype(int), vals[c].astype(float)))
        failed = g[~g["status"].isin(FINISHED)]
        row["not_finished"] = ", ".join(f"{s}:{st}" for s, st in zip(failed["seed"], failed["status"]))
        rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True)


def method_table(configs: pd.DataFrame, objective: tuple[str, str]) -> pd.DataFrame:
    """Per method: its selected configuration, the first of the method in ``configs`` (``config_table``'s
    ``selection.ranked`` order) with a finished objective: ``selection.best_per_method``'s choice."""
    obj, _ = objective
    rows = []
    for method, g in configs.groupby("method", sort=False):
        ranked = g[g[obj].notna()] if obj in g else g.iloc[0:0]
        best = (ranked if len(ranked) else g).iloc[0]
        rows.append({**best.to_dict(), "configs": len(g), "trials": int(g["n_trials"].sum()),
                     "selected_by": obj if len(ranked) else "(no finished seed)"})
    return pd.DataFrame(rows).reset_index(drop=True)


def pick_baseline(configs: pd.DataFrame, baseline: str, objective: tuple[str, str]) -> tuple[str, str]:
    """(config_id, sentence saying which configuration is the baseline and why); KeyError if none matches."""
    obj, mode = objective
    by_id = configs[configs["config_id"] == baseline]
    if len(by_id):
        return baseline, f"baseline: configuration {by_id['config'].iloc[0]} ({baseline})"
    cand = configs[configs["method"] == baseline]
    if cand.empty:
        methods = ", ".join(sorted(configs["method"].unique()))
        raise KeyError(f"baseline {baseline!r} matches no config_id or method; methods: {methods}")
    best = cand.iloc[0]  # configs are ranked by the objective
    if len(cand) == 1:
        return best["config_id"], f"baseline: {baseline} ({best['config']})"
    return best["config_id"], (f"baseline: {baseline} has {len(cand)} configurations; using the best by {obj} ({mode}): "
                               f"{best['config']} ({best['config_id']})")


def cell(row: pd.Series | dict, metric: str) -> str:
    n = int(row.get(f"{metric}_n", 0) or 0) if pd.notna(row.get(f"{metric}_n", np.nan)) else 0
    vals = list((row.get(f"{metric}_seeds") or {}).values()) if isinstance(row.get(f"{metric}_seeds"), dict) else []
    return units.cell(row.get(metric, np.nan), row.get(f"{metric}_ci95", np.nan), n, vals, metric, MIN_SEEDS_FOR_CI)


def render(df: pd.DataFrame, metrics: list[str], lead: list[tuple[str, str]], top: int | None = None) -> str:
    """Markdown table: ``lead`` columns (header, df column) then one cell per metric."""
    d = df.head(top) if top else df
    header = [h for h, _ in lead] + [units.header(m) for m in metrics]
    rows = [[r.get(c, "") for _, c in lead] + [cell(r, m) for m in metrics] for r in d.to_dict("records")]
    return markdown.table(header, rows)


def csv_frame(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """The table with raw numbers (stored units: fractions, nats) and per-seed values as ``seed:value`` lists."""
    out = df.copy()
    for m in metrics:
        if f"{m}_seeds" in out:
            out[f"{m}_seeds"] = out[f"{m}_seeds"].map(
                lambda s: ";".join(f"{k}:{v:.6g}" for k, v in s.items()) if isinstance(s, dict) else "")
    return out
