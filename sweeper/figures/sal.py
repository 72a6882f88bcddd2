"""SAL: test error of the pruned network against its parameter count, architectures labelled.

Faint dots: trials (``metric.sal_params``, ``metric.sal_pruned_test_error``);
large dots: configuration means over seeds, labelled with the configuration and
its most frequent pruned architecture (the kept widths ``sal_width_<i>``, e.g.
``20-50-296``; the output layer is not pruned). The line joins the Pareto front:
configurations no other configuration beats on both axes (NSGA-II sweeps search
exactly this trade-off; for any sweep it shows the non-dominated choices).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from sweeper.figures import common as C

PARAMS = "metric.sal_params"
ERRORS = ("metric.sal_pruned_test_error", "test_error")


def architecture(row: pd.Series) -> str:
    widths = sorted((c for c in row.index if c.startswith("metric.sal_width_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    return "-".join(str(int(row[c])) for c in widths if pd.notna(row[c]))


def pareto(points: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` (both columns minimised), sorted by the first."""
    keep = []
    for i, p in enumerate(points):
        dominated = np.any(np.all(points <= p, axis=1) & np.any(points < p, axis=1))
        if not dominated:
            keep.append(i)
    return np.array(sorted(keep, key=lambda i: (points[i, 0], points[i, 1])), dtype=int)


def config_points(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per SAL configuration: mean params, mean error, n, most frequent architecture."""
    done = C.finished(trials)
    if PARAMS not in done:
        return pd.DataFrame()
    err = next(c for c in ERRORS if c in done)
    done = done.dropna(subset=[PARAMS, err])
    rows = []
    for cid, g in done.groupby("config_id", sort=False):
        archs = g.apply(architecture, axis=1)
        rows.append({"config_id": cid, "params": g[PARAMS].mean(), "error": g[err].mean(), "n": len(g),
                     "architecture": archs.mode().iloc[0] if len(archs) else ""})
    return pd.DataFrame(rows)


def draw(trials: pd.DataFrame) -> Figure | None:
    pts = config_points(trials)
    if pts.empty:
        return None
    done = C.finished(trials).dropna(subset=[PARAMS])
    err = next(c for c in ERRORS if c in done)
    fig, axes = C.new_figure(width=7.0, height=4.8)
    ax = axes[0][0]
    ax.scatter(done[PARAMS], done[err] * 100, s=10, alpha=0.3, color="grey", label="trials")
    ax.scatter(pts["params"], pts["error"] * 100, s=40, zorder=3, label="configuration mean over seeds")
    for r in pts.itertuples():
        ax.annotate(f"{r.architecture}\n{C.label(trials, r.config_id)} (n={r.n})", (r.params, r.error * 100),
                    fontsize=6, xytext=(4, 4), textcoords="offset points")
    front = pareto(pts[["params", "error"]].to_numpy(dtype=float))
    ax.plot(pts["params"].to_numpy()[front], pts["error"].to_numpy()[front] * 100, "-", color="red",
            drawstyle="steps-post", label="Pareto front")
    lo, hi = float(done[PARAMS].min()), float(done[PARAMS].max())
    if lo > 0 and hi / lo > 10:  # sizes over more than a decade (the paper's 5.9k-431k): log axis
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.25)  # room for the labels right of the points
    ax.set_xlabel("parameters of the pruned network")
    ax.set_ylabel(f"{err.removeprefix('metric.')} (%)")
    ax.set_title("SAL: pruned test error vs size (label: kept widths)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
