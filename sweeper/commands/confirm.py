"""``sweeper confirm SWEEP [--top K | --per-method] [--seeds 5,6,7] [--epochs 2x]``: search, then confirm.

A search picks its best configurations by a validation metric averaged over its
seeds; their test numbers on those same seeds carry a selection bias (the winner
is partly the configuration that was lucky on those seeds), and a single epoch
budget can decide a comparison by itself (a method that converges slower loses
at a short budget). The confirm step re-runs, on fresh seeds never used for
selection, either the K best configurations (``--top K``) or each method's
selected configuration (``--per-method``, the default without ``--top``),
both chosen by ``sweeper.store.selection`` (the rule every report uses: the
sweep's first objective, mean over its distinct finished seeds), optionally at
another budget (``--epochs 2x``: each configuration's epochs times 2; ``--epochs
400``: 400 epochs; the lr schedule is relative to the run's length, so it
stretches with it). Without ``--seeds``, as many fresh seeds as the source ran,
the next integers after every seed used for selection. ``sweeper report`` of the
source then states, per comparison, whether its sign held in the confirm sweep
(``sweeper.report.robustness``).

- Seeds used for selection: the source sweep's ``seeds``, and, when the source is
  itself a confirm sweep, the seeds of every sweep it descends from. Any overlap
  is refused (``ConfirmError``, exit 2) naming the overlapping seeds.
- The confirm sweep is a new sweep (id ``<source>_confirm`` unless ``--name``), in
  the source's MLflow experiment: the source's ``spec.yaml`` with the new seeds and
  the FIFO scheduler (every trial runs all its epochs), run as a grid over exactly
  the K configurations x the new seeds (``launch(points=...)``). Its link to the
  source: the MLflow tag ``sweeper.confirms`` on its parent run, ``confirms`` in
  ``sweep.json``, and ``sweeper.confirms`` / ``sweeper.confirm`` in its Parquet
  metadata. A configuration keeps its ``config_id`` across the two sweeps.
- ``report_note(sweep_dir)``: the sentence every report of a confirm sweep prints.

Only ``plan`` and ``run`` import the launcher (and torch); ``report_note`` reads JSON.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.report.confirm_note import report_note  # noqa: F401  (re-exported)


class ConfirmError(ValueError):
    """Bad input to ``sweeper confirm`` (the CLI prints it and exits 2; nothing is created)."""


@dataclass(frozen=True)
class Plan:
    source: str  # the source sweep's id
    sweep_id: str
    spec_dict: dict[str, Any]  # the confirm sweep's spec (the source's, new seeds, FIFO)
    points: list[dict[str, Any]]  # the K configurations, best first (dotted path -> value)
    ranking: list[dict[str, Any]]  # config_id, config label, the source's mean objective
    confirms: dict[str, Any]  # what launch records as the link (sweep.json, MLflow, Parquet)


def parse_seeds(text: str) -> list[int]:
    """``"5,6,7"`` -> ``[5, 6, 7]``; distinct non-negative integers."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit()]
    if not parts or bad:
        raise ConfirmError(f"--seeds must be a comma-separated list of non-negative integers such as 5,6,7, got {text!r}"
                           + (f" ({', '.join(map(repr, bad))} is not one)" if bad else ""))
    seeds = [int(p) for p in parts]
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise ConfirmError(f"--seeds lists {', '.join(map(str, dup))} more than once")
    return seeds


def _meta(sweep_dir: Path) -> dict[str, Any]:
    return json.loads((Path(sweep_dir) / "sweep.json").read_text())


def selection_seeds(sweep_dir: Path, out: str | Path) -> dict[int, str]:
    """Seed -> the sweep that used it for selection: the source and, through ``confirms``, its ancestors."""
    import yaml

    from sweeper.driver.launch import NoSuchSweep, sweep_path

    used: dict[int, str] = {}
    seen: set[Path] = set()
    d: Path | None = Path(sweep_dir)
    while d is not None and d not in seen:
        seen.add(d)
        spec = yaml.safe_load((d / "spec.yaml").read_text())
        for s in spec.get("seeds", []):
            used.setdefault(int(s), d.name)
        parent = (_meta(d).get("confirms") or {}).get("source")
        try:
            d = sweep_path(parent, out) if parent else None
        except NoSuchSweep:
            d = None
    return used


def parse_epochs(text: str | None) -> tuple[float, str] | None:
    """``--epochs``: ``"2x"`` -> (2.0, "x") (each configuration's budget times 2), ``"400"`` -> (400.0, "abs")."""
    if text is None:
        return None
    t = str(text).strip().lower()
    try:
        v = float(t[:-1]) if t.endswith("x") else int(t)
    except ValueError:
        v = -1.0
    if v <= 0:
        raise ConfirmError(f"--epochs must be a multiple of each configuration's budget such as 2x, or a number of "
                           f"epochs such as 400, got {text!r}")
    return (float(v), "x" if t.endswith("x") else "abs")


def budget(old: int, epochs: tuple[float, str] | None) -> int:
    """The confirm run's epochs for a configuration that ran ``old`` (``parse_epochs``; ceil of a multiple)."""
    if epochs is None:
        return int(old)
    return int(epochs[0]) if epochs[1] == "abs" else max(1, math.ceil(epochs[0] * int(old)))


def fresh_seeds(used: dict[int, str], n: int) -> list[int]:
    """``n`` seeds never used for selection: the next ones after the largest used."""
    start = max(used, default=-1) + 1
    return list(range(start, start + n))


def _chosen(trials, objective: tuple[str, str], top: int | None) -> list[str]:
    """config_ids to confirm (``sweeper.store.selection``, the rule every report uses): the top ``top``
    configurations, or with ``top`` None each method's selected configuration."""
    from sweeper.store import selection

    scores = selection.scores(trials, objective)
    ranked = [c for c in selection.ranked(trials, objective) if scores.notna().get(c, False)]
    if top is None:
        return list(selection.best_per_method(trials, objective).values())
    if len(ranked) < top:
        raise ConfirmError(f"--top {top}: the sweep has {len(ranked)} configuration(s) with a finished "
                           f"{objective[0]} to rank (of {trials['config_id'].nunique()})")
    return ranked[:top]


def plan(source: str, top: int | None, seeds: list[int] | None, out: str | Path = "sweeps", name: str | None = None,
         epochs: str | None = None) -> Plan:
    """Check the request and build the confirm sweep (no Ray, nothing written). ``top`` None: each
    method's selected configuration (``--per-method``); ``seeds`` None: as many fresh seeds as the
    source ran; ``epochs``: ``parse_epochs`` (default: the source's budgets)."""
    import yaml

    from sweeper import report
    from sweeper.driver.launch import NoSuchSweep, sweep_path
    from sweeper.store import tune_state
    from trainables.overrides import tune_overrides

    try:
        src = sweep_path(source, out)
    except NoSuchSweep as e:
        raise ConfirmError(str(e)) from None
    if top is not None and top < 1:
        raise ConfirmError(f"--top must be >= 1, got {top}")
    ep = parse_epochs(epochs)
    used = selection_seeds(src, out)
    spec_dict = yaml.safe_load((src / "spec.yaml").read_text())
    seeds = list(seeds) if seeds is not None else fresh_seeds(used, len(spec_dict["seeds"]))
    _check_fresh(seeds, used)
    metric, mode = spec_dict["search"]["metric"], spec_dict["search"]["mode"]
    metric, mode = (metric[0] if isinstance(metric, list) else metric), (mode[0] if isinstance(mode, list) else mode)
    try:
        trials = report.load_trials(src)
    except FileNotFoundError as e:
        raise ConfirmError(str(e)) from None
    chosen = _chosen(trials, (metric, mode), top)
    summary = report.summarize(trials, metric, mode).set_index("config_id")
    store = tune_state.tune_storage(src)
    old_epochs = int(spec_dict["train"]["epochs"])
    points, ranking = [], []
    for cid in chosen:
        trial_id = trials.loc[trials.config_id == cid, "trial_id"].iloc[0]
        params = store.read(f"trial_{trial_id}", "params.json")
        if params is None:
            raise ConfirmError(f"sweep {src.name}: trial {trial_id} has no params.json in {store.root}")
        point = {k: v for k, v in tune_overrides(json.loads(params), spec_dict["seeds"]).items() if k != "seed"}
        if ep is not None and "train.epochs" in point:
            point["train.epochs"] = budget(point["train.epochs"], ep)
        points.append(point)
        ranking.append({"config_id": cid, "config": summary.at[cid, "config"], "method": summary.at[cid, "method"],
                        metric: float(summary.at[cid, metric])})
    what = f"its top {top}" if top is not None else "each method's selected configuration"
    spec_dict = {**spec_dict, "seeds": list(seeds), "search": {**spec_dict["search"], "scheduler": "fifo"},
                 "train": {**spec_dict["train"], "epochs": budget(old_epochs, ep)},
                 "description": f"confirm sweep of {src.name}: {what} by {metric} on fresh seeds"
                                + (f", at {epochs} epochs" if ep else "")}
    confirms = {"source": src.name, "source_dir": str(src), "top": top if top is not None else "per-method",
                "metric": metric, "mode": mode, "selection_seeds": sorted(used), "seeds": list(seeds),
                "ranking": ranking, **({"epochs": str(epochs)} if ep else {})}
    return Plan(src.name, name or f"{src.name}_confirm", spec_dict, points, ranking, confirms)


def _check_fresh(seeds: list[int], used: dict[int, str]) -> None:
    overlap = sorted(set(seeds) & set(used))
    if overlap:
        raise ConfirmError(
            f"--seeds {', '.join(map(str, overlap))} {'was' if len(overlap) == 1 else 'were'} used for selection "
            f"(sweep {', '.join(sorted({used[s] for s in overlap}))} ran seeds {', '.join(map(str, sorted(used)))}): "
            f"a confirm run needs seeds never used for selection, e.g. "
            f"{', '.join(map(str, fresh_seeds(used, len(seeds))))}"
        )


def run(p: Plan, **launch_kw: Any):
    """Launch the confirm sweep of ``p`` (``launch_kw``: num_cpus, address, out, ...)."""
    from sweeper.driver import launch as launch_mod
    from sweeper.spec import SpecError
    from sweeper.spec import from_dict as spec_from_dict

    try:
        spec = spec_from_dict(p.spec_dict, source=f"{p.confirms['source_dir']}/spec.yaml (confirm)")
    except SpecError as e:
        raise ConfirmError(str(e)) from None
    return launch_mod.launch(spec, name=p.sweep_id, points=p.points, confirms=p.confirms, **launch_kw)


