"""A paper's numbers next to the measured ones: the spec's ``paper:`` block, parsed and compared.

Spec syntax (values in the report's display units: errors and ECE in %, NLL in nats, counts as is)::

    paper:
      source: DropMax (Lee et al., NeurIPS 2018) Table 1, MNIST-1K column; mean ± 95% CI over 5 runs
      targets:
        softmax: {test_error: {value: 7.09, ci95: 0.46}}        # a method: its best configuration by validation
        regularizer.name=sal, regularizer.beta_over_alpha=100: {test_error: 1.14, sal_params: 5900}

A target key is a method (regularizer name), or ``path=value`` pairs separated by commas that must all
appear in a configuration's label (numbers compare as formatted with 4 significant digits, like the
labels). A metric maps to a number or to ``{value, ci95}``.

The comparison gives, per target and metric: measured mean ± 95% t-interval (n seeds), the paper's
value ± its interval, and delta = measured - paper; per metric, the ordering agreement between
measured means and paper values over the matched targets: Spearman's rho and Kendall's tau
(``scipy.stats.spearmanr`` / ``kendalltau``) and the pairs whose order flips (strictly opposite signs
of measured_i - measured_j and paper_i - paper_j).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from sweeper.report import markdown, units
from sweeper.spec.paper import parse  # noqa: F401  (the block's syntax and validation; re-exported)


def _delta(delta: float, u) -> str:
    """measured - paper in the metric's unit (``-`` when either is missing)."""
    if not np.isfinite(delta):
        return "-"
    return f"{delta:+,.0f}" if u.decimals == 0 else f"{delta:+.{u.decimals or 3}f}"


def _norm(v: str) -> str:
    try:
        return f"{float(v):.4g}"
    except ValueError:
        return v.strip()


def _parts(label: str) -> set[tuple[str, str]]:
    out = set()
    for p in label.split(", "):
        k, eq, v = p.partition("=")
        if eq:
            out.add((k.strip(), _norm(v)))
    return out


def match(key: str, configs: pd.DataFrame) -> pd.DataFrame:
    """Configurations (ranked as ``configs``) a target key designates."""
    if "=" not in key:
        return configs[configs["method"] == key]
    want = {(k.strip(), _norm(v)) for k, _, v in (p.strip().partition("=") for p in key.split(","))}
    return configs[[want <= _parts(lbl) for lbl in configs["config"]]]


def compare(block: dict, configs: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, metric): measured vs paper in display units, delta; unmatched targets kept with a note."""
    rows = []
    for key, mets in block["targets"].items():
        found = match(key, configs)
        for m, t in mets.items():
            u = units.unit_of(m)
            row = {"target": key, "metric": m, "paper": t["value"], "paper_ci95": t["ci95"],
                   "measured": np.nan, "measured_ci95": np.nan, "n": 0, "delta": np.nan, "config_id": "", "note": ""}
            if found.empty:
                row["note"] = "no configuration of the sweep matches"
            elif m not in found:
                row["note"] = f"the sweep has no {m}"
            else:
                r = found.iloc[0]
                row.update(config_id=r["config_id"], config=r["config"], n=int(r.get(f"{m}_n", 0) or 0),
                           measured=u.value(r[m]) if pd.notna(r[m]) else np.nan,
                           measured_ci95=u.value(r[f"{m}_ci95"]) if pd.notna(r.get(f"{m}_ci95")) else np.nan)
                row["delta"] = row["measured"] - t["value"]
                if len(found) > 1:
                    row["note"] = f"{len(found)} configurations match; the best by the sweep's objective is used"
            rows.append(row)
    return pd.DataFrame(rows)


def ordering(comp: pd.DataFrame) -> pd.DataFrame:
    """Per metric: Spearman rho, Kendall tau (with p) over matched targets, and the flipped pairs."""
    rows = []
    for m, g in comp.dropna(subset=["measured"]).groupby("metric", sort=False):
        if len(g) < 2:
            continue
        meas, pap, names = g["measured"].to_numpy(), g["paper"].to_numpy(), list(g["target"])
        flips = [f"{names[i]} / {names[j]}" for i, j in itertools.combinations(range(len(g)), 2)
                 if np.sign(meas[i] - meas[j]) * np.sign(pap[i] - pap[j]) < 0]
        rho = stats.spearmanr(meas, pap) if len(g) >= 3 else None
        tau = stats.kendalltau(meas, pap) if len(g) >= 2 else None
        rows.append({"metric": m, "targets": len(g),
                     "spearman_rho": float(rho.statistic) if rho is not None else np.nan,
                     "spearman_p": float(rho.pvalue) if rho is not None else np.nan,
                     "kendall_tau": float(tau.statistic) if tau is not None else np.nan,
                     "kendall_p": float(tau.pvalue) if tau is not None else np.nan,
                     "pairs": len(g) * (len(g) - 1) // 2, "flipped": len(flips), "flipped_pairs": "; ".join(flips)})
    return pd.DataFrame(rows)


def _fmt(v: float, ci: float | None, u: units.Unit) -> str:
    if not np.isfinite(v):
        return "-"
    d = u.decimals if u.decimals is not None else 3
    s = f"{v:,.{d}f}" if u.decimals == 0 else f"{v:.{d}f}"
    return s + (f" ± {ci:.{d}f}" if ci is not None and np.isfinite(ci) else "")


def render(block: dict, comp: pd.DataFrame, order: pd.DataFrame) -> str:
    rows = []
    for r in comp.to_dict("records"):
        u = units.unit_of(r["metric"])
        rows.append([r["target"], units.header(r["metric"]), _fmt(r["measured"], r["measured_ci95"], u), r["n"],
                     _fmt(r["paper"], r["paper_ci95"], u),
                     _delta(r["delta"], u),
                     r["note"]])
    out = [f"Paper: {block['source']}", "",
           markdown.table(["target", "metric", "measured (mean ± 95% CI)", "n", "paper", "delta (measured - paper)",
                           "note"], rows)]
    for o in order.to_dict("records"):
        rho = "-" if not np.isfinite(o["spearman_rho"]) else f"{o['spearman_rho']:+.2f} (p = {o['spearman_p']:.3g})"
        out.append(f"\nOrdering of {o['metric']} over {o['targets']} targets: Spearman rho {rho}, Kendall tau "
                   f"{o['kendall_tau']:+.2f} (p = {o['kendall_p']:.3g}); {o['flipped']} of {o['pairs']} pairs flip order"
                   + (f": {o['flipped_pairs']}" if o["flipped"] else "") + ".")
    return "\n".join(out)
