"""Racing over seeds: F-Race (Birattari, Stützle, Paquete, Varrentrapp, GECCO 2002), the pure decision core.

A *race* is a set of candidate configurations (their config keys) that share one seed order ``seeds``.
Seeds are the blocking factor: every comparison is paired on the seeds the compared configurations share.

Rounds. Round ``k`` (``k = min_seeds, min_seeds + 1, ..., max_seeds``) compares exactly the configurations
alive at ``k`` on ``seeds[:k]``, and is decided only once every one of them has a result on each of those seeds.
The race is therefore a deterministic function of the results: :func:`replay` rebuilds it from any table of
results (``sweeper resume``, the report, the benchmark), and a live searcher that calls it after every result
gets the same race whatever order the trials finished in. The race ends when one configuration is alive or
round ``max_seeds`` has been decided.

Values. Results are made "lower is better" (``mode: max`` negates them). A seed that failed or diverged
(``None`` or a non-finite value) counts as the worst value on that seed: in the table of a round it becomes
``worst_i + span`` (``worst_i``: the largest finite value on that seed among the compared configurations, or
of the whole table when none finished on it; ``span``: the range of the table's finite values, 1 when it is
0), so it ranks last on its seed (failures on one seed tie with each other) and, for the tests that use
magnitudes, its difference to any finished value on that seed exceeds every finite difference there.

Tests (``racing.test``):

- ``friedman`` (F-Race). With ``m >= 3`` alive: the Friedman omnibus test over the ``b = k`` seeds
  (``scipy.stats.friedmanchisquare``, chi-square with ``m - 1`` df, tie-corrected). If its p < alpha, each alive
  configuration ``j`` is compared with the best ``*`` (lowest rank sum ``R_*``) by Conover's rank statistic for
  the Friedman design (W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, section 5.8, eq. 5;
  the post-hoc of F-Race and irace, López-Ibáñez et al. 2016)::

      R_j = sum_i R(x_ij)   (ranks within each seed i, mid-ranks for ties)
      A   = sum_ij R(x_ij)^2
      t_j = |R_j - R_*| / sqrt( 2 (b A - sum_l R_l^2) / ((b - 1)(m - 1)) ),   df = (b - 1)(m - 1)
      p_j = 2 * (1 - T_df(t_j))

  (a zero denominator, every seed ranking the same way with no ties, gives p = 0 for a different rank sum and
  p = 1 for an equal one). With exactly 2 alive there is no omnibus: the Wilcoxon signed-rank test of the pair
  (``scipy.stats.wilcoxon``, two-sided, exact for small ``b``), as F-Race does.
- ``t-test``: paired t-tests (``scipy.stats.ttest_rel``, two-sided) of each alive configuration against the best
  (lowest mean value), no omnibus.

Power: the Friedman statistic over ``b`` seeds is at most ``b (m - 1)`` (every seed ranks the same way), so with
``b = 2`` seeds its omnibus p stays above 0.05 for fewer than 9 configurations; ``t-test`` (or more seeds) is the
choice for a small race started on 2 seeds. Wilcoxon's exact two-sided p is at least ``2 / 2^b``: two
configurations are told apart from 6 seeds on.

The ``m - 1`` comparisons against the best of one round are one family: their p-values are Holm-adjusted
(:func:`holm`), and a configuration is eliminated when its adjusted p < alpha. The best is never eliminated.
Ties for the best (equal rank sum or mean) go to the first config key in sorted order, as does the order of
``alive``; so a round depends on the results only.

Only numpy and scipy.stats: no Ray, torch or Optuna here (the searcher, ``race_searcher.py``, drives it).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
from scipy import stats

TESTS = ("friedman", "t-test")

Values = Mapping[str, Mapping[int, "float | None"]]


class RacingSettings(Protocol):
    """What a race reads from the spec's ``search.racing`` (``sweeper.spec.model.Racing``)."""

    min_seeds: int
    max_seeds: int
    alpha: float
    test: str


@dataclass(frozen=True)
class Elimination:
    """``config`` eliminated in round ``round`` (its seed count) by ``test`` ("conover", "wilcoxon" or "t-test")
    against ``best``: ``p_value`` is Holm-adjusted over the round's family; ``omnibus_p`` the Friedman p (None
    when there was no omnibus)."""

    config: str
    round: int
    p_value: float
    omnibus_p: float | None
    test: str
    best: str


@dataclass(frozen=True)
class Round:
    """Round ``k``: the configurations ``alive`` at it (compared on ``seeds[:k]``), the Friedman p (None without
    an omnibus), the ones it eliminated, the best of the round and the Holm-adjusted p of every comparison."""

    k: int
    alive: tuple[str, ...]
    omnibus_p: float | None
    eliminated: tuple[Elimination, ...]
    best: str = ""
    p_values: dict[str, float] = field(default_factory=dict, hash=False)

    @property
    def survivors(self) -> tuple[str, ...]:
        gone = {e.config for e in self.eliminated}
        return tuple(c for c in self.alive if c not in gone)


@dataclass(frozen=True)
class RaceLog:
    """One race replayed on the results so far: its settings, the decided rounds, and where it stands.

    ``alive``: the configurations still in the race (after the last decided round); ``next_k``: the number of
    seeds (``seeds[:next_k]``) the alive configurations need for the next round, None once ``finished``."""

    name: str
    seeds: tuple[int, ...]
    min_seeds: int
    max_seeds: int
    alpha: float
    test: str
    mode: str
    candidates: tuple[str, ...]
    rounds: tuple[Round, ...]
    alive: tuple[str, ...]
    finished: bool
    next_k: int | None

    @property
    def eliminations(self) -> tuple[Elimination, ...]:
        return tuple(e for r in self.rounds for e in r.eliminated)

    def eliminated_round(self, config: str) -> int | None:
        """The round (seed count) that eliminated ``config``; None for a survivor."""
        return next((e.round for e in self.eliminations if e.config == config), None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (round-trips through :meth:`from_json`)."""
        d = asdict(self)
        for key in ("seeds", "candidates", "alive"):
            d[key] = list(d[key])
        d["rounds"] = [_round_json(r) for r in self.rounds]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RaceLog:
        rounds = tuple(
            Round(k=r["k"], alive=tuple(r["alive"]), omnibus_p=r["omnibus_p"],
                  eliminated=tuple(Elimination(**e) for e in r["eliminated"]), best=r.get("best", ""),
                  p_values=dict(r.get("p_values", {})))
            for r in d["rounds"]
        )
        return cls(name=d["name"], seeds=tuple(d["seeds"]), min_seeds=d["min_seeds"], max_seeds=d["max_seeds"],
                   alpha=d["alpha"], test=d["test"], mode=d["mode"], candidates=tuple(d["candidates"]),
                   rounds=rounds, alive=tuple(d["alive"]), finished=d["finished"], next_k=d["next_k"])

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


def _round_json(r: Round) -> dict[str, Any]:
    return {"k": r.k, "alive": list(r.alive), "omnibus_p": r.omnibus_p, "best": r.best,
            "p_values": dict(r.p_values), "eliminated": [asdict(e) for e in r.eliminated]}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979) of one family of ``n`` p-values, in the input order:
    with ``p_(1) <= ... <= p_(n)``, ``adj_(i) = max_{j <= i} min(1, (n - j + 1) p_(j))``."""
    n = len(p_values)
    order = sorted(range(n), key=lambda i: p_values[i])
    adjusted = [0.0] * n
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (n - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def loss_table(values: Values, alive: Sequence[str], seeds: Sequence[int], mode: str) -> np.ndarray:
    """The round's table, shape (seeds, configurations), lower is better; failures as the worst value
    (module docstring)."""
    sign = -1.0 if mode == "max" else 1.0
    raw = np.array([[_finite(values[c][s]) for c in alive] for s in seeds], dtype=float) * sign
    ok = np.isfinite(raw)
    if not ok.any():
        return np.zeros_like(raw)
    span = float(raw[ok].max() - raw[ok].min()) or 1.0
    worst = np.where(ok, raw, -np.inf).max(axis=1, keepdims=True)  # per seed; -inf where the seed has none
    worst = np.where(np.isfinite(worst), worst, raw[ok].max())
    return np.where(ok, raw, worst + span)


def _finite(v: float | None) -> float:
    return float(v) if v is not None and math.isfinite(v) else math.nan


def _conover(table: np.ndarray) -> tuple[int, dict[int, float]]:
    """(index of the best, {index: unadjusted two-sided p against the best}) by Conover's Friedman post-hoc."""
    b, m = table.shape
    ranks = np.apply_along_axis(stats.rankdata, 1, table)
    r = ranks.sum(axis=0)
    best = int(np.argmin(r))  # argmin: the first of equal rank sums (alive is in sorted order)
    a = float((ranks ** 2).sum())
    df = (b - 1) * (m - 1)
    denom = 2.0 * (b * a - float((r ** 2).sum())) / df
    out = {}
    for j in range(m):
        if j == best:
            continue
        diff = abs(float(r[j] - r[best]))
        if denom <= 1e-12:
            out[j] = 0.0 if diff > 0 else 1.0
        else:
            out[j] = float(2.0 * stats.t.sf(diff / math.sqrt(denom), df))
    return best, out


def _friedman(table: np.ndarray) -> float:
    ranks = np.apply_along_axis(stats.rankdata, 1, table)
    if np.all(ranks == ranks[:, :1]):
        return 1.0  # every seed ties every configuration: no difference at all
    p = float(stats.friedmanchisquare(*ranks.T).pvalue)
    return 1.0 if math.isnan(p) else p


def _wilcoxon(table: np.ndarray) -> tuple[int, dict[int, float]]:
    ranks = np.apply_along_axis(stats.rankdata, 1, table)
    best = int(np.argmin(ranks.sum(axis=0)))
    d = table[:, 1 - best] - table[:, best]
    p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d).pvalue)
    return best, {1 - best: 1.0 if math.isnan(p) else p}


def _ttests(table: np.ndarray) -> tuple[int, dict[int, float]]:
    best = int(np.argmin(table.mean(axis=0)))
    out = {}
    for j in range(table.shape[1]):
        if j == best:
            continue
        d = table[:, j] - table[:, best]
        if np.all(d == d[0]):  # no spread: a constant difference is certain, none is no difference
            out[j] = 0.0 if d[0] != 0 else 1.0
        else:
            out[j] = float(stats.ttest_rel(table[:, j], table[:, best]).pvalue)
    return best, out


def decide(values: Values, alive: Sequence[str], seeds: Sequence[int], racing: RacingSettings, mode: str,
           protected: frozenset[str] = frozenset()) -> Round:
    """Round ``k = len(seeds)`` over ``alive`` (every one has a result on every seed of ``seeds``); a
    ``protected`` configuration is compared (its p-value is in ``p_values``) but never eliminated."""
    alive = tuple(sorted(alive))
    k = len(seeds)
    table = loss_table(values, alive, seeds, mode)
    omnibus: float | None = None
    if racing.test == "t-test":
        best, raw, name = *_ttests(table), "t-test"
    elif len(alive) == 2:
        best, raw, name = *_wilcoxon(table), "wilcoxon"
    else:
        omnibus = _friedman(table)
        best, raw, name = *_conover(table), "conover"
        if omnibus >= racing.alpha:
            raw = {}  # the omnibus keeps everyone: no post-hoc (p_values stays empty)
    idx = sorted(raw)
    adjusted = dict(zip(idx, holm([raw[j] for j in idx])))
    gone = tuple(Elimination(config=alive[j], round=k, p_value=adjusted[j], omnibus_p=omnibus, test=name,
                             best=alive[best]) for j in idx if adjusted[j] < racing.alpha and alive[j] not in protected)
    return Round(k=k, alive=alive, omnibus_p=omnibus, eliminated=gone, best=alive[best],
                 p_values={alive[j]: adjusted[j] for j in idx})


def replay(values: Values, seeds: Sequence[int], racing: RacingSettings, mode: str, name: str,
           protected: frozenset[str] = frozenset()) -> RaceLog:
    """The race of the candidates ``values`` (config key -> {seed: value or None for failed}) over ``seeds``,
    decided round by round as far as the results go (module docstring). Results on seeds a configuration no
    longer needed are ignored, so replaying a full design's results gives the race run live on them.
    ``protected`` (the baseline of a final race between methods) is never eliminated."""
    seeds = tuple(seeds)
    alive = tuple(sorted(values))
    rounds: list[Round] = []
    finished = len(alive) <= 1
    k = racing.min_seeds
    while not finished and all(s in values[c] for c in alive for s in seeds[:k]):
        r = decide(values, alive, seeds[:k], racing, mode, protected)
        rounds.append(r)
        alive = r.survivors
        finished = len(alive) <= 1 or k >= racing.max_seeds
        k += 1
    return RaceLog(name=name, seeds=seeds, min_seeds=racing.min_seeds, max_seeds=racing.max_seeds,
                   alpha=racing.alpha, test=racing.test, mode=mode, candidates=tuple(sorted(values)),
                   rounds=tuple(rounds), alive=alive, finished=finished, next_k=None if finished else k)
