"""A module imported on first attribute access.

``torch = LazyModule("torch")`` lets a module that defines names (metric names,
overrides) alongside torch code be imported by torch-free readers (``sweeper
status`` / ``report``); ``torch`` is imported, once, the first time an attribute
is read. Each access costs one ``sys.modules`` lookup, negligible next to any
torch call.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str):
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
