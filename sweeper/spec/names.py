"""Sweep ids: the spec's ``name`` and ``launch --name`` are plain identifiers.

A sweep id becomes a folder name under ``--out``, an MLflow experiment / run name
and a tag value in MLflow filter strings, so it must be safe in all three: 1 to 64
characters from ``A-Z a-z 0-9 _ . -``, starting with a letter or digit. That
excludes ``.``/``..``, absolute paths, ``/`` and ``\\``, spaces, quotes, newlines
and NUL, and megabytes of text.
"""
from __future__ import annotations

import re

from sweeper.spec.yamlsafe import excerpt

MAX_LEN = 64
PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
RULE = f"1 to {MAX_LEN} characters from A-Z a-z 0-9 _ . -, starting with a letter or digit"


def problem(name: object) -> str | None:
    """None if ``name`` is a valid sweep id, else what is wrong with it (the value bounded)."""
    if not isinstance(name, str):
        return f"expected a name string, got {type(name).__name__} {excerpt(name)}"
    if PATTERN.fullmatch(name) is None:
        return f"{excerpt(name)} is not a plain name: use {RULE}"
    return None
