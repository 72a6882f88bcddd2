"""The sweep spec's JSON Schema (draft 2020-12), generated from the same declarations the validator uses.

Registry sections get one ``if name == N then params: N's fields`` branch per entry, each field
typed from its annotation, bounded by its declared interval (``trainables.paramdoc``) and
described by its meaning; ``train`` is ``TrainConfig``'s fields; ``search`` and ``resources``
follow ``sweeper.spec.model``. An editor with the YAML language server validates and completes
a sweep file when its first line is::

    # yaml-language-server: $schema=<path or URL of search_spaces/sweep.schema.json>

The schema is a first line of defence while typing: ``sweeper validate`` remains the judge
(cross-field rules, whole-range checks of searched values, and PyYAML's YAML 1.1 reading of
``1e-3`` as a string, which an editor's YAML 1.2 parser reads as a number).
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from sweeper.spec import names
from sweeper.spec.model import (
    ASHA_KEYS,
    DIST_KEYS,
    MAX_SEED,
    RACING_KEYS,
    RACING_TESTS,
    SAMPLERS,
    SCHEDULERS,
    TOP_KEYS,
    TRIAL_FIGURES,
    Search,
)
from sweeper.spec.search_check import BOUNDS
from sweeper.spec.sections import TABLES
from trainables import paramdoc
from trainables.config import TrainConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS = {float: "number", int: "integer", bool: "boolean", str: "string"}


def _type(ann: Any) -> dict:
    """JSON Schema of a Params annotation."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return {"anyOf": [_type(inner[0]), {"type": "null"}]}
    if origin is tuple:
        fixed = Ellipsis not in args
        out: dict[str, Any] = {"type": "array", "items": _type(args[0]) if args else {}}
        return {**out, "minItems": len(args), "maxItems": len(args)} if fixed else {**out, "minItems": 1}
    return {"type": _SCALARS.get(ann, "string")}


def _num(x: float) -> float | int:
    return int(x) if x.is_integer() else x


def _bounds(iv: paramdoc.Interval | None) -> dict:
    out: dict[str, float | int] = {}
    if iv is None:
        return out
    if math.isfinite(iv.low):
        out["minimum" if iv.low_closed else "exclusiveMinimum"] = _num(iv.low)
    if math.isfinite(iv.high):
        out["maximum" if iv.high_closed else "exclusiveMaximum"] = _num(iv.high)
    return out


def _field(d: paramdoc.Decl) -> dict:
    out = _type(d.annotation)
    target = out["anyOf"][0] if "anyOf" in out else out
    target.update(_bounds(d.interval))
    valid = d.valid or paramdoc.allowed(d.annotation)
    default = list(d.default) if isinstance(d.default, tuple) else d.default
    return {**out, "default": default, "description": f"{d.doc} (valid: {valid})"}


def params_schema(cls: type) -> dict:
    """An object of ``cls``'s fields, no other keys."""
    props = {n: _field(d) for n, d in paramdoc.decls(cls).items()}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _section(key: str) -> dict:
    table = TABLES[key]
    props: dict[str, Any] = {"name": {"enum": list(table), "description": f"the {key} (sweeper show {key})"},
                             "params": {"type": "object"}}
    if key == "dataset":
        props["root"] = {"type": ["string", "null"], "description": "folder of the data files (null: the default root)"}
    branches = [{"if": {"properties": {"name": {"const": n}}, "required": ["name"]},
                 "then": {"properties": {"params": params_schema(e.params)}}} for n, e in table.items()]
    obj = {"type": "object", "properties": props, "additionalProperties": False, "allOf": branches}
    return {"anyOf": [obj, {"enum": list(table)}]}


def _space() -> dict:
    when = {"type": "object", "description": "earlier space paths -> a value or a list of values",
            "additionalProperties": {}}
    num = {"type": "number"}
    numeric = {"type": "object", "required": ["type", "low", "high"], "additionalProperties": False,
               "properties": {"type": {"enum": ["float", "int"]}, "low": num, "high": num,
                              "log": {"type": "boolean"}, "step": {**num, "exclusiveMinimum": 0}, "when": when}}
    categorical = {"type": "object", "required": ["type", "choices"], "additionalProperties": False,
                   "properties": {"type": {"const": "categorical"}, "choices": {"type": "array", "minItems": 1},
                                  "when": when}}
    fixed = {"type": "object", "required": ["value"], "additionalProperties": False,
             "properties": {"value": {}, "when": when}}
    assert set(numeric["properties"]) == DIST_KEYS["float"] and set(categorical["properties"]) == DIST_KEYS["categorical"]
    return {"type": "object", "description": "searched parameters by dotted path",
            "propertyNames": {"pattern": r"^(train|dataset|model|regularizer)\.[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"oneOf": [numeric, categorical, fixed]}}


def _search() -> dict:
    bounds = {k: {"type": "integer", "minimum": lo, "maximum": hi} for k, lo, hi in BOUNDS}
    one_or_more = lambda item: {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}  # noqa: E731
    props = {
        "sampler": {"enum": list(SAMPLERS)}, "scheduler": {"enum": list(SCHEDULERS)},
        "metric": one_or_more({"type": "string"}), "mode": one_or_more({"enum": ["min", "max"]}),
        "per_method": {"type": "boolean"}, "retry_timeouts": {"type": "boolean"},
        "checkpoint_every_s": {"type": "number", "minimum": 0},
        "snapshot_every_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 86_400},
        "trial_timeout_s": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]},
        "trial_figures": {"enum": list(TRIAL_FIGURES)},
        "asha": {"type": "object", "additionalProperties": False, "properties": {k: bounds[k] for k in ASHA_KEYS}},
        "racing": _racing(),
        **bounds,
    }
    # every field of Search is in the schema (a new setting cannot be forgotten here)
    fields = {f.name for f in dataclasses.fields(Search)}
    assert set(props) - {"asha"} == fields, set(props) ^ fields
    return {"type": "object", "properties": props, "additionalProperties": False}


def _racing() -> dict:
    seeds = {"type": "integer", "minimum": 2}
    props = {"min_seeds": {**seeds, "default": 3, "description": "seeds every configuration runs on before its first round"},
             "max_seeds": {**seeds, "description": "the last round's seed count (default: every seed; at most len(seeds))"},
             "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.05,
                       "description": "elimination level of the Holm-adjusted tests"},
             "test": {"enum": list(RACING_TESTS), "default": "friedman",
                      "description": "friedman: Friedman + Conover post-hoc (Wilcoxon for two); t-test: paired t-tests"}}
    assert set(props) == set(RACING_KEYS)
    return {"type": "object", "additionalProperties": False, "properties": props,
            "description": "F-Race over the seeds: drop configurations significantly worse than the best, round by round"}


def _paper() -> dict:
    number = {"type": "number"}
    metric = {"anyOf": [number, {"type": "object", "required": ["value"], "additionalProperties": False,
                                 "properties": {"value": number, "ci95": {"type": "number", "minimum": 0}}}]}
    return {"type": "object", "required": ["source", "targets"], "additionalProperties": False,
            "properties": {"source": {"type": "string", "minLength": 1},
                           "targets": {"type": "object", "minProperties": 1,
                                       "additionalProperties": {"type": "object", "minProperties": 1,
                                                                "additionalProperties": metric}}}}


def schema() -> dict:
    """The sweep spec's JSON Schema."""
    seed = {"type": "integer", "minimum": 0, "maximum": MAX_SEED}
    props = {
        "name": {"type": "string", "pattern": f"^{names.PATTERN.pattern}$", "description": names.RULE},
        "description": {"type": "string", "maxLength": 10_000},
        **{key: _section(key) for key in TABLES},
        "train": params_schema(TrainConfig),
        "space": _space(),
        "seeds": {"anyOf": [seed, {"type": "array", "items": seed, "minItems": 1, "uniqueItems": True}]},
        "search": _search(),
        "resources": {"type": "object", "additionalProperties": False,
                      "properties": {"cpu": {"type": "number", "exclusiveMinimum": 0, "maximum": 4096},
                                     "gpu": {"type": "number", "minimum": 0, "maximum": 64}}},
        "paper": _paper(),
    }
    assert set(props) == TOP_KEYS
    return {"$schema": DIALECT, "title": "sweeper sweep spec",
            "description": "A sweep file for `sweeper launch` (validated in full by `sweeper validate`).",
            "type": "object", "required": ["name", "dataset", "model", "regularizer"],
            "properties": props, "additionalProperties": False}
