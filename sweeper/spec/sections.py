"""The registry sections ``dataset``, ``model``, ``regularizer`` (and ``train``): names and parameters.

Each section is ``{name: ..., params: {...}}`` (``dataset`` also ``root``); its name is a
registry entry whose torch-free ``Params`` class checks the fixed params; every searched
``section.<field>`` is checked, for every name it can apply to, over its whole range
(``sweeper.spec.params_check``). A field declared ``read_when`` another field takes some values
(Malicious Dropout's ``rho``: schedule standard or periodic) is refused where it is set but
would be ignored.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sweeper.spec.checks import Problems, close, type_msg
from sweeper.spec.model import Param
from sweeper.spec.params_check import build, construct, field_types, searched_message, searched_problem
from sweeper.spec.space_parse import candidates, param_values
from sweeper.spec.yamlsafe import excerpt
from trainables import data as data_registry
from trainables import models as model_registry
from trainables import paramdoc
from trainables import regularizers as reg_registry
from trainables.config import TrainConfig
from trainables.registry import UnknownName

REGISTRIES = {"dataset": data_registry, "model": model_registry, "regularizer": reg_registry}
TABLES = {"dataset": data_registry.DATASETS, "model": model_registry.MODELS, "regularizer": reg_registry.REGULARIZERS}


def parse_section(raw: dict, key: str, problems: Problems) -> dict | None:
    """``raw[key]`` as ``{name, params}`` (plus ``root`` for the dataset), or None with the problem added."""
    s = raw.get(key)
    if s is None:
        problems.add(key, f"missing; give {{name: ..., params: {{...}}}}; valid names: {', '.join(TABLES[key])}")
        return None
    if isinstance(s, str):
        s = {"name": s}
    if not isinstance(s, dict):
        problems.add(key, type_msg(s, "a mapping {name: ..., params: {...}}"))
        return None
    allowed = {"name", "params"} | ({"root"} if key == "dataset" else set())
    for k in s:
        if k not in allowed:
            problems.add(f"{key}.{excerpt(k) if not isinstance(k, str) else k}",
                         f"unknown key; valid keys are {', '.join(sorted(allowed))}" + close(k, allowed))
    params = s.get("params") or {}
    if not isinstance(params, dict):
        problems.add(f"{key}.params", type_msg(params, "a mapping"))
        params = {}
    out = {"name": s.get("name"), "params": dict(params)}
    if key == "dataset":
        out["root"] = _root(s.get("root"), problems)
    return out


def _root(root: Any, problems: Problems) -> str | None:
    """``dataset.root``: a path string, resolved against where sweeper runs (Tune starts each trial in
    its own folder, so a relative path would point elsewhere inside the trial); a URL is kept."""
    if root is None:
        return None
    if not isinstance(root, str) or "\0" in root or len(root) > 4096:
        problems.add("dataset.root", type_msg(root, "a path string"))
        return None
    return root if "://" in root else str(Path(os.path.expandvars(root)).expanduser().resolve())


def registry_params(key: str, name: Any, path: str, problems: Problems) -> type | None:
    """The ``Params`` class of a registry name (torch-free), or None with the problem added."""
    if not isinstance(name, str):
        problems.add(path, type_msg(name, "a name string"))
        return None
    try:
        return REGISTRIES[key].params(name)
    except UnknownName as e:
        problems.add(path, f"unknown {key} {excerpt(name)}: valid are {', '.join(sorted(TABLES[key]))}"
                     + close(name, TABLES[key]) if len(name) > 60 else str(e))
        return None


def section_names(key: str, s: dict, space: list[Param], problems: Problems) -> list:
    """Every name section ``key`` can take: its own and those of a searched ``key.name`` (first wins)."""
    names = [s["name"]] if s["name"] is not None else []
    p = next((q for q in space if q.path == f"{key}.name"), None)
    if p is None:
        if s["name"] is None:
            problems.add(f"{key}.name", "missing")
        return names
    if p.type not in ("categorical", "fixed"):
        problems.add(f"space.{key}.name", "a name can only be categorical or fixed")
    every = [*names, *param_values(p)]
    names = [n for i, n in enumerate(every) if n not in every[:i]]  # by equality: a value may be unhashable
    if s["name"] is None:
        s["name"] = names[0]
    return names


def check_section(key: str, s: dict, space: list[Param], problems: Problems) -> None:
    """Names and params of one registry section, including every value the space can give them."""
    for n in section_names(key, s, space, problems):
        in_base = n == s["name"]
        cls = registry_params(key, n, f"{key}.name" if in_base else f"space.{key}.name", problems)
        if cls is not None:
            fixed = build(cls, s["params"] if in_base else {}, f"{key}.params", problems if in_base else Problems()) or {}
            check_searched(key, cls, fixed, space, n, s["name"], problems)
            check_read_when(key, cls, n, s if in_base else None, space, problems)


def check_searched(key: str, cls: type, fixed: dict, space: list[Param], name: str, base_name: str,
                   problems: Problems) -> None:
    """Every searched ``key.<field>`` that applies to entry ``name`` (class ``cls``), over its whole range."""
    types = field_types(cls)
    for p in space:
        sec, _, field_name = p.path.partition(".")
        if sec != key or field_name == "name":
            continue
        cands = candidates(key, p, space, base_name)
        if name not in cands:
            continue
        if field_name not in types:
            restrict = "" if len(cands) == 1 else f" (restrict it with when: {{{key}.name: ...}})"
            problems.add(f"space.{p.path}", f"{key} {name!r} has no parameter {field_name!r}; valid are "
                         f"{', '.join(types) or '(none)'}" + close(field_name, types) + restrict)
            continue
        base = {k: v for k, v in fixed.items() if k != field_name}
        if construct(cls, base) is not None:
            base = {}
        if (found := searched_problem(cls, field_name, p, base, fixed)) is not None:
            problems.add(f"space.{p.path}", searched_message(key, name, p, found))


def check_train(train: dict, space: list[Param], problems: Problems) -> None:
    """The ``train:`` section against ``TrainConfig``, and every searched ``train.<field>``."""
    good = build(TrainConfig, train, "train", problems) or {}
    for p in space:
        sec, _, field_name = p.path.partition(".")
        if sec == "train":
            rest = {k: v for k, v in good.items() if k != field_name}
            if (found := searched_problem(TrainConfig, field_name, p, rest)) is not None:
                problems.add(f"space.{p.path}", f"value {excerpt(found[0])} is invalid: {found[1]}")


def _reachable(key: str, other: str, s: dict | None, space: list[Param], when: dict) -> list[str]:
    """The values field ``other`` can have where a value is set under conditions ``when``: the
    condition's own, else the searched/fixed ones plus the base value where the space's entry may
    be inactive (its own ``when:``)."""
    if f"{key}.{other}" in when:
        return [str(v) for v in when[f"{key}.{other}"]]
    q = next((p for p in space if p.path == f"{key}.{other}"), None)
    base = ((s or {}).get("params") or {}).get(other)
    out = [] if q is None else [str(v) for v in param_values(q)]
    if q is None or q.when:
        out.append(str(base) if base is not None else "<default>")
    return out


def check_read_when(key: str, cls: type, name: str, s: dict | None, space: list[Param], problems: Problems) -> None:
    """Refuse a field set (fixed, searched, or fixed in the space) where another field's value makes
    the entry ignore it (``paramdoc.param(read_when=...)``)."""
    for d in paramdoc.decls(cls).values():
        if d.read_when is None:
            continue
        other, reading = d.read_when
        default = str(paramdoc.decls(cls)[other].default)
        targets = [(f"{key}.params.{d.name}", {})] if s is not None and d.name in (s.get("params") or {}) else []
        targets += [(f"space.{p.path}", dict(p.when)) for p in space
                    if p.path == f"{key}.{d.name}" and name in candidates(key, p, space, s["name"] if s else "")]
        for where, when in targets:
            values = {default if v == "<default>" else v for v in _reachable(key, other, s, space, when)}
            ignored = sorted(values - {str(v) for v in reading})
            if ignored:
                problems.add(where, f"{name}'s {'/'.join(ignored)} {other}(s) ignore {d.name}: {d.why}")
