"""The ``search.racing:`` block: F-Race over seeds (``sweeper/search/racing.py``), checked against the seeds.

``{min_seeds: 3, max_seeds: <every seed>, alpha: 0.05, test: friedman}``; rules: ``2 <= min_seeds <= max_seeds <=
len(seeds)``, ``0 < alpha < 1``, ``test`` one of ``RACING_TESTS``, and a single objective (a race ranks by one
metric). Any sampler may race, ``grid`` too (the grid is the candidate set). ``max_seeds`` is resolved here, once:
absent means ``len(seeds)``.
"""
from __future__ import annotations

from typing import Any

from sweeper.spec.checks import Problems, close, type_msg
from sweeper.spec.model import RACING_KEYS, RACING_TESTS, Racing, Search
from sweeper.spec.yamlsafe import excerpt


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_racing(raw: Any, seeds: list[int], search: Search, problems: Problems) -> Racing | None:
    """``search.racing`` as a ``Racing`` (None when absent: the full design), each problem at its own path."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add("search.racing", type_msg(raw, "a mapping {min_seeds: .., max_seeds: .., alpha: .., test: ..}"))
        return None
    n = len(seeds)
    for k in raw:
        if k not in RACING_KEYS:
            problems.add(f"search.racing.{k}", f"unknown key; valid keys are {', '.join(RACING_KEYS)}" + close(k, RACING_KEYS))
    lo, hi, alpha, test = raw.get("min_seeds", 3), raw.get("max_seeds", n), raw.get("alpha", 0.05), raw.get("test", "friedman")
    ok = len(problems)
    if n < 2:
        problems.add("search.racing", f"racing needs at least 2 seeds to compare on; the spec has {n} "
                     "(give `seeds: [0, 1, 2, ...]`, or remove search.racing)")
        return None
    if not (_int(lo) and 2 <= lo <= n):
        problems.add("search.racing.min_seeds", f"must be an integer in [2, {n}] (the spec has {n} seed(s)), "
                     f"got {excerpt(lo)}")
    if not (_int(hi) and 2 <= hi <= n):
        problems.add("search.racing.max_seeds", f"must be an integer in [min_seeds, {n}] (the spec's seeds), got {excerpt(hi)}")
    elif _int(lo) and 2 <= lo <= n and lo > hi:
        problems.add("search.racing.max_seeds", f"must be >= min_seeds ({lo}), got {hi}")
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 < alpha < 1):
        problems.add("search.racing.alpha", f"must be a number in (0, 1), got {excerpt(alpha)}")
    if test not in RACING_TESTS:
        problems.add("search.racing.test", f"must be one of {', '.join(RACING_TESTS)}, got {excerpt(test)}"
                     + close(str(test), RACING_TESTS))
    if len(search.metric) > 1:
        problems.add("search.racing", f"racing ranks by one metric; got {len(search.metric)} (search.metric)")
    if len(problems) > ok:
        return None
    return Racing(min_seeds=lo, max_seeds=hi, alpha=float(alpha), test=test)
