"""The spec's ``paper:`` block: syntax and validation (no pandas or scipy: ``sweeper validate`` stays fast).

Syntax and meaning: ``sweeper.report.paper``, which compares the parsed block with a
sweep's results. This module is what ``sweeper.spec.validate`` needs to validate a spec; it
lives outside ``sweeper.report``, whose package imports the statistics (scipy).
"""
from __future__ import annotations

import math
from typing import Any


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse(raw: Any, known_paths: set[str] | None = None) -> tuple[dict | None, list[tuple[str, str]]]:
    """Validate a ``paper:`` block: (normalised block or None, [(yaml path, problem), ...]).

    Normalised: ``{"source": str, "targets": {key: {metric: {"value": float, "ci95": float | None}}}}``.
    ``known_paths``: the spec's space paths, to check ``path=value`` keys against (None: not checked)."""
    problems: list[tuple[str, str]] = []
    if raw is None:
        return None, problems
    if not isinstance(raw, dict):
        return None, [("paper", f"expected a mapping {{source: ..., targets: {{...}}}}, got {type(raw).__name__} {raw!r}")]
    for k in raw:
        if k not in ("source", "targets"):
            problems.append((f"paper.{k}", "unknown key; valid keys are source, targets"))
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(("paper.source", f"expected a non-empty string naming the paper and its table, got {source!r}"))
    targets = raw.get("targets")
    if not isinstance(targets, dict) or not targets:
        problems.append(("paper.targets", f"expected a non-empty mapping of configuration -> {{metric: value}}, got {targets!r}"))
        targets = {}
    out = {}
    for key, mets in targets.items():
        entry = _target(key, mets, known_paths, problems)
        if entry is not None:
            out[key] = entry
    if problems:
        return None, problems
    return {"source": source.strip(), "targets": out}, problems


def _target(key: Any, mets: Any, known_paths: set[str] | None, problems: list[tuple[str, str]]) -> dict | None:
    """One target: its key (a method, or ``path=value`` pairs) and its metrics, normalised."""
    where = f"paper.targets.{key}"
    if not isinstance(key, str) or not key.strip():
        problems.append((where, "a target key must be a method name or path=value pairs"))
        return None
    for part in [p.strip() for p in key.split(",")] if "=" in key else []:
        path, eq, val = part.partition("=")
        if not eq or not path or not val:
            problems.append((where, f"{part!r} is not path=value"))
        elif known_paths is not None and path not in known_paths:
            valid = ", ".join(sorted(known_paths)) or "(none)"
            problems.append((where, f"{path!r} is not a space path of this spec; valid: {valid}"))
    if not isinstance(mets, dict) or not mets:
        problems.append((where, f"expected a mapping metric -> value or {{value, ci95}}, got {mets!r}"))
        return None
    entry = {}
    for m, v in mets.items():
        if (metric := _metric(f"{where}.{m}", v, problems)) is not None:
            entry[str(m)] = metric
    return entry


def _metric(where: str, v: Any, problems: list[tuple[str, str]]) -> dict | None:
    if isinstance(v, dict):
        bad = set(v) - {"value", "ci95"}
        if bad:
            problems.append((where, f"unknown key(s) {sorted(bad)}; valid keys are value, ci95"))
        val, ci = v.get("value"), v.get("ci95")
    else:
        val, ci = v, None
    if not _num(val):
        problems.append((where, f"expected a number (in display units, e.g. 7.09 for 7.09 %), got {val!r}"))
        return None
    if ci is not None and (not _num(ci) or ci < 0):
        problems.append((f"{where}.ci95", f"expected a number >= 0, got {ci!r}"))
        return None
    return {"value": float(val), "ci95": None if ci is None else float(ci)}
