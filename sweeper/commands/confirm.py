"""``sweeper confirm SWEEP --top K --seeds 5,6,7``: the search-then-confirm protocol.

A search picks its best configurations by a validation metric averaged over its
seeds; their test numbers on those same seeds carry a selection bias (the winner
is partly the configuration that was lucky on those seeds). The confirm step
re-runs the K best configurations, ranked exactly as the launch summary ranks
them (``report.summarize``: the sweep's first objective, mean over the seeds
that finished, ``search.mode``), on fresh seeds that were never used for
selection, and reports their test numbers.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def plan(source: str, top: int, seeds: list[int], out: str | Path = "sweeps", name: str | None = None) -> Plan:
    """Check the request and build the confirm sweep (no Ray, nothing written)."""
    import yaml

    from sweeper import report
    from sweeper.store import tune_state
    from sweeper.driver.launch import NoSuchSweep, sweep_path
    from trainables.overrides import tune_overrides

    try:
        src = sweep_path(source, out)
    except NoSuchSweep as e:
        raise ConfirmError(str(e)) from None
    if top < 1:
        raise ConfirmError(f"--top must be >= 1, got {top}")
    used = selection_seeds(src, out)
    overlap = sorted(set(seeds) & set(used))
    if overlap:
        raise ConfirmError(
            f"--seeds {', '.join(map(str, overlap))} {'was' if len(overlap) == 1 else 'were'} used for selection "
            f"(sweep {', '.join(sorted({used[s] for s in overlap}))} ran seeds {', '.join(map(str, sorted(used)))}): "
            f"a confirm run needs seeds never used for selection, e.g. "
            f"{', '.join(str(max(used) + 1 + i) for i in range(len(seeds)))}"
        )
    spec_dict = yaml.safe_load((src / "spec.yaml").read_text())
    metric = spec_dict["search"]["metric"]
    mode = spec_dict["search"]["mode"]
    metric, mode = (metric[0] if isinstance(metric, list) else metric), (mode[0] if isinstance(mode, list) else mode)
    try:
        trials = report.load_trials(src)
    except FileNotFoundError as e:
        raise ConfirmError(str(e)) from None
    summary = report.summarize(trials, metric, mode)
    ranked = summary[summary[metric].notna()] if metric in summary else summary.iloc[0:0]
    if len(ranked) < top:
        raise ConfirmError(f"--top {top}: sweep {src.name} has {len(ranked)} configuration(s) with a finished "
                           f"{metric} to rank (of {len(summary)})")
    ranked = ranked.head(top)
    store = tune_state.tune_storage(src)
    points, ranking = [], []
    for r in ranked.itertuples(index=False):
        trial_id = trials.loc[trials.config_id == r.config_id, "trial_id"].iloc[0]
        params = store.read(f"trial_{trial_id}", "params.json")
        if params is None:
            raise ConfirmError(f"sweep {src.name}: trial {trial_id} has no params.json in {store.root}")
        point = {k: v for k, v in tune_overrides(json.loads(params), spec_dict["seeds"]).items() if k != "seed"}
        points.append(point)
        ranking.append({"config_id": r.config_id, "config": r.config, metric: float(getattr(r, metric))})
    sweep_id = name or f"{src.name}_confirm"
    spec_dict = {**spec_dict, "seeds": list(seeds),
                 "search": {**spec_dict["search"], "scheduler": "fifo"},
                 "description": f"confirm sweep of {src.name}: its top {top} by {metric} on fresh seeds"}
    confirms = {"source": src.name, "source_dir": str(src), "top": top, "metric": metric, "mode": mode,
                "selection_seeds": sorted(used), "seeds": list(seeds), "ranking": ranking}
    return Plan(src.name, sweep_id, spec_dict, points, ranking, confirms)


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


def report_note(sweep_dir: Path) -> str | None:
    """The sentence a report of a confirm sweep prints (None for any other sweep)."""
    f = Path(sweep_dir) / "sweep.json"
    c = json.loads(f.read_text()).get("confirms") if f.exists() else None
    if not c:
        return None
    return (f"Confirm sweep of {c['source']}: its top {c['top']} configuration(s) by {c['metric']} ({c['mode']}, mean "
            f"over seeds {', '.join(map(str, c['selection_seeds']))}) re-run on seeds {', '.join(map(str, c['seeds']))}; "
            f"the test numbers above come from seeds never used for selection.")
