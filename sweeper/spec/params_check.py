"""Check values against a ``Params`` class (or ``TrainConfig``, ``Search``, ``Resources``) by its declarations.

- ``build``: a mapping of fixed values, each problem once at its own YAML path: unknown keys,
  types, each field's declared range (``trainables.paramdoc``), then the class's own cross-field
  rules (building it; a failing key is set aside and the rest built again, so one problem
  never hides another);
- ``searched_problem``: a searched parameter over its whole range by interval arithmetic: a
  declared interval is convex, so ``[low, high]`` lies in it iff both ends do; the class's own
  rules (``range_problem``, ``__post_init__``) are applied at the ends with the section's fixed
  values; a field declared in words (``18 or 34``) is checked at every value of an integer range
  or grid of at most ``ENUMERATE`` values, else at its ends.
"""
from __future__ import annotations

import functools
import re
import typing
from dataclasses import fields, is_dataclass
from typing import Any

from sweeper.spec.checks import Problems, check_type, close
from sweeper.spec.model import Param
from sweeper.spec.yamlsafe import excerpt
from trainables import paramdoc

ENUMERATE = 10_000


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Each field's resolved annotation (cached per class: resolving them is most of a validation's cost)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, f.type) for f in fields(cls)}


def construct(cls: type, values: dict) -> str | None:
    """None if ``cls(**values)`` builds, else its error message."""
    try:
        cls(**values)
        return None
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as e:
        return str(e) or type(e).__name__


def _culprit(msg: str, keys: typing.Iterable[str]) -> str | None:
    """The field a ``Params`` error message is about: the contract is that the message starts
    with the field's name (``rho must be ...``); a joint message names several."""
    for k in sorted(keys, key=len, reverse=True):
        if re.match(rf"{re.escape(k)}\b", msg):
            return k
    return None


def _declared(cls: type, values: dict) -> dict[str, str]:
    """Per-field problems by the declarations (only for classes declared with ``paramdoc.param``)."""
    if not is_dataclass(cls) or not any("valid" in f.metadata for f in fields(cls)):
        return {}
    return paramdoc.field_problems(cls, values)


def _typed(cls: type, values: dict, path: str, problems: Problems) -> dict:
    """The values whose key is a field of ``cls`` and whose value fits its type and declared range."""
    known = field_types(cls)
    good: dict[str, Any] = {}
    for k, v in values.items():
        if k not in known:
            valid = ", ".join(known) or "(none: this entry has no parameters)"
            problems.add(f"{path}.{k}", f"unknown key; valid keys are {valid}" + close(k, known))
        elif (msg := check_type(v, known[k])) is not None:
            problems.add(f"{path}.{k}", msg)
        else:
            good[k] = v
    for k, msg in _declared(cls, good).items():
        problems.add(f"{path}.{k}", msg)
        del good[k]
    return good


def build(cls: type, values: dict, path: str, problems: Problems) -> dict | None:
    """Check ``values`` against ``cls``, each problem once at its own path; returns the values that
    build together (None if even those do not: a failure no single key explains, reported at ``path``)."""
    good = _typed(cls, values, path, problems)
    while (msg := construct(cls, good)) is not None:
        k = _culprit(msg, good)
        if k is None:
            problems.add(path, msg)
            return None
        problems.add(f"{path}.{k}", msg)
        good.pop(k)
    return good


def _last(p: Param) -> float:
    """The largest value a float/int parameter takes (a grid may stop below ``high``)."""
    if p.step is None:
        return p.high
    return p.grid_values()[-1] if p.grid_count() <= ENUMERATE else p.high


def _discrete(p: Param) -> list | None:
    """Every value of an integer range or a grid when they are at most ``ENUMERATE``, else None."""
    if p.step is not None and p.grid_count() <= ENUMERATE:
        return p.grid_values()
    if p.type == "int" and p.high - p.low + 1 <= ENUMERATE:
        return list(range(p.low, p.high + 1))
    return None


def _value_problem(cls: type, name: str, v: Any, base: dict) -> str | None:
    return check_type(v, field_types(cls)[name]) or construct(cls, {**base, name: v})


def searched_problem(cls: type, name: str, p: Param, base: dict, fixed: dict | None = None) -> tuple[Any, str] | None:
    """``(a refused value, why)`` for searched parameter ``p`` of field ``cls.name`` over its whole
    range, built with the section's other fixed values ``base``; ``fixed``: every valid fixed value
    (default ``base``), which the class's own range rule reads (``rho_unit`` for ``rho``). None when
    every value is valid."""
    if p.type in ("fixed", "categorical"):
        vals = [p.value] if p.type == "fixed" else list(p.choices)
        return next(((v, m) for v in vals if (m := _value_problem(cls, name, v, base))), None)
    lo, hi = p.low, _last(p)
    for v in (lo, hi):
        if (m := check_type(v, field_types(cls)[name])) is not None:
            return v, m
    step = p.step if p.step is not None else (1 if p.type == "int" else None)
    if (found := paramdoc.range_problem(cls, name, lo, hi, step, base if fixed is None else fixed)) is not None:
        return found
    worded = paramdoc.decls(cls)[name].interval is None
    vals = (_discrete(p) or [lo, hi]) if worded else [lo, hi]
    return next(((v, m) for v in vals if (m := construct(cls, {**base, name: v}))), None)


def searched_message(key: str, name: str, p: Param, found: tuple[Any, str]) -> str:
    v, msg = found
    whole = "" if p.type in ("fixed", "categorical") else " (the range is checked over its whole interval, not only at low/high)"
    return f"{key} {name!r}: value {excerpt(v)} is invalid: {msg}{whole}"
