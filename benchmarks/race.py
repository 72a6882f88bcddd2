"""Racing over seeds (issue 24): trials spent and the configuration selected, racing vs the full design.

What: ``benchmarks/specs/race_digits.yaml``, 30 configurations (dropout keep x learning rate) x 10 seeds on
scikit-learn's digits (MLP 64-64, 3 epochs), run in full with ``sweeper launch`` (every configuration on every
seed: 300 trials; its per-trial table is committed, ``benchmarks/results/race_digits/trials.csv``, with the run's
date, machine and load in ``run.json``). Racing is ``search.racing: {min_seeds: 3, max_seeds: 10, alpha: 0.05,
test: friedman}`` (``RACING``; ``t-test`` also replayed).

1. **Replay** (exact: the same seeds and results): ``sweeper.search.racing.replay`` on the full table. Trials
   spent: each configuration runs ``seeds[:k]`` with ``k`` its elimination round, or the race's last round for a
   survivor. Racing's choice: the selection rule of the report (``sweeper.store.selection``: in a raced sweep
   the race's survivors first, then the best mean validation objective over a configuration's own seeds) applied
   to the trials racing ran with their elimination rounds, as the report of a raced sweep selects; the full
   design's choice: the same rule on every trial. When they differ, the two are
   compared on the full 10 seeds by a paired t-test (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test
   (``scipy.stats.wilcoxon``), both two-sided, on the objective and on test_error: "indistinguishable" means
   both p >= 0.05 on the objective.
2. **Live** (``--live``; not in ``--quick``): the same spec with the racing block, run by ``sweeper launch`` (a
   subprocess, local Ray with 2 CPUs, a temporary folder and MLflow store): wall time of the launch, trials run,
   its selected configuration and survivors, whether each (configuration, seed) result equals the full run's
   (training is deterministic per seed on CPU), against the full run's wall time and 300 trials. The two runs
   are minutes apart on a shared machine: the wall-time ratio carries that noise (the load is recorded).
3. **Paper results**: the same replay on every committed ``results/<sweep>/trials.parquet``, raced as the live
   searcher would race it (``RaceSearcher.races``: a grid or a single method in one race; per-method studies one
   race per method, then the methods' winners with the baseline kept), ``min_seeds = min(3, seeds)``,
   ``max_seeds`` = its seeds. With 3 seeds ``min_seeds = max_seeds``: one round, no trial can be saved.

``sweeper bench race`` prints one row per replay and the live run (``unit``: ``trials`` for the replays, ms of wall
time for the live run; ``ratio`` against the full design; target: at most 0.5 of its trials).
``python -m benchmarks.race --live --write benchmarks/results/race_<date>.json`` writes the docs page's JSON
(``docs/_gen/bench_pages.py``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from scipy import stats

from sweeper.search.racing import RaceLog, replay
from sweeper.spec.model import Racing
from sweeper.store import selection

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "benchmarks" / "specs" / "race_digits.yaml"
FULL = REPO / "benchmarks" / "results" / "race_digits"
PAPER = REPO / "results"
RACING = Racing(min_seeds=3, max_seeds=10, alpha=0.05, test="friedman")
OBJECTIVE = ("val_error", "min")
TARGET = 0.5  # trials spent / full design
ALPHA = 0.05  # "indistinguishable": both paired tests p >= ALPHA on the objective


@dataclass(frozen=True)
class Replay:
    name: str
    racing: Racing
    seeds: tuple[int, ...]
    logs: tuple[RaceLog, ...]
    spent: int
    full: int
    raced_choice: str  # config_id
    full_choice: str
    survivors: tuple[str, ...]
    tests: dict[str, float]  # paired tests raced vs full choice on all seeds (empty when the same)


def values_of(trials: pd.DataFrame, metric: str) -> dict[str, dict[int, float | None]]:
    """config_id -> {seed: objective, None where the trial did not finish}."""
    out: dict[str, dict[int, float | None]] = {}
    for r in selection.distinct_runs(trials).to_dict("records"):
        v = r.get(metric)
        ok = r["status"] == "finished" and v is not None and math.isfinite(float(v))
        out.setdefault(str(r["config_id"]), {})[int(r["seed"])] = float(v) if ok else None
    return out


def seeds_used(logs: tuple[RaceLog, ...], racing: Racing) -> dict[str, int]:
    """config_id -> how many seeds (``seeds[:n]``) racing runs it on: its elimination round, else the last decided
    round of the last race it was in (``min_seeds`` when no round was decided)."""
    used: dict[str, int] = {}
    for log in logs:
        last = log.rounds[-1].k if log.rounds else racing.min_seeds
        for c in log.candidates:
            used[c] = max(used.get(c, 0), log.eliminated_round(c) or last)
    return used


def raced_rows(trials: pd.DataFrame, used: dict[str, int], seeds: tuple[int, ...]) -> pd.DataFrame:
    """The trials racing runs: configuration c on ``seeds[:used[c]]``."""
    keep = [int(s) in seeds[: used.get(str(c), 0)] for c, s in zip(trials["config_id"], trials["seed"])]
    return trials[keep]


def paired_tests(trials: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """Two-sided paired t-test and Wilcoxon p of a vs b over the seeds both finished, objective and test_error."""
    out: dict[str, float] = {}
    reps = selection.replicates(trials)
    for metric in (OBJECTIVE[0], "test_error"):
        x = reps[reps["config_id"] == a].set_index("seed")[metric]
        y = reps[reps["config_id"] == b].set_index("seed")[metric]
        common = x.index.intersection(y.index)
        d = (x[common] - y[common]).to_numpy()
        out[f"{metric}_n"] = float(len(common))
        out[f"{metric}_diff"] = float(d.mean())
        out[f"{metric}_t_p"] = float(stats.ttest_rel(x[common], y[common]).pvalue) if d.std() > 0 else 1.0
        out[f"{metric}_wilcoxon_p"] = float(stats.wilcoxon(d).pvalue) if (d != 0).any() else 1.0
    return out


def races(trials: pd.DataFrame, racing: Racing, seeds: tuple[int, ...], methods: list[str]) -> tuple[RaceLog, ...]:
    """The races the live searcher runs on these results: one race (``methods`` empty), or one per method then the
    final race of the winners (``RaceSearcher.races``, the searcher's own rule, on its state filled from the table)."""
    values = values_of(trials, OBJECTIVE[0])
    if not methods:
        return (replay(values, seeds[: racing.max_seeds], racing, OBJECTIVE[1], "main"),)
    from sweeper.search.race_searcher import RaceSearcher

    method = trials.drop_duplicates("config_id").set_index("config_id")["regularizer"].astype(str)
    rs = RaceSearcher(None, seeds, racing, OBJECTIVE[0], OBJECTIVE[1], methods)
    rs.configs = {c: {} for c in values}
    rs.race_of = {c: method[c] for c in values}
    rs.values = values
    return tuple(rs.races())


def race_table(name: str, trials: pd.DataFrame, racing: Racing, methods: list[str] | None = None) -> Replay:
    """Replay racing on a full design's ``trials`` (module docstring, 1 and 3)."""
    seeds = tuple(sorted(int(s) for s in trials["seed"].unique()))
    logs = races(trials, racing, seeds, methods or [])
    used = seeds_used(logs, racing)
    gone = {e.config: e.round for log in logs for e in log.eliminations}  # as the live sweep's column says
    ran = raced_rows(trials, used, seeds)
    ran = ran.assign(race_eliminated_round=pd.array([gone.get(c) for c in ran["config_id"]], dtype="Int64"))
    raced_choice = selection.ranked(ran, OBJECTIVE)[0]
    full_choice = selection.ranked(trials, OBJECTIVE)[0]
    survivors = tuple(logs[-1].alive)
    tests = {} if raced_choice == full_choice else paired_tests(trials, raced_choice, full_choice)
    return Replay(name, racing, seeds, logs, len(ran), trials.groupby("config_id").ngroups * len(seeds),
                  raced_choice, full_choice, survivors, tests)


def full_design() -> pd.DataFrame:
    return pd.read_csv(FULL / "trials.csv")


def paper_replays() -> list[tuple[Replay, str]]:
    """(replay, sampler note) for every committed results folder."""
    out = []
    for folder in sorted(p for p in PAPER.iterdir() if (p / "trials.parquet").is_file()):
        trials = pd.read_parquet(folder / "trials.parquet")
        spec = yaml.safe_load((folder / "spec.yaml").read_text()) or {}
        search = spec.get("search") or {}
        n = trials["seed"].nunique()
        per_method = (search.get("sampler") != "grid" and search.get("per_method", True)
                      and "regularizer.name" in (spec.get("space") or {}))
        methods = sorted(trials["regularizer"].astype(str).unique()) if per_method else []
        racing = Racing(min_seeds=min(3, n), max_seeds=n, alpha=RACING.alpha, test=RACING.test)
        out.append((race_table(folder.name, trials, racing, methods),
                    "per-method races + final" if methods else "one race"))
    return out


LIVE_TRIALS = FULL / "live_trials.csv"  # the live run's trials (--live --write), as trials.csv
CSV_TOL = 1e-6  # trials.csv holds 6 significant digits; an error is a multiple of 1/360 here


def live(keep: Path | None = None) -> dict[str, Any]:
    """Run the spec with ``RACING`` through ``sweeper launch`` (module docstring, 2); ``keep``: write the live
    run's trials there (the columns of trials.csv)."""
    raw = yaml.safe_load(SPEC.read_text())
    raw["name"] = "race_digits_raced"
    raw["search"]["racing"] = RACING.to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "race_digits_raced.yaml"
        spec.write_text(yaml.safe_dump(raw, sort_keys=False))
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        load0, t0 = os.getloadavg()[0], time.time()
        proc = subprocess.run([sys.executable, "-m", "sweeper.cli", "launch", str(spec), "--num-cpus", "2",
                               "--out", f"{tmp}/sweeps", "--quiet"], env=env, capture_output=True, text=True, check=False)
        wall = time.time() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"live racing run failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
        folder = Path(tmp) / "sweeps" / raw["name"]
        trials = pd.read_parquet(folder / "trials.parquet")
        race = json.loads((folder / "race.json").read_text())
    if keep is not None:
        cols = list(full_design().columns) + ["race_eliminated_round"]
        trials[[c for c in cols if c in trials]].sort_values(["config_id", "seed"]).to_csv(keep, index=False,
                                                                                          float_format="%.6g")
    return live_summary(trials, race, wall, load0, os.getloadavg()[0])


def live_summary(trials: pd.DataFrame, race: dict[str, Any], wall: float, load0: float, load1: float) -> dict[str, Any]:
    """What the live run measured, against the committed full design."""
    full = full_design()
    both = trials.merge(full, on=["config_id", "seed"], suffixes=("", "_full"))
    same = int((both[OBJECTIVE[0]] - both[f"{OBJECTIVE[0]}_full"]).abs().le(CSV_TOL).sum())
    label = dict(zip(full["config_id"], full["config"]))
    gone_live = {label.get(c, c): r for c, r in _eliminated_ids(race, trials).items()}
    gone_replay = {label[e.config]: e.round for e in replays()[0].logs[0].eliminations}
    choice = selection.ranked(trials, OBJECTIVE)[0]
    return {"wall_s": round(wall, 1), "trials": len(trials), "finished": int((trials["status"] == "finished").sum()),
            "trials_spent": race["trials_spent"], "full_design": race["full_design"], "finished_race": race["finished"],
            "choice": label.get(choice, choice), "choice_id": choice,
            "survivors": sorted(label.get(c, c) for log in race["races"][-1:] for c in _alive_ids(log, race, trials)),
            "same_results": same, "compared_results": len(both), "same_race": gone_live == gone_replay,
            "eliminated": len(gone_live), "load_start": round(load0, 2), "load_end": round(load1, 2)}


def _eliminated_ids(race: dict[str, Any], trials: pd.DataFrame) -> dict[str, int]:
    """config_id -> elimination round in the live race.json."""
    by_trial = dict(zip(trials["trial_id"], trials["config_id"]))
    out = {}
    for c in race["configs"].values():
        if c.get("eliminated"):
            out.update({by_trial[t]: c["eliminated"]["round"] for t in c["trials"].values() if t in by_trial})
    return out


def _alive_ids(log: dict[str, Any], race: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    """The config_ids of a race's survivors (race.json keys -> their trials -> config_id)."""
    by_trial = dict(zip(trials["trial_id"], trials["config_id"]))
    out = []
    for key in log["alive"]:
        tids = race["configs"][key]["trials"].values()
        out.extend({by_trial[t] for t in tids if t in by_trial})
    return out


def _row(r: Replay) -> dict[str, Any]:
    """A ``sweeper bench`` row of a replay: trials (not ms) against the full design."""
    return {"name": f"race replay {r.name} ({r.racing.test})", "baseline": "full design", "unit": "trials",
            "ms": float(r.spent), "baseline_ms": float(r.full), "ratio": r.spent / r.full, "target": f"<= {TARGET}",
            "same_choice": r.raced_choice == r.full_choice, "seeds": len(r.seeds),
            **({"choice_t_p": r.tests[f"{OBJECTIVE[0]}_t_p"]} if r.tests else {})}


def replays() -> list[Replay]:
    """The race_digits replays: the benchmark's racing (friedman) and the same with paired t-tests."""
    full = full_design()
    return [race_table("race_digits", full, RACING),
            race_table("race_digits", full, Racing(RACING.min_seeds, RACING.max_seeds, RACING.alpha, "t-test"))]


def run(quick: bool = False, with_live: bool | None = None) -> list[dict]:
    """Rows for ``sweeper bench race``: the replays; the live run unless ``quick`` (``with_live`` overrides)."""
    rows = [_row(r) for r in replays()] + [_row(r) for r, _ in paper_replays()]
    if with_live if with_live is not None else not quick:
        m = live()
        base = json.loads((FULL / "run.json").read_text())
        rows.append({"name": "race live race_digits (friedman)", "baseline": "full design run", "unit": "ms (wall)",
                     "ms": m["wall_s"] * 1e3, "baseline_ms": base["wall_s"] * 1e3, "ratio": m["wall_s"] / base["wall_s"],
                     "target": f"<= {TARGET} (trials)", **{k: v for k, v in m.items() if k != "survivors"}})
    return rows


def _label(trials: pd.DataFrame, cid: str) -> str:
    return str(trials.loc[trials["config_id"] == cid, "config"].iloc[0])


def _mean(trials: pd.DataFrame, cid: str, metric: str = OBJECTIVE[0]) -> str:
    return f"{100 * selection.replicates(trials).groupby('config_id')[metric].mean()[cid]:.2f} %"


def _choice_cell(r: Replay, trials: pd.DataFrame) -> str:
    if r.raced_choice == r.full_choice:
        return "the same"
    t = r.tests
    verdict = "indistinguishable" if min(t[f"{OBJECTIVE[0]}_t_p"], t[f"{OBJECTIVE[0]}_wilcoxon_p"]) >= ALPHA else "WORSE"
    return (f"{_label(trials, r.raced_choice)}: {verdict} on all {len(r.seeds)} seeds (val_error diff "
            f"{100 * t['val_error_diff']:+.2f} pp, paired t p = {t['val_error_t_p']:.3g}, Wilcoxon p = "
            f"{t['val_error_wilcoxon_p']:.3g}; test_error diff {100 * t['test_error_diff']:+.2f} pp, t p = "
            f"{t['test_error_t_p']:.3g})")


def replay_table(reps: list[Replay], trials: pd.DataFrame) -> dict[str, Any]:
    rows = [[r.racing.test, r.spent, r.full, f"{r.spent / r.full:.0%}", len(r.survivors),
             f"{_label(trials, r.full_choice)} ({_mean(trials, r.full_choice)})", _choice_cell(r, trials)] for r in reps]
    return {"caption": "Replay on the full design's results (same seeds: exact): trials spent and the configuration selected",
            "columns": ["racing test", "trials spent", "full design", "share", "survivors",
                        "full design's choice (mean val_error, 10 seeds)", "racing's choice"], "rows": rows}


def rounds_table(r: Replay) -> dict[str, Any]:
    rows = [[x.k, len(x.alive), "-" if x.omnibus_p is None else f"{x.omnibus_p:.3g}", len(x.eliminated),
             len(x.alive) - len(x.eliminated)] for x in r.logs[0].rounds]
    return {"caption": f"The race round by round ({r.racing.test}, alpha {r.racing.alpha:g})",
            "columns": ["round (seeds)", "alive", "Friedman p", "eliminated", "survivors"], "rows": rows}


def live_table(m: dict[str, Any] | None, base: dict[str, Any]) -> dict[str, Any]:
    rows = [["full design (sweeper launch)", base["trials"], f"{base['wall_s']} s", "-", base["load"], "-", "-"]]
    if m is None:
        rows.append(["racing (sweeper launch, search.racing)", "not run", "-", "-", "-", "-", "-"])
    else:
        rows.append(["racing (sweeper launch, search.racing)", m["trials"], f"{m['wall_s']} s",
                     f"{m['wall_s'] / base['wall_s']:.2f}", f"1-minute load {m['load_start']} at the start, "
                     f"{m['load_end']} at the end", f"{m['same_results']} of {m['compared_results']}",
                     f"{'yes' if m['same_race'] else 'NO'} ({m['eliminated']} eliminated)"])
    return {"caption": "Live: the same spec raced by sweeper launch vs the full design's run",
            "columns": ["run", "trials", "wall", "wall vs full", "load", "results equal to the full run's (same config, seed)",
                        "the replayed race (same eliminations, same rounds)"],
            "rows": rows}


def paper_table(items: list[tuple[Replay, str]]) -> dict[str, Any]:
    rows = []
    for r, how in items:
        meaningful = ("no: min_seeds = max_seeds, one round, nothing to save" if r.racing.min_seeds == r.racing.max_seeds
                      else "yes")
        rows.append([r.name, len(r.seeds), r.full // len(r.seeds), how, f"{r.racing.min_seeds}..{r.racing.max_seeds}",
                     r.spent, r.full, f"{r.spent / r.full:.0%}", sum(len(x.eliminated) for lg in r.logs for x in lg.rounds),
                     "yes" if r.raced_choice == r.full_choice else "no", meaningful])
    return {"caption": "Replay on the committed paper results (results/): friedman, alpha 0.05, min_seeds = min(3, seeds)",
            "columns": ["sweep", "seeds", "configurations", "races", "seeds raced", "trials spent", "full design", "share",
                        "eliminated", "same overall choice", "racing meaningful"], "rows": rows}


def notes(reps: list[Replay], items: list[tuple[Replay, str]], m: dict[str, Any] | None) -> list[str]:
    r = reps[0]
    same = r.raced_choice == r.full_choice
    met = r.spent <= TARGET * r.full and (same or "indistinguishable" in _choice_cell(r, full_design()))
    out = [f"Target (issue 24): racing reaches the full design's choice, or one indistinguishable from it, with at most "
           f"half of its trials. Replayed with {r.racing.test}: {r.spent} of {r.full} trials ({r.spent / r.full:.0%}), "
           f"{'the same configuration' if r.raced_choice == r.full_choice else 'another configuration'}: "
           f"{'met' if met else 'NOT met'}."]
    for x in reps[1:]:
        first = next((y.k for y in x.logs[0].rounds if y.eliminated), None)
        out.append(f"With paired t-tests (Holm) instead: {x.spent} of {x.full} trials ({x.spent / x.full:.0%}), "
                   f"{len(x.survivors)} survivors, the first elimination in round {first}.")
    out.append("Racing's choice is what the report of a raced sweep selects (sweeper.store.selection: the race's "
               "survivors first, then the best mean val_error); the survivors ran all 10 seeds, so their means "
               "are the full design's.")
    if m is None:
        out.append("The live run was not part of this measurement (python -m benchmarks.race without --live).")
    else:
        out.append(f"Live: sweeper launch raced {m['trials']} trials ({m['trials_spent']} handed out of "
                   f"{m['full_design']}) and selected {m['choice']}; {m['same_results']} of {m['compared_results']} "
                   f"(configuration, seed) results equal the full run's; the live race "
                   f"{'is' if m['same_race'] else 'is NOT'} the replayed one (eliminations and their rounds). Wall time "
                   "includes Ray's start and the report; a trial here trains for well under a second, "
                   "so the fixed cost per trial and the rounds (a round waits for every alive configuration's seed) "
                   "weigh more than in a sweep of real length.")
    for x, _ in items:
        gone = sum(len(y.eliminated) for lg in x.logs for y in lg.rounds)
        if x.racing.min_seeds < x.racing.max_seeds and gone and len(x.logs) == 1 and _one_per_method(x.name):
            out.append(f"{x.name}: every configuration is a different method (the paper's table compares them all); "
                       f"racing eliminated {gone} of them before {x.racing.max_seeds} seeds, so their cells would have "
                       "fewer seeds: a table that needs every configuration's full seed set is a case not to race.")
    short = [x.name for x, _ in items if x.racing.min_seeds == x.racing.max_seeds]
    if short:
        out.append(f"Paper results with 3 seeds ({', '.join(short)}): min_seeds = max_seeds = 3, so racing is one "
                   "round and cannot save a trial; racing needs more seeds than min_seeds to mean anything.")
    return out


def _one_per_method(name: str) -> bool:
    t = pd.read_parquet(PAPER / name / "trials.parquet", columns=["config_id", "regularizer"])
    return t["config_id"].nunique() == t["regularizer"].nunique() > 1


def page(with_live: bool) -> dict[str, Any]:
    """The docs page's JSON (``docs/_gen/bench_pages.py``)."""
    t0, load0 = time.time(), os.getloadavg()[0]
    full = full_design()
    base = json.loads((FULL / "run.json").read_text())
    reps, items = replays(), paper_replays()
    m = live(keep=LIVE_TRIALS) if with_live else None
    return {
        "title": "Racing over seeds: trials spent and the configuration selected (sweeper bench race)",
        "command": "python -m benchmarks.race" + (" --live" if with_live else "") + "   (sweeper bench race)",
        "date": datetime.date.today().isoformat(),
        "machine": base["machine"],
        "load": f"full design: {base['load']}; this run: 1-minute load {load0:.1f} at the start, "
                f"{os.getloadavg()[0]:.1f} at the end",
        "wall_s": round(time.time() - t0),
        "method": " ".join((__doc__ or "").split("\n\n", 1)[1].split("``sweeper bench race``")[0].split()),
        "tables": [replay_table(reps, full), rounds_table(reps[0]), live_table(m, base), paper_table(items)],
        "notes": notes(reps, items, m),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--live", action="store_true", help="also race the spec live with sweeper launch (minutes)")
    ap.add_argument("--write", default=None, help="write the docs page JSON here (else print it)")
    a = ap.parse_args(argv)
    text = json.dumps(page(a.live), indent=1, ensure_ascii=False) + "\n"
    if a.write:
        Path(a.write).write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
