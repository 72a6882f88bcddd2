"""Dropout++ / SAL gate values after training: a histogram per gated layer.

From the trials' ``<prefix>_gates_<layer>.json`` artifacts (``hist_count`` over
``hist_edges``: every k, clipped to [0, 1]); a method's best configuration,
counts summed over its seeds. One row per method, one column per gated layer.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import artifacts as A
from sweeper.figures import common as C

PREFIXES = ("dropout_pp", "sal")


def layer_histograms(dirs, trial_ids, prefix: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """layer -> (edges, counts summed over the trials)."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for name, items in A.matching(dirs, trial_ids, f"{prefix}_gates_*.json").items():
        m = re.fullmatch(rf"{prefix}_gates_(\d+)\.json", name)
        if not m:
            continue
        counts = np.sum([it["hist_count"] for it in items], axis=0)
        out[int(m.group(1))] = (np.asarray(items[0]["hist_edges"]), counts)
    return dict(sorted(out.items()))


def draw(trials: pd.DataFrame, dirs: dict, config_ids: list[str]) -> Figure | None:
    done = C.finished(trials)
    rows = []
    for cid in config_ids:
        sel = done[done["config_id"] == cid]
        reg = str(sel["regularizer"].iloc[0]) if len(sel) else ""
        if reg in PREFIXES:
            h = layer_histograms(dirs, sel["trial_id"].tolist(), reg)
            if h:
                rows.append((cid, len(sel), h))
    if not rows:
        return None
    ncols = max(len(h) for _, _, h in rows)
    fig, axes = C.new_figure(ncols=ncols, nrows=len(rows), width=3.6, height=3.0)
    for r, (cid, n, hists) in enumerate(rows):
        for c in range(ncols):
            ax = axes[r][c]
            if c >= len(hists):
                ax.set_visible(False)
                continue
            layer, (edges, counts) = list(hists.items())[c]
            ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="black")
            ax.set_xlim(0, 1)
            ax.set_xlabel("gate value k")
            ax.set_ylabel("gates (summed over seeds)")
            ax.set_title(f"{C.label(trials, cid)} (n={n})\nlayer {layer}", fontsize=8)
    return fig
