"""Across sweeps: the same methods on several datasets / backbones (one sweep each).

Per sweep, each method is represented by its best configuration by that sweep's validation objective
(the per-method view); its mean test metric over seeds is one cell of a sweeps x methods table (only
methods present in every sweep are compared; the others are named). Then:

- average ranks (rank 1 = best in a sweep; ties share the mean rank; ``scipy.stats.rankdata``);
- Friedman's chi-square test over the table (``scipy.stats.friedmanchisquare``; needs >= 3 methods);
- pairwise Wilcoxon signed-rank tests over the sweeps (``scipy.stats.wilcoxon``, two-sided, exact
  when scipy can, i.e. no ties or zeros), every p Holm-adjusted over all pairs; with N sweeps the
  smallest attainable exact p is 2 / 2^N (N = 5: 0.0625);
- a critical-difference diagram (``scikit_posthocs.critical_difference_diagram``): methods at their
  average ranks, joined by a bar where the Holm-adjusted Wilcoxon p >= 0.05.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from sweeper.report import markdown, units
from sweeper.report.stats import Friedman, average_ranks, friedman, holm, min_exact_p


@dataclass(frozen=True)
class Across:
    table: pd.DataFrame  # index: sweeps, columns: methods, values: mean metric (stored units)
    ranks: pd.Series  # average rank per method
    friedman: Friedman
    pairwise: pd.DataFrame  # a, b, n, statistic, p, p_holm, test
    dropped: list[str]


def method_matrix(per_sweep: dict[str, pd.DataFrame], metric: str) -> tuple[pd.DataFrame, list[str]]:
    """Sweeps x methods table of ``metric`` means from each sweep's method table; methods in all sweeps only."""
    cols = {name: dict(zip(mt["method"], mt[metric])) for name, mt in per_sweep.items() if metric in mt}
    t = pd.DataFrame(cols).T
    keep = [c for c in t.columns if t[c].notna().all()]
    return t[keep], sorted(set(t.columns) - set(keep))


def analyse(per_sweep: dict[str, pd.DataFrame], metric: str, mode: str = "min") -> Across:
    t, dropped = method_matrix(per_sweep, metric)
    ranks = pd.Series(average_ranks(t.to_numpy(), mode), index=t.columns) if t.size else pd.Series(dtype=float)
    fr = friedman(t.to_numpy()) if t.size else Friedman(np.nan, np.nan, 0, 0)
    rows = []
    for a, b in itertools.combinations(t.columns, 2):
        d = (t[a] - t[b]).to_numpy()
        if len(d) == 0 or np.all(d == 0):
            stat, p, how = np.nan, np.nan, "all differences zero" if len(d) else "no sweep"
        else:
            r = sps.wilcoxon(t[a], t[b], alternative="two-sided", method="auto")
            stat, p = float(r.statistic), float(r.pvalue)
            exact = len(d) <= 50 and len(np.unique(np.abs(d))) == len(d) and np.all(d != 0)
            how = "Wilcoxon signed-rank, exact" if exact else "Wilcoxon signed-rank, normal approximation (ties or zeros)"
        rows.append({"a": a, "b": b, "n": len(d), "statistic": stat, "p": p, "test": how, "min_exact_p": min_exact_p(len(d))})
    pw = pd.DataFrame(rows)
    if len(pw):
        pw["p_holm"] = holm(pw["p"].to_numpy())
    return Across(t, ranks.sort_values(), fr, pw, dropped)


def cd_diagram(res: Across, path: Path, alpha: float = 0.05) -> Path | None:
    """Critical-difference diagram as PNG (None when fewer than 2 methods)."""
    if len(res.ranks) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp

    names = list(res.ranks.index)
    sig = pd.DataFrame(1.0, index=names, columns=names)
    for r in res.pairwise.to_dict("records"):
        p = r["p_holm"] if np.isfinite(r["p_holm"]) else 1.0
        sig.loc[r["a"], r["b"]] = sig.loc[r["b"], r["a"]] = p
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * len(names)))
    sp.critical_difference_diagram(res.ranks, sig, ax=ax, alpha=alpha)
    ax.set_title(f"average rank over {len(res.table)} sweeps (bars: Holm-adjusted Wilcoxon p >= {alpha})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def render(res: Across, metric: str) -> str:
    u = units.unit_of(metric)
    rows = [[s] + [u.fmt(v) for v in res.table.loc[s]] for s in res.table.index]
    out = [f"Mean {units.header(metric)} of each method's best configuration (by validation) per sweep:", "",
           markdown.table(["sweep"] + list(res.table.columns), rows), "",
           "Average rank (1 = best): " + ", ".join(f"{m} {r:.2f}" for m, r in res.ranks.items()) + "."]
    f = res.friedman
    out.append(f"Friedman test over {f.n_blocks} sweeps and {f.k} methods: "
               + ("not computed (needs >= 3 methods and >= 2 sweeps)." if not np.isfinite(f.p)
                  else f"chi-square = {f.statistic:.3f}, p = {f.p:.3g}."))
    if res.dropped:
        out.append(f"Left out (not in every sweep): {', '.join(res.dropped)}.")
    if len(res.pairwise):
        prow = [[r["a"], r["b"], r["n"], "-" if not np.isfinite(r["p"]) else f"{r['p']:.3g}",
                 "-" if not np.isfinite(r["p_holm"]) else f"{r['p_holm']:.3g}", f"{r['min_exact_p']:.3g}", r["test"]]
                for r in res.pairwise.to_dict("records")]
        out += ["", markdown.table(["a", "b", "sweeps", "p", "p (Holm)", "min exact p", "test"], prow)]
    return "\n".join(out)
