"""Shared pieces of the figures: the Agg backend, seed bands, the best configuration per method.

Seed band (every figure that draws one says which in its axis label): with
n >= 3 seeds the 95% Student-t interval of the mean, mean +- t_{0.975, n-1} * sd / sqrt(n);
with 2 seeds the range of the two (a t interval on 2 seeds is 12.7 sd wide and
tells a reader nothing); with 1 seed no band.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402

from sweeper.spec.labels import config_name  # noqa: E402
from sweeper.store import selection  # noqa: E402

FINISHED = "finished"
DPI = 100
BAND_NOTE = "band: 95% t-CI over seeds (n>=3), range (n=2)"


def seed_band(values) -> tuple[float, float, float]:
    """(mean, low, high) over seeds; low = high = mean for one seed. See the module docstring."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return (np.nan, np.nan, np.nan)
    m = float(v.mean())
    if len(v) == 1:
        return (m, m, m)
    if len(v) == 2:
        return (m, float(v.min()), float(v.max()))
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return (m, m - half, m + half)


def band_frame(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Per value of ``x``: mean, low, high of ``y`` over the rows (seeds) at that x, and n."""
    rows = []
    for xv, g in df.groupby(x, sort=True):
        vals = g[y].to_numpy(dtype=float)
        m, lo, hi = seed_band(vals)
        rows.append({x: xv, "mean": m, "low": lo, "high": hi, "n": int(np.isfinite(vals).sum())})
    return pd.DataFrame(rows, columns=[x, "mean", "low", "high", "n"])


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """The finished trials, one per distinct (configuration, seed) (``selection.replicates``)."""
    return selection.replicates(trials)


def metric_column(trials: pd.DataFrame, metric: str) -> str | None:
    """The trials-table column of ``metric`` (core column or ``metric.<name>``), None if absent."""
    for c in (metric, f"metric.{metric}"):
        if c in trials:
            return c
    return None


def config_means(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per configuration of the finished trials: config_id, config, regularizer, mean of ``metric``, n."""
    done = finished(trials)
    col = metric_column(done, metric)
    if col is None or done.empty:
        return pd.DataFrame(columns=["config_id", "config", "regularizer", "mean", "n"])
    g = done.groupby("config_id", sort=False)
    out = pd.DataFrame({
        "config": g["config"].first(), "regularizer": g["regularizer"].first(),
        "mean": g[col].mean(), "n": g[col].count(),
    }).reset_index()
    return out[out["n"] > 0]


def ranked_configs(trials: pd.DataFrame, metric: str, mode: str) -> list[str]:
    """config_ids of finished configurations, best first by the mean of the validation ``metric``
    (``selection.ranked``, the tables' order)."""
    s = selection.scores(trials, (metric, mode))
    return [c for c in selection.ranked(trials, (metric, mode)) if pd.notna(s.get(c))]


def best_per_method(trials: pd.DataFrame, metric: str, mode: str) -> dict[str, str]:
    """regularizer -> config_id of its selected configuration (``selection.best_per_method`` on the
    validation ``metric``)."""
    return selection.best_per_method(trials, (metric, mode))


def resolve_baseline(trials: pd.DataFrame, baseline: str | None, metric: str, mode: str) -> str | None:
    """A config_id for ``baseline`` (``selection.baseline``): a config_id, a config label, or a
    regularizer name (its selected configuration by ``metric``); None when not given or not found."""
    return selection.baseline(trials, baseline, (metric, mode))


def label(trials: pd.DataFrame, config_id: str) -> str:
    """The configuration's short name, without the searched values every configuration shares
    (a space dimension with one choice says nothing in a legend; the tables keep them)."""
    row = trials.loc[trials["config_id"] == config_id].iloc[0]
    unique = trials.drop_duplicates("config_id")
    items = str(row["config"]).split(", ")
    # Shared by every configuration, or by every configuration of this method when it has several
    # (SAL's fixed geomean/init/threshold beside a softmax baseline).
    for configs in (unique["config"].astype(str), unique.loc[unique["regularizer"] == row["regularizer"], "config"].astype(str)):
        if len(configs) > 1:
            shared = set.intersection(*(set(c.split(", ")) for c in configs))
            items = [i for i in items if i not in shared or i.startswith("regularizer.name=")]
    return config_name(str(row["regularizer"]), ", ".join(items) or "(fixed)")


def percent(metric: str) -> bool:
    """Error metrics are drawn in percent; everything else in its own unit."""
    return metric.endswith("error")


def axis_label(metric: str) -> str:
    """The metric with its unit: errors in %, NLL and losses in nats (the training loss includes
    the regularizer's own terms, so it is not comparable across methods)."""
    if percent(metric):
        return f"{metric} (%)"
    if metric == "train_loss":
        return "train_loss (nats, incl. regularizer terms)"
    if metric.endswith("nll") or metric.endswith("loss"):
        return f"{metric} (nats)"
    return metric


def scale(metric: str) -> float:
    return 100.0 if percent(metric) else 1.0


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 4.2) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
