"""Learning curves: validation error and training loss per epoch, one line per configuration.

The line is the mean over the configuration's finished seeds at each epoch,
the band the seed band of :mod:`sweeper.figures.common`. Only finished trials
are drawn (a trial stopped early by ASHA would shorten the mean's support).
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C

PANELS = ("val_error", "train_loss")
CLIP = 3.0  # error axes end at CLIP x the highest final mean when early epochs are far above it


def draw(trials: pd.DataFrame, epochs: pd.DataFrame, config_ids: list[str],
         panels: tuple[str, ...] = PANELS, title: str | None = None) -> Figure | None:
    """One panel per metric in ``panels``; one line + band per configuration in ``config_ids``."""
    done = C.finished(trials)
    ep = epochs[epochs["trial_id"].isin(done["trial_id"]) & epochs["config_id"].isin(config_ids)]
    panels = tuple(p for p in panels if p in ep and ep[p].notna().any())
    if ep.empty or not panels:
        return None
    fig, axes = C.new_figure(ncols=len(panels))
    for ax, metric in zip(axes[0], panels):
        sc = C.scale(metric)
        finals, peak, clipped = [], 0.0, ""
        for cid in config_ids:
            b = C.band_frame(ep[ep["config_id"] == cid].dropna(subset=[metric]), "epoch", metric)
            if b.empty:
                continue
            finals.append(float(b["mean"].iloc[-1]) * sc)
            peak = max(peak, float(b["mean"].max()) * sc)
            n = int(b["n"].max())
            (line,) = ax.plot(b["epoch"], b["mean"] * sc, label=f"{C.label(trials, cid)} (n={n})")
            if n >= 2:
                ax.fill_between(b["epoch"], b["low"] * sc, b["high"] * sc, color=line.get_color(), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(C.axis_label(metric))
        if C.percent(metric):
            ax.set_ylim(bottom=0)  # an error rate is >= 0; a t-band of 3 seeds can reach below it
            top = CLIP * max(finals, default=0.0)
            if finals and peak > top > 0:
                # The first epochs' errors (e.g. 80% after one epoch) would flatten the differences
                # that matter at the end; the axis stops at CLIP x the highest final mean, and says so.
                ax.set_ylim(0, top)
                clipped = f"\naxis clipped at {top:.3g}% (early epochs reach {peak:.3g}%)"
        ax.set_title(f"{metric} per epoch, mean over seeds{clipped}")
        if metric.endswith("loss") and (ep[metric] > 0).all():  # some heads' losses go below zero (DropMax)
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title=C.BAND_NOTE, title_fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
