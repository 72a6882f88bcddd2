"""Malicious Dropout p_pass per epoch: the mean (solid) and minimum (dashed) over units of the
fraction of training examples in which a unit was kept (``malicious_dropout_p_pass_mean/_min``),
mean over seeds with the seed band, one colour per configuration."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C

MEAN, MIN = "malicious_dropout_p_pass_mean", "malicious_dropout_p_pass_min"


def draw(trials: pd.DataFrame, epochs: pd.DataFrame, config_ids: list[str]) -> Figure | None:
    if MEAN not in epochs:
        return None
    done = C.finished(trials)
    ep = epochs[epochs["trial_id"].isin(done["trial_id"]) & epochs["config_id"].isin(config_ids)].dropna(subset=[MEAN])
    if ep.empty:
        return None
    fig, axes = C.new_figure()
    ax = axes[0][0]
    for i, cid in enumerate(config_ids):
        g = ep[ep["config_id"] == cid]
        if g.empty:
            continue
        b = C.band_frame(g, "epoch", MEAN)
        # widths decrease so that lines which coincide (equal mean p_pass) stay visible as stripes
        (line,) = ax.plot(b["epoch"], b["mean"], lw=max(1.0, 4.0 - 1.2 * i),
                          label=f"{C.label(trials, cid)} (n={int(b['n'].max())})")
        if b["n"].max() >= 2:
            ax.fill_between(b["epoch"], b["low"], b["high"], color=line.get_color(), alpha=0.2)
        if MIN in g:
            bm = C.band_frame(g.dropna(subset=[MIN]), "epoch", MIN)
            ax.plot(bm["epoch"], bm["mean"], "--", color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel("p_pass (solid: mean over units, dashed: min)")
    ax.set_title("Malicious Dropout p_pass per epoch, mean over seeds")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title=C.BAND_NOTE, title_fontsize=7)
    return fig
