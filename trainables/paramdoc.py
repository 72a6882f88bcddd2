"""One declaration per parameter: type, default, valid range and meaning, on the dataclass field (torch-free).

Every ``Params`` class (regularizers, models, datasets) and ``TrainConfig`` declares each field once::

    keep: float = param(0.5, "(0, 1]", "keep probability: ...")

- the annotation is the type; ``Literal[...]`` lists the allowed values, ``X | None`` allows null;
- ``valid`` is the range as ``sweeper show`` prints it. When it *starts* with one interval
  (``"(0, 1]"``, ``"[1, inf)"``, ``"(0, 1), with val_fraction + test_fraction < 1"``,
  ``"[0, inf) or null"``) that interval is checked by :func:`check` for every instance and by
  the spec validator for every searched range. Because an interval is convex, a searched range
  ``[low, high]`` lies inside it exactly when both ends do (interval arithmetic, no probing).
  Words (``"18 or 34"``) are left to the class's own ``__post_init__`` rule;
- ``doc`` is one line of meaning;
- ``read_when`` (optional) names the values of another field under which this field is read at
  all, with ``why`` saying why: ``rho`` is read only under ``schedule: standard | periodic``.
  The validator refuses a value set where it would be ignored.

A class keeps in ``__post_init__`` only what one field cannot say alone (a sum of two
fractions, an integer count, a set that is not an interval), after ``check(self)``. A class
may define ``range_problem(name, low, high, step, fixed) -> (value, why) | None`` (a classmethod)
when a field's valid set inside its interval is not convex (Malicious Dropout's ``rho``).
"""
from __future__ import annotations

import functools
import numbers
import re
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

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
    text: str = ""

    def contains(self, v: float) -> bool:
        above = v >= self.low if self.low_closed else v > self.low
        below = v <= self.high if self.high_closed else v < self.high
        return bool(above and below)


@dataclass(frozen=True)
class Decl:
    """The one declaration of a field, read from its dataclass metadata."""

    name: str
    annotation: Any
    default: Any
    valid: str
    doc: str
    interval: Interval | None  # checked when not None
    choices: tuple | None  # a Literal's values
    nullable: bool
    read_when: tuple[str, tuple] | None = None  # (other field, values under which this one is read)
    why: str = ""


def param(default: Any, valid: str, doc: str, *, read_when: dict[str, tuple] | None = None, why: str = "") -> Any:
    """A dataclass field with its declaration (``valid``, ``doc``, optional ``read_when``/``why``) as metadata."""
    md: dict[str, Any] = {"valid": valid, "doc": doc}
    if read_when:
        (other, values), = read_when.items()
        md.update(read_when=(other, tuple(values)), why=why)
    return field(default=default, metadata=md)


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
    return None if m is None else _interval(m)


def leading_interval(text: str) -> Interval | None:
    """The interval ``text`` starts with (``"(0, 1), with ..."``, ``"[0, inf) or null"``), else None."""
    m = INTERVAL.match(text.strip())
    return None if m is None else _interval(m)


def _interval(m: re.Match) -> Interval:
    return Interval(float(m.group(2)), m.group(1) == "[", float(m.group(3)), m.group(4) == "]", m.group(0))


def _nullable(ann: Any) -> bool:
    return type(None) in typing.get_args(ann)


@functools.cache
def decls(cls: type) -> dict[str, Decl]:
    """Every field's declaration, in field order (cached per class)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        ann = hints[f.name]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        lit = ann if typing.get_origin(ann) is typing.Literal else None
        valid = f.metadata.get("valid", "")
        out[f.name] = Decl(
            f.name, ann, default, valid, f.metadata.get("doc", ""), leading_interval(valid),
            typing.get_args(lit) if lit is not None else None, _nullable(ann),
            f.metadata.get("read_when"), f.metadata.get("why", ""))
    return out


def value_problem(d: Decl, v: Any) -> str | None:
    """Why ``v`` is not a valid value of field ``d`` by its declaration alone (Literal, interval), else None."""
    if v is None and d.nullable:
        return None
    if d.choices is not None and v not in d.choices:  # by equality: a numpy string from a table row is fine
        return f"{d.name} must be one of {', '.join(map(str, d.choices))}, got {v!r}"
    if d.interval is None:
        return None
    if not isinstance(v, numbers.Real):  # numpy numbers too (values read back from tables)
        return f"{d.name} must be a number in {d.interval.text}, got {v!r}"
    if not d.interval.contains(v):
        return f"{d.name} must be in {d.interval.text}, got {v}"
    return None


def field_problems(cls: type, values: dict[str, Any]) -> dict[str, str]:
    """``{field: problem}`` for every value of ``values`` its declaration refuses."""
    ds = decls(cls)
    out = {}
    for k, v in values.items():
        if k in ds and (msg := value_problem(ds[k], v)) is not None:
            out[k] = msg
    return out


def check(obj: Any) -> None:
    """Raise ``ValueError`` listing (``"; "``-joined) every field of ``obj`` its declaration refuses."""
    problems = field_problems(type(obj), {k: getattr(obj, k) for k in decls(type(obj))})
    if problems:
        raise ValueError("; ".join(problems.values()))


def range_problem(cls: type, name: str, low: float, high: float, step: float | None,
                  fixed: dict[str, Any]) -> tuple[float, str] | None:
    """``(a refused value, why)`` when a searched range ``[low, high]`` of ``cls.name`` leaves the
    field's declared interval, else None.

    Interval arithmetic: the declared interval is convex, so the range lies in it iff both ends
    do. A class whose valid set is not convex inside the interval adds its own
    ``cls.range_problem(name, low, high, step, fixed)`` (``step``: the grid's, 1 for an integer
    range, None for a continuous one; ``fixed``: the section's fixed values)."""
    d = decls(cls)[name]
    for v in (low, high):
        if (msg := value_problem(d, v)) is not None:
            return v, msg
    own = getattr(cls, "range_problem", None)
    return own(name, low, high, step, fixed) if own is not None else None


def field_docs(cls: type) -> list[FieldDoc]:
    """Every field of the dataclass ``cls`` with its type, default, valid range and meaning, in field order."""
    out = []
    for f, d in zip(fields(cls), decls(cls).values()):
        shown = "str" if d.choices is not None else str(f.type)  # its values go in ``valid``
        out.append(FieldDoc(d.name, shown, yaml_value(d.default), d.valid or allowed(d.annotation), d.doc))
    return out


def missing_docs(cls: type) -> list[str]:
    """Problems of the declarations of ``cls``: a field without a meaning, or without a valid range."""
    problems = []
    for d in decls(cls).values():
        where = f"{cls.__name__}.{d.name}"
        if not d.doc.strip() or "\n" in d.doc:
            problems.append(f"{where}: the meaning must be one non-empty line (param(default, valid, doc))")
        if not (d.valid.strip() or allowed(d.annotation)):
            problems.append(f"{where}: no valid range (only Literal and bool fields may leave it empty)")
        if d.read_when is not None and d.read_when[0] not in decls(cls):
            problems.append(f"{where}: read_when names no field {d.read_when[0]!r}")
    return problems
