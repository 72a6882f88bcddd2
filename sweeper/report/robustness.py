"""How far each verdict against the baseline can be trusted, stated where the researcher reads it
(the terminal, ``report.md``, the MLflow parent run's description).

For each comparison "method a vs the baseline b" (the selected configurations, ``selection``; without a
baseline, each method against the best method by validation), three checks:

- **budget**: with ``train.epochs`` searched (``budget``), "budget-fair" (each method compared at its
  budget selected on validation) unless the sign of a - b changes across the budgets both ran ("depends
  on budget"); "not converged" added when a's or b's objective still improved between the two largest
  budgets. With one budget: "not checked", and the one command that checks it
  (``sweeper confirm SWEEP --epochs 2x``).
- **fresh seeds**: the confirm sweeps of this sweep (sweep folders beside it whose ``sweep.json`` says
  ``confirms: {source: SWEEP}``): does the sign of a - b (each method's selected configuration there,
  paired over the fresh seeds) hold? With none: "not checked" and ``sweeper confirm SWEEP --per-method``.
  A confirm sweep itself says so.
- **validation vs test**: the paired mean difference a - b of the validation objective and of the test
  metric have the same sign (for a max objective the validation sign is flipped) -- "agree" -- or not.

A difference whose mean is exactly 0 has no sign; it "holds" only against another 0.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sweeper.report import markdown, units
from sweeper.report.budget import BUDGET, MAYBE, NOT_CONVERGED, BudgetResult
from sweeper.report.compare import per_seed
from sweeper.report.data import Sweep, load
from sweeper.report.stats import paired
from sweeper.store import selection


def confirm_sweeps(sw: Sweep) -> list[Sweep]:
    """The confirm sweeps of ``sw``: folders beside it whose sweep.json names it as their source."""
    found = []
    for meta in sorted(sw.folder.parent.glob("*/sweep.json")):
        try:
            c = json.loads(meta.read_text()).get("confirms") or {}
        except (OSError, ValueError):
            continue
        if c.get("source") == sw.name and meta.parent != sw.folder and (meta.parent / "trials.parquet").is_file():
            found.append(load(meta.parent))
    return found


def method_diff(trials: pd.DataFrame, a: str, b: str, metric: str, objective: tuple[str, str]) -> tuple[float, int]:
    """(mean paired difference of ``metric``, n) between methods a and b's selected configurations."""
    best = selection.best_per_method(trials, objective)
    if a not in best or b not in best:
        return float("nan"), 0
    p = paired(per_seed(trials, best[a], metric), per_seed(trials, best[b], metric))
    return p.mean_diff, p.n


def _same_sign(x: float, y: float) -> bool:
    return bool(np.sign(x) == np.sign(y))


def budget_of(sw: Sweep) -> int | str:
    """The one epoch budget of a sweep that does not search ``train.epochs`` (the spec's; else the
    largest number of epochs a finished trial ran)."""
    e = (sw.spec.get("train") or {}).get("epochs")
    if e is None and BUDGET in sw.trials and sw.trials[BUDGET].notna().any():
        e = sw.trials[BUDGET].dropna().iloc[0]
    if e is None:
        done = selection.replicates(sw.trials)
        e = done["epochs"].max() if "epochs" in done and len(done) else "?"
    return int(e) if e != "?" else e


def _budget(sw: Sweep, a: str, b: str, bres: BudgetResult | None, command: str) -> str:
    if bres is None:
        return f"not checked (one budget, {budget_of(sw)} epochs): `{command} --epochs 2x`"
    sel = bres.selected.set_index("method") if len(bres.selected) else pd.DataFrame()
    at = ", ".join(f"{m} {int(sel.at[m, 'selected_budget'])} ep" for m in (a, b) if m in sel.index)
    text = f"depends on budget ({at})" if a in bres.depends_on_budget else f"budget-fair ({at})"
    late = [m for m in (a, b) if m in sel.index and sel.at[m, "convergence"] in (NOT_CONVERGED, MAYBE)]
    return text + (f"; not converged: {', '.join(late)}" if late else "")


def _fresh(sw: Sweep, a: str, b: str, metric: str, objective: tuple[str, str], confirms: list[Sweep],
           command: str) -> str:
    if sw.meta.get("confirms"):
        return "this is a confirm sweep (fresh seeds)"
    if not confirms:
        return f"not checked: `{command} --per-method`"
    here, _ = method_diff(sw.trials, a, b, metric, objective)
    parts = []
    u = units.unit_of(metric)
    for c in confirms:
        d, n = method_diff(c.trials, a, b, metric, objective)
        epochs = (c.meta.get("confirms") or {}).get("epochs")
        where = f"{c.name}" + (f" at {epochs} epochs" if epochs else "")
        if n == 0:
            parts.append(f"not in {where}")
        else:
            parts.append(f"{'holds' if _same_sign(here, d) else 'does not hold'} in {where} "
                         f"({u.fmt(d, True)} {u.diff_label}, n={n})".replace("  ", " "))
    return "; ".join(parts)


def _val_vs_test(trials: pd.DataFrame, a: str, b: str, metric: str, objective: tuple[str, str]) -> str:
    dv, nv = method_diff(trials, a, b, objective[0], objective)
    dt, nt = method_diff(trials, a, b, metric, objective)
    if nv == 0 or nt == 0:
        return "-"
    sv = -dv if objective[1] == "max" else dv  # < 0: a better on validation
    uv, ut = units.unit_of(objective[0]), units.unit_of(metric)
    both = f"{objective[0]} {uv.fmt(dv, True)} {uv.diff_label}, {metric} {ut.fmt(dt, True)} {ut.diff_label}".replace(" ,", ",")
    if metric == objective[0]:
        return "-"
    better_test = dt < 0 if units.mode_of(metric) == "min" else dt > 0
    return ("agree" if (sv < 0) == better_test and sv != 0 else "disagree") + f" ({both})"


def verdicts(sw: Sweep, pairs: list[tuple[str, str]], metric: str, objective: tuple[str, str],
             bres: BudgetResult | None) -> pd.DataFrame:
    """One row per comparison (method a, reference method b) in ``pairs``: the three checks."""
    if not pairs:
        return pd.DataFrame()
    command = f"sweeper confirm {sw.name}"
    confirms = confirm_sweeps(sw) if not sw.meta.get("confirms") else []
    rows = []
    for a, b in pairs:
        rows.append({"a": a, "b": b, "budget": _budget(sw, a, b, bres, command),
                     "fresh_seeds": _fresh(sw, a, b, metric, objective, confirms, command),
                     "validation_vs_test": _val_vs_test(sw.trials, a, b, metric, objective)})
    return pd.DataFrame(rows)


def pairs_of(comp: pd.DataFrame, methods: list[str]) -> list[tuple[str, str]]:
    """The comparisons to check: against the baseline when ``comp`` has one (its rows), else each method
    against the first of ``methods`` (the best by validation)."""
    if len(comp) and comp["b"].nunique() == 1:
        return list(zip(comp["method_a"], comp["method_b"]))
    return [(m, methods[0]) for m in methods[1:]]


def sign_table(source: pd.DataFrame, confirm: pd.DataFrame, metric: str, objective: tuple[str, str],
               source_name: str = "source") -> str:
    """A confirm sweep against its source: for every pair of methods both ran, the paired mean difference
    a - b of ``metric`` (each method's selected configuration) in each, and whether its sign holds."""
    here = selection.best_per_method(confirm, objective)
    there = selection.best_per_method(source, objective)
    ms = [m for m in there if m in here]  # the source's order (best first on validation)
    u = units.unit_of(metric)
    rows = []
    for i, a in enumerate(ms):
        for b in ms[i + 1:]:
            d0, n0 = method_diff(source, a, b, metric, objective)
            d1, n1 = method_diff(confirm, a, b, metric, objective)
            holds = "-" if n0 == 0 or n1 == 0 else "yes" if _same_sign(d0, d1) else "NO"
            rows.append([f"{a} vs {b}", f"{u.fmt(d0, True)} (n={n0})", f"{u.fmt(d1, True)} (n={n1})", holds])
    if not rows:
        return "(fewer than two methods in both sweeps: no comparison to check)"
    du = f" ({u.diff_label})" if u.diff_label else ""
    return markdown.table(["comparison", f"{metric} a-b{du} in {source_name}", f"a-b{du} here, fresh seeds", "sign holds"], rows)


def render(v: pd.DataFrame) -> str:
    """The robustness table and what its columns mean."""
    if v.empty:
        return "(no comparison against a baseline)"
    rows = [[f"{r['a']} vs {r['b']}", r["budget"], r["fresh_seeds"], r["validation_vs_test"]] for r in v.to_dict("records")]
    return markdown.table(["comparison", "checked against the budget", "checked on fresh seeds",
                           "validation and test agree"], rows) + "\n\n" + "\n".join([
        "- budget: budget-fair = each method compared at its epoch budget selected on validation; depends on budget "
        "= the sign of the difference changes across the budgets tried; not converged = still improving at the "
        "largest budgets; one budget = not checked (run the command shown).",
        "- fresh seeds: whether the sign of the difference holds when each method's selected configuration is "
        "re-run on seeds never used for selection (`sweeper confirm`).",
        "- validation and test agree: the paired difference on the validation objective points the same way as "
        "on the test metric."])


def plain(v: pd.DataFrame) -> str:
    """The robustness lines as plain text (the MLflow parent run's description)."""
    return "\n".join(f"- {r['a']} vs {r['b']}: budget: {r['budget']}; fresh seeds: {r['fresh_seeds']}; "
                     f"validation vs test: {r['validation_vs_test']}".replace("`", "") for r in v.to_dict("records"))

