"""The ``space:`` section: searched parameters by dotted path, and their ``when:`` conditions.

``space`` paths: ``train.<field>``, ``<dataset|model|regularizer>.name`` (categorical or fixed)
and ``<dataset|model|regularizer>.<param>``; ``seed`` is not searchable (use ``seeds``).
``when`` maps earlier space paths to a value or a list of values; the parameter exists only
where all hold. A ``when:`` value the named parameter never takes is an error, except a
registered name (``regularizer.name: sampled_softmax``) this sweep does not choose: that is a
warning (the condition is simply never met), so narrowing a spec's ``choices`` needs one edit.
"""
from __future__ import annotations

from typing import Any

from sweeper.spec.checks import Problems, close, finite_number, type_msg
from sweeper.spec.model import DIST_KEYS, MAX_GRID, Param
from sweeper.spec.yamlsafe import excerpt

SECTION_KEYS = ("dataset", "model", "regularizer")


def param_values(p: Param) -> list:
    if p.type == "fixed":
        return [p.value]
    if p.type == "categorical":
        return list(p.choices)
    return [p.low, p.high]


def can_take(p: Param, v: Any) -> bool:
    """Whether searched parameter ``p`` can take value ``v`` (for ``when:`` conditions)."""
    if p.type in ("fixed", "categorical"):
        return any(v == c for c in param_values(p))
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not p.low <= v <= p.high:
        return False
    if p.type == "int" and v != int(v):
        return False
    if p.step is not None:
        k = (v - p.low) / p.step
        return abs(k - round(k)) < 1e-9
    return True


def candidates(section: str, param: Param, space: list[Param], base_name: str) -> list[str]:
    """Registry names a ``section.<x>`` parameter can apply to (respecting ``when`` on the name)."""
    name_path = f"{section}.name"
    for k, allowed in param.when:
        if k == name_path:
            return [str(a) for a in allowed]
    for q in space:
        if q.path == name_path:
            return [str(c) for c in param_values(q)]
    return [base_name] if base_name else []


def _path_problem(path: str, train_fields: dict) -> tuple[str, str] | None:
    section, _, key = path.partition(".")
    if path == "seed":
        return "space.seed", "seeds are replicates, not a searched parameter: list them under seeds:"
    if section not in SECTION_KEYS and section != "train" or not key:
        return (f"space.{excerpt(path)[1:-1]}", "path must be train.<field>, or <dataset|model|regularizer>.name / .<param>"
                + close(section, [*SECTION_KEYS, "train"]))
    if section == "train" and key not in train_fields:
        return f"space.{path}", f"unknown train field; valid are {', '.join(train_fields)}" + close(key, train_fields)
    return None


def parse_space(raw: dict, train_fields: dict, problems: Problems) -> list[Param]:
    """Every entry of ``space:`` as a ``Param``, in order; bad entries are reported and left out."""
    space: list[Param] = []
    earlier: set[str] = set()
    for path, entry in raw.items():
        path = str(path)
        if (bad := _path_problem(path, train_fields)) is not None:
            problems.add(*bad)
            continue
        p = _parse_param(path, entry, problems, earlier)
        earlier.add(path)
        if p is not None:
            space.append(p)
    return space


def _parse_when(where: str, raw: dict, problems: Problems, earlier: set[str]) -> tuple:
    w = raw.get("when") or {}
    if not isinstance(w, dict):
        problems.add(f"{where}.when", type_msg(w, "a mapping {earlier.path: value or [values]}"))
        return ()
    when = []
    for k, v in w.items():
        if k not in earlier:
            problems.add(f"{where}.when.{k}", f"conditions may only use space parameters defined above this one "
                         f"({', '.join(sorted(earlier)) or 'none'})")
        elif isinstance(v, list) and not v:
            problems.add(f"{where}.when.{k}", "an empty list of values: the parameter would never be active")
        when.append((k, tuple(v) if isinstance(v, list) else (v,)))
    return tuple(when)


def _parse_param(path: str, raw: Any, problems: Problems, earlier: set[str]) -> Param | None:
    where = f"space.{path}"
    if not isinstance(raw, dict):
        problems.add(where, type_msg(raw, "a mapping like {type: float, low: .., high: ..} or {value: ..}"))
        return None
    kind = "fixed" if "value" in raw and "type" not in raw else raw.get("type")
    if not isinstance(kind, str) or kind not in DIST_KEYS:
        problems.add(f"{where}.type", f"must be one of float, int, categorical (or give value: for a fixed value), "
                     f"got {excerpt(kind)}" + close(kind, ("float", "int", "categorical")))
        return None
    before = len(problems)
    for k in sorted(set(raw) - DIST_KEYS[kind], key=str):
        problems.add(f"{where}.{k}", f"unknown key for a {kind} parameter; valid keys are {', '.join(sorted(DIST_KEYS[kind]))}"
                     + close(k, DIST_KEYS[kind]))
    p: dict[str, Any] = {"path": path, "type": kind, "when": _parse_when(where, raw, problems, earlier)}
    if kind in ("float", "int"):
        p.update(_numeric(where, kind, raw, problems))
    elif kind == "categorical":
        ch = raw.get("choices")
        if not isinstance(ch, list) or not ch:
            problems.add(f"{where}.choices", type_msg(ch, "a non-empty list"))
        else:
            p["choices"] = tuple(ch)
    else:
        p["value"] = raw["value"]
    return Param(**p) if len(problems) == before else None


def _numeric(where: str, kind: str, raw: dict, problems: Problems) -> dict:
    """``low``, ``high``, ``log``, ``step`` of a float/int parameter, each checked."""
    before = len(problems)
    for k in ("low", "high"):
        if k not in raw:
            problems.add(f"{where}.{k}", "missing")
        elif (m := finite_number(raw[k], kind == "int")):
            problems.add(f"{where}.{k}", m)
    log = raw.get("log", False)
    if not isinstance(log, bool):
        problems.add(f"{where}.log", type_msg(log, "true or false"))
    step = raw.get("step")
    if step is not None:
        if (m := finite_number(step, kind == "int")):
            problems.add(f"{where}.step", m)
        elif step <= 0:
            problems.add(f"{where}.step", f"must be > 0, got {step}")
    if len(problems) == before:
        _range_problem(where, kind, raw["low"], raw["high"], log, step, problems)
    return {"low": raw.get("low"), "high": raw.get("high"), "log": bool(log), "step": step}


def _range_problem(where: str, kind: str, lo: Any, hi: Any, log: bool, step: Any, problems: Problems) -> None:
    if lo > hi:
        problems.add(where, f"empty range: low <= high must hold, got low={lo}, high={hi}")
    elif log and lo <= 0:
        problems.add(f"{where}.low", f"log scale needs low > 0, got low={lo}")
    elif log and step is not None and kind == "float":
        problems.add(where, "log and step cannot be combined for a float (Optuna does not support it)")
    elif step is not None and (hi - lo) / step > 10 * MAX_GRID:
        problems.add(f"{where}.step", f"gives {(hi - lo) / step:.3g} grid points between low and high "
                     f"(at most {10 * MAX_GRID:,} per parameter)")


def check_when(space: list[Param], tables: dict[str, Any], problems: Problems) -> None:
    """Every ``when:`` value must be one the named parameter can take; a registered name this sweep
    does not choose is a warning (``tables``: section -> registry table)."""
    by_path = {p.path: p for p in space}
    for p in space:
        for k, allowed in p.when:
            q = by_path.get(k)
            if q is None:
                continue
            never = [v for v in allowed if not can_take(q, v)]
            section, _, field_name = k.partition(".")
            registered = field_name == "name" and section in tables and all(
                isinstance(v, str) and v in tables[section] for v in never)
            shown = excerpt(param_values(q)) if q.type not in ("float", "int") else f"[{q.low}, {q.high}]"
            where = f"space.{p.path}.when.{k}"
            what = f"{', '.join(excerpt(v) for v in never)}: never taken by {k} (its values: {shown})"
            if never and registered:
                problems.warn(where, what + "; the condition is never met in this sweep")
            elif never:
                problems.add(where, what)
