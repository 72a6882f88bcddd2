"""``sweeper show``: every parameter a spec may set, from the code (torch-free, Ray-free).

``show(section, name)`` renders one registry entry (``regularizer``, ``model``,
``dataset``) or the ``train`` section: each field of its ``Params`` dataclass
with its type, default, valid range / allowed values and one line of meaning,
all read from the class (``trainables/paramdoc.py``: each field's one declaration,
``param(default, valid, doc)``). Without a name it lists the section's entries with the
first line of each implementation module's docstring, read from the source file
(``ast``) so that nothing heavy is imported.
"""
from __future__ import annotations

import ast
import importlib.util
import textwrap

from trainables.config import TrainConfig
from trainables.paramdoc import field_docs
from trainables.registry import Entry, entry

SECTIONS = ("regularizer", "model", "dataset", "train")


def _tables() -> dict[str, dict[str, Entry]]:
    from trainables.data import DATASETS
    from trainables.models import MODELS
    from trainables.regularizers import REGULARIZERS

    return {"regularizer": REGULARIZERS, "model": MODELS, "dataset": DATASETS}


def summary(module: str) -> str:
    """First line of ``module``'s docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    return (doc or "").strip().splitlines()[0] if doc else ""


def _params_block(cls: type, path: str) -> list[str]:
    docs = field_docs(cls)
    if not docs:
        return ["  (no parameters)"]
    out = []
    for d in docs:
        out.append(f"  {path}.{d.name}: {d.type} = {d.default}    valid: {d.valid}")
        out += textwrap.wrap(d.meaning, width=100, initial_indent="      ", subsequent_indent="      ")
    return out


def show(section: str, name: str | None = None) -> str:
    """The text ``sweeper show SECTION [NAME]`` prints; ``UnknownName`` for an unknown section entry."""
    if section == "train":
        head = ["train: the training section (trainables/config.py TrainConfig); YAML `train: {field: value}`,",
                "searched as `train.<field>` under `space:`", ""]
        return "\n".join(head + _params_block(TrainConfig, "train")) + "\n"
    table = _tables()[section]
    if name is None:
        width = max(len(n) for n in table)
        lines = [f"{section}s (`sweeper show {section} NAME` for the parameters):"]
        for n, e in table.items():
            count = len(field_docs(e.params))
            lines.append(f"  {n:<{width}}  {count:>2} parameter{'s' if count != 1 else ' '}  {summary(e.module)}")
        return "\n".join(lines) + "\n"
    e = entry(table, section, name)
    head = [f"{section} {name}: {summary(e.module)}",
            f"  implementation {e.module}; parameters {e.params.__module__}.{e.params.__name__}",
            f"  YAML `{section}: {{name: {name}, params: {{field: value}}}}`, searched as `{section}.<field>` under `space:`", ""]
    return "\n".join(head + _params_block(e.params, section)) + "\n"
