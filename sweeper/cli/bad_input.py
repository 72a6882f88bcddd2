"""Bad input on the command line: one message on stderr, exit code 2, no traceback, nothing changed."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

EXIT_BAD_INPUT = 2


def fail(msg: str) -> NoReturn:
    """Print ``error: msg`` on stderr and exit with :data:`EXIT_BAD_INPUT`."""
    click.echo(f"error: {msg}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def load_spec(path: str) -> SweepSpec:
    """The validated spec of ``path``; its warnings printed, every problem at once through :func:`fail`."""
    from sweeper import spec as spec_mod

    try:
        s = spec_mod.load(path)
    except spec_mod.SpecError as e:
        fail(str(e))
    for w in s.warnings:
        click.echo(f"warning: {path}: {w}", err=True)
    return s
