"""Across sweeps on a fixed table: average ranks, Friedman, pairwise Wilcoxon + Holm, the CD diagram."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sweeper.report import across
from sweeper.report.stats import holm

# 6 sweeps (datasets) x 3 methods, mean test error of each method's selected configuration
T = {"s1": (0.10, 0.12, 0.15), "s2": (0.20, 0.21, 0.25), "s3": (0.05, 0.09, 0.07),
     "s4": (0.30, 0.35, 0.33), "s5": (0.11, 0.13, 0.16), "s6": (0.08, 0.07, 0.12)}


def _per_sweep():
    per = {s: pd.DataFrame({"method": ["dropmax", "softmax", "sparsemax"], "test_error": v}) for s, v in T.items()}
    per["s1"] = pd.concat([per["s1"], pd.DataFrame({"method": ["only_here"], "test_error": [0.01]})])
    return per


def test_ranks_friedman_and_pairwise_by_hand(tmp_path):
    res = across.analyse(_per_sweep(), "test_error")
    assert res.dropped == ["only_here"] and list(res.table.columns) == ["dropmax", "softmax", "sparsemax"]
    ranks = np.array([[1, 2, 3], [1, 2, 3], [1, 3, 2], [1, 3, 2], [1, 2, 3], [2, 1, 3]])
    assert res.ranks.to_dict() == pytest.approx(dict(zip(["dropmax", "softmax", "sparsemax"], ranks.mean(axis=0))))
    n, k = ranks.shape
    chi2 = 12 / (n * k * (k + 1)) * (ranks.sum(axis=0) ** 2).sum() - 3 * n * (k + 1)
    assert res.friedman.statistic == pytest.approx(chi2) and res.friedman.p == pytest.approx(sps.chi2.sf(chi2, k - 1))
    pw = res.pairwise.set_index(["a", "b"])
    ref = sps.wilcoxon([v[0] for v in T.values()], [v[1] for v in T.values()], method="exact")
    assert pw.loc[("dropmax", "softmax"), "p"] == pytest.approx(ref.pvalue)
    assert pw.loc[("dropmax", "softmax"), "min_exact_p"] == pytest.approx(2 / 64)
    np.testing.assert_allclose(res.pairwise["p_holm"], holm(res.pairwise["p"]))
    text = across.render(res, "test_error")
    assert "Friedman test over 6 sweeps and 3 methods: chi-square" in text and "Left out (not in every sweep): only_here" in text
    png = across.cd_diagram(res, tmp_path / "cd.png")
    assert png.stat().st_size > 5000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
