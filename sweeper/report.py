"""Parquet -> comparison tables: one row per configuration, mean and 95% CI over its seeds.

The interval is the Student-t interval ``mean +- t_{0.975, n-1} * sd / sqrt(n)``
over the seeds that finished (n >= 2; with one seed no interval is given).
``paired_test`` compares two configurations seed by seed (a paired t-test on
the seeds both finished), the right test when seeds are a blocking factor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

FINISHED = ("finished",)


def load_trials(sweep_dir: Path) -> pd.DataFrame:
    f = Path(sweep_dir) / "trials.parquet"
    if not f.exists():
        raise FileNotFoundError(f"{f} does not exist: the sweep has not written results yet")
    return pd.read_parquet(f)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the ``level`` Student-t interval); half-width NaN for n < 2."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) < 2:
        return float(v.mean()), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)


def column(trials: pd.DataFrame, metric: str) -> str:
    """The trials-table column of ``metric``: a core column, or ``metric.<name>`` for a regularizer's own."""
    return metric if metric in trials or f"metric.{metric}" not in trials else f"metric.{metric}"


def summarize(trials: pd.DataFrame, metric: str = "test_error", mode: str = "min") -> pd.DataFrame:
    """One row per configuration: n seeds finished / run, mean and CI of ``metric`` (and val_error).

    ``metric`` may name a regularizer's own final metric (e.g. ``sal_params``); its column is
    ``metric.<name>`` in the table, and the summary calls it by its plain name."""
    if column(trials, metric) != metric:
        trials = trials.rename(columns={column(trials, metric): metric})
    rows = []
    for cid, g in trials.groupby("config_id", sort=False):
        done = g[g["status"].isin(FINISHED)]
        row = {"config_id": cid, "config": g["config"].iloc[0], "regularizer": g["regularizer"].iloc[0],
               "seeds": f"{len(done)}/{len(g)}"}
        for m in dict.fromkeys([metric, "val_error", "test_error"]):
            if m in done:
                row[m], row[f"{m}_ci95"] = mean_ci(done[m].to_numpy())
        failed = g[~g["status"].isin(FINISHED)]
        row["not_finished"] = ", ".join(f"{s}:{r.status}" for s, r in zip(failed["seed"], failed.itertuples())) or ""
        rows.append(row)
    out = pd.DataFrame(rows)
    if metric in out:
        out = out.sort_values(metric, ascending=(mode == "min"), na_position="last")
    return out.reset_index(drop=True)


def paired_test(trials: pd.DataFrame, config_a: str, config_b: str, metric: str = "test_error") -> dict:
    """Paired t-test of ``metric`` between two config_ids over the seeds both finished."""
    done = trials[trials["status"].isin(FINISHED)]
    a = done[done.config_id == config_a].set_index("seed")[metric]
    b = done[done.config_id == config_b].set_index("seed")[metric]
    common = a.index.intersection(b.index)
    if len(common) < 2:
        return {"n": len(common), "mean_diff": float("nan"), "p_value": float("nan")}
    res = stats.ttest_rel(a[common], b[common])
    return {"n": len(common), "mean_diff": float((a[common] - b[common]).mean()), "p_value": float(res.pvalue)}


def format_table(summary: pd.DataFrame, metric: str, top: int | None = None, percent: bool = True) -> str:
    """Plain-text table (for the terminal and for README pasting)."""
    s = summary.head(top) if top else summary
    scale = 100.0 if percent and metric.endswith("error") else 1.0
    unit = " (%)" if scale == 100.0 else ""

    def cell(m: float, h: float, sc: float) -> str:
        if not np.isfinite(m):
            return "-"
        return f"{m * sc:.2f}" + (f" ± {h * sc:.2f}" if np.isfinite(h) else "")

    lines = [f"| config | seeds | {metric}{unit} mean ± 95% CI |" + (" val_error (%) |" if metric != "val_error" else "")]
    lines.append("|---|---|---|" + ("---|" if metric != "val_error" else ""))
    for r in s.itertuples(index=False):
        r = r._asdict()
        line = f"| {r['config']} | {r['seeds']} | {cell(r.get(metric, np.nan), r.get(metric + '_ci95', np.nan), scale)} |"
        if metric != "val_error":
            line += f" {cell(r.get('val_error', np.nan), r.get('val_error_ci95', np.nan), 100.0)} |"
        lines.append(line)
    return "\n".join(lines)
