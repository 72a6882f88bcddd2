"""The problem list of a spec and the checks of one YAML value against a type (no torch, no Ray).

``Problems`` collects ``path: message`` lines (each once) and warnings apart; every
``sweeper.spec`` checker adds to one instance, so that every problem is reported at once.
"""
from __future__ import annotations

import difflib
import math
import re
import types
import typing
from typing import Any

from sweeper.spec.yamlsafe import excerpt


class Problems(list):
    """Problems as ``path: message``; the same line is kept once. ``warnings``: the same, not fatal."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def add(self, path: str, msg: str) -> None:
        line = f"{path}: {msg}"
        if line not in self:
            self.append(line)

    def warn(self, path: str, msg: str) -> None:
        line = f"{path}: {msg}"
        if line not in self.warnings:
            self.warnings.append(line)


# A float PyYAML (YAML 1.1) reads as a string: no dot in the mantissa, or an unsigned exponent.
_MISSED_FLOAT = re.compile(r"([-+]?)(\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)")


def float_hint(v: Any) -> str:
    """How to write ``v`` so that PyYAML reads a float, when ``v`` is such a missed float (the ``1e-3`` trap)."""
    m = _MISSED_FLOAT.fullmatch(v.strip()) if isinstance(v, str) else None
    if m is None:
        return ""
    sign, whole, frac, esign, exp = m.groups()
    fixed = f"{sign}{whole}.{frac or '0'}e{esign or '+'}{exp}"
    return (f" (PyYAML reads an exponent float without a dot or without a signed exponent as a string: "
            f"write {fixed})")


def type_msg(v: Any, want: str) -> str:
    return f"expected {want}, got {type(v).__name__} {excerpt(v)}" + float_hint(v)


def close(name: Any, valid: typing.Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest valid name, else ``""``."""
    found = difflib.get_close_matches(str(name)[:100], list(valid), n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def mapping(raw: dict, key: str, want: str, problems: Problems) -> dict:
    """``raw[key]`` as a mapping: absent or null is ``{}``; anything else that is no mapping
    (``train: []``, ``search: 3``) is a problem at ``key``."""
    v = raw.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        problems.add(key, type_msg(v, want))
        return {}
    return v


def finite_number(v: Any, integer: bool) -> str | None:
    if integer:
        return None if isinstance(v, int) and not isinstance(v, bool) else type_msg(v, "an integer")
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return type_msg(v, "a number")
    return None if math.isfinite(v) else f"expected a finite number, got {v}"


def check_type(v: Any, ann: Any) -> str | None:
    """None if ``v`` fits annotation ``ann`` (a Params field type), else a message."""
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        msgs = [check_type(v, a) for a in args if a is not type(None)]
        return None if any(m is None for m in msgs) else msgs[0]
    if origin is typing.Literal:
        if any(v == a and type(v) is type(a) for a in args):
            return None
        return f"must be one of {', '.join(repr(a) for a in args)}, got {excerpt(v)}" + close(v, map(str, args))
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            return type_msg(v, "a list")
        inner = args[0] if args else Any
        return next((m for m in (check_type(x, inner) for x in v) if m), None)
    return _scalar_type(v, ann)


def _scalar_type(v: Any, ann: Any) -> str | None:
    if ann is float:
        return finite_number(v, integer=False)
    if ann is int:
        return finite_number(v, integer=True)
    if ann is bool:
        return None if isinstance(v, bool) else type_msg(v, "true or false")
    if ann is str:
        return None if isinstance(v, str) else type_msg(v, "a string")
    return None
