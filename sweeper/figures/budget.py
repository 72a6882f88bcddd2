"""Test metric against the epoch budget, one line per method, with seed bands.

The budget of a finished trial is the number of epochs it trained. For each
method (regularizer) and budget, the configuration is chosen on the validation
metric among that method's configurations at that budget (so each method is
tuned at each budget), and its test metric is drawn: mean over seeds with the
seed band. Where lines cross, the verdict between two methods depends on the
budget. Where trials report the test metric at their best validation epoch
(``best_<test metric>``), its seed mean is drawn dashed. Drawn only when the
sweep has at least two budgets.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C

BUDGET = "epochs"


def selection(trials: pd.DataFrame, metric: str, mode: str, test_metric: str) -> pd.DataFrame:
    """Rows (regularizer, budget, config_id, mean, low, high, n) of the test metric at each method's
    validation-selected configuration per budget."""
    done = C.finished(trials)
    col = C.metric_column(done, test_metric)
    if col is None or done[BUDGET].nunique() < 2:
        return pd.DataFrame()
    rows = []
    for (reg, budget), g in done.groupby(["regularizer", BUDGET]):
        ranked = C.ranked_configs(g, metric, mode)
        if not ranked:
            continue
        sel = g[g["config_id"] == ranked[0]]
        vals = sel[col]
        m, lo, hi = C.seed_band(vals)
        at_best = f"best_{test_metric}"  # the test metric at the trial's best validation epoch, where reported
        rows.append({"regularizer": reg, "budget": int(budget), "config_id": ranked[0], "mean": m, "low": lo,
                     "high": hi, "n": int(vals.notna().sum()),
                     "at_best_val_epoch": float(sel[at_best].mean()) if at_best in sel else float("nan")})
    return pd.DataFrame(rows)


def draw(trials: pd.DataFrame, metric: str, mode: str, test_metric: str = "test_error") -> Figure | None:
    sel = selection(trials, metric, mode, test_metric)
    if sel.empty:
        return None
    sc = C.scale(test_metric)
    fig, axes = C.new_figure()
    ax = axes[0][0]
    for reg, g in sel.groupby("regularizer", sort=True):
        g = g.sort_values("budget")
        (line,) = ax.plot(g["budget"], g["mean"] * sc, "o-", label=f"{reg} (n={int(g['n'].min())}-{int(g['n'].max())})")
        ax.fill_between(g["budget"], g["low"] * sc, g["high"] * sc, color=line.get_color(), alpha=0.2)
        if g["at_best_val_epoch"].notna().any():
            ax.plot(g["budget"], g["at_best_val_epoch"] * sc, "x--", color=line.get_color(), alpha=0.7,
                    label=f"{reg}, at its best validation epoch")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(sel["budget"].unique()))
    ax.set_xticklabels([str(b) for b in sorted(sel["budget"].unique())])
    ax.set_xlabel("epoch budget")
    ax.set_ylabel(C.axis_label(test_metric))
    ax.set_title(f"{test_metric} vs budget; each method's configuration chosen by {metric} per budget", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title=C.BAND_NOTE, title_fontsize=7)
    return fig
