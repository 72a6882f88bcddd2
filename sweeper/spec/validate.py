"""Load and validate a sweep YAML into a frozen ``SweepSpec``.

Every problem is collected and reported at once, each with its YAML path
(``SpecError``; the CLI prints it and exits 2). YAML is read with
``yaml.safe_load`` only. The schema (see README "Writing a sweep"):

    name: maldrop_rho                     # results go to <storage>/<name>/
    description: ...
    dataset:     {name: digits, params: {...}, root: null}
    model:       {name: mlp, params: {widths: [128, 128]}}
    regularizer: {name: malicious_dropout, params: {rho: 0.25}}
    train:       {epochs: 10, batch_size: 64, lr: 1.0e-3, ...}   # trainables.loop.TrainConfig
    space:                                # searched parameters, by dotted path
      train.lr:          {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      regularizer.name:  {type: categorical, choices: [softmax, malicious_dropout]}
      regularizer.rho:   {type: float, low: 0.05, high: 0.5, when: {regularizer.name: malicious_dropout}}
      regularizer.omega: {value: 0.01, when: {regularizer.name: malicious_dropout}}   # fixed value
    seeds: [0, 1, 2]                      # replicates: every configuration runs on every seed
    search:  {sampler: tpe, num_samples: 8, sampler_seed: 0, metric: val_error, mode: min,
              scheduler: fifo, max_concurrent: 2, max_failures: 1, checkpoint_every_s: 30,
              snapshot_every_s: 10}
    resources: {cpu: 1, gpu: 0}

``space`` paths: ``train.<field>``, ``seed`` is not searchable (use ``seeds``),
``<dataset|model|regularizer>.name`` (categorical) and
``<dataset|model|regularizer>.<param>``. ``when`` maps earlier space paths to a
value or a list of values; the parameter exists only where all hold.

Validation rules beyond types (see README "Writing a sweep"):

- the file is read by ``sweeper.spec.yamlsafe`` (size, UTF-8, depth, no aliases, no duplicate keys);
- ``name`` is a plain identifier (``sweeper.spec.names``); every number must be finite;
- every section is checked against its registry entry's ``Params`` (torch-free, see
  ``trainables.registry``); a problem is reported once, at the path of the key at fault:
  the valid keys are built together and, when that fails, the key the ``ValueError``
  names is set aside and the rest built again, so one problem never hides another;
- a searched range is checked over its whole interval, not only at its ends: every
  point of a grid or an integer range up to ``PROBE_ALL`` values, else the ends and
  ``PROBES`` evenly spaced interior points (log-spaced too on a log scale), each
  built with the section's fixed values; the first invalid value is reported;
- ``when:`` values must be values the named parameter can take;
- a grid's size is counted without enumerating it (at most ``MAX_GRID`` points);
- seeds and ``sampler_seed`` lie in [0, 2^32 - 1]; ``num_samples`` at most ``MAX_SAMPLES``.

The validator imports neither torch nor Ray.
"""
from __future__ import annotations

import difflib
import math
import os
import re
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any


from sweeper.spec import names as names_mod
from sweeper.spec.model import ASHA_KEYS, DIST_KEYS, MAX_GRID, MAX_SAMPLES, MAX_SEED, OBJECTIVES, Param, Resources, SAMPLERS, SCHEDULERS, Search, TRIAL_FIGURES, SpecError, SweepSpec, TOP_KEYS
from sweeper.spec.yamlsafe import YamlRefused, excerpt
from sweeper.spec.yamlsafe import read as read_yaml
from trainables import data as data_registry
from trainables import models as model_registry
from trainables import regularizers as reg_registry
from trainables.config import TrainConfig
from trainables.registry import UnknownName

SECTIONS = {"dataset": data_registry, "model": model_registry, "regularizer": reg_registry}
TABLES = {"dataset": data_registry.DATASETS, "model": model_registry.MODELS, "regularizer": reg_registry.REGULARIZERS}
PROBES = 64
PROBE_ALL = 10_000


# ---------------------------------------------------------------------------------------------
# validation helpers


class _Problems(list):
    """Problems as ``path: message``; the same line is kept once."""

    def add(self, path: str, msg: str) -> None:
        line = f"{path}: {msg}"
        if line not in self:
            self.append(line)


# A float PyYAML (YAML 1.1) reads as a string: no dot in the mantissa, or an unsigned exponent.
_MISSED_FLOAT = re.compile(r"([-+]?)(\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)")


def _float_hint(v: Any) -> str:
    """How to write ``v`` so that PyYAML reads a float, when ``v`` is such a missed float."""
    m = _MISSED_FLOAT.fullmatch(v.strip()) if isinstance(v, str) else None
    if m is None:
        return ""
    sign, whole, frac, esign, exp = m.groups()
    fixed = f"{sign}{whole}.{frac or '0'}e{esign or '+'}{exp}"
    return (f" (PyYAML reads an exponent float without a dot or without a signed exponent as a string: "
            f"write {fixed})")


def _type_msg(v: Any, want: str) -> str:
    return f"expected {want}, got {type(v).__name__} {excerpt(v)}" + _float_hint(v)


def _close(name: Any, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name)[:100], list(valid), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_type(v: Any, ann: Any) -> str | None:
    """None if ``v`` fits annotation ``ann`` (a Params field type), else a message."""
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if v is None and type(None) in args:
            return None
        msgs = [_check_type(v, a) for a in args if a is not type(None)]
        return None if any(m is None for m in msgs) else msgs[0]
    if origin is typing.Literal:
        if any(v == a and type(v) is type(a) for a in args):
            return None
        return f"must be one of {', '.join(repr(a) for a in args)}, got {excerpt(v)}" + _close(v, map(str, args))
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            return _type_msg(v, "a list")
        inner = args[0] if args else Any
        for x in v:
            m = _check_type(x, inner)
            if m:
                return m
        return None
    if ann is float:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return _type_msg(v, "a number")
        return None if math.isfinite(v) else f"expected a finite number, got {v}"
    if ann is int:
        return None if isinstance(v, int) and not isinstance(v, bool) else _type_msg(v, "an integer")
    if ann is bool:
        return None if isinstance(v, bool) else _type_msg(v, "true or false")
    if ann is str:
        return None if isinstance(v, str) else _type_msg(v, "a string")
    return None


def _fields(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, f.type) for f in fields(cls)}


def _construct(cls, values: dict) -> str | None:
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


def _build(cls, values: dict, path: str, problems: _Problems) -> dict | None:
    """Check ``values`` against ``cls``'s fields, each problem once at its own path.

    Unknown keys and type errors are reported per key and set aside; the rest is built
    together; when that fails, the key the error names is reported at ``path.key`` and
    set aside, and the rest built again (so one range error never hides another). A
    failure no single key explains is reported at ``path``. Returns the values that
    build together (None if even those do not)."""
    known = _fields(cls)
    good: dict[str, Any] = {}
    for k, v in values.items():
        if k not in known:
            valid = ", ".join(known) or "(none: this entry has no parameters)"
            problems.add(f"{path}.{k}", f"unknown key; valid keys are {valid}" + _close(k, known))
            continue
        msg = _check_type(v, known[k])
        if msg:
            problems.add(f"{path}.{k}", msg)
            continue
        good[k] = v
    while True:
        msg = _construct(cls, good)
        if msg is None:
            return good
        parts = [m.strip() for m in msg.split("; ")] if cls is TrainConfig else [msg]
        blamed = False
        for part in parts:
            k = _culprit(part, good)
            if k is not None:
                problems.add(f"{path}.{k}", part)
                good.pop(k, None)
                blamed = True
            else:
                problems.add(path, part)
        if not blamed:
            return None


def _section(raw: dict, key: str, problems: _Problems, required: bool = True) -> dict | None:
    s = raw.get(key)
    if s is None:
        if required:
            problems.add(key, f"missing; give {{name: ..., params: {{...}}}}; valid names: {', '.join(TABLES[key])}")
        return None
    if isinstance(s, str):
        s = {"name": s}
    if not isinstance(s, dict):
        problems.add(key, _type_msg(s, "a mapping {name: ..., params: {...}}"))
        return None
    allowed = {"name", "params"} | ({"root"} if key == "dataset" else set())
    for k in s:
        if k not in allowed:
            problems.add(f"{key}.{excerpt(k) if not isinstance(k, str) else k}",
                         f"unknown key; valid keys are {', '.join(sorted(allowed))}" + _close(k, allowed))
    params = s.get("params") or {}
    if not isinstance(params, dict):
        problems.add(f"{key}.params", _type_msg(params, "a mapping"))
        params = {}
    out = {"name": s.get("name"), "params": dict(params)}
    if key == "dataset":
        out["root"] = s.get("root")
        if out["root"] is not None and (not isinstance(out["root"], str) or "\0" in out["root"] or len(out["root"]) > 4096):
            problems.add("dataset.root", _type_msg(out["root"], "a path string"))
            out["root"] = None
        elif out["root"] is not None and "://" not in out["root"]:
            # Relative to where sweeper runs (Tune starts each trial in its own folder, so a
            # relative path would point elsewhere inside the trial).
            out["root"] = str(Path(os.path.expandvars(out["root"])).expanduser().resolve())
    return out


def _registry_params(key: str, name: Any, path: str, problems: _Problems) -> type | None:
    """The ``Params`` class of a registry name (torch-free), or None with the problem added."""
    if not isinstance(name, str):
        problems.add(path, _type_msg(name, "a name string"))
        return None
    try:
        return SECTIONS[key].params(name)
    except UnknownName as e:
        problems.add(path, f"unknown {key} {excerpt(name)}: valid are {', '.join(sorted(TABLES[key]))}"
                     + _close(name, TABLES[key]) if len(name) > 60 else str(e))
        return None


def _finite_number(v: Any, integer: bool) -> str | None:
    if integer:
        return None if isinstance(v, int) and not isinstance(v, bool) else _type_msg(v, "an integer")
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return _type_msg(v, "a number")
    return None if math.isfinite(v) else f"expected a finite number, got {v}"


def _parse_param(path: str, raw: Any, problems: _Problems, earlier: set[str]) -> Param | None:
    where = f"space.{path}"
    if not isinstance(raw, dict):
        problems.add(where, _type_msg(raw, "a mapping like {type: float, low: .., high: ..} or {value: ..}"))
        return None
    kind = "fixed" if "value" in raw and "type" not in raw else raw.get("type")
    if not isinstance(kind, str) or kind not in DIST_KEYS:
        problems.add(f"{where}.type", f"must be one of float, int, categorical (or give value: for a fixed value), "
                     f"got {excerpt(kind)}" + _close(kind, ("float", "int", "categorical")))
        return None
    before = len(problems)
    bad = set(raw) - DIST_KEYS[kind]
    for k in sorted(bad, key=str):
        problems.add(f"{where}.{k}", f"unknown key for a {kind} parameter; valid keys are {', '.join(sorted(DIST_KEYS[kind]))}"
                     + _close(k, DIST_KEYS[kind]))
    when: list[tuple[str, tuple]] = []
    w = raw.get("when") or {}
    if not isinstance(w, dict):
        problems.add(f"{where}.when", _type_msg(w, "a mapping {earlier.path: value or [values]}"))
        w = {}
    for k, v in w.items():
        if k not in earlier:
            problems.add(f"{where}.when.{k}", f"conditions may only use space parameters defined above this one ({', '.join(sorted(earlier)) or 'none'})")
        elif isinstance(v, list) and not v:
            problems.add(f"{where}.when.{k}", "an empty list of values: the parameter would never be active")
        when.append((k, tuple(v) if isinstance(v, list) else (v,)))
    p: dict[str, Any] = {"path": path, "type": kind, "when": tuple(when)}
    if kind in ("float", "int"):
        for k in ("low", "high"):
            if k not in raw:
                problems.add(f"{where}.{k}", "missing")
            elif (m := _finite_number(raw[k], kind == "int")):
                problems.add(f"{where}.{k}", m)
        log = raw.get("log", False)
        if not isinstance(log, bool):
            problems.add(f"{where}.log", _type_msg(log, "true or false"))
        step = raw.get("step")
        if step is not None:
            if (m := _finite_number(step, kind == "int")):
                problems.add(f"{where}.step", m)
            elif step <= 0:
                problems.add(f"{where}.step", f"must be > 0, got {step}")
        if len(problems) == before:
            lo, hi = raw["low"], raw["high"]
            if lo > hi:
                problems.add(where, f"empty range: low <= high must hold, got low={lo}, high={hi}")
            elif log and lo <= 0:
                problems.add(f"{where}.low", f"log scale needs low > 0, got low={lo}")
            elif log and step is not None and kind == "float":
                problems.add(where, "log and step cannot be combined for a float (Optuna does not support it)")
            elif step is not None and (hi - lo) / step > 10 * MAX_GRID:
                problems.add(f"{where}.step", f"gives {(hi - lo) / step:.3g} grid points between low and high "
                             f"(at most {10 * MAX_GRID:,} per parameter)")
        p.update(low=raw.get("low"), high=raw.get("high"), log=bool(log), step=step)
    elif kind == "categorical":
        ch = raw.get("choices")
        if not isinstance(ch, list) or not ch:
            problems.add(f"{where}.choices", _type_msg(ch, "a non-empty list"))
        else:
            p["choices"] = tuple(ch)
    else:
        p["value"] = raw["value"]
    return Param(**p) if len(problems) == before else None


def _candidates(section: str, param: Param, space: list[Param], base_name: str) -> list[str]:
    """Registry names a ``section.<x>`` parameter can apply to (respecting ``when`` on the name)."""
    name_path = f"{section}.name"
    for k, allowed in param.when:
        if k == name_path:
            return [str(a) for a in allowed]
    for q in space:
        if q.path == name_path:
            return [str(c) for c in (q.choices if q.type == "categorical" else (q.value,))]
    return [base_name] if base_name else []


def _param_values(p: Param) -> list:
    if p.type == "fixed":
        return [p.value]
    if p.type == "categorical":
        return list(p.choices)
    return [p.low, p.high]


def _probe_values(p: Param) -> list:
    """Values to check a searched parameter at: all it can take when they are few (choices, a
    grid or an integer range of at most ``PROBE_ALL`` values), else both ends and ``PROBES``
    evenly spaced interior points (plus log-spaced ones on a log scale)."""
    if p.type in ("fixed", "categorical"):
        return _param_values(p)
    lo, hi = p.low, p.high
    if p.step is not None and p.grid_count() <= PROBE_ALL:
        return p.grid_values()
    if p.type == "int" and hi - lo + 1 <= PROBE_ALL:
        return list(range(lo, hi + 1))
    pts = [lo + (hi - lo) * i / (PROBES + 1) for i in range(1, PROBES + 1)]
    if p.log and lo > 0:
        r = math.log(hi / lo)
        pts += [lo * math.exp(r * i / (PROBES + 1)) for i in range(1, PROBES + 1)]
    if p.type == "int":
        pts = [int(round(x)) for x in pts]
    return [lo, hi, *sorted(set(pts))]


def _can_take(p: Param, v: Any) -> bool:
    """Whether searched parameter ``p`` can take value ``v`` (for ``when:`` conditions)."""
    if p.type == "fixed":
        return v == p.value
    if p.type == "categorical":
        return any(v == c for c in p.choices)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not p.low <= v <= p.high:
        return False
    if p.type == "int" and v != int(v):
        return False
    if p.step is not None:
        k = (v - p.low) / p.step
        return abs(k - round(k)) < 1e-9
    return True


def _as_tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, list) else (v,)


# ---------------------------------------------------------------------------------------------


def load(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), [f"{path}: no such file"])
    try:
        raw = read_yaml(path)
    except YamlRefused as e:
        raise SpecError(str(path), e.problems) from None
    return from_dict(raw, source=str(path))


def _check_section_values(key: str, cls: type, fixed: dict, space: list[Param], name: str, base_name: str,
                          problems: _Problems, fixed_path: str | None) -> None:
    """Check a registry entry's fixed params (at ``fixed_path``, None: already checked) and every
    searched ``key.<field>`` that applies to ``name`` over its whole range, each problem once."""
    scratch = _Problems()
    good = _build(cls, fixed, f"{key}.params", problems if fixed_path else scratch)
    if good is None:
        good = {}
    field_types = _fields(cls)
    for p in space:
        sec, _, field_name = p.path.partition(".")
        if sec != key or field_name == "name":
            continue
        cands = _candidates(key, p, space, base_name)
        if name not in cands:
            continue
        where = f"space.{p.path}"
        if field_name not in field_types:
            problems.add(where, f"{key} {name!r} has no parameter {field_name!r}; valid are {', '.join(field_types) or '(none)'}"
                         + _close(field_name, field_types)
                         + ("" if len(cands) == 1 else f" (restrict it with when: {{{key}.name: ...}})"))
            continue
        base = {k: v for k, v in good.items() if k != field_name}
        if _construct(cls, base) is not None:
            base = {}
        for v in _probe_values(p):
            msg = _check_type(v, field_types[field_name]) or _construct(cls, {**base, field_name: v})
            if msg:
                whole = "" if p.type in ("fixed", "categorical") else " (the range is checked over its whole interval, not only at low/high)"
                problems.add(where, f"{key} {name!r}: value {excerpt(v)} is invalid: {msg}{whole}")
                break


def from_dict(raw: Any, source: str = "<dict>") -> SweepSpec:
    problems = _Problems()
    if not isinstance(raw, dict):
        raise SpecError(source, [f"(top): {_type_msg(raw, 'a mapping with keys ' + ', '.join(sorted(TOP_KEYS)))}"])
    for k in raw:
        if k not in TOP_KEYS:
            problems.add(str(k)[:60], f"unknown top-level key; valid keys are {', '.join(sorted(TOP_KEYS))}" + _close(k, TOP_KEYS))
    name = raw.get("name")
    if (m := names_mod.problem(name)) is not None:
        problems.add("name", m)
    description = raw.get("description") or ""
    if not isinstance(description, str) or len(description) > 10_000:
        problems.add("description", _type_msg(description, "a string of at most 10,000 characters")
                     if not isinstance(description, str) else f"{len(description):,} characters (at most 10,000)")
        description = ""

    base: dict[str, Any] = {}
    for key in SECTIONS:
        s = _section(raw, key, problems)
        if s is None:
            continue
        base[key] = s
    train_raw = raw.get("train") or {}
    if not isinstance(train_raw, dict):
        problems.add("train", _type_msg(train_raw, "a mapping"))
        train_raw = {}
    base["train"] = dict(train_raw)

    # ---- space
    space: list[Param] = []
    space_raw = raw.get("space") or {}
    if not isinstance(space_raw, dict):
        problems.add("space", _type_msg(space_raw, "a mapping of dotted paths to distributions"))
        space_raw = {}
    earlier: set[str] = set()
    train_fields = _fields(TrainConfig)
    for path, entry in space_raw.items():
        path = str(path)
        section, _, key = path.partition(".")
        if path == "seed":
            problems.add("space.seed", "seeds are replicates, not a searched parameter: list them under seeds:")
            continue
        if section not in SECTIONS and section != "train" or not key:
            problems.add(f"space.{excerpt(path)[1:-1]}", "path must be train.<field>, or <dataset|model|regularizer>.name / .<param>"
                         + _close(section, [*SECTIONS, "train"]))
            continue
        if section == "train" and key not in train_fields:
            problems.add(f"space.{path}", f"unknown train field; valid are {', '.join(train_fields)}" + _close(key, train_fields))
            continue
        p = _parse_param(path, entry, problems, earlier)
        earlier.add(path)
        if p is not None:
            space.append(p)
    by_path = {p.path: p for p in space}
    for p in space:
        for k, allowed in p.when:
            q = by_path.get(k)
            if q is None:
                continue
            never = [v for v in allowed if not _can_take(q, v)]
            if never:
                problems.add(f"space.{p.path}.when.{k}", f"{', '.join(excerpt(v) for v in never)}: never taken by {k} "
                             f"(its values: {excerpt(_param_values(q)) if q.type != 'float' and q.type != 'int' else f'[{q.low}, {q.high}]'})")

    # ---- sections: names and params, including every value the space can give them
    name_params = {p.path: p for p in space if p.path.endswith(".name")}
    for key in SECTIONS:
        s = base.get(key)
        if s is None:
            continue
        names = [s["name"]] if s["name"] is not None else []
        if f"{key}.name" in name_params:
            p = name_params[f"{key}.name"]
            names = [n for i, n in enumerate([*names, *_param_values(p)]) if n not in [*names, *_param_values(p)][:i]]
            if p.type not in ("categorical", "fixed"):
                problems.add(f"space.{key}.name", "a name can only be categorical or fixed")
            if s["name"] is None:
                s["name"] = names[0]
        elif s["name"] is None:
            problems.add(f"{key}.name", "missing")
        for n in names:
            in_base = n == s["name"]
            cls = _registry_params(key, n, f"{key}.name" if in_base else f"space.{key}.name", problems)
            if cls is None:
                continue
            _check_section_values(key, cls, s["params"] if in_base else {}, space, n, s["name"], problems,
                                  f"{key}.params" if in_base else None)
    _check_rho_applies(base.get("regularizer"), space, problems)
    good_train = _build(TrainConfig, base["train"], "train", problems) or {}
    train_types = _fields(TrainConfig)
    for p in space:
        sec, _, field_name = p.path.partition(".")
        if sec != "train":
            continue
        rest = {k: v for k, v in good_train.items() if k != field_name}
        for v in _probe_values(p):
            msg = _check_type(v, train_types[field_name]) or _construct(TrainConfig, {**rest, field_name: v})
            if msg:
                problems.add(f"space.{p.path}", f"value {excerpt(v)} is invalid: {msg}")
                break

    # ---- seeds
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        problems.add("seeds", _type_msg(seeds, "a non-empty list of integers"))
        seeds = [0]
    elif any(not 0 <= x <= MAX_SEED for x in seeds):
        problems.add("seeds", f"each seed must be in [0, {MAX_SEED}], got {excerpt([x for x in seeds if not 0 <= x <= MAX_SEED][0])}")
    elif len(set(seeds)) != len(seeds):
        problems.add("seeds", f"seeds must be distinct, got {excerpt(seeds)}")

    # ---- search
    search = _parse_search(raw.get("search") or {}, space, base, problems)
    res = raw.get("resources") or {}
    resources = None
    if not isinstance(res, dict):
        problems.add("resources", _type_msg(res, "a mapping {cpu: .., gpu: ..}"))
    else:
        good = _build(Resources, res, "resources", problems)
        if good is not None and len(good) == len(res):
            resources = Resources(**good)
            if not 0 < resources.cpu <= 4096:
                problems.add("resources.cpu", f"must be in (0, 4096], got {resources.cpu}")
            if not 0 <= resources.gpu <= 64:
                problems.add("resources.gpu", f"must be in [0, 64], got {resources.gpu}")

    if not problems and search.sampler == "grid":
        spec0 = SweepSpec(name=name, description="", base=base, space=tuple(space), seeds=tuple(seeds), search=search,
                          resources=resources)
        n = spec0.grid_size()
        if n * len(seeds) > MAX_GRID:
            problems.add("space", f"the grid has {'more than ' + format(MAX_GRID, ',') if n > MAX_GRID else format(n, ',')} "
                         f"configurations x {len(seeds)} seed(s): at most {MAX_GRID:,} trials; use fewer values or a sampler")
    paper = _parse_paper(raw.get("paper"), space, problems)
    if problems:
        raise SpecError(source, list(problems))
    return SweepSpec(
        name=name, description=str(description), base=base, space=tuple(space), seeds=tuple(seeds),
        search=search, resources=resources, source=source, paper=paper,
    )


RHO_SCHEDULES = ("standard", "periodic")  # Malicious Dropout schedules that read rho


def _check_rho_applies(reg: dict | None, space: list[Param], problems: _Problems) -> None:
    """Refuse a Malicious Dropout ``rho`` (fixed, searched, or fixed in the space) that can reach a
    schedule ignoring it: forward/reverse anneal with ``anneal_offset`` (and ``anneal_rate``),
    randomized draws rho ~ Uniform{0..L}; only standard and periodic read rho."""
    if reg is None:
        return
    base_sched = (reg.get("params") or {}).get("schedule", "standard")
    sched_param = next((p for p in space if p.path == "regularizer.schedule"), None)
    space_scheds = [] if sched_param is None else [str(v) for v in _param_values(sched_param)]
    # the schedules a trial can run with: the searched/fixed ones, plus the base one where the
    # space's schedule entry may be inactive (its own when:)
    any_sched = space_scheds + ([base_sched] if sched_param is None or sched_param.when else [])
    targets: list[tuple[str, list]] = []
    if reg.get("name") == "malicious_dropout" and "rho" in (reg.get("params") or {}):
        targets.append(("regularizer.params.rho", any_sched))
    for p in space:
        if p.path != "regularizer.rho" or "malicious_dropout" not in _candidates("regularizer", p, space, reg.get("name") or ""):
            continue
        cond = dict(p.when).get("regularizer.schedule")
        targets.append((f"space.{p.path}", [str(v) for v in cond] if cond is not None else any_sched))
    for where, scheds in targets:
        ignored = sorted({str(v) for v in scheds} - set(RHO_SCHEDULES))
        if ignored:
            problems.add(where, (
                f"malicious_dropout's {'/'.join(ignored)} schedule(s) ignore rho: forward and reverse anneal with "
                "anneal_offset (and anneal_rate), randomized draws rho ~ Uniform{0..L} per batch; rho applies only to "
                "standard and periodic. Restrict it with when: {regularizer.schedule: [standard, periodic]}, or set "
                "anneal_offset for forward/reverse"))


def _parse_paper(raw: Any, space: list[Param], problems: _Problems) -> dict | None:
    """The optional ``paper:`` block (the paper's numbers for the report), validated by
    ``sweeper.spec.paper.parse`` (syntax: ``sweeper.report.paper``); stored as its normalised form."""
    from sweeper.spec import paper as paper_spec

    block, found = paper_spec.parse(raw, {p.path for p in space})
    for path, msg in found:
        problems.add(path, msg)
    return block


def _regularizer_names(base: dict, space: list[Param]) -> list[str]:
    """Registry names of every regularizer the sweep can run."""
    out = []
    if base.get("regularizer") and isinstance(base["regularizer"].get("name"), str):
        out.append(base["regularizer"]["name"])
    for p in space:
        if p.path == "regularizer.name":
            out += [v for v in _param_values(p) if isinstance(v, str)]
    return [n for n in dict.fromkeys(out) if n in reg_registry.REGULARIZERS]


def _declared(metric: str, names: list[str]) -> bool:
    for n in names:
        for m in reg_registry.params(n).METRICS:
            if re.fullmatch(re.escape(m).replace(re.escape("{i}"), r"[1-9][0-9]*"), metric):
                return True
    return False


def _parse_search(raw: Any, space: list[Param], base: dict, problems: _Problems) -> Search:
    if not isinstance(raw, dict):
        problems.add("search", _type_msg(raw, "a mapping"))
        return Search()
    vals = dict(raw)
    asha = vals.pop("asha", None)
    if asha is not None and not isinstance(asha, dict):
        problems.add("search.asha", _type_msg(asha, "a mapping {grace_period: .., reduction_factor: ..}"))
    elif isinstance(asha, dict):
        for k in asha:
            if k not in ASHA_KEYS:
                problems.add(f"search.asha.{k}", f"unknown key; valid keys are {', '.join(ASHA_KEYS)}" + _close(k, ASHA_KEYS))
            elif k in vals:
                problems.add(f"search.asha.{k}", f"given twice: also as search.{k}")
            else:
                vals[k] = asha[k]
    for k in ("metric", "mode"):
        if k in vals:
            if isinstance(vals[k], list) and not vals[k]:
                problems.add(f"search.{k}", "an empty list: give at least one")
                del vals[k]
            else:
                vals[k] = tuple(vals[k]) if isinstance(vals[k], list) else (vals[k],)
    good = _build(Search, vals, "search", problems)
    s = Search(**good) if good is not None else Search()
    if "sampler" in _good(good) and s.sampler not in SAMPLERS:
        problems.add("search.sampler", f"must be one of {', '.join(SAMPLERS)}, got {excerpt(s.sampler)}" + _close(s.sampler, SAMPLERS))
    if "scheduler" in _good(good) and s.scheduler not in SCHEDULERS:
        problems.add("search.scheduler", f"must be one of {', '.join(SCHEDULERS)}, got {excerpt(s.scheduler)}" + _close(s.scheduler, SCHEDULERS))
    if any(m not in ("min", "max") for m in s.mode):
        problems.add("search.mode", f"each mode must be min or max, got {excerpt(list(s.mode))}")
    if len(s.metric) != len(s.mode) and "metric" in _good(good) and "mode" in _good(good):
        problems.add("search.mode", f"metric and mode must have the same length, got {len(s.metric)} and {len(s.mode)}")
    if len(s.metric) > 1 and s.sampler in SAMPLERS and s.sampler not in ("nsga2", "random", "tpe"):
        problems.add("search.sampler", "several metrics need the nsga2, tpe or random sampler")
    if len(s.metric) > 1 and s.scheduler == "asha":
        problems.add("search.scheduler", "asha early stopping needs a single metric")
    regs = _regularizer_names(base, space)
    for m in s.metric:
        if m not in OBJECTIVES and not _declared(m, regs):
            own = sorted({x for n in regs for x in reg_registry.params(n).METRICS})
            problems.add("search.metric", f"unknown metric {excerpt(m)}: use one of {', '.join(OBJECTIVES)}"
                         + (f", or one this sweep's regularizers report: {', '.join(own)}" if own else "")
                         + _close(m, [*OBJECTIVES, *own]))
    checks = (("num_samples", 1, MAX_SAMPLES), ("sampler_seed", 0, MAX_SEED), ("max_concurrent", 0, 100_000),
              ("max_failures", 0, 1000), ("grace_period", 1, 100_000), ("reduction_factor", 2, 1000))
    for k, lo, hi in checks:
        v = getattr(s, k)
        if k in _good(good) and not lo <= v <= hi:
            problems.add(f"search.asha.{k}" if isinstance(asha, dict) and k in asha else f"search.{k}",
                         f"must be in [{lo}, {hi:,}], got {excerpt(v)}")
    if not (isinstance(s.checkpoint_every_s, (int, float)) and s.checkpoint_every_s >= 0):
        problems.add("search.checkpoint_every_s", f"must be a number of seconds >= 0 (0: every epoch), got {s.checkpoint_every_s!r}")
    if not (isinstance(s.snapshot_every_s, (int, float)) and not isinstance(s.snapshot_every_s, bool)
            and 0 < s.snapshot_every_s <= 86_400):
        problems.add("search.snapshot_every_s", f"must be a number of seconds in (0, 86400], got {excerpt(s.snapshot_every_s)}")
    if s.trial_figures not in TRIAL_FIGURES:
        problems.add("search.trial_figures", f"must be one of {', '.join(TRIAL_FIGURES)}, got {excerpt(s.trial_figures)}"
                     + _close(str(s.trial_figures), TRIAL_FIGURES))
    if s.trial_timeout_s is not None and not s.trial_timeout_s > 0:
        problems.add("search.trial_timeout_s", f"must be a number of seconds > 0 (or absent: no limit), got {excerpt(s.trial_timeout_s)}")
    if s.sampler == "grid":
        for p in space:
            if p.type in ("float", "int") and p.step is None:
                problems.add(f"space.{p.path}", "a grid sweep needs step: on every float/int parameter (or make it categorical)")
    return s


def _good(good: dict | None) -> dict:
    return good or {}


