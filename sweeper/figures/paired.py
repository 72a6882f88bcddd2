"""Per-seed paired differences against the baseline configuration.

For every other configuration (best first by the validation metric, at most
``top``), one dot per seed that finished in both: metric(config, seed) -
metric(baseline, seed), and a short bar at their mean. Below zero means lower
than the baseline (better for an error). Seeds are paired because they share
the data split and initialisation stream, so the seed-to-seed spread that both
configurations share cancels.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C


def differences(trials: pd.DataFrame, config_id: str, baseline_id: str, metric: str) -> pd.Series:
    """metric(config) - metric(baseline) per seed finished in both, indexed by seed."""
    done = C.finished(trials)
    col = C.metric_column(done, metric)
    a = done[done["config_id"] == config_id].set_index("seed")[col]
    b = done[done["config_id"] == baseline_id].set_index("seed")[col]
    common = a.index.intersection(b.index)
    return (a[common] - b[common]).dropna().sort_index()


def draw(trials: pd.DataFrame, baseline_id: str, config_ids: list[str], metric: str) -> Figure | None:
    others = [c for c in config_ids if c != baseline_id]
    diffs = {c: differences(trials, c, baseline_id, metric) for c in others}
    diffs = {c: d for c, d in diffs.items() if len(d)}
    if not diffs:
        return None
    sc = C.scale(metric)
    fig, axes = C.new_figure(width=max(6.4, 1.1 * len(diffs) + 2.5), height=5.0)
    ax = axes[0][0]
    for i, (cid, d) in enumerate(diffs.items()):
        jitter = np.linspace(-0.12, 0.12, len(d)) if len(d) > 1 else np.zeros(1)
        ax.scatter(i + jitter, d.to_numpy() * sc, s=22, zorder=3)
        ax.hlines(d.mean() * sc, i - 0.3, i + 0.3, color="black", lw=2, zorder=4)
    ax.axhline(0.0, color="grey", lw=1)
    ax.set_xticks(range(len(diffs)))
    ax.set_xticklabels([f"{C.label(trials, c)}\n(n={len(d)})" for c, d in diffs.items()], rotation=20, ha="right", fontsize=7)
    unit = " (pp)" if C.percent(metric) else " (nats)" if metric.endswith("nll") else ""
    ax.set_ylabel(f"{metric} − baseline{unit}")
    ax.set_title(f"paired per-seed differences vs {C.label(trials, baseline_id)}; bar = mean", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig
