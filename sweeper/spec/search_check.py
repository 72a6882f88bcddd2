"""The ``search:`` section: sampler, budget, objective(s), scheduler, periods, each checked.

Objectives are the common metrics (``OBJECTIVES``) or a metric one of this sweep's
regularizers declares (its ``Params.METRICS``; ``{i}`` is a 1-based layer index).
"""
from __future__ import annotations

import re
from typing import Any

from sweeper.spec.checks import Problems, close, type_msg
from sweeper.spec.model import ASHA_KEYS, MAX_SAMPLES, MAX_SEED, OBJECTIVES, SAMPLERS, SCHEDULERS, TRIAL_FIGURES, Param, Search
from sweeper.spec.params_check import build
from sweeper.spec.space_parse import param_values
from sweeper.spec.yamlsafe import excerpt
from trainables import regularizers as reg_registry

BOUNDS = (("num_samples", 1, MAX_SAMPLES), ("sampler_seed", 0, MAX_SEED), ("max_concurrent", 0, 100_000),
          ("max_failures", 0, 1000), ("grace_period", 1, 100_000), ("reduction_factor", 2, 1000))


def regularizer_names(base: dict, space: list[Param]) -> list[str]:
    """Registry names of every regularizer the sweep can run."""
    out = []
    if base.get("regularizer") and isinstance(base["regularizer"].get("name"), str):
        out.append(base["regularizer"]["name"])
    for p in space:
        if p.path == "regularizer.name":
            out += [v for v in param_values(p) if isinstance(v, str)]
    return [n for n in dict.fromkeys(out) if n in reg_registry.REGULARIZERS]


def declared(metric: str, names: list[str]) -> bool:
    """Whether one of regularizers ``names`` declares ``metric`` (``{i}``: a 1-based layer index)."""
    for n in names:
        for m in reg_registry.params(n).METRICS:
            if re.fullmatch(re.escape(m).replace(re.escape("{i}"), r"[1-9][0-9]*"), metric):
                return True
    return False


def _merge_asha(vals: dict, problems: Problems) -> dict | None:
    """``search.asha: {grace_period, reduction_factor}`` merged into ``vals`` (each key once)."""
    asha = vals.pop("asha", None)
    if asha is not None and not isinstance(asha, dict):
        problems.add("search.asha", type_msg(asha, "a mapping {grace_period: .., reduction_factor: ..}"))
        return None
    for k in asha or {}:
        if k not in ASHA_KEYS:
            problems.add(f"search.asha.{k}", f"unknown key; valid keys are {', '.join(ASHA_KEYS)}" + close(k, ASHA_KEYS))
        elif k in vals:
            problems.add(f"search.asha.{k}", f"given twice: also as search.{k}")
        else:
            vals[k] = asha[k]
    return asha


def _as_lists(vals: dict, problems: Problems) -> None:
    for k in ("metric", "mode"):
        if k in vals:
            if isinstance(vals[k], list) and not vals[k]:
                problems.add(f"search.{k}", "an empty list: give at least one")
                del vals[k]
            else:
                vals[k] = tuple(vals[k]) if isinstance(vals[k], list) else (vals[k],)


def parse_search(raw: dict, space: list[Param], base: dict, problems: Problems) -> Search:
    vals = dict(raw)
    vals.pop("racing", None)  # checked against the seeds: sweeper/spec/racing_check.py
    asha = _merge_asha(vals, problems)
    _as_lists(vals, problems)
    good = build(Search, vals, "search", problems)
    s = Search(**good) if good is not None else Search()
    given = set(good or {})
    _check_choices(s, given, problems)
    _check_metrics(s, regularizer_names(base, space), problems)
    for k, lo, hi in BOUNDS:
        v = getattr(s, k)
        if k in given and not lo <= v <= hi:
            problems.add(f"search.asha.{k}" if isinstance(asha, dict) and k in asha else f"search.{k}",
                         f"must be in [{lo}, {hi:,}], got {excerpt(v)}")
    _check_periods(s, problems)
    if s.sampler == "grid":
        for p in space:
            if p.type in ("float", "int") and p.step is None:
                problems.add(f"space.{p.path}", "a grid sweep needs step: on every float/int parameter (or make it categorical)")
    return s


def _check_choices(s: Search, given: set, problems: Problems) -> None:
    if "sampler" in given and s.sampler not in SAMPLERS:
        problems.add("search.sampler", f"must be one of {', '.join(SAMPLERS)}, got {excerpt(s.sampler)}"
                     + close(s.sampler, SAMPLERS))
    if "scheduler" in given and s.scheduler not in SCHEDULERS:
        problems.add("search.scheduler", f"must be one of {', '.join(SCHEDULERS)}, got {excerpt(s.scheduler)}"
                     + close(s.scheduler, SCHEDULERS))
    if s.trial_figures not in TRIAL_FIGURES:
        problems.add("search.trial_figures", f"must be one of {', '.join(TRIAL_FIGURES)}, got {excerpt(s.trial_figures)}"
                     + close(str(s.trial_figures), TRIAL_FIGURES))
    if any(m not in ("min", "max") for m in s.mode):
        problems.add("search.mode", f"each mode must be min or max, got {excerpt(list(s.mode))}")
    if len(s.metric) != len(s.mode) and {"metric", "mode"} <= given:
        problems.add("search.mode", f"metric and mode must have the same length, got {len(s.metric)} and {len(s.mode)}")
    if len(s.metric) > 1 and s.sampler in SAMPLERS and s.sampler not in ("nsga2", "random", "tpe"):
        problems.add("search.sampler", "several metrics need the nsga2, tpe or random sampler")
    if len(s.metric) > 1 and s.scheduler == "asha":
        problems.add("search.scheduler", "asha early stopping needs a single metric")


def _check_metrics(s: Search, regs: list[str], problems: Problems) -> None:
    for m in s.metric:
        if m not in OBJECTIVES and not declared(m, regs):
            own = sorted({x for n in regs for x in reg_registry.params(n).METRICS})
            problems.add("search.metric", f"unknown metric {excerpt(m)}: use one of {', '.join(OBJECTIVES)}"
                         + (f", or one this sweep's regularizers report: {', '.join(own)}" if own else "")
                         + close(m, [*OBJECTIVES, *own]))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_periods(s: Search, problems: Problems) -> None:
    if not (_number(s.checkpoint_every_s) and s.checkpoint_every_s >= 0):
        problems.add("search.checkpoint_every_s",
                     f"must be a number of seconds >= 0 (0: every epoch), got {s.checkpoint_every_s!r}")
    if not (_number(s.snapshot_every_s) and 0 < s.snapshot_every_s <= 86_400):
        problems.add("search.snapshot_every_s", f"must be a number of seconds in (0, 86400], got {excerpt(s.snapshot_every_s)}")
    if s.trial_timeout_s is not None and not s.trial_timeout_s > 0:
        problems.add("search.trial_timeout_s",
                     f"must be a number of seconds > 0 (or absent: no limit), got {excerpt(s.trial_timeout_s)}")
