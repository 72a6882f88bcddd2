"""Name -> module lookup shared by the regularizer, model and dataset registries.

Each registry is one dict literal ``{yaml_name: "dotted.module.path"}``; modules
are imported on first use (no registration by import side effects, and a trial
only imports what it runs). An unknown name raises ``UnknownName`` listing the
valid names and the closest match.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import fields, is_dataclass
from types import ModuleType


class UnknownName(KeyError):
    def __init__(self, what: str, name: str, valid: list[str]):
        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        self.message = f"unknown {what} {name!r}: valid are {', '.join(sorted(valid))}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def lookup(table: dict[str, str], what: str, name: str) -> ModuleType:
    if name not in table:
        raise UnknownName(what, name, list(table))
    return importlib.import_module(table[name])


def param_fields(cls) -> dict[str, object]:
    """Field name -> type annotation of a frozen Params dataclass."""
    assert is_dataclass(cls), cls
    return {f.name: f.type for f in fields(cls)}
