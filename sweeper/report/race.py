"""The race section of a raced sweep's report (``search.racing``), read from its ``race.json``.

A sweep that raced (``sweeper/search/race_searcher.py``) records every race (``main``; or one per method and a
``final`` race between the methods' winners) in ``race.json`` (``sweeper/store/race_file.py``); a sweep without
that file gets no race section. The section shows, per race, the configurations alive in each round ``k`` (the
round compares them on the first ``k`` seeds) with the round's Friedman p (``friedman`` racing, three or more
alive); every elimination with its round, test, Holm-adjusted p-value (over the round's comparisons against the
best) and the configuration it lost to (the round's best); and the trials the race spent against the full design
(every configuration on every seed).

The honesty text says what racing is: a selection procedure. The numbers of every configuration in the report
come from its own seeds (an eliminated one from the seeds it had when it went), the selected configuration is
reported on the seeds it was selected on, and the report's paired comparisons use only the seeds both
configurations share (``sweeper.report.stats.paired``); the final claim needs ``sweeper confirm`` on fresh seeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sweeper.report import markdown
from sweeper.search.racing import RaceLog
from sweeper.store import race_file, selection

TITLE = "Racing over seeds"
NOT_FINISHED = " The race has not finished."
TESTS = {  # Elimination.test -> what the report calls it
    "conover": "Conover post-hoc vs the best (after a Friedman test)",
    "wilcoxon": "Wilcoxon signed-rank (two alive)",
    "t-test": "paired t-test vs the best",
}


@dataclass(frozen=True)
class RaceSection:
    text: str  # markdown
    rounds: pd.DataFrame  # race_rounds.csv
    eliminations: pd.DataFrame  # race_eliminations.csv
    spent: int
    full_design: int


def labels(payload: dict[str, Any], trials: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Config key -> (config_id, "method: configuration") from the trials the race ran; the key itself for a
    configuration none of whose trials is in ``trials`` yet."""
    rows = trials.drop_duplicates("trial_id").set_index("trial_id") if "trial_id" in trials else pd.DataFrame()
    out = {}
    for key, c in payload.get("configs", {}).items():
        hit = next((tid for tid in c.get("trials", {}).values() if tid in rows.index), None)
        if hit is None:
            out[key] = (key, key)
        else:
            r = rows.loc[hit]
            out[key] = (str(r["config_id"]), f"{r['regularizer']}: {r['config']}")
    return out


def _p(v: float | None) -> str:
    """A p-value as printed: below double precision (Conover's statistic is infinite when every seed ranks the
    pair the same way) it reads "< 1e-16", never "0"."""
    if v is None:
        return "-"
    return "< 1e-16" if v < 1e-16 else f"{v:.3g}"


def rounds_table(logs: list[RaceLog], names: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """One row per decided round of every race."""
    rows = []
    for log in logs:
        for r in log.rounds:
            rows.append({"race": log.name, "round": r.k, "seeds": ",".join(map(str, log.seeds[:r.k])),
                         "alive": len(r.alive), "omnibus_p": r.omnibus_p, "eliminated": len(r.eliminated),
                         "survivors": len(r.survivors), "best": names.get(r.best, (r.best, r.best))[1]})
    return pd.DataFrame(rows, columns=["race", "round", "seeds", "alive", "omnibus_p", "eliminated", "survivors", "best"])


def eliminations_table(logs: list[RaceLog], names: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """One row per eliminated configuration: its race, round, test, Holm-adjusted p and the configuration it lost to."""
    rows = []
    for log in logs:
        for e in log.eliminations:
            cid, label = names.get(e.config, (e.config, e.config))
            rows.append({"race": log.name, "config_id": cid, "configuration": label, "round": e.round,
                         "test": e.test, "p_holm": e.p_value, "omnibus_p": e.omnibus_p,
                         "lost_to": names.get(e.best, (e.best, e.best))[1]})
    return pd.DataFrame(rows, columns=["race", "config_id", "configuration", "round", "test", "p_holm", "omnibus_p",
                                       "lost_to"])


def _race_lines(log: RaceLog, names: dict[str, tuple[str, str]], rounds: pd.DataFrame, friedman: bool) -> list[str]:
    state = "finished" if log.finished else f"running (next round: {log.next_k} seeds)"
    alive = "; ".join(names.get(c, (c, c))[1] for c in log.alive) or "none"
    lines = [f"**Race `{log.name}`** ({len(log.candidates)} configurations, {state}); still in it: {alive}.", ""]
    mine = rounds[rounds["race"] == log.name]
    if mine.empty:
        return lines + ["No round decided yet (every configuration needs its first "
                        f"{log.min_seeds} seeds).", ""]
    rows = [[r["round"], r["alive"], *([_p(r["omnibus_p"] if pd.notna(r["omnibus_p"]) else None)] if friedman else []),
             r["eliminated"], r["survivors"], r["best"]] for r in mine.to_dict("records")]
    header = ["round (seeds)", "alive", *(["Friedman p"] if friedman else []), "eliminated", "survivors", "best"]
    return lines + [markdown.table(header, rows), ""]


def _elimination_lines(elim: pd.DataFrame, alpha: float, friedman: bool) -> list[str]:
    if elim.empty:
        return ["No configuration was eliminated: no comparison against the best reached "
                f"p < {alpha:g} (Holm-adjusted).", ""]
    rows = [[r["configuration"], r["race"], r["round"], TESTS.get(r["test"], r["test"]), _p(r["p_holm"]),
             *([_p(r["omnibus_p"] if pd.notna(r["omnibus_p"]) else None)] if friedman else []), r["lost_to"]]
            for r in elim.sort_values(["race", "round", "p_holm"], kind="stable").to_dict("records")]
    header = ["configuration", "race", "round (seeds)", "test", "p (Holm)", *(["Friedman p"] if friedman else []), "lost to"]
    return ["Eliminations (p: Holm-adjusted over the round's comparisons against the round's best):", "",
            markdown.table(header, rows), ""]


def honesty(selected_out: list[str]) -> str:
    """What racing is and what the numbers mean (module docstring); ``selected_out``: the labels of the selected
    configurations (one per method) that the race eliminated (the selection ranks by each configuration's mean
    over its own seeds, so a configuration that went early on a few lucky seeds can head it)."""
    lines = [
        "Racing selects. Every configuration's numbers in this report come from its own seeds: an eliminated "
        "one's from the seeds it ran before its round, a survivor's from up to `max_seeds` seeds, the same seeds "
        "it was selected on (so its numbers are optimistic). The paired comparisons use only the seeds both "
        "configurations share. For the final claim, run `sweeper confirm SWEEP` on fresh seeds.",
    ]
    if selected_out:
        lines.append(f"Selected but eliminated by the race: {'; '.join(selected_out)}. Its mean over its few seeds "
                     "beats the survivors' over theirs; do not report it without `sweeper confirm`.")
    return "\n\n".join(lines)


def section(payload: dict[str, Any] | None, trials: pd.DataFrame, objective: tuple[str, str]) -> RaceSection | None:
    """The race section of a sweep whose ``race.json`` holds ``payload``; None for a sweep that did not race."""
    if payload is None:
        return None
    logs = [RaceLog.from_json(d) for d in payload.get("races", [])]
    names = labels(payload, trials)
    rounds, elim = rounds_table(logs, names), eliminations_table(logs, names)
    rc = payload["racing"]
    spent, full = int(payload["trials_spent"]), int(payload["full_design"])
    share = f" ({spent / full:.0%})" if full else ""
    friedman = rc["test"] == "friedman"
    md = [f"F-Race over seeds (`search.racing`: min_seeds {rc['min_seeds']}, max_seeds {rc['max_seeds']}, alpha "
          f"{rc['alpha']:g}, test {rc['test']}) on {payload['metric']} ({payload['mode']}). Round k compares the "
          "configurations still alive on the first k seeds; the significantly worse are eliminated, the rest get "
          "the next seed.", "",
          f"Trials spent: {spent} of the full design's {full}{share}; the full design runs every configuration "
          f"on each of the {len(payload['seeds'])} seeds." + ("" if payload.get("finished") else NOT_FINISHED), ""]
    for log in logs:
        md += _race_lines(log, names, rounds, friedman)
    md += _elimination_lines(elim, float(rc["alpha"]), friedman)
    selected = selection.best_per_method(trials, objective).values() if len(trials) else []
    gone = dict(zip(elim["config_id"], elim["configuration"]))
    md.append(honesty([gone[c] for c in selected if c in gone]))
    return RaceSection("\n".join(md), rounds, elim, spent, full)


def read(sweep_folder) -> dict[str, Any] | None:
    """The sweep's ``race.json`` (None: the sweep did not race)."""
    return race_file.read(sweep_folder)
