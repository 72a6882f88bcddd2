"""How ``launch``, ``resume`` and ``confirm`` end: what they print and their exit codes.

0 when a trial finished; 1 when none did, or Ray did not start; 2 on bad input the driver found
(the sweep exists, is unknown, locked by a live driver, damaged, its spec edited; a preflight check
failed); the interruption's own code (``128 + signal``: 130 after Ctrl-C, 143 after SIGTERM) when
the sweep was interrupted. One mapping (:func:`driver_run`) for the three commands.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import click

from sweeper.cli.bad_input import fail

ROBUSTNESS_DOCS = "docs/reference/reports.md, Robustness of a verdict"


@contextlib.contextmanager
def driver_run(*bad_input: type[Exception]) -> Iterator[None]:
    """The driver's early ends as the command line reports them (module docstring); ``bad_input``: the
    command's own exceptions that mean bad input (exit 2 too)."""
    from sweeper.driver.interrupt import SweepInterrupted
    from sweeper.driver.local_ray import RayStartError
    from sweeper.driver.preflight import PreflightError, SweepExists
    from sweeper.store.sweepdir import SweepError

    try:
        yield
    except (SweepExists, PreflightError, SweepError, *bad_input) as e:
        fail(str(e))
    except SweepInterrupted as e:
        interrupted(e)
    except RayStartError as e:
        ray_did_not_start(e)


def print_result(res) -> None:
    """The sweep folder, trial counts, the ten best configurations (mean ± 95% CI over seeds), where to
    see the runs in MLflow, the robustness lines and the report's path."""
    from sweeper import report

    click.echo(f"\nsweep folder: {res.sweep_dir}")
    counts = res.trials["status"].value_counts().to_dict()
    click.echo("trials: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    click.echo(f"best configurations by {res.metric} ({res.mode}), mean ± 95% CI over seeds:")
    click.echo(report.format_table(res.summary, res.metric, top=10))
    from sweeper.commands.ui import runs_url

    click.echo(f"\nMLflow: sweeper ui, then open {runs_url('http://127.0.0.1:5000', res.mlflow_experiment_id)}"
               f"  (parent run {res.mlflow_parent_run})")
    rep = res.sweep_dir / "report" / "report.md"
    print_robustness(res.sweep_dir / "report" / "robustness.csv")
    click.echo(f"report: {rep}" if rep.exists() else f"report: sweeper report {res.sweep_dir.name}")


def print_robustness(f: Path) -> None:
    """The report's robustness lines (each method against the best, or the baseline): budget, fresh seeds,
    validation vs test."""
    import csv

    if not f.exists():
        return
    with open(f, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows:
        click.echo(f"\nrobustness of the verdicts ({ROBUSTNESS_DOCS}):")
        for r in rows:
            click.echo(f"  {r['a']} vs {r['b']}: budget: {r['budget']}; fresh seeds: {r['fresh_seeds']}; "
                       f"validation vs test: {r['validation_vs_test']}".replace("`", ""))


def exit_unless_finished(res) -> None:
    """Exit 1 when no trial of the sweep finished (every one failed, diverged or never ran)."""
    if "status" not in res.trials or not (res.trials["status"] == "finished").any():
        click.echo(f"error: no trial of {res.sweep_dir.name} finished; see `sweeper status {res.sweep_dir.name}`", err=True)
        sys.exit(1)


def ray_did_not_start(e: Exception) -> NoReturn:
    """Ray's local start timed out, twice (sweeper.driver.local_ray): one message, exit 1."""
    click.echo(f"error: {e}", err=True)
    sys.exit(1)


def interrupted(e) -> NoReturn:
    """The sweep was interrupted (Ctrl-C, SIGTERM): its message, and its exit code."""
    click.echo(f"\n{e}", err=True)
    sys.exit(e.exit_code)
