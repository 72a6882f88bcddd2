"""The report of one or several sweeps: ``report.md``, every table as CSV, figures, MLflow artifacts.

``build`` turns a loaded sweep into sections (markdown) and tables (DataFrames); ``write`` puts them in a
folder (default ``<sweep folder>/report/``) with the figures it is given (``{title: png path}``, copied
into ``figures/`` and embedded); ``log_to_mlflow`` logs that folder as artifacts (under ``report/``) of
the sweep's MLflow parent run named in ``sweep.json``. Nothing here imports torch or Ray.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sweeper.report import across, budget, compare, paper, race, robustness, tables
from sweeper.report.confirm_note import report_note
from sweeper.report.data import Sweep, column, numeric_metrics

ROBUSTNESS_HEAD = "Robustness of the verdicts (sweeper report):"
NOTE_TAG = "mlflow.note.content"  # the run's description (sweeper.store.mlflow_runs.NOTE_TAG)


class ReportInputError(ValueError):
    """A report option that does not fit the sweep (unknown metric or baseline); the CLI exits 2."""


@dataclass
class SweepReport:
    sweep: Sweep
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, markdown)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # csv name -> table
    main: str = ""  # what the terminal prints
    method_table: pd.DataFrame | None = None
    metric: str = "test_error"  # the compared (reported) metric
    objective: tuple[str, str] = ("val_error", "min")  # the validation objective that selects
    robustness: str = ""  # the robustness lines as plain text (the MLflow parent run's description)


def _provenance(sw: Sweep) -> str:
    try:
        folder = sw.folder.relative_to(Path.cwd())
    except ValueError:
        folder = sw.folder
    lines = [f"- folder: `{folder}`", f"- objective (ranking and selection): {sw.objective[0]} ({sw.objective[1]})"]
    if sw.spec.get("description"):
        lines.append(f"- description: {str(sw.spec['description']).strip()}")
    counts = sw.trials["status"].value_counts().to_dict()
    lines.append("- trials: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if "versions" in sw.provenance:
        lines.append(f"- packages: `{sw.provenance['versions']}`")
    if "written" in sw.provenance:
        lines.append(f"- tables written: {sw.provenance['written']}")
    if note := report_note(sw.folder):
        lines.append(f"- {note}")
    if sw.meta.get("mlflow_parent_run"):
        lines.append(f"- MLflow parent run: `{sw.meta['mlflow_parent_run']}` ({sw.meta.get('mlflow_uri', '')})")
    return "\n".join(lines)


def build(sw: Sweep, *, extra_metrics: tuple[str, ...] = (), compare_metric: str | None = None,
          baseline: str | None = None, all_pairs: bool = False, paper_block: dict | None = None) -> SweepReport:
    trials = sw.trials
    _check_metrics(sw, (*extra_metrics, *([compare_metric] if compare_metric else [])))
    metric = compare_metric or (extra_metrics[0] if extra_metrics else "test_error")
    objective = sw.objective
    if column(trials, objective[0]) not in trials:
        objective = ("val_error", "min")
    metrics = tables.metric_list(trials, tuple(extra_metrics) + (metric,), objective[0])
    rep = SweepReport(sw, metric=metric, objective=objective)
    configs = tables.config_table(trials, metrics, objective)
    methods = tables.method_table(configs, objective)
    rep.method_table = methods
    rep.tables["configurations"] = tables.csv_frame(configs, metrics)
    rep.tables["methods"] = tables.csv_frame(methods, metrics)
    rep.sections.append(("Sweep", _provenance(sw)))

    base_id, base_note = None, ""
    if baseline:
        try:
            base_id, base_note = tables.pick_baseline(configs, baseline, objective)
        except KeyError as e:
            raise ReportInputError(str(e.args[0])) from None
    several = methods["method"].nunique() > 1
    method_text, config_md = _ranking_sections(rep, configs, methods, metrics, several)
    raced = _race_section(rep)
    base_method = baseline if base_id and baseline in set(configs["method"]) else None
    bres = _budget_section(rep, metric, base_method)
    selected = list(methods["config_id"]) if several else list(configs["config_id"])
    if base_id is not None and base_id not in selected:
        selected.append(base_id)
    comp = pd.DataFrame()
    if base_id is not None or all_pairs:
        comp = compare.comparisons(trials, configs, selected, metric, base_id)
        rep.tables[f"paired_{metric}"] = comp
        title = f"Paired comparisons of {metric}" + (f" against {baseline}" if base_id else " (all pairs)")
        rep.sections.append((title, (base_note + "\n\n" if base_note else "") + compare.render(comp)))
    verdicts = robustness.verdicts(sw, robustness.pairs_of(comp, list(methods["method"])), metric, objective, bres)
    pc = _paper_section(rep, paper_block, configs)
    if several and (len(comp) or len(pc)):
        summary_md = _summary(methods, metrics, metric, comp, pc, baseline)
        rep.sections.insert(1, ("Summary", f"One row per method (its configuration selected on {objective[0]}). "
                                           f"{N_NOTE}\n\n{summary_md}"))
        method_text = summary_md
    signs = _confirm_signs(sw, metric, objective)
    if signs[0]:
        rep.sections.append(signs)
    if len(verdicts):
        rep.tables["robustness"] = verdicts
        rep.robustness = robustness.plain(verdicts)
        rep.sections.insert(2 if several and (len(comp) or len(pc)) else 1,
                            ("Robustness of the verdicts", robustness.render(verdicts)))
    main = [f"{sw.name}: {len(trials)} trials, {len(configs)} configurations, {methods['method'].nunique()} method(s)",
            method_text if several else config_md]
    main += ["", base_note, "", compare.render(comp)] if base_id is not None else []
    main += ["", "Robustness of the verdicts:", robustness.render(verdicts)] if len(verdicts) else []
    main += ["", f"Racing: {raced.spent} of the full design's {raced.full_design} trials; see the report's "
             f"'{race.TITLE}' section and run `sweeper confirm` on fresh seeds for the final claim."] if raced else []
    rep.main = "\n".join(main + (["", *signs] if signs[0] else []))
    return rep


def _check_metrics(sw: Sweep, names: tuple[str, ...]) -> None:
    """One clear error for a metric the sweep's trials table does not have, listing the ones it has."""
    for m in names:
        if column(sw.trials, m) not in sw.trials:
            avail = numeric_metrics(sw.trials)
            raise ReportInputError(f"metric {m!r} is not in {sw.folder}/trials.parquet; available: {', '.join(avail)}")


N_NOTE = (f"Cells: mean ± 95% Student-t interval over the seeds that finished; with fewer than "
          f"{tables.MIN_SEEDS_FOR_CI} finished seeds the per-seed values are shown instead (n given).")


def _ranking_sections(rep: SweepReport, configs: pd.DataFrame, methods: pd.DataFrame, metrics: list[str],
                      several: bool) -> tuple[str, str]:
    """"Which method is best" (several methods) and "All configurations"; returns their markdown tables."""
    obj, mode = rep.objective
    method_md = tables.render(methods, metrics, [("method", "method"), ("configs", "configs"), ("trials", "trials"),
                                                 ("selected configuration", "config"), ("seeds", "seeds")])
    method_text = (f"Each method's best configuration by {obj} ({mode}), ranked by it; "
                   f"then its test metrics. {N_NOTE}\n\n{method_md}")
    if several:
        rep.sections.append(("Which method is best", method_text))
    config_md = tables.render(configs, metrics, [("method", "method"), ("configuration", "config"), ("seeds", "seeds")])
    rep.sections.append(("All configurations", f"Ranked by {obj} ({mode}). {N_NOTE}\n\n{config_md}"))
    return method_text, config_md


def _race_section(rep: SweepReport) -> race.RaceSection | None:
    """The race section and its tables when the sweep raced (``race.json``); None otherwise (nothing added)."""
    sec = race.section(race.read(rep.sweep.folder), rep.sweep.trials, rep.objective)
    if sec is not None:
        rep.sections.append((race.TITLE, sec.text))
        rep.tables["race_rounds"] = sec.rounds
        rep.tables["race_eliminations"] = sec.eliminations
    return sec


def _budget_section(rep: SweepReport, metric: str, base_method: str | None) -> budget.BudgetResult | None:
    """The budget-fair comparison when the sweep searched ``train.epochs`` (None otherwise)."""
    trials = rep.sweep.trials
    if not budget.has_budgets(trials):
        return None
    bres = budget.analyse(trials, metric, rep.objective, base_method)
    rep.tables["budget"] = tables.csv_frame(bres.table, [metric, rep.objective[0]])
    rep.tables["budget_selected"] = bres.selected
    rep.sections.append(("Budget-fair comparison", budget.render(bres, metric, rep.objective, base_method)))
    return bres


def _paper_section(rep: SweepReport, paper_block: dict | None, configs: pd.DataFrame) -> pd.DataFrame:
    """Measured vs the spec's paper targets (an empty frame without a paper block)."""
    if not paper_block:
        return pd.DataFrame()
    pc = paper.compare(paper_block, configs)
    order = paper.ordering(pc)
    rep.tables["paper"] = pc
    rep.tables["paper_ordering"] = order
    rep.sections.append(("Measured vs paper", paper.render(paper_block, pc, order)))
    return pc


def _confirm_signs(sw: Sweep, metric: str, objective: tuple[str, str]) -> tuple[str, str]:
    """(title, table) of a confirm sweep whose source folder is still there: does the sign of each
    comparison hold on the fresh seeds? ("", "") for any other sweep."""
    c = sw.meta.get("confirms") or {}
    src = Path(c["source_dir"]) if c.get("source_dir") else None
    if src is None or not (src / "trials.parquet").is_file():
        return "", ""
    from sweeper.report.data import load

    return (f"Does each comparison of {c['source']} hold on fresh seeds?",
            robustness.sign_table(load(src).trials, sw.trials, metric, objective, c["source"]))


def _summary(methods: pd.DataFrame, metrics: list[str], metric: str, comp: pd.DataFrame, pc: pd.DataFrame,
             baseline: str | None) -> str:
    """The paper-style table: per method its metrics, the paper's value of ``metric``, the paired
    difference to the baseline (mean ± 95% t-interval over shared seeds, in the metric's difference unit)
    and, last, the configuration the numbers are of (selected on the validation objective)."""
    from sweeper.report import markdown, units

    u = units.unit_of(metric)
    paper_by_cfg = {}
    if len(pc):
        for r in pc[(pc["metric"] == metric) & pc["measured"].notna()].to_dict("records"):
            paper_by_cfg.setdefault(r["config_id"], r)
    diff_by_cfg = {r["a"]: r for r in comp.to_dict("records")} if len(comp) else {}
    base_cfg = comp["b"].iloc[0] if len(comp) and comp["b"].nunique() == 1 else None
    header = ["method", "configs", "trials", "seeds", units.header(metric)]
    if paper_by_cfg:
        header.append(f"paper {units.header(metric)}")
    if base_cfg is not None:
        header.append(f"paired diff to {baseline} ({u.diff_label})")
    others = [m for m in metrics if m != metric]
    header += [units.header(m) for m in others] + ["selected configuration"]
    rows = []
    for r in methods.to_dict("records"):
        row = [r["method"], r["configs"], r["trials"], r["seeds"], tables.cell(r, metric)]
        if paper_by_cfg:
            t = paper_by_cfg.get(r["config_id"])
            row.append("-" if t is None else paper._fmt(t["paper"], t["paper_ci95"], u))
        if base_cfg is not None:
            d = diff_by_cfg.get(r["config_id"])
            row.append("–" if r["config_id"] == base_cfg else "-" if d is None else compare.diff_cell(d, u))
        row += [tables.cell(r, m) for m in others] + [r["config"]]
        rows.append(row)
    return markdown.table(header, rows)


def build_across(reports: list[SweepReport], metric: str, mode: str,
                 out_dir: Path) -> tuple[str, dict[str, pd.DataFrame], dict[str, Path]]:
    per = {r.sweep.name: r.method_table for r in reports if r.method_table is not None}
    res = across.analyse(per, metric, mode)
    figs = {}
    p = across.cd_diagram(res, out_dir / "figures" / f"critical_difference_{metric}.png")
    if p is not None:
        figs[f"Critical-difference diagram ({metric}, {len(res.table)} sweeps)"] = p
    tabs = {f"across_{metric}": res.table.reset_index(names="sweep"),
            f"across_ranks_{metric}": pd.DataFrame({"method": res.ranks.index, "average_rank": res.ranks.to_numpy()}),
            f"across_pairwise_{metric}": res.pairwise}
    return across.render(res, metric), tabs, figs


def write(reports: list[SweepReport], out_dir: Path, figures: dict[str, Path] | None = None,
          across_section: tuple[str, dict[str, pd.DataFrame], dict[str, Path]] | None = None,
          not_drawn: dict[str, str] | None = None, captions: dict[str, str] | None = None) -> Path:
    """Write report.md, one CSV per table and the figures into ``out_dir``; returns report.md's path.
    ``not_drawn``: ``{figure title: why}`` for figures that apply but were not drawn (listed, not hidden);
    ``captions``: ``{figure title: sentence under it}`` (which configurations it draws)."""
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    figs = dict(figures or {})
    if across_section:
        figs.update(across_section[2])
    md = ["# Sweep report: " + ", ".join(r.sweep.name for r in reports), ""]
    multi = len(reports) > 1
    for r in reports:
        prefix = f"{r.sweep.name}__" if multi else ""
        for title, text in r.sections:
            md += [f"## {title}" + (f" ({r.sweep.name})" if multi else ""), "", text, ""]
        for name, df in r.tables.items():
            df.to_csv(out_dir / f"{prefix}{name}.csv", index=False)
    if across_section:
        text, tabs, _ = across_section
        md += ["## Across sweeps", "", text, ""]
        for name, df in tabs.items():
            df.to_csv(out_dir / f"{name}.csv", index=False)
    if figs:
        md += ["## Figures", ""]
        for i, (title, src) in enumerate(figs.items()):
            src = Path(src).resolve()
            try:
                rel = src.relative_to(out_dir.resolve())  # already in the report folder
            except ValueError:
                rel = Path("figures") / f"{i:02d}_{src.name}"
                shutil.copyfile(src, out_dir / rel)
            md += [f"### {title}", "", f"![{title}]({rel.as_posix()})", ""]
            if (captions or {}).get(title):
                md += [captions[title], ""]
    if not_drawn:
        md += ["## Figures not drawn", ""] + [f"- {title}: {why}." for title, why in not_drawn.items()] + [""]
    csvs = sorted(p.name for p in out_dir.glob("*.csv"))
    md += ["## Files", "", "Every table above as CSV (stored units: fractions, nats; per-seed values as seed:value): "
           + ", ".join(f"`{c}`" for c in csvs) + "."]
    f = out_dir / "report.md"
    f.write_text("\n".join(md) + "\n")
    return f


def log_to_mlflow(out_dir: Path, sweep: Sweep, robustness_text: str = "") -> str | None:
    """Log ``out_dir`` as artifacts (``report/``) of the sweep's MLflow parent run, and ``robustness_text``
    (the robustness lines) into its description, replacing the lines of an earlier report; the run id,
    or None if the sweep has no parent run on record (a committed results folder)."""
    run_id, uri = sweep.meta.get("mlflow_parent_run"), sweep.meta.get("mlflow_uri")
    if not run_id or not uri:
        return None
    import logging

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=uri)
        client.log_artifacts(run_id, str(out_dir), artifact_path="report")
        if robustness_text:
            note = client.get_run(run_id).data.tags.get(NOTE_TAG, "").split(ROBUSTNESS_HEAD)[0].rstrip()
            client.set_tag(run_id, NOTE_TAG, f"{note}\n\n{ROBUSTNESS_HEAD}\n{robustness_text}".strip())
    except (MlflowException, OSError) as e:  # the report itself is written; say why it is not in MLflow
        logging.getLogger(__name__).warning("report written to %s but not logged to MLflow run %s in %s: %s",
                                            out_dir, run_id, uri, str(e).splitlines()[0][:300])
        return None
    return run_id
