"""Per-parameter documentation read from the ``Params`` dataclasses themselves (torch-free).

Every ``Params`` class (regularizers, models, datasets) and ``TrainConfig`` carries a
class variable next to its fields::

    DOCS: ClassVar[dict[str, tuple[str, str]]] = {"field": ("valid range", "one line of meaning"), ...}

- the valid range is written in interval notation where it is one (``"(0, 1]"``,
  ``"[1, inf)"``), else in words (``"18 or 34"``); it is ``""`` for ``Literal`` and
  ``bool`` fields, whose allowed values come from the annotation;
- the meaning is one line, no newline.

``field_docs(cls)`` joins that mapping with the dataclass fields (name, type, default),
so ``sweeper show`` prints what the code holds. ``tests/test_show.py`` checks that
every field of every registered class has exactly one entry and that every range in
interval notation agrees with the class's ``__post_init__`` (both endpoints and just
outside them), so the text cannot drift from the checks silently.
"""
from __future__ import annotations

import re
import typing
from dataclasses import MISSING, dataclass, fields

INTERVAL = re.compile(r"([\[(])\s*(-?inf|-?[0-9.eE+-]+)\s*,\s*(-?inf|-?[0-9.eE+-]+)\s*([\])])")


@dataclass(frozen=True)
class FieldDoc:
    """One parameter as ``sweeper show`` prints it."""

    name: str
    type: str  # the annotation as written (e.g. ``float | None``)
    default: str  # YAML spelling of the default (``null``, ``true``, ``[20, 50, 500]``)
    valid: str  # valid range / allowed values
    meaning: str  # one line


@dataclass(frozen=True)
class Interval:
    """A range in interval notation: ``low``/``high`` may be infinite; ``*_closed`` include the endpoint."""

    low: float
    low_closed: bool
    high: float
    high_closed: bool


def yaml_value(v: object) -> str:
    """A default as it is written in YAML."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return repr(v) if v == "" or v.strip() != v or v in ("null", "true", "false") else v
    return repr(v)


def allowed(annotation: object) -> str:
    """The allowed values of a ``Literal[...]`` or ``bool`` annotation, else ``""``."""
    if annotation is bool:
        return "true or false"
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(yaml_value(a) for a in typing.get_args(annotation))
    return ""


def parse_interval(text: str) -> Interval | None:
    """``text`` as an :class:`Interval` when it is exactly one interval (``"[0, 1)"``), else None."""
    m = INTERVAL.fullmatch(text.strip())
    if not m:
        return None
    return Interval(float(m.group(2)), m.group(1) == "[", float(m.group(3)), m.group(4) == "]")


def field_docs(cls: type) -> list[FieldDoc]:
    """Every field of the dataclass ``cls`` with its type, default, valid range and meaning, in field order."""
    docs: dict[str, tuple[str, str]] = cls.DOCS
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        valid, meaning = docs[f.name]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        ann = hints[f.name]
        shown = "str" if typing.get_origin(ann) is typing.Literal else str(f.type)  # its values go in ``valid``
        out.append(FieldDoc(f.name, shown, yaml_value(default), valid or allowed(ann), meaning))
    return out


def missing_docs(cls: type) -> list[str]:
    """Problems of ``cls.DOCS``: fields without an entry, entries without a field, malformed entries."""
    names = [f.name for f in fields(cls)]
    docs = getattr(cls, "DOCS", None)
    if not isinstance(docs, dict):
        return [f"{cls.__name__} has no DOCS mapping"]
    hints = typing.get_type_hints(cls)
    problems = [f"{cls.__name__}.{n}: no DOCS entry" for n in names if n not in docs]
    problems += [f"{cls.__name__}.DOCS[{k!r}]: no such field" for k in docs if k not in names]
    for k, v in docs.items():
        if not (isinstance(v, tuple) and len(v) == 2 and all(isinstance(s, str) for s in v)):
            problems.append(f"{cls.__name__}.DOCS[{k!r}]: want (valid range, meaning), got {v!r}")
            continue
        valid, meaning = v
        if not meaning.strip() or "\n" in meaning:
            problems.append(f"{cls.__name__}.DOCS[{k!r}]: the meaning must be one non-empty line")
        if k in hints and not (valid.strip() or allowed(hints[k])):
            problems.append(f"{cls.__name__}.DOCS[{k!r}]: no valid range (only Literal and bool fields may leave it empty)")
    return problems
