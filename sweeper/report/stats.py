"""Statistics of a sweep's seeds, on scipy.stats. Pure functions on arrays; no pandas needed.

Seeds are a blocking factor: two configurations run on the same seeds (same data order and init stream),
so configurations are compared seed by seed on d_i = a_i - b_i over the seeds both finished.

- ``t_interval``: mean ± t_{0.975, n-1} * s / sqrt(n) (Student t, s the sample sd with ddof 1).
- ``paired``: for d_i, i = 1..n (from ``MIN_PAIRED`` = 3 paired seeds on for the interval, the t-test and
  d_z: with 2 seeds t_{0.975,1} = 12.7 and the t-test has 1 degree of freedom, so neither tells a reader
  anything; below 3 the report prints the per-seed differences instead):
  * mean difference with the Student-t 95% interval above, and a paired (percentile) bootstrap 95%
    interval (``scipy.stats.bootstrap`` over the seeds, 9,999 resamples, fixed seed 0) from
    ``BOOT_MIN_N`` = 8 paired seeds on (fewer seeds give too few distinct resamples to mean anything);
  * the paired t-test (``scipy.stats.ttest_rel``): t = mean(d) / (s_d / sqrt(n)), n - 1 df, two-sided;
  * an exact test without a normality assumption: the sign-flip permutation test of mean(d)
    (``scipy.stats.permutation_test``, permutation_type="samples", all 2^n sign assignments enumerated,
    two-sided). Exact under the null that each d_i is symmetric about 0; valid with ties and zero
    differences (the exact Wilcoxon signed-rank test is not). Its smallest attainable p is 2 / 2^n
    (n = 5: 0.0625, so no 5-seed comparison can be "significant at 0.05" by this test; the report says so);
  * effect size Cohen's d_z = mean(d) / s_d.
- ``holm``: Holm's step-down adjustment over a family of m p-values: sort ascending p_(1) <= ... <= p_(m),
  adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
- ``friedman``: Friedman's chi-square over a blocks x treatments table (``scipy.stats.friedmanchisquare``)
  with average ranks (``scipy.stats.rankdata``, ties get the mean rank).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

LEVEL = 0.95
BOOT_RESAMPLES = 9999
BOOT_SEED = 0
# A percentile bootstrap over n seeds has at most C(2n-1, n) distinct resample means (10 for n = 3,
# 126 for n = 5) and under-covers badly at such n; below this many paired seeds ``paired`` reports no
# bootstrap interval rather than one that means little (the Student-t interval is always given).
BOOT_MIN_N = 8
MIN_PAIRED = 3  # fewer paired seeds: no interval, t-test or d_z (the per-seed differences are reported)
EXACT_TEST = "exact sign-flip permutation test (two-sided, all 2^n sign assignments)"
T_TEST = "paired t-test (two-sided)"


def finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[np.isfinite(v)]


@dataclass(frozen=True)
class Interval:
    """Mean of n values with the half-width of its Student-t interval (NaN when n < 2)."""

    mean: float
    half: float
    n: int
    values: tuple[float, ...] = ()

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def t_interval(values, level: float = LEVEL) -> Interval:
    v = finite(values)
    if len(v) == 0:
        return Interval(float("nan"), float("nan"), 0)
    if len(v) < 2:
        return Interval(float(v.mean()), float("nan"), 1, tuple(v))
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return Interval(float(v.mean()), float(half), len(v), tuple(v))


def mean_ci(values, level: float = LEVEL) -> tuple[float, float]:
    """(mean, half-width of the ``level`` Student-t interval); half-width NaN for n < 2."""
    i = t_interval(values, level)
    return i.mean, i.half


def min_exact_p(n: int) -> float:
    """Smallest two-sided p the exact sign-flip (or exact Wilcoxon signed-rank) test reaches with n pairs."""
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def sign_flip_p(d) -> float:
    """Exact two-sided sign-flip permutation p-value of mean(d) (NaN for n < 1; 1.0 when every d is 0)."""
    d = finite(d)
    if len(d) == 0:
        return float("nan")
    if len(d) == 1 or np.all(d == 0):
        return 1.0  # both sign assignments of one pair are equally extreme
    res = stats.permutation_test(
        (d,), np.mean, permutation_type="samples", alternative="two-sided", n_resamples=np.inf
    )
    return float(min(1.0, res.pvalue))


def bootstrap_ci(d, level: float = LEVEL, seed: int = BOOT_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(d) over resampled seeds (NaN for n < 2 or constant d)."""
    d = finite(d)
    if len(d) < 2 or np.all(d == d[0]):
        return float("nan"), float("nan")
    res = stats.bootstrap(
        (d,), np.mean, confidence_level=level, n_resamples=BOOT_RESAMPLES, method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class Paired:
    """Paired comparison a - b over the seeds both finished."""

    n: int
    seeds: tuple = ()
    diffs: tuple[float, ...] = ()
    mean_diff: float = float("nan")
    t_half: float = float("nan")
    boot_low: float = float("nan")
    boot_high: float = float("nan")
    t_stat: float = float("nan")
    t_p: float = float("nan")
    exact_p: float = float("nan")
    exact_min_p: float = 1.0
    dz: float = float("nan")
    t_test: str = T_TEST
    exact_test: str = EXACT_TEST
    notes: tuple[str, ...] = field(default=())


def paired(a: dict, b: dict, level: float = LEVEL) -> Paired:
    """Compare ``a`` and ``b`` ({seed: value}) on the seeds present and finite in both."""
    seeds = tuple(sorted(s for s in a if s in b and np.isfinite(a[s]) and np.isfinite(b[s])))
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    n = len(d)
    if n == 0:
        return Paired(0, notes=("no seed finished in both",))
    mean = float(d.mean())
    if n < MIN_PAIRED:
        return Paired(n, seeds, tuple(map(float, d)), mean, exact_p=sign_flip_p(d), exact_min_p=min_exact_p(n),
                      notes=(f"{n} paired seed{'s' if n > 1 else ''}: no interval or t-test below {MIN_PAIRED}",))
    sd = float(d.std(ddof=1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    lo, hi = bootstrap_ci(d, level) if n >= BOOT_MIN_N else (float("nan"), float("nan"))
    if sd > 0:
        tt = stats.ttest_rel(np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds]))
        t_stat, t_p, dz = float(tt.statistic), float(tt.pvalue), mean / sd
    else:
        t_stat, t_p, dz = float("nan"), float("nan"), float("nan")
    return Paired(n, seeds, tuple(map(float, d)), mean, float(half), lo, hi, t_stat, t_p, sign_flip_p(d), min_exact_p(n), dz)


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order; NaNs are left out of the family and kept NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def average_ranks(table: np.ndarray, mode: str = "min") -> np.ndarray:
    """Mean rank per column of a blocks x treatments table; rank 1 = best (lowest for mode min)."""
    t = np.asarray(table, dtype=float)
    r = stats.rankdata(t if mode == "min" else -t, axis=1)
    return r.mean(axis=0)


@dataclass(frozen=True)
class Friedman:
    statistic: float
    p: float
    n_blocks: int
    k: int


def friedman(table: np.ndarray) -> Friedman:
    """Friedman test over a blocks (rows: sweeps) x treatments (columns: methods) table.

    scipy requires at least 3 treatments; with fewer, or fewer than 2 blocks, statistic and p are NaN."""
    t = np.asarray(table, dtype=float)
    n, k = t.shape
    if k < 3 or n < 2:
        return Friedman(float("nan"), float("nan"), n, k)
    res = stats.friedmanchisquare(*[t[:, j] for j in range(k)])
    return Friedman(float(res.statistic), float(res.pvalue), n, k)
