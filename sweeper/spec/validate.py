"""Load and validate a sweep YAML into a frozen ``SweepSpec``.

Every problem is collected and reported at once, each with its YAML path
(``SpecError``; the CLI prints it and exits 2). YAML is read with
``yaml.safe_load`` only. The schema (docs/reference/spec.md):

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

Validation rules beyond types (docs/reference/spec.md, "Rules"):

- the file is read by ``sweeper.spec.yamlsafe`` (size, UTF-8, depth, no aliases, no duplicate keys);
- ``name`` is a plain identifier (``sweeper.spec.names``); every number must be finite;
- every section is checked against its registry entry's ``Params`` (torch-free, see
  ``trainables.registry``) by the fields' declarations (``trainables.paramdoc``); a problem
  is reported once, at the path of the key at fault (``sweeper.spec.params_check``);
- a searched range is checked over its whole interval by interval arithmetic: a declared
  interval is convex, so ``[low, high]`` lies in it iff both ends do; rules of one entry
  (Malicious Dropout's ``rho``) live with its ``Params`` (``sweeper.spec.sections``);
- ``when:`` values must be values the named parameter can take; a registered name the
  sweep does not choose is a warning (``sweeper.spec.space_parse``);
- ``paper:`` targets name registered methods and known metrics;
- a sampled sweep whose space searches nothing runs one sample (``num_samples`` collapses
  to 1, with a warning), not the same configuration several times on the same seeds;
- a grid's size is counted without enumerating it (at most ``MAX_GRID`` points);
- seeds and ``sampler_seed`` lie in [0, 2^32 - 1]; ``num_samples`` at most ``MAX_SAMPLES``.

The validator imports neither torch nor Ray.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sweeper.spec import names as names_mod
from sweeper.spec import paper as paper_spec
from sweeper.spec.checks import Problems, close, mapping, type_msg
from sweeper.spec.model import (
    MAX_GRID,
    MAX_SEED,
    OBJECTIVES,
    PAPER_METRICS,
    TOP_KEYS,
    Param,
    Resources,
    Search,
    SpecError,
    SweepSpec,
)
from sweeper.spec.params_check import build, field_types
from sweeper.spec.racing_check import parse_racing
from sweeper.spec.search_check import declared, parse_search, regularizer_names
from sweeper.spec.sections import TABLES, check_section, check_train, parse_section
from sweeper.spec.space_parse import check_when, parse_space
from sweeper.spec.yamlsafe import YamlRefused, excerpt
from sweeper.spec.yamlsafe import read as read_yaml
from trainables.config import TrainConfig


def load(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else "no such file"
        raise SpecError(str(path), [f"{path}: {what}" + ("" if what == "no such file" else "; a spec is a YAML file")])
    try:
        raw = read_yaml(path)
    except YamlRefused as e:
        raise SpecError(str(path), e.problems) from None
    return from_dict(raw, source=str(path))


def from_dict(raw: Any, source: str = "<dict>") -> SweepSpec:
    """Validate ``raw`` (the YAML's data) into a ``SweepSpec``; ``SpecError`` lists every problem."""
    if not isinstance(raw, dict):
        raise SpecError(source, [f"(top): {type_msg(raw, 'a mapping with keys ' + ', '.join(sorted(TOP_KEYS)))}"])
    problems = Problems()
    name, description = _top(raw, problems)
    base = {key: s for key in TABLES if (s := parse_section(raw, key, problems)) is not None}
    base["train"] = dict(mapping(raw, "train", "a mapping", problems))
    space = parse_space(mapping(raw, "space", "a mapping of dotted paths to distributions", problems),
                        field_types(TrainConfig), problems)
    check_when(space, TABLES, problems)
    for key in TABLES:
        if key in base:
            check_section(key, base[key], space, problems)
    check_train(base["train"], space, problems)
    seeds = _seeds(raw, problems)
    search_raw = mapping(raw, "search", "a mapping", problems)
    search = _one_sample(parse_search(search_raw, space, base, problems), raw, space, problems)
    search = dataclasses.replace(search, racing=parse_racing(search_raw.get("racing"), seeds, search, problems))
    resources = _resources(raw, problems)
    if not problems and search.sampler == "grid":
        _grid_size(SweepSpec(name=name, description="", base=base, space=tuple(space), seeds=tuple(seeds),
                             search=search, resources=resources), problems)
    paper = _paper(raw.get("paper"), space, base, problems)
    if problems:
        raise SpecError(source, list(problems))
    return SweepSpec(name=name, description=description, base=base, space=tuple(space), seeds=tuple(seeds),
                     search=search, resources=resources, source=source, paper=paper,
                     warnings=tuple(problems.warnings))


def _top(raw: dict, problems: Problems) -> tuple[Any, str]:
    """Unknown top-level keys, ``name`` and ``description``."""
    for k in raw:
        if k not in TOP_KEYS:
            problems.add(str(k)[:60], f"unknown top-level key; valid keys are {', '.join(sorted(TOP_KEYS))}" + close(k, TOP_KEYS))
    name = raw.get("name")
    if (m := names_mod.problem(name)) is not None:
        problems.add("name", m)
    description = raw.get("description") or ""
    if not isinstance(description, str):
        problems.add("description", type_msg(description, "a string of at most 10,000 characters"))
        return name, ""
    if len(description) > 10_000:
        problems.add("description", f"{len(description):,} characters (at most 10,000)")
        return name, ""
    return name, description


def _seeds(raw: dict, problems: Problems) -> list[int]:
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        problems.add("seeds", type_msg(seeds, "a non-empty list of integers"))
        return [0]
    if any(not 0 <= x <= MAX_SEED for x in seeds):
        bad = next(x for x in seeds if not 0 <= x <= MAX_SEED)
        problems.add("seeds", f"each seed must be in [0, {MAX_SEED}], got {excerpt(bad)}")
    elif len(set(seeds)) != len(seeds):
        problems.add("seeds", f"seeds must be distinct, got {excerpt(seeds)}")
    return seeds


def _resources(raw: dict, problems: Problems) -> Resources | None:
    res = raw.get("resources") or {}
    if not isinstance(res, dict):
        problems.add("resources", type_msg(res, "a mapping {cpu: .., gpu: ..}"))
        return None
    good = build(Resources, res, "resources", problems)
    if good is None or len(good) != len(res):
        return None
    resources = Resources(**good)
    if not 0 < resources.cpu <= 4096:
        problems.add("resources.cpu", f"must be in (0, 4096], got {resources.cpu}")
    if not 0 <= resources.gpu <= 64:
        problems.add("resources.gpu", f"must be in [0, 64], got {resources.gpu}")
    return resources


def _one_sample(search: Search, raw: dict, space: list[Param], problems: Problems) -> Search:
    """A sampled sweep whose space searches nothing (only fixed values) has one configuration:
    ``num_samples`` > 1 would run it that many times on the same seeds, so it collapses to 1 with a
    warning (replicates are ``seeds:``)."""
    if search.sampler == "grid" or search.num_samples <= 1 or any(p.type != "fixed" for p in space):
        return search
    given = isinstance(raw.get("search"), dict) and "num_samples" in raw["search"]
    problems.warn("search.num_samples", f"{search.num_samples}{'' if given else ' (the default)'} samples of a space "
                  "that searches nothing would run the same configuration on the same seeds; running 1 "
                  "(replicates: list more seeds)")
    return dataclasses.replace(search, num_samples=1)


def _grid_size(spec0: SweepSpec, problems: Problems) -> None:
    n = spec0.grid_size()
    if n * len(spec0.seeds) > MAX_GRID:
        problems.add("space", f"the grid has {'more than ' + format(MAX_GRID, ',') if n > MAX_GRID else format(n, ',')} "
                     f"configurations x {len(spec0.seeds)} seed(s): at most {MAX_GRID:,} trials; use fewer values or a sampler")


def _paper(raw: Any, space: list[Param], base: dict, problems: Problems) -> dict | None:
    """The optional ``paper:`` block (``sweeper.spec.paper``): a target names a registered method (one
    this sweep does not run is fine: the report lists it as not run) and known metrics."""
    block, found = paper_spec.parse(raw, {p.path for p in space})
    for path, msg in found:
        problems.add(path, msg)
    regs = regularizer_names(base, space)
    every = list(TABLES["regularizer"])
    for key, mets in ((block or {}).get("targets") or {}).items():
        if "=" not in key and key not in TABLES["regularizer"]:
            problems.add(f"paper.targets.{key}", f"{excerpt(key)} is no registered regularizer; valid are "
                         f"{', '.join(sorted(every))}" + close(key, every))
        for m in mets:
            if m not in PAPER_METRICS and not declared(m, every):
                own = sorted({x for n in regs for x in TABLES["regularizer"][n].params.METRICS})
                problems.add(f"paper.targets.{key}.{m}", f"unknown metric {excerpt(m)}: use one of "
                             f"{', '.join(PAPER_METRICS)}"
                             + (f", or one a regularizer declares ({', '.join(own)})" if own else "")
                             + close(m, [*OBJECTIVES, *PAPER_METRICS, *own]))
    return block
