"""Budget-fair comparison: the epoch budget (``train.epochs``) as a first-class axis.

When a sweep runs several budgets (``train.epochs`` takes more than one value):

1. For each method and budget, the method's best configuration at that budget by the sweep's
   validation objective (mean over seeds) gives one row of the *budget table* (test metric vs budget
   per method, mean ± 95% t-interval over seeds; figures draw it).
2. Each method's budget is selected on validation: the budget whose best configuration has the best
   objective. Methods are then compared at their selected budgets (the per-method view and the
   paired comparisons use these configurations).
3. Convergence: per seed, d_i = objective(largest budget) - objective(second largest budget) of the
   method's best configurations there (sign flipped for a max objective, so d < 0 is an improvement).
   "not converged at the budgets tried" when mean(d) < 0 and the 95% t-interval of d excludes 0;
   "may not be converged" when mean(d) < 0 but the interval includes 0 (or fewer than 3 seeds pair: no interval);
   "no gain from the largest budget" otherwise. The flag compares finished runs of different lengths,
   not the last epochs of one run (a step schedule flattens every curve at each learning-rate drop).
4. The verdict against the baseline depends on the budget when the sign of (method - baseline) test
   mean changes across the budgets both ran; the report lists those methods.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sweeper.report import markdown, units
from sweeper.report.compare import per_seed
from sweeper.report.stats import paired
from sweeper.report.tables import cell, config_table

BUDGET = "train.epochs"  # the configuration column (sweeper.store.columns)
NOT_CONVERGED = "not converged at the budgets tried"
MAYBE = "may not be converged (the gain between the two largest budgets is within seed noise)"
FLAT = "no gain from the largest budget"


def budgets(trials: pd.DataFrame) -> list[int]:
    if BUDGET not in trials:
        return []
    return sorted(int(b) for b in trials[BUDGET].dropna().unique())


def has_budgets(trials: pd.DataFrame) -> bool:
    return len(budgets(trials)) > 1


@dataclass(frozen=True)
class BudgetResult:
    table: pd.DataFrame  # method, budget, config_id, config, objective and metric stats
    selected: pd.DataFrame  # per method: selected budget, its config, convergence flag
    depends_on_budget: list[str] = field(default_factory=list)


def analyse(trials: pd.DataFrame, metric: str, objective: tuple[str, str], baseline_method: str | None = None) -> BudgetResult:
    obj, mode = objective
    budget_of = trials.groupby("config_id")[BUDGET].first()
    configs = config_table(trials, [metric], objective)
    configs["budget"] = configs["config_id"].map(budget_of).astype("Int64")
    rows = []
    for (method, b), g in configs.groupby(["method", "budget"], sort=True):
        g = g[g[obj].notna()] if obj in g else g.iloc[0:0]
        if len(g):
            rows.append(g.iloc[0].to_dict())  # configs are ranked by the objective
    table = pd.DataFrame(rows)
    sel_rows = []
    for method, g in table.groupby("method", sort=False):
        g = g.sort_values("budget")
        best = g.sort_values(obj, ascending=(mode == "min"), kind="stable").iloc[0]
        row = {"method": method, "selected_budget": int(best["budget"]), "config_id": best["config_id"],
               "config": best["config"], "budgets_tried": ",".join(str(int(b)) for b in g["budget"])}
        if len(g) >= 2:
            hi, lo = g.iloc[-1], g.iloc[-2]
            p = paired(per_seed(trials, hi["config_id"], obj), per_seed(trials, lo["config_id"], obj))
            sign = 1.0 if mode == "min" else -1.0
            d, half = sign * p.mean_diff, p.t_half
            if np.isfinite(d) and d < 0 and np.isfinite(half) and d + half < 0:
                flag = NOT_CONVERGED
            elif np.isfinite(d) and d < 0:
                flag = MAYBE
            else:
                flag = FLAT
            row.update(last_budgets=f"{int(lo['budget'])}->{int(hi['budget'])}", objective_change=sign * d,
                       objective_change_ci95=half, seeds_paired=p.n, convergence=flag)
        else:
            row.update(convergence="one budget tried")
        sel_rows.append(row)
    selected = pd.DataFrame(sel_rows)
    flips = []
    if baseline_method is not None and baseline_method in set(table.get("method", [])):
        base = table[table["method"] == baseline_method].set_index("budget")[metric]
        for method, g in table[table["method"] != baseline_method].groupby("method"):
            diff = (g.set_index("budget")[metric] - base).dropna()
            if (diff > 0).any() and (diff < 0).any():
                flips.append(method)
    return BudgetResult(table, selected, flips)


def render(res: BudgetResult, metric: str, objective: tuple[str, str], baseline_method: str | None) -> str:
    u_obj = units.unit_of(objective[0])
    lines = [f"Each method's best configuration at each budget (by {objective[0]}), {units.header(metric)} "
             "mean ± 95% t-interval over seeds:", ""]
    bud = sorted(res.table["budget"].unique()) if len(res.table) else []
    rows = []
    for method, g in res.table.groupby("method", sort=False):
        by_b = {int(r["budget"]): r for r in g.to_dict("records")}
        rows.append([method] + [
            "-" if int(b) not in by_b else cell(by_b[int(b)], metric)
            for b in bud])
    lines.append(markdown.table(["method"] + [f"{int(b)} ep" for b in bud], rows))
    lines += ["", f"Selected budget per method (on {objective[0]}) and convergence between the two largest budgets "
              f"(change of mean {objective[0]}, per-seed paired, ± 95% t-interval):", ""]
    srows = []
    for r in res.selected.to_dict("records"):
        ch = r.get("objective_change", np.nan)
        chs = "-" if not np.isfinite(ch) else u_obj.fmt(ch, True) + (
            f" ± {u_obj.fmt(r['objective_change_ci95'])}" if np.isfinite(r.get("objective_change_ci95", np.nan)) else "")
        srows.append([r["method"], r["budgets_tried"], r["selected_budget"], r.get("last_budgets", "-"),
                      chs + (f" {u_obj.diff_label}" if chs != "-" and u_obj.diff_label else ""), r["convergence"]])
    head = ["method", "budgets tried", "selected budget", "largest two", f"{objective[0]} change", "convergence"]
    lines.append(markdown.table(head, srows))
    if baseline_method is not None:
        lines.append("")
        if res.depends_on_budget:
            lines.append(f"The verdict against {baseline_method} depends on the budget for: {', '.join(res.depends_on_budget)} "
                         f"(the sign of the mean {metric} difference changes across budgets).")
        else:
            lines.append(f"No method's verdict against {baseline_method} (sign of the mean {metric} difference) "
                         "changes across the budgets tried.")
    return "\n".join(lines)
