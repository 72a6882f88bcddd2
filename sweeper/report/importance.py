"""Parameter importance per Optuna study of a sweep, as a section of its report.

For each study of the sweep (``sweeper/search/study.py``: one, or one per method) with at least
``MIN_TRIALS`` complete trials: Optuna's default evaluator (fANOVA: the share of the objective's
variance over the search space that each parameter explains, fitted on the complete trials;
``optuna.importance.get_param_importances`` with a fixed seed), one row per searched parameter,
importances summing to 1 per study. A multi-objective study is evaluated on its first objective.
Sweeps without a study (grid sweeps, committed results without ``optuna.db``) get no section.
Reads only the storage (no Ray, no torch).
"""
from __future__ import annotations

import json
from pathlib import Path

MIN_TRIALS = 4
DB = "optuna.db"  # sweeper.search.study.DB (that module imports Ray's searcher)


def _url(folder: Path) -> str | None:
    meta = folder / "sweep.json"
    url = json.loads(meta.read_text()).get("optuna_storage") if meta.exists() else None
    if url:
        return str(url)
    return f"sqlite:///{(folder / DB).resolve()}" if (folder / DB).exists() else None


def table(folder: Path, sweep_id: str) -> list[tuple[str, str, float, int]]:
    """(study, parameter, importance, complete trials) rows of the sweep's studies, best first per study."""
    url = _url(Path(folder))
    if url is None:
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    rows = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if s.study_name != sweep_id and not s.study_name.startswith(f"{sweep_id}/"):
            continue
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(done) < MIN_TRIALS or not any(len({str(t.params.get(k)) for t in done}) > 1 for k in done[0].params):
            continue
        target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        imp = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
        rows += [(s.study_name, k, float(v), len(done)) for k, v in imp.items()]
    return rows


def section(folder: Path, sweep_id: str) -> str:
    """The report's Markdown section, or "" when the sweep has no study to evaluate."""
    rows = table(folder, sweep_id)
    if not rows:
        return ""
    lines = ["## Parameter importance (Optuna, fANOVA)", "",
             "Share of the objective's variance each searched parameter explains, per study, "
             "over its complete trials (one per configuration, the seed mean).", "",
             "| study | parameter | importance | trials |", "|---|---|---|---|"]
    lines += [f"| {s} | {p} | {v:.3f} | {n} |" for s, p, v, n in rows]
    return "\n".join(lines) + "\n"
