"""Reliability diagrams from the calibration bins every finished trial stores (``test_calibration``).

The bins are the 15 equal-width confidence bins of ``test_ece``. A method's
diagram pools its best configuration's seeds (chosen by the validation metric):
per bin, counts add up, and the mean confidence and accuracy are count-weighted
means over the seeds. Bars: accuracy per bin; crosses: mean confidence; the
diagonal is perfect calibration. The title gives the pooled ECE,
sum_b n_b |acc_b - conf_b| / n (the mean of the seeds' ECEs is not exactly this).
Each bar is labelled with its bin's count n_b (pooled over seeds), so a nearly empty
bin does not look as weighty as a full one.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import common as C

COLUMN = "test_calibration"


def parse(text) -> dict | None:
    if not isinstance(text, str) or not text:
        return None
    return json.loads(text)


def pool(bin_sets: list[dict]) -> dict:
    """Sum counts, count-weighted mean confidence and accuracy per bin over several trials' bins."""
    edges = bin_sets[0]["edges"]
    count = np.zeros(len(edges) - 1)
    conf = np.zeros_like(count)
    acc = np.zeros_like(count)
    for b in bin_sets:
        c = np.asarray(b["count"], dtype=float)
        count += c
        conf += c * np.array([x if x is not None else 0.0 for x in b["confidence"]])
        acc += c * np.array([x if x is not None else 0.0 for x in b["accuracy"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"edges": edges, "count": count, "confidence": conf / count, "accuracy": acc / count}


def ece(pooled: dict) -> float:
    c = pooled["count"]
    ok = c > 0
    return float((c[ok] * np.abs(pooled["accuracy"][ok] - pooled["confidence"][ok])).sum() / c.sum())


def draw_panels(panels: list[tuple[str, dict]]) -> Figure | None:
    """One reliability diagram per (title, pooled bins)."""
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = C.new_figure(ncols=ncols, nrows=nrows, width=4.0, height=4.0)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, b) in zip(axes.flat, panels):
        edges = np.asarray(b["edges"])
        width = np.diff(edges)
        ok = np.asarray(b["count"]) > 0
        ax.bar(edges[:-1][ok], np.asarray(b["accuracy"])[ok], width=width[ok], align="edge",
               edgecolor="black", alpha=0.7, label="accuracy")
        centres = (edges[:-1] + edges[1:]) / 2
        ax.plot(centres[ok], np.asarray(b["confidence"])[ok], "x", color="red", label="mean confidence")
        for x, acc, n in zip(centres[ok], np.asarray(b["accuracy"])[ok], np.asarray(b["count"])[ok]):
            ax.text(x, min(acc, 0.9) + 0.02, f"{int(n)}", ha="center", va="bottom", fontsize=5, rotation=90)
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{title}\nECE {100 * ece(b):.2f}%, n={int(np.sum(b['count']))} (bar labels: count per bin)", fontsize=8)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    return fig


def draw(trials: pd.DataFrame, config_ids: list[str]) -> Figure | None:
    """One diagram per configuration in ``config_ids`` (its finished seeds pooled)."""
    if COLUMN not in trials:
        return None
    done = C.finished(trials)
    panels = []
    for cid in config_ids:
        sets = [b for b in map(parse, done.loc[done["config_id"] == cid, COLUMN]) if b]
        if sets:
            panels.append((f"{C.label(trials, cid)} ({len(sets)} seed{'s' if len(sets) != 1 else ''})", pool(sets)))
    return draw_panels(panels)


def draw_trial(row: pd.Series, title: str) -> Figure | None:
    """The reliability diagram of one trial (its child run's figure)."""
    b = parse(row.get(COLUMN))
    return draw_panels([(title, pool([b]))]) if b else None
