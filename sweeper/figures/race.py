"""The race of a raced sweep (``search.racing``, its ``race.json``): one panel per race.

x: k, the number of seeds (1 .. the race's last decided round; rounds start at ``min_seeds``, the dashed line);
y: each configuration's running mean of the race's metric over its finished seeds among the first k (the race
itself compares per seed; the mean is what a reader compares). An eliminated configuration's line ends at the round that
eliminated it, with an ``x`` marker (grey); a configuration still in the race runs to the last decided round
(coloured, named in the legend, ``o`` at its end). Every line carries its configuration's name as its label.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sweeper.figures import common as C

TITLE = "Race over seeds"


def _keys(payload: dict[str, Any], trials: pd.DataFrame) -> dict[str, tuple[str, dict[int, str]]]:
    """Config key -> (config_id, {seed: trial id}) for the configurations with a trial in ``trials``."""
    ids = trials.drop_duplicates("trial_id").set_index("trial_id")["config_id"]
    out = {}
    for key, c in payload.get("configs", {}).items():
        by_seed = {int(s): t for s, t in c.get("trials", {}).items()}
        cid = next((ids[t] for t in by_seed.values() if t in ids.index), None)
        if cid is not None:
            out[key] = (str(cid), by_seed)
    return out


def running_means(values: dict[int, float], seeds: list[int], ks: range) -> list[float]:
    """The mean over the finished values of ``seeds[:k]`` for each k of ``ks`` (NaN where none)."""
    out = []
    for k in ks:
        v = [values[s] for s in seeds[:k] if s in values and np.isfinite(values[s])]
        out.append(float(np.mean(v)) if v else float("nan"))
    return out


def _panel(ax, race: dict[str, Any], keys: dict, value_of: dict[str, float], trials: pd.DataFrame, sc: float) -> None:
    seeds = list(race["seeds"])
    last = race["rounds"][-1]["k"] if race["rounds"] else race["min_seeds"]
    gone = {e["config"]: e["round"] for r in race["rounds"] for e in r["eliminated"]}
    handles = []
    for key in race["candidates"]:
        if key not in keys:
            continue
        cid, by_seed = keys[key]
        vals = {s: value_of[t] for s, t in by_seed.items() if t in value_of}
        end = gone.get(key, last)
        ks = range(1, end + 1)
        y = np.array(running_means(vals, seeds, ks)) * sc
        name = C.label(trials, cid)
        if key in gone:
            ax.plot(list(ks), y, color="0.6", lw=0.9, marker="x", markevery=[len(y) - 1], label=name, zorder=2)
        else:
            (line,) = ax.plot(list(ks), y, lw=2.0, marker="o", markevery=[len(y) - 1], label=name, zorder=3)
            handles.append(line)
    handles.append(Line2D([], [], color="0.6", marker="x", lw=0.9, label=f"eliminated ({len(gone)}), x at its round"))
    ax.axvline(race["min_seeds"], color="0.3", ls="--", lw=0.8)
    ax.legend(handles=handles, fontsize=7, loc="best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"seeds (rounds from {race['min_seeds']}, dashed)")
    ax.set_title(f"race {race['name']}: {len(race['candidates'])} configurations, {race['test']}, alpha {race['alpha']:g}",
                 fontsize=9)
    ax.grid(alpha=0.3)


def draw(trials: pd.DataFrame, payload: dict[str, Any] | None) -> Figure | None:
    """The race figure (module docstring); None for a sweep that did not race or has no decided round."""
    if not payload or not any(r.get("rounds") for r in payload.get("races", [])):
        return None
    metric = payload["metric"]
    col = C.metric_column(trials, metric)
    if col is None:
        return None
    done = C.finished(trials)
    value_of = dict(zip(done["trial_id"], done[col].astype(float)))
    keys = _keys(payload, trials)
    races = [r for r in payload["races"] if r.get("rounds")]
    fig, axes = C.new_figure(ncols=len(races), width=6.4, height=4.6)
    for ax, race in zip(axes[0], races):
        _panel(ax, race, keys, value_of, trials, C.scale(metric))
    axes[0][0].set_ylabel(f"mean {C.axis_label(metric)} over the seeds so far")
    return fig
