"""``sweeper`` command line: thin click wrappers that parse, then call the library.

One module per group of commands: :mod:`~sweeper.cli.check` (validate, show, schema),
:mod:`~sweeper.cli.sweep` (launch, resume, confirm), :mod:`~sweeper.cli.results` (status, report,
reproduce), :mod:`~sweeper.cli.tools` (bench, ui, dashboard). Bad input (a spec with problems, an
unknown sweep, a sweep that already exists) prints one clear message and exits with code 2, no
traceback, and changes nothing already stored (:mod:`~sweeper.cli.bad_input`). Quick commands
(--help, validate, status, report) import neither Ray nor torch: heavy modules are imported inside
the commands that need them. The program (:func:`entry`) ends as soon as its exit handlers have run
(:mod:`~sweeper.cli.process_end`).
"""
from __future__ import annotations

import click

from sweeper.cli import check, process_end, results, sweep, tools


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Hyperparameter sweeps for classifier regularizers on Ray Tune + Optuna + MLflow."""


for _command in (check.validate, check.show, check.schema, sweep.launch, sweep.resume, sweep.confirm,
                 results.status, results.report, results.reproduce, tools.bench, tools.ui, tools.dashboard):
    main.add_command(_command)


def entry() -> None:
    """The ``sweeper`` program: :func:`main`, the process ended as soon as its exit handlers have run."""
    process_end.run(main)
