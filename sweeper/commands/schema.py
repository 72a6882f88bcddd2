"""``sweeper schema``: the sweep spec's JSON Schema, as committed in ``search_spaces/sweep.schema.json``.

The text is ``json.dumps(schema(), indent=2)`` plus a newline, so the committed file and the
command's output are byte-identical (``tests/spec/test_schema.py`` keeps them in sync).
"""
from __future__ import annotations

import json
from pathlib import Path

from sweeper.spec.schema import schema

COMMITTED = Path(__file__).resolve().parents[2] / "search_spaces" / "sweep.schema.json"
HEADER = "# yaml-language-server: $schema={}"


def text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
