"""Figures of a sweep (matplotlib, Agg backend, PNG), drawn from its Parquet tables and trial artifacts.

No torch or Ray import: figures are drawn from files. One module per figure
kind; each ``draw`` returns a matplotlib ``Figure`` (or None when the data does
not support it), which :func:`sweep_figures` saves. Tests read the plotted data
back from the returned figures.

    learning_curves  validation error and training loss per epoch, band over seeds
    paired           per-seed paired differences against the baseline configuration
    reliability      reliability diagrams from the stored test calibration bins
    retain           DropMax retain probabilities per class (paper Figure 4e)
    sal              SAL pruned test error vs parameter count, architectures, Pareto front
    p_pass           Malicious Dropout p_pass per epoch
    gates            Dropout++ / SAL gate value histograms
    budget           test metric vs epoch budget per method (budget-fair comparison)
    race             a raced sweep's race: running mean per configuration over rounds, eliminations
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sweeper.figures import budget, gates, learning_curves, p_pass, paired, race, reliability, retain, sal
from sweeper.figures import common as C
from sweeper.figures.artifacts import artifact_dirs

__all__ = ["sweep_figures", "trial_figures", "artifact_dirs"]

TOP = 6  # configurations drawn where one line or dot each (best first by the validation metric)
RETAIN_METHODS = ("dropmax", "dropmax_qp")


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def sweep_figures(trials: pd.DataFrame, epochs: pd.DataFrame, out_dir: Path, *, metric: str = "val_error",
                  mode: str = "min", baseline: str | None = None, test_metric: str = "test_error",
                  artifacts: dict[str, Path] | None = None, skipped: dict[str, str] | None = None,
                  shown: dict[str, list[str]] | None = None, train: dict | None = None,
                  race_payload: dict | None = None) -> dict[str, Path]:
    """Draw every figure the data supports into ``out_dir``; returns ``{title: png path}``.

    ``metric``/``mode``: the sweep's validation objective, which ranks and selects
    configurations through ``sweeper.store.selection`` (the tables' rule; never the test
    metric). ``test_metric``: the compared metric, only drawn. ``baseline``: a config_id, a
    configuration label or a regularizer name (then its selected configuration). With several
    methods the paired figure compares each method's selected configuration with the baseline,
    as the paired table does; with one method, the top configurations. ``artifacts``: trial_id ->
    artifact folder (see :func:`artifact_dirs`), needed by the retain and gate figures.
    ``skipped``: if given, filled with ``{title: why}`` for each figure that applies to the
    sweep's methods but was not drawn. ``shown``: if given, filled with ``{title: config_ids
    drawn}`` (the paired figure's baseline first), for the report's captions. ``train``: the
    spec's train section (its lr_schedule and epochs mark the learning-rate steps; a searched
    ``train.lr_schedule`` / ``train.epochs`` column overrides it per configuration).
    """
    out_dir = Path(out_dir)
    dirs = artifacts or {}
    if not {"trial_id", "config_id", "epoch"} <= set(epochs.columns):  # no epochs.parquet: table figures only
        epochs = pd.DataFrame(columns=["trial_id", "config_id", "epoch"])
    ranked = C.ranked_configs(trials, metric, mode)
    per_method = C.best_per_method(trials, metric, mode)
    base = C.resolve_baseline(trials, baseline, metric, mode)
    top = ranked[:TOP] + ([base] if base and base not in ranked[:TOP] else [])
    best = list(per_method.values())
    drawn: dict[str, tuple[object, list[str]]] = {}
    steps = schedule_steps(trials, train or {}, [*best, *top])
    if len(per_method) > 1:
        drawn["Learning curves, best configuration per method"] = (learning_curves.draw(trials, epochs, best, steps=steps), best)
    drawn["Learning curves, top configurations"] = (learning_curves.draw(trials, epochs, top, steps=steps), top)
    if base:
        against = [c for c in (best if len(per_method) > 1 else ranked[:TOP * 2]) if c != base]
        drawn[f"Paired differences in {test_metric} vs the baseline"] = (
            paired.draw(trials, base, against, test_metric), [base, *against])
    drawn["Reliability diagrams, best configuration per method"] = (reliability.draw(trials, best), best)
    for reg, cid in per_method.items():
        if reg in RETAIN_METHODS:
            drawn[f"{reg} retain probabilities per class"] = (retain.draw(trials, dirs, cid), [cid])
    drawn["SAL test error vs parameters"] = (sal.draw(trials), [])
    md = [c for c in ranked if trials.loc[trials.config_id == c, "regularizer"].iloc[0] == "malicious_dropout"]
    drawn["Malicious Dropout p_pass per epoch"] = (p_pass.draw(trials, epochs, md[:TOP]), md[:TOP])
    gated = [c for r, c in per_method.items() if r in gates.PREFIXES]
    drawn["Gate value histograms"] = (gates.draw(trials, dirs, gated), gated)
    sel = budget.selection(trials, metric, mode, test_metric)
    drawn[f"{test_metric} vs epoch budget"] = (budget.draw(trials, metric, mode, test_metric),
                                               list(sel["config_id"]) if len(sel) else [])
    if race_payload is not None:
        drawn[race.TITLE] = (race.draw(trials, race_payload), [])
    if skipped is not None:
        skipped.update(_why_not(trials, epochs, dirs, {t: f for t, (f, _) in drawn.items()}, set(per_method)))
    if shown is not None:
        shown.update({t: ids for t, (f, ids) in drawn.items() if f is not None and ids})
    return {title: C.save(fig, out_dir / f"{slug(title)}.png") for title, (fig, _) in drawn.items() if fig is not None}


def schedule_steps(trials: pd.DataFrame, train: dict, config_ids: list[str]) -> dict[str, list[float]]:
    """config_id -> the epochs of its learning-rate steps (``learning_curves.lr_steps``)."""
    first = trials.drop_duplicates("config_id").set_index("config_id")
    out = {}
    for cid in dict.fromkeys(config_ids):
        row = first.loc[cid] if cid in first.index else {}
        sched = row.get("train.lr_schedule", train.get("lr_schedule"))
        ep = row.get("train.epochs", train.get("epochs"))
        out[cid] = learning_curves.lr_steps(sched if isinstance(sched, str) else train.get("lr_schedule"),
                                            int(ep) if pd.notna(ep) else None)
    return out


def _why_not(trials: pd.DataFrame, epochs: pd.DataFrame, dirs: dict, drawn: dict, methods: set[str]) -> dict[str, str]:
    """{title: reason} for the figures that apply to ``methods`` but came back None."""
    def has(df: pd.DataFrame, col: str) -> bool:
        return col in df and df[col].notna().any()

    why: dict[str, str] = {}
    for title, fig in drawn.items():
        if fig is not None:
            continue
        if title.startswith("Learning"):
            why[title] = "epochs.parquet is missing or has no rows for these configurations"
        elif title.startswith("Reliability"):
            why[title] = ("trials.parquet has no test_calibration values (recorded before the calibration bins were "
                          "stored)" if not has(trials, "test_calibration") else "no finished trial has calibration bins")
        elif "retain" in title:
            why[title] = ("needs the trials' retain-probability artifacts (trial folders under tune/), "
                          + ("none here" if not dirs else "not found in them"))
        elif title.startswith("Gate") and methods & set(gates.PREFIXES):
            why[title] = ("needs the trials' gate-value artifacts (trial folders under tune/), "
                          + ("none here" if not dirs else "not found in them"))
        elif title.startswith("SAL") and "sal" in methods:
            why[title] = "trials.parquet has no metric.sal_params values"
        elif title.startswith("Malicious") and "malicious_dropout" in methods:
            why[title] = "epochs.parquet has no malicious_dropout_p_pass_mean values"
        elif title == race.TITLE:
            why[title] = "race.json has no decided round yet"
        elif title.startswith("Paired"):
            why[title] = "no configuration shares finished seeds with the baseline"
    return why


def trial_figures(trials: pd.DataFrame, epochs: pd.DataFrame, trial_id: str, out_dir: Path) -> dict[str, Path]:
    """A finished trial's own figures (for its MLflow child run): learning curve and reliability diagram."""
    row = trials[trials["trial_id"] == trial_id]
    if row.empty or row["status"].iloc[0] != C.FINISHED:
        return {}
    r = row.iloc[0]
    name = f"{C.label(trials, r['config_id'])}, seed {r['seed']}"
    one = trials[trials["trial_id"] == trial_id].assign(config_id=trial_id)
    ep = epochs[epochs["trial_id"] == trial_id].assign(config_id=trial_id)
    drawn = {
        "learning curve": learning_curves.draw(one, ep, [trial_id], title=name),
        "reliability diagram": reliability.draw_trial(r, name),
    }
    return {t: C.save(f, Path(out_dir) / f"{slug(t)}.png") for t, f in drawn.items() if f is not None}
