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
              scheduler: fifo, max_concurrent: 2, max_failures: 1}
    resources: {cpu: 1, gpu: 0}

``space`` paths: ``train.<field>``, ``seed`` is not searchable (use ``seeds``),
``<dataset|model|regularizer>.name`` (categorical) and
``<dataset|model|regularizer>.<param>``. ``when`` maps earlier space paths to a
value or a list of values; the parameter exists only where all hold.
"""
from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from trainables import data as data_registry
from trainables import models as model_registry
from trainables import regularizers as reg_registry
from trainables.loop import TrainConfig
from trainables.registry import UnknownName

SECTIONS = {"dataset": data_registry, "model": model_registry, "regularizer": reg_registry}
TABLES = {"dataset": data_registry.DATASETS, "model": model_registry.MODELS, "regularizer": reg_registry.REGULARIZERS}
TOP_KEYS = {"name", "description", "dataset", "model", "regularizer", "train", "space", "seeds", "search", "resources"}
SAMPLERS = ("tpe", "random", "grid", "nsga2")
OBJECTIVES = ("val_error", "val_nll", "val_ece", "test_error", "test_nll", "test_ece", "train_loss")
SCHEDULERS = ("fifo", "asha")
DIST_KEYS = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
    "fixed": {"value", "when"},
}


class SpecError(ValueError):
    """One error listing every problem of a spec, each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the sweep spec:\n{lines}")


@dataclass(frozen=True)
class Param:
    path: str
    type: str  # float | int | categorical | fixed
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()
    value: Any = None
    when: tuple[tuple[str, tuple], ...] = ()

    def active(self, values: dict[str, Any]) -> bool:
        return all(k in values and values[k] in allowed for k, allowed in self.when)

    def grid_values(self) -> list:
        if self.type == "fixed":
            return [self.value]
        if self.type == "categorical":
            return list(self.choices)
        n = int(round((self.high - self.low) / self.step))
        vals = [self.low + i * self.step for i in range(n + 1)]
        return [int(v) for v in vals] if self.type == "int" else [round(v, 12) for v in vals]


@dataclass(frozen=True)
class Search:
    sampler: str = "tpe"
    num_samples: int = 8
    sampler_seed: int = 0
    metric: tuple[str, ...] = ("val_error",)
    mode: tuple[str, ...] = ("min",)
    scheduler: str = "fifo"
    grace_period: int = 1
    reduction_factor: int = 3
    max_concurrent: int = 0  # 0: as many as the cluster's resources allow
    max_failures: int = 1  # retries of a trial whose worker died or that raised


@dataclass(frozen=True)
class Resources:
    cpu: float = 1.0
    gpu: float = 0.0


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. ``base`` is the resolved fixed part as plain data
    (sections dataset, model, regularizer, train), what every trial starts from."""

    name: str
    description: str
    base: dict = field(hash=False)
    space: tuple[Param, ...]
    seeds: tuple[int, ...]
    search: Search
    resources: Resources
    source: str = ""

    def to_dict(self) -> dict:
        """The resolved spec, as YAML-able data (stored with every result)."""
        space = {}
        for p in self.space:
            d: dict[str, Any] = {"value": p.value} if p.type == "fixed" else {"type": p.type}
            if p.type in ("float", "int"):
                d.update(low=p.low, high=p.high, log=p.log)
                if p.step is not None:
                    d["step"] = p.step
            if p.type == "categorical":
                d["choices"] = list(p.choices)
            if p.when:
                d["when"] = {k: list(v) for k, v in p.when}
            space[p.path] = d
        s = self.search
        return {
            "name": self.name,
            "description": self.description,
            **self.base,
            "space": space,
            "seeds": list(self.seeds),
            "search": {
                "sampler": s.sampler, "num_samples": s.num_samples, "sampler_seed": s.sampler_seed,
                "metric": list(s.metric) if len(s.metric) > 1 else s.metric[0],
                "mode": list(s.mode) if len(s.mode) > 1 else s.mode[0],
                "scheduler": s.scheduler, "grace_period": s.grace_period,
                "reduction_factor": s.reduction_factor, "max_concurrent": s.max_concurrent,
                "max_failures": s.max_failures,
            },
            "resources": {"cpu": self.resources.cpu, "gpu": self.resources.gpu},
        }

    def grid(self) -> list[dict[str, Any]]:
        """Every configuration of a grid sweep (conditions applied, duplicates removed)."""
        configs: list[dict[str, Any]] = [{}]
        for p in self.space:
            nxt = []
            for c in configs:
                nxt.extend({**c, p.path: v} for v in p.grid_values()) if p.active(c) else nxt.append(c)
            configs = nxt
        seen, out = set(), []
        for c in configs:
            key = tuple(sorted((k, repr(v)) for k, v in c.items()))
            if key not in seen:
                seen.add(key)
                out.append(c)
        return out


# ---------------------------------------------------------------------------------------------
# validation helpers


class _Problems(list):
    def add(self, path: str, msg: str) -> None:
        self.append(f"{path}: {msg}")


def _is_number_string(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        float(v)
        return True
    except ValueError:
        return False


def _type_msg(v: Any, want: str) -> str:
    msg = f"expected {want}, got {type(v).__name__} {v!r}"
    if _is_number_string(v):
        msg += (
            " (PyYAML reads exponent floats without a dot, like 1e-4, as strings: write 1.0e-4)"
        )
    return msg


def _check_type(v: Any, ann: Any) -> str | None:
    """None if ``v`` fits annotation ``ann`` (a Params field type), else a message."""
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if v is None and type(None) in args:
            return None
        msgs = [_check_type(v, a) for a in args if a is not type(None)]
        return None if any(m is None for m in msgs) else msgs[0]
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
        return None if isinstance(v, (int, float)) and not isinstance(v, bool) else _type_msg(v, "a number")
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


def _try_build(cls, values: dict, path: str, problems: _Problems) -> Any:
    """Type-check ``values`` against ``cls``'s fields, then construct it (its own range checks)."""
    ok = True
    known = _fields(cls)
    for k, v in values.items():
        if k not in known:
            valid = ", ".join(known) or "(none: this entry has no parameters)"
            problems.add(f"{path}.{k}", f"unknown key; valid keys are {valid}")
            ok = False
            continue
        msg = _check_type(v, known[k])
        if msg:
            problems.add(f"{path}.{k}", msg)
            ok = False
    if not ok:
        return None
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        problems.add(path, str(e))
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
            problems.add(f"{key}.{k}", f"unknown key; valid keys are {', '.join(sorted(allowed))}")
    params = s.get("params") or {}
    if not isinstance(params, dict):
        problems.add(f"{key}.params", _type_msg(params, "a mapping"))
        params = {}
    out = {"name": s.get("name"), "params": dict(params)}
    if key == "dataset":
        out["root"] = s.get("root")
        if out["root"] is not None and not isinstance(out["root"], str):
            problems.add("dataset.root", _type_msg(out["root"], "a path string"))
        elif out["root"] is not None and "://" not in out["root"]:
            # Relative to where sweeper runs (Tune starts each trial in its own folder, so a
            # relative path would point elsewhere inside the trial).
            out["root"] = str(Path(os.path.expandvars(out["root"])).expanduser().resolve())
    return out


def _registry_module(key: str, name: Any, path: str, problems: _Problems):
    if not isinstance(name, str):
        problems.add(path, _type_msg(name, "a name string"))
        return None
    try:
        return SECTIONS[key].get(name)
    except UnknownName as e:
        problems.add(path, str(e))
        return None


def _parse_param(path: str, raw: Any, problems: _Problems, earlier: set[str]) -> Param | None:
    where = f"space.{path}"
    if not isinstance(raw, dict):
        problems.add(where, _type_msg(raw, "a mapping like {type: float, low: .., high: ..} or {value: ..}"))
        return None
    kind = "fixed" if "value" in raw and "type" not in raw else raw.get("type")
    if kind not in DIST_KEYS:
        problems.add(f"{where}.type", f"must be one of float, int, categorical (or give value: for a fixed value), got {kind!r}")
        return None
    bad = set(raw) - DIST_KEYS[kind]
    for k in sorted(bad):
        problems.add(f"{where}.{k}", f"unknown key for a {kind} parameter; valid keys are {', '.join(sorted(DIST_KEYS[kind]))}")
    when: list[tuple[str, tuple]] = []
    w = raw.get("when") or {}
    if not isinstance(w, dict):
        problems.add(f"{where}.when", _type_msg(w, "a mapping {earlier.path: value or [values]}"))
        w = {}
    for k, v in w.items():
        if k not in earlier:
            problems.add(f"{where}.when.{k}", f"conditions may only use space parameters defined above this one ({', '.join(sorted(earlier)) or 'none'})")
        when.append((k, tuple(v) if isinstance(v, list) else (v,)))
    before = len(problems)
    p: dict[str, Any] = {"path": path, "type": kind, "when": tuple(when)}
    if kind in ("float", "int"):
        num = (int,) if kind == "int" else (int, float)
        for k in ("low", "high"):
            if k not in raw:
                problems.add(f"{where}.{k}", "missing")
            elif not isinstance(raw[k], num) or isinstance(raw[k], bool):
                problems.add(f"{where}.{k}", _type_msg(raw[k], "an integer" if kind == "int" else "a number"))
        log = raw.get("log", False)
        if not isinstance(log, bool):
            problems.add(f"{where}.log", _type_msg(log, "true or false"))
        step = raw.get("step")
        if step is not None and (not isinstance(step, num) or isinstance(step, bool) or step <= 0):
            problems.add(f"{where}.step", _type_msg(step, "a positive number") if not isinstance(step, num) else f"must be > 0, got {step}")
        if len(problems) == before:
            lo, hi = raw["low"], raw["high"]
            if lo > hi:
                problems.add(where, f"empty range: low <= high must hold, got low={lo}, high={hi}")
            if log and lo <= 0:
                problems.add(where, f"log scale needs low > 0, got low={lo}")
            if log and step is not None and kind == "float":
                problems.add(where, "log and step cannot be combined for a float (Optuna does not support it)")
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


def _as_tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, list) else (v,)


# ---------------------------------------------------------------------------------------------


def load(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), [f"{path}: no such file"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SpecError(str(path), [f"(yaml): not valid YAML: {e}".replace("\n", " ")]) from None
    return from_dict(raw, source=str(path))


def from_dict(raw: Any, source: str = "<dict>") -> SweepSpec:
    problems = _Problems()
    if not isinstance(raw, dict):
        raise SpecError(source, [f"(top): {_type_msg(raw, 'a mapping with keys ' + ', '.join(sorted(TOP_KEYS)))}"])
    for k in raw:
        if k not in TOP_KEYS:
            problems.add(str(k), f"unknown top-level key; valid keys are {', '.join(sorted(TOP_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ "):
        problems.add("name", _type_msg(name, "a non-empty name without spaces or slashes"))
    description = raw.get("description") or ""

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
        section, _, key = str(path).partition(".")
        if path == "seed":
            problems.add("space.seed", "seeds are replicates, not a searched parameter: list them under seeds:")
            continue
        if section not in SECTIONS and section != "train" or not key:
            problems.add(f"space.{path}", "path must be train.<field>, or <dataset|model|regularizer>.name / .<param>")
            continue
        if section == "train" and key not in train_fields:
            problems.add(f"space.{path}", f"unknown train field; valid are {', '.join(train_fields)}")
            continue
        p = _parse_param(str(path), entry, problems, earlier)
        earlier.add(str(path))
        if p is not None:
            space.append(p)

    # ---- sections: names and params, including every value the space can give them
    name_params = {p.path: p for p in space if p.path.endswith(".name")}
    for key, reg in SECTIONS.items():
        s = base.get(key)
        if s is None:
            continue
        names = [s["name"]] if s["name"] is not None else []
        if f"{key}.name" in name_params:
            p = name_params[f"{key}.name"]
            names = list(dict.fromkeys(names + [str(v) for v in _param_values(p)]))
            if p.type not in ("categorical", "fixed"):
                problems.add(f"space.{key}.name", "a name can only be categorical or fixed")
            if s["name"] is None:
                s["name"] = names[0]
        elif s["name"] is None:
            problems.add(f"{key}.name", "missing")
        for n in names:
            mod = _registry_module(key, n, f"{key}.name" if n == s["name"] else f"space.{key}.name", problems)
            if mod is None:
                continue
            fixed = s["params"] if n == s["name"] else {}
            _try_build(mod.Params, fixed, f"{key}.params", problems)
            for p in space:
                sec, _, field_name = p.path.partition(".")
                if sec != key or field_name == "name":
                    continue
                cands = _candidates(key, p, space, s["name"])
                if n not in cands:
                    continue
                if field_name not in _fields(mod.Params):
                    problems.add(f"space.{p.path}", f"{key} {n!r} has no parameter {field_name!r}; valid are {', '.join(_fields(mod.Params)) or '(none)'}" + ("" if len(cands) == 1 else f" (restrict it with when: {{{key}.name: ...}})"))
                    continue
                for v in _param_values(p):
                    _try_build(mod.Params, {**fixed, field_name: v}, f"space.{p.path}", problems)
    train_obj = _try_build(TrainConfig, base["train"], "train", problems)
    if train_obj is not None:
        for p in space:
            sec, _, field_name = p.path.partition(".")
            if sec == "train":
                for v in _param_values(p):
                    _try_build(TrainConfig, {**base["train"], field_name: v}, f"space.{p.path}", problems)

    # ---- seeds
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        problems.add("seeds", _type_msg(seeds, "a non-empty list of integers"))
        seeds = [0]
    elif len(set(seeds)) != len(seeds):
        problems.add("seeds", f"seeds must be distinct, got {seeds}")

    # ---- search
    search = _parse_search(raw.get("search") or {}, space, problems)
    res = raw.get("resources") or {}
    resources = None
    if not isinstance(res, dict):
        problems.add("resources", _type_msg(res, "a mapping {cpu: .., gpu: ..}"))
    else:
        resources = _try_build(Resources, res, "resources", problems)
        if resources is not None and (resources.cpu <= 0 or resources.gpu < 0):
            problems.add("resources", f"cpu must be > 0 and gpu >= 0, got cpu={resources.cpu}, gpu={resources.gpu}")

    if problems:
        raise SpecError(source, list(problems))
    return SweepSpec(
        name=name, description=str(description), base=base, space=tuple(space), seeds=tuple(seeds),
        search=search, resources=resources, source=source,
    )


def _parse_search(raw: Any, space: list[Param], problems: _Problems) -> Search:
    if not isinstance(raw, dict):
        problems.add("search", _type_msg(raw, "a mapping"))
        return Search()
    vals = dict(raw)
    asha = vals.pop("asha", None)
    if isinstance(asha, dict):
        vals.setdefault("grace_period", asha.get("grace_period", 1))
        vals.setdefault("reduction_factor", asha.get("reduction_factor", 3))
    for k in ("metric", "mode"):
        if k in vals:
            vals[k] = tuple(vals[k]) if isinstance(vals[k], list) else (vals[k],)
    s = _try_build(Search, vals, "search", problems)
    if s is None:
        return Search()
    if s.sampler not in SAMPLERS:
        problems.add("search.sampler", f"must be one of {', '.join(SAMPLERS)}, got {s.sampler!r}")
    if s.scheduler not in SCHEDULERS:
        problems.add("search.scheduler", f"must be one of {', '.join(SCHEDULERS)}, got {s.scheduler!r}")
    if any(m not in ("min", "max") for m in s.mode):
        problems.add("search.mode", f"each mode must be min or max, got {list(s.mode)}")
    if len(s.metric) != len(s.mode):
        problems.add("search", f"metric and mode must have the same length, got {len(s.metric)} and {len(s.mode)}")
    if len(s.metric) > 1 and s.sampler not in ("nsga2", "random", "tpe"):
        problems.add("search.sampler", "several metrics need the nsga2, tpe or random sampler")
    if len(s.metric) > 1 and s.scheduler == "asha":
        problems.add("search.scheduler", "asha early stopping needs a single metric")
    for m in s.metric:
        if m not in OBJECTIVES and not any(m.startswith(r + "_") for r in reg_registry.REGULARIZERS):
            problems.add("search.metric", f"unknown metric {m!r}: use one of {', '.join(OBJECTIVES)} or a regularizer's own metric (<regularizer>_<name>, e.g. sal_params)")
    if s.num_samples < 1:
        problems.add("search.num_samples", f"must be >= 1, got {s.num_samples}")
    if s.max_concurrent < 0 or s.max_failures < 0 or s.grace_period < 1 or s.reduction_factor < 2:
        problems.add("search", "max_concurrent >= 0, max_failures >= 0, grace_period >= 1 and reduction_factor >= 2 must hold")
    if s.sampler == "grid":
        for p in space:
            if p.type in ("float", "int") and p.step is None:
                problems.add(f"space.{p.path}", "a grid sweep needs step: on every float/int parameter (or make it categorical)")
    return s


def with_data_root(spec: SweepSpec, root: str) -> SweepSpec:
    """``spec`` with ``dataset.root`` replaced (``--data-root``), resolved like the YAML's."""
    import copy
    import dataclasses

    base = copy.deepcopy(spec.base)
    base["dataset"]["root"] = str(Path(os.path.expandvars(root)).expanduser().resolve())
    return dataclasses.replace(spec, base=base)
