"""Name -> module lookup shared by the regularizer, model and dataset registries.

Each registry is one dict literal ``{yaml_name: Entry(Params, "dotted.module.path")}``:

- ``Entry.params``: the entry's frozen ``Params`` dataclass, defined in the
  torch-free ``params.py`` of its package (``trainables/<kind>/params.py``), so the
  spec validator (``sweeper validate``) can check a YAML against every entry
  without importing torch, torchvision or Ray;
- ``Entry.module``: the implementation module (one per regularizer / model /
  dataset, which imports torch and re-exports its ``Params``), imported on
  first use by ``get`` (no registration by import side effects, and a trial
  only imports what it runs).

An unknown name raises ``UnknownName`` listing the valid names and the closest match.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, fields, is_dataclass
from types import ModuleType


class UnknownName(KeyError):
    def __init__(self, what: str, name: str, valid: list[str]):
        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        self.message = f"unknown {what} {name!r}: valid are {', '.join(sorted(valid))}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Entry:
    """One registry line: the torch-free ``Params`` class and the implementation's module path."""

    params: type
    module: str


def lookup(table: dict[str, Entry], what: str, name: str) -> ModuleType:
    """The implementation module of ``name`` (imports it, and so torch)."""
    return importlib.import_module(entry(table, what, name).module)


def entry(table: dict[str, Entry], what: str, name: str) -> Entry:
    """The registry entry of ``name`` without importing its implementation."""
    if not isinstance(name, str) or name not in table:
        raise UnknownName(what, name, list(table))
    return table[name]


def param_fields(cls) -> dict[str, object]:
    """Field name -> type annotation of a frozen Params dataclass."""
    assert is_dataclass(cls), cls
    return {f.name: f.type for f in fields(cls)}
