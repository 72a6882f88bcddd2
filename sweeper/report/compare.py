"""Paired comparisons of configurations over shared seeds, Holm-corrected over the family.

The family is every comparison the report makes for one metric: each selected configuration against
the baseline (``--baseline``), or every pair when no baseline is given. Both p-value columns (paired
t-test, exact sign-flip test) are Holm-adjusted over that family (``stats.holm``). Below
``stats.MIN_PAIRED`` paired seeds a comparison has no interval, t-test or d_z: ``diff_cell`` prints its
per-seed differences (as the method cells print per-seed values). Differences are
a - b in the metric's stored unit; the tables print them in the metric's difference unit (pp for
errors and ECE, nats for NLL).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from sweeper.report import markdown, units
from sweeper.report.data import column
from sweeper.report.stats import BOOT_MIN_N, EXACT_TEST, MIN_PAIRED, T_TEST, holm, paired
from sweeper.store import selection


def per_seed(trials: pd.DataFrame, config_id: str, metric: str) -> dict[int, float]:
    """{seed: value} over the configuration's distinct finished seeds (``selection.replicates``)."""
    c = column(trials, metric)
    if c not in trials:
        return {}
    reps = selection.replicates(trials)
    g = reps[reps["config_id"] == config_id][["seed", c]].dropna()
    return dict(zip(g["seed"].astype(int), g[c].astype(float)))


def comparisons(trials: pd.DataFrame, configs: pd.DataFrame, selected: list[str], metric: str,
                baseline: str | None = None) -> pd.DataFrame:
    """One row per comparison (a vs b) of ``metric``; ``selected`` are config_ids (ranked)."""
    label = dict(zip(configs["config_id"], configs["method"] + ": " + configs["config"]))
    method = dict(zip(configs["config_id"], configs["method"]))
    if baseline is not None:
        pairs = [(a, baseline) for a in selected if a != baseline]
    else:
        pairs = list(itertools.combinations(selected, 2))
    rows = []
    for a, b in pairs:
        p = paired(per_seed(trials, a, metric), per_seed(trials, b, metric))
        rows.append({
            "metric": metric, "a": a, "b": b, "method_a": method.get(a, a), "method_b": method.get(b, b),
            "config_a": label.get(a, a), "config_b": label.get(b, b), "n": p.n,
            "seeds": ",".join(map(str, p.seeds)), "mean_diff": p.mean_diff, "t_ci95": p.t_half,
            "per_seed_diff": ";".join(f"{s}:{v:.6g}" for s, v in zip(p.seeds, p.diffs)),
            "boot_low": p.boot_low, "boot_high": p.boot_high, "t_stat": p.t_stat, "t_p": p.t_p,
            "exact_p": p.exact_p, "exact_min_p": p.exact_min_p, "cohens_dz": p.dz,
            "t_test": T_TEST, "exact_test": EXACT_TEST, "note": "; ".join(p.notes),
        })
    out = pd.DataFrame(rows)
    if len(out):
        out["t_p_holm"] = holm(out["t_p"].to_numpy())
        out["exact_p_holm"] = holm(out["exact_p"].to_numpy())
    return out


def diff_cell(r: dict, u: units.Unit) -> str:
    """A comparison's difference: mean ± 95% t-interval from ``MIN_PAIRED`` paired seeds on; with fewer,
    the per-seed differences (``per_seed_diff``) and n; "-" with none."""
    if r["n"] == 0:
        return "-"
    if r["n"] < MIN_PAIRED or not np.isfinite(r["t_ci95"]):
        vals = [float(x.split(":")[1]) for x in str(r.get("per_seed_diff") or "").split(";") if ":" in x]
        if r["n"] < MIN_PAIRED and vals:
            return "seeds: " + ", ".join(u.fmt(v, True) for v in vals) + f" (n={r['n']})"
        return u.fmt(r["mean_diff"], signed=True)
    return u.fmt(r["mean_diff"], signed=True) + f" ± {u.fmt(r['t_ci95'])}"


def _p(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.3g}"


def render(comp: pd.DataFrame) -> str:
    """Markdown table of comparisons plus the sentences a reader needs to read it."""
    if comp.empty:
        return "(no comparison)"
    metric = comp["metric"].iloc[0]
    u = units.unit_of(metric)
    rows = []
    for r in comp.to_dict("records"):
        diff = diff_cell(r, u)
        boot = "-" if not np.isfinite(r["boot_low"]) else f"[{u.fmt(r['boot_low'], True)}, {u.fmt(r['boot_high'], True)}]"
        rows.append([r["method_a"], r["method_b"], r["n"], diff, boot, _p(r["t_p"]), _p(r["t_p_holm"]),
                     _p(r["exact_p"]), _p(r["exact_p_holm"]), _p(r["exact_min_p"]),
                     "-" if not np.isfinite(r["cohens_dz"]) else f"{r['cohens_dz']:+.2f}"])
    du = f" ({u.diff_label})" if u.diff_label else ""
    header = ["a", "b", "seeds paired", f"mean diff a-b{du} ± 95% t-CI", f"bootstrap 95% CI{du}", "t-test p",
              "t-test p (Holm)", "exact p", "exact p (Holm)", "min exact p", "Cohen's d_z"]
    ns = sorted(set(int(n) for n in comp["n"] if n > 0))
    notes = [
        f"Metric {metric}; differences are a minus b per seed, over the seeds both finished.",
        f"Tests: {T_TEST} and {EXACT_TEST}; every p-value is also given Holm-adjusted over the "
        f"{len(comp)} comparison(s) of this table. Bootstrap: paired percentile bootstrap over seeds "
        f"(scipy.stats.bootstrap, 9,999 resamples, seed 0), shown from {BOOT_MIN_N} paired seeds on (with fewer, "
        "a percentile bootstrap has too few distinct resamples to mean anything). "
        "Effect size: Cohen's d_z = mean(d) / sd(d). "
        f"With fewer than {MIN_PAIRED} paired seeds no interval, t-test or d_z is given: the per-seed differences are shown.",
    ]
    for n in ns:
        mp = 2.0 / 2.0**n
        notes.append(f"With {n} paired seed{'s' if n != 1 else ''} the exact test cannot give p below {mp:.4g}"
                     + (" (so it can never reach 0.05)" if mp > 0.05 else "") + ".")
    return markdown.table(header, rows) + "\n\n" + "\n".join(f"- {n}" for n in notes)
