"""Learning curves: validation error and training loss per epoch, one line per configuration.

The line is the mean over the configuration's finished seeds at each epoch,
the band the seed band of :mod:`sweeper.figures.common`; a configuration with
one finished trial is drawn as that one trial, and the title says so. Only
finished trials are drawn (a trial stopped early by ASHA would shorten the
mean's support). The learning-rate schedule's steps (``thirds``: x0.1 after a
third and after two thirds of the run, i.e. at epochs E/3 and 2E/3 of an E-epoch
run) are marked by grey dotted vertical lines (one per distinct epoch): a curve
that flattens right after a step is not converged, the step flattened it.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C

PANELS = ("val_error", "train_loss")
CLIP = 3.0  # error axes end at CLIP x the highest final mean when early epochs are far above it


def lr_steps(schedule: str | None, epochs: int | None) -> list[float]:
    """Epochs after which the learning rate steps down: E/3 and 2E/3 for ``thirds``, none otherwise."""
    if schedule != "thirds" or not epochs:
        return []
    return [epochs / 3.0, 2.0 * epochs / 3.0]


def draw(trials: pd.DataFrame, epochs: pd.DataFrame, config_ids: list[str],
         panels: tuple[str, ...] = PANELS, title: str | None = None,
         steps: dict[str, list[float]] | None = None) -> Figure | None:
    """One panel per metric in ``panels``; one line + band per configuration in ``config_ids``;
    ``steps``: config_id -> epochs of its learning-rate steps (``lr_steps``), marked."""
    done = C.finished(trials)
    ep = epochs[epochs["trial_id"].isin(done["trial_id"]) & epochs["config_id"].isin(config_ids)]
    panels = tuple(p for p in panels if p in ep and ep[p].notna().any())
    if ep.empty or not panels:
        return None
    fig, axes = C.new_figure(ncols=len(panels))
    for ax, metric in zip(axes[0], panels):
        sc = C.scale(metric)
        finals, peak, clipped, most, marked = [], 0.0, "", 0, set()
        for cid in config_ids:
            b = C.band_frame(ep[ep["config_id"] == cid].dropna(subset=[metric]), "epoch", metric)
            if b.empty:
                continue
            finals.append(float(b["mean"].iloc[-1]) * sc)
            peak = max(peak, float(b["mean"].max()) * sc)
            n = int(b["n"].max())
            most = max(most, n)
            (line,) = ax.plot(b["epoch"], b["mean"] * sc, label=f"{C.label(trials, cid)} (n={n})")
            if n >= 2:
                ax.fill_between(b["epoch"], b["low"] * sc, b["high"] * sc, color=line.get_color(), alpha=0.2)
            for x in (steps or {}).get(cid, []):
                if x not in marked:  # configurations sharing a budget share their steps: one line each
                    ax.axvline(x, color="grey", ls=":", lw=1.2, label=None if marked else "lr step (x0.1)")
                    marked.add(x)
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
        what = "mean over seeds" if most > 1 else "one trial" + (" each" if len(config_ids) > 1 else "")
        ax.set_title(f"{metric} per epoch, {what}{clipped}")
        if metric.endswith("loss") and (ep[metric] > 0).all():  # some heads' losses go below zero (DropMax)
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title=C.BAND_NOTE if most > 1 else None, title_fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
