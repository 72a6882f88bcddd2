"""Commands that read a sweep's results: ``status``, ``report``, ``reproduce``.

``status`` and ``report`` read files only (no Ray, no torch); ``reproduce`` re-runs one trial here
without Ray.
"""
from __future__ import annotations

import sys

import click

from sweeper.cli.bad_input import fail


@click.command()
@click.argument("sweep")
@click.option("--out", default="sweeps", show_default=True)
def status(sweep, out) -> None:
    """Trials finished, running, failed, and the best so far (reads files only; starts no Ray)."""
    from sweeper.commands import status as status_mod
    from sweeper.store.sweepdir import SweepError

    try:
        click.echo(status_mod.status_text(sweep, out))
    except (FileNotFoundError, SweepError) as e:
        fail(str(e))


@click.command()
@click.argument("sweeps", nargs=-1, required=True)
@click.option("--out", "sweeps_dir", default="sweeps", show_default=True,
              help="Folder holding sweep folders, as for launch/status (SWEEP may also be a path, e.g. results/NAME).")
@click.option("--report-dir", "out", default=None,
              help="Report folder (default: SWEEP/report; several sweeps: OUT/across_A_B...).")
@click.option("--metric", "metrics", multiple=True,
              help="Adds a metric column (repeatable), e.g. sal_params; the first one is the compared metric (default "
                   "test_error).")
@click.option("--baseline", default=None,
              help="A config_id or a method (regularizer) name: paired comparisons against it (a method: its best "
                   "configuration by the sweep's objective).")
@click.option("--all-pairs", is_flag=True, help="Paired comparisons of every pair of methods (no baseline).")
@click.option("--paper", "paper_file", default=None, type=click.Path(dir_okay=False),
              help="A spec file whose paper: block gives the targets (default: the sweep's own spec).")
@click.option("--no-mlflow", is_flag=True, help="Do not log the report to the sweep's MLflow parent run.")
def report(sweeps, sweeps_dir, out, metrics, baseline, all_pairs, paper_file, no_mlflow) -> None:
    """Write the report of SWEEP (or compare several): report.md, CSV tables, figures; print the main table."""
    from sweeper.report import data as report_data
    from sweeper.report import run as report_run
    from sweeper.store import sweepdir

    try:
        w = report_run.make_report(list(sweeps), sweeps_dir=sweeps_dir, out=out, metrics=tuple(metrics), baseline=baseline,
                                   all_pairs=all_pairs, paper_file=paper_file, log_mlflow=not no_mlflow)
    except (report_data.NoSweepData, report_run.ReportInputError, sweepdir.SweepError) as e:
        fail(str(e))
    click.echo(w.main)
    click.echo(f"\nreport: {w.report_md}" + (f" (logged to MLflow run(s) {', '.join(w.mlflow_runs)})" if w.mlflow_runs else ""))
    from sweeper.commands.confirm import report_note

    for sw in sweeps:
        if note := report_note(report_data.find(sw, sweeps_dir)):
            click.echo("\n" + note)


@click.command()
@click.argument("trial")
@click.option("--out", default="sweeps", show_default=True, help="Folder holding the sweep folders searched for TRIAL.")
@click.option("--sweep", default=None, help="Only look in this sweep (an id under --out, or a folder).")
@click.option("--atol", type=click.FloatRange(min=0.0), default=None,
              help="Absolute tolerance when the runs are not both on CPU (default 0.01).")
@click.option("--rtol", type=click.FloatRange(min=0.0), default=None,
              help="Relative tolerance when the runs are not both on CPU (default 0.01).")
def reproduce(trial, out, sweep, atol, rtol) -> None:
    """Re-run TRIAL (a trial id or MLflow run id) here, without Ray, and compare its final metrics.

    Exact on CPU; exit 0 when it reproduces, 1 when it does not (with what differs: data
    fingerprint, code version, packages, hardware), 2 on bad input."""
    from sweeper.commands import reproduce as reproduce_mod
    from trainables.data import DatasetNotFound

    try:
        outcome = reproduce_mod.reproduce(trial, out=out, sweep=sweep, atol=atol, rtol=rtol)
    except (reproduce_mod.ReproduceError, DatasetNotFound) as e:
        fail(str(e))
    click.echo(outcome.text())
    sys.exit(0 if outcome.reproduced else 1)


