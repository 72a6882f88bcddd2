"""sweeper.report.stats against values computed independently (by hand or directly with scipy) on small fixed tables."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from sweeper.report import stats as S

A = {0: 0.050, 1: 0.060, 2: 0.055, 3: 0.070, 4: 0.052}
B = {0: 0.060, 1: 0.070, 2: 0.058, 3: 0.072, 4: 0.060}
D = np.array([-0.010, -0.010, -0.003, -0.002, -0.008])  # A - B by hand


def test_t_interval_by_hand():
    iv = S.t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + 1 + 4) / 4)  # 1.5811
    assert iv.mean == 3.0 and iv.n == 5
    assert iv.half == pytest.approx(2.7764451 * sd / math.sqrt(5), rel=1e-6)  # t_{0.975,4} = 2.776445
    one = S.t_interval([0.2, float("nan")])
    assert one.n == 1 and math.isnan(one.half) and one.mean == 0.2


def test_paired_t_by_hand():
    p = S.paired(A, B)
    assert p.n == 5 and p.seeds == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(p.diffs, D, atol=1e-12)
    mean, sd = D.mean(), D.std(ddof=1)
    t = mean / (sd / math.sqrt(5))
    assert p.mean_diff == pytest.approx(-0.0066)
    assert p.t_stat == pytest.approx(t)
    assert p.t_p == pytest.approx(2 * sps.t.sf(abs(t), 4))
    assert p.t_half == pytest.approx(sps.t.ppf(0.975, 4) * sd / math.sqrt(5))
    assert p.dz == pytest.approx(mean / sd)  # Cohen's d_z


def _sign_flip_by_enumeration(d):
    d = np.asarray(d, float)
    obs = abs(d.mean())
    hits = sum(abs((np.array(s) * np.abs(d)).mean()) >= obs - 1e-12 for s in itertools.product([-1, 1], repeat=len(d)))
    return hits / 2 ** len(d)


def test_exact_test_by_enumeration_and_min_p():
    p = S.paired(A, B)
    # every difference is negative: only all-negative and all-positive sign vectors are as extreme: 2/32
    assert p.exact_p == pytest.approx(0.0625) == pytest.approx(_sign_flip_by_enumeration(D))
    assert p.exact_min_p == 0.0625 == S.min_exact_p(5)
    mixed = [0.3, -0.1, 0.2, 0.4, 0.5, -0.05]
    assert S.sign_flip_p(mixed) == pytest.approx(_sign_flip_by_enumeration(mixed))
    assert S.min_exact_p(6) == pytest.approx(2 / 64)
    assert S.sign_flip_p([0.3]) == 1.0 == _sign_flip_by_enumeration([0.3])
    # the exact Wilcoxon signed-rank test has the same floor with 5 pairs
    assert sps.wilcoxon(D, method="exact").pvalue == pytest.approx(S.min_exact_p(5))


def test_paired_uses_only_seeds_finished_in_both():
    a = {0: 0.1, 1: 0.2, 2: float("nan"), 3: 0.3}
    b = {0: 0.15, 1: 0.1, 2: 0.2, 4: 0.5}
    p = S.paired(a, b)
    assert p.seeds == (0, 1) and p.n == 2 and p.mean_diff == pytest.approx(((0.1 - 0.15) + (0.2 - 0.1)) / 2)
    assert S.paired({0: 0.1}, {1: 0.2}).n == 0


def test_bootstrap_matches_scipy_with_the_fixed_seed():
    lo, hi = S.bootstrap_ci(D)
    ref = sps.bootstrap((D,), np.mean, confidence_level=0.95, n_resamples=9999, method="percentile",
                        rng=np.random.default_rng(0)).confidence_interval
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    assert D.min() <= lo < D.mean() < hi <= D.max()
    assert S.bootstrap_ci(D) == (lo, hi)  # reproducible


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    out = S.holm([0.2, float("nan"), 0.6])  # NaN is not part of the family (m = 2)
    assert out[0] == pytest.approx(0.4) and math.isnan(out[1]) and out[2] == pytest.approx(0.6)
    np.testing.assert_allclose(S.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1, monotone


def test_friedman_and_average_ranks_by_hand():
    # 4 blocks (sweeps) x 3 treatments (methods), no ties; lower is better
    t = np.array([[0.10, 0.20, 0.30], [0.12, 0.11, 0.30], [0.05, 0.07, 0.06], [0.20, 0.25, 0.22]])
    ranks = np.array([[1, 2, 3], [2, 1, 3], [1, 3, 2], [1, 3, 2]])
    np.testing.assert_allclose(S.average_ranks(t), ranks.mean(axis=0))
    n, k = t.shape
    chi2 = 12 / (n * k * (k + 1)) * (ranks.sum(axis=0) ** 2).sum() - 3 * n * (k + 1)
    f = S.friedman(t)
    assert f.statistic == pytest.approx(chi2) and f.p == pytest.approx(sps.chi2.sf(chi2, k - 1))
    assert math.isnan(S.friedman(t[:, :2]).p)  # fewer than 3 methods: not computed


def test_paired_gives_a_bootstrap_interval_only_from_enough_seeds():
    """Below BOOT_MIN_N paired seeds no bootstrap interval is given; from it on, scipy's with the fixed seed."""
    few = S.paired({i: float(v) for i, v in enumerate(D)}, {i: 0.0 for i in range(len(D))})
    assert len(D) < S.BOOT_MIN_N and np.isnan(few.boot_low) and np.isnan(few.boot_high)
    assert np.isfinite(few.t_half)  # the t-interval is still given
    d8 = np.array([0.4, -0.1, 0.3, 0.2, 0.5, -0.2, 0.1, 0.35])
    many = S.paired({i: float(v) for i, v in enumerate(d8)}, {i: 0.0 for i in range(len(d8))})
    assert (many.boot_low, many.boot_high) == S.bootstrap_ci(d8)
