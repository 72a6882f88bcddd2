"""Commands that read a spec or the parameter declarations: ``validate``, ``show``, ``schema``.

None of them imports torch or Ray (the import probes in ``tests/spec`` and ``tests/commands`` check it).
"""
from __future__ import annotations

from pathlib import Path

import click

from sweeper.cli.bad_input import fail, load_spec


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--no-data-check", is_flag=True,
              help="Do not look for the dataset files on this machine (e.g. they exist only on the cluster).")
def validate(spec_file: str, no_data_check: bool) -> None:
    """Check SPEC_FILE; print every problem at once (exit 2) or a summary of the sweep.

    Also checks that local data exists (a tabular file and its label column, MNIST files,
    an image folder) unless --no-data-check. Imports neither torch nor Ray."""
    s = load_spec(spec_file)
    if not no_data_check:
        from sweeper.driver import preflight

        data = preflight.data_problems(s)
        if data:
            fail(f"{spec_file}: the sweep's data is not usable on this machine (skip with --no-data-check):\n"
                 + "\n".join(f"  - {p}" for p in data))
    from sweeper.search.per_method import methods, trial_count  # no Ray import

    per = methods(s)
    n_trials = trial_count(s)
    objectives = ", ".join(f"{m} ({o})" for m, o in zip(s.search.metric, s.search.mode))
    click.echo(
        f"{spec_file}: ok — sweep {s.name!r}: {len(s.space)} space parameter(s), {len(s.seeds)} seed(s), "
        f"sampler {s.search.sampler}, {n_trials} trial(s), objective {objectives}"
        + (f", one study per method ({', '.join(per)}: {s.search.num_samples} configurations each)" if per else "")
    )


@click.command()
@click.argument("section", type=click.Choice(["regularizer", "model", "dataset", "train"]))
@click.argument("name", required=False)
def show(section: str, name: str | None) -> None:
    """Every parameter of a regularizer, model or dataset NAME (or of `train`): type, default, valid range, meaning.

    Without NAME: the registered names. Read from the Params dataclasses; imports neither torch nor Ray."""
    from sweeper.commands import show as show_mod
    from trainables.registry import UnknownName

    if section == "train" and name is not None:
        fail(f"`sweeper show train` takes no NAME (got {name!r}): the train section is the same for every sweep")
    try:
        click.echo(show_mod.show(section, name), nl=False)
    except UnknownName as e:
        fail(str(e))


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the schema to this file instead of printing it.")
def schema(output: str | None) -> None:
    """The sweep spec's JSON Schema (search_spaces/sweep.schema.json), for editor validation and completion.

    Put `# yaml-language-server: $schema=PATH/sweep.schema.json` as a sweep file's first line.
    Generated from the Params declarations; imports neither torch nor Ray."""
    from sweeper.commands import schema as schema_mod

    if output is None:
        click.echo(schema_mod.text(), nl=False)
        return
    try:
        Path(output).write_text(schema_mod.text(), encoding="utf-8")
    except OSError as e:
        fail(f"--output {output}: cannot write the schema: {e.strerror or e}")


