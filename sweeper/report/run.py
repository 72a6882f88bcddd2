"""``sweeper report SWEEP [SWEEP ...]`` as a library call: load, build, write, log (used by the CLI and launch)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import yaml

from sweeper.report import data, importance, paper, race, units, writer
from sweeper.report.writer import ReportInputError
from sweeper.store import writable


@dataclass(frozen=True)
class Written:
    report_md: Path
    main: str  # the main table(s), for the terminal
    mlflow_runs: tuple[str, ...]


def paper_from_file(path: str | Path) -> dict | None:
    """The ``paper:`` block of a spec file (read as YAML, validated by ``paper.parse``)."""
    p = Path(path)
    if not p.is_file():
        raise ReportInputError(f"--paper {p}: no such file")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ReportInputError(f"--paper {p}: not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(raw, dict) or "paper" not in raw:
        raise ReportInputError(f"--paper {p}: the file has no paper: block")
    block, problems = paper.parse(raw["paper"])
    if problems:
        raise ReportInputError(f"--paper {p}: " + "; ".join(f"{w}: {m}" for w, m in problems))
    return block


def _sweep_figures(sw: data.Sweep, out_dir: Path, objective: tuple[str, str], test_metric: str,
                   baseline: str | None, skipped: dict[str, str], shown: dict[str, list[str]]) -> dict[str, Path]:
    """Figures from ``sweeper.figures.sweep_figures`` when that package is installed, else none.

    ``objective``: the validation objective the tables select on (the figures select on it too);
    ``test_metric``: the compared metric, only drawn.

    A live sweep folder passes its trials' artifact folders (retain and gate figures); a
    committed results folder has none, and the figures drawn from its tables alone are drawn.
    ``skipped`` receives ``{title: why}`` for the figures that apply but could not be drawn, ``shown``
    ``{title: config_ids drawn}``."""
    if importlib.util.find_spec("sweeper.figures") is None:
        return {}
    from sweeper.figures import artifact_dirs, sweep_figures

    return sweep_figures(sw.trials, sw.epochs, out_dir / "figures", metric=objective[0], mode=objective[1],
                         baseline=baseline, test_metric=test_metric, train=sw.spec.get("train") or {},
                         artifacts=artifact_dirs(sw.folder) or None, skipped=skipped, shown=shown,
                         race_payload=race.read(sw.folder))


def caption(trials, title: str, ids: list[str], objective: tuple[str, str]) -> str:
    """The sentence under a figure naming the configurations it draws (the paired figure's baseline first)."""
    first = trials.drop_duplicates("config_id").set_index("config_id")
    names = [f"{first.at[c, 'regularizer']}: {first.at[c, 'config']} (`{c}`)" for c in ids if c in first.index]
    if title.startswith("Paired") and names:
        return f"Baseline {names[0]}; compared: " + ("; ".join(names[1:]) or "none") + f" (selected on {objective[0]})."
    return f"Configurations drawn (selected on {objective[0]}): " + "; ".join(names) + "."


def _build_reports(loaded: list, metrics: tuple[str, ...], baseline: str | None, all_pairs: bool,
                   paper_file: str | Path | None) -> list:
    """One report per sweep, with its paper block (the file's, else the sweep's own spec's)."""
    block_override = paper_from_file(paper_file) if paper_file else None
    reports = []
    for sw in loaded:
        block = block_override
        if block is None and sw.spec.get("paper"):
            block, problems = paper.parse(sw.spec["paper"])
            if problems:
                raise ReportInputError(f"{sw.folder}: the spec's paper block: " + "; ".join(f"{w}: {m}" for w, m in problems))
        reports.append(writer.build(sw, extra_metrics=tuple(metrics), compare_metric=metrics[0] if metrics else None,
                                    baseline=baseline, all_pairs=all_pairs, paper_block=block))
    return reports


def _draw(loaded: list, reports: list, out: Path, baseline: str | None) -> tuple[dict, dict, dict]:
    """(figures, figures not drawn with why, captions) of every sweep, titled per sweep when several."""
    figs: dict[str, Path] = {}
    not_drawn: dict[str, str] = {}
    captions: dict[str, str] = {}
    for sw, r in zip(loaded, reports):
        sub = out / (sw.name if len(loaded) > 1 else "")
        skipped: dict[str, str] = {}
        shown: dict[str, list[str]] = {}
        suffix = f" ({sw.name})" if len(loaded) > 1 else ""
        for title, p in _sweep_figures(sw, sub, r.objective, r.metric, baseline, skipped, shown).items():
            figs[title + suffix] = p
            if title in shown:
                captions[title + suffix] = caption(sw.trials, title, shown[title], r.objective)
        for title, why in skipped.items():
            not_drawn[title + suffix] = why
    return figs, not_drawn, captions


def _append_importances(md: Path, loaded: list) -> None:
    """The Optuna studies' parameter importances (none for a sweep without a study)."""
    for sw in loaded:
        extra = importance.section(sw.folder, sw.name)
        if extra:
            md.write_text(md.read_text().rstrip("\n") + "\n\n" + extra)


def make_report(sweeps: list[str | Path], *, sweeps_dir: str | Path = "sweeps", out: str | Path | None = None,
                metrics: tuple[str, ...] = (), baseline: str | None = None, all_pairs: bool = False,
                paper_file: str | Path | None = None, log_mlflow: bool = True, figures: bool = True) -> Written:
    if baseline and all_pairs:
        raise ReportInputError("--baseline and --all-pairs exclude each other: --baseline X compares each method with "
                               "X, --all-pairs every pair of methods")
    loaded = [data.load(s, sweeps_dir) for s in sweeps]
    if out is None:
        across_dir = Path(sweeps_dir) / ("across_" + "_".join(s.name for s in loaded))
        out = loaded[0].folder / "report" if len(loaded) == 1 else across_dir
    out = Path(out)
    why = writable.refusal(out)
    if why is not None:
        raise ReportInputError(f"the report folder: {why}; choose a writable --report-dir (nothing was written)")
    reports = _build_reports(loaded, metrics, baseline, all_pairs, paper_file)
    figs, not_drawn, captions = _draw(loaded, reports, out, baseline) if figures else ({}, {}, {})
    across = None
    if len(reports) > 1:
        across = writer.build_across(reports, reports[0].metric, units.mode_of(reports[0].metric), out)
    md = writer.write(reports, out, figs, across, not_drawn, captions)
    _append_importances(md, loaded)
    runs = []
    if log_mlflow:
        for sw, r in zip(loaded, reports):
            rid = writer.log_to_mlflow(out, sw, r.robustness)
            if rid:
                runs.append(rid)
    main = "\n\n".join(r.main for r in reports) + (f"\n\nAcross sweeps:\n{across[0]}" if across else "")
    return Written(md, main, tuple(runs))
