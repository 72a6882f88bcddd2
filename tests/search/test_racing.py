"""The racing core (sweeper/search/racing.py) on constructed tables whose answer is known."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from sweeper.search.racing import RaceLog, decide, holm, loss_table, replay


def settings(**kw) -> SimpleNamespace:
    return SimpleNamespace(**{"min_seeds": 3, "max_seeds": 6, "alpha": 0.05, "test": "friedman", **kw})


def latin_goods(m_goods: int, seeds: list[int]) -> dict[str, dict[int, float]]:
    """``m_goods`` equally good configurations: a Latin square of small values, so over ``m_goods`` seeds
    every one has the same rank sum."""
    return {f"g{i}": {s: 0.1 + 0.001 * ((i + j) % m_goods) for j, s in enumerate(seeds)} for i in range(m_goods)}


def test_holm_adjusts_step_down_in_input_order():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])  # monotone: the larger never drops below the smaller
    assert holm([0.6, 0.7, 0.01]) == pytest.approx([1.0, 1.0, 0.03])  # capped at 1


def test_friedman_clearly_worse_goes_at_min_seeds():
    """Seven equally good configurations (Latin square) and one worst on every seed, min_seeds 7:
    Friedman chi2 = 12/(7*8*9) * (7*28^2 + 56^2) - 3*7*9 = 16.33 (df 7, p = 0.0222); Conover
    t = 28 / sqrt(2 (7*1428 - 8624) / 42) = 3.464 (df 42), Holm over 7 -> p = 0.0087."""
    seeds = list(range(10, 18))
    values = {**latin_goods(7, seeds), "bad": {s: 0.6 for s in seeds}}
    log = replay(values, seeds, settings(min_seeds=7, max_seeds=8), "min", "main")
    first = log.rounds[0]
    assert first.k == 7
    assert first.omnibus_p == pytest.approx(stats.chi2.sf(16 + 1 / 3, 7))
    assert [e.config for e in first.eliminated] == ["bad"]
    gone = first.eliminated[0]
    assert gone.p_value == pytest.approx(min(1.0, 7 * 2 * stats.t.sf(28 / np.sqrt(2 * (7 * 1428 - 8624) / 42), 42)))
    assert gone.p_value < 0.05 and gone.test == "conover" and gone.best == "g0" and gone.round == 7
    assert log.finished and log.alive == tuple(f"g{i}" for i in range(7))
    assert log.eliminated_round("bad") == 7 and log.eliminated_round("g3") is None


def test_friedman_identical_configurations_and_a_worse_one():
    """Four configurations with identical results (a parameter without effect) and one worse on every seed:
    every seed ranks them the same way, so Conover's denominator is 0 and the worse one goes at min_seeds."""
    seeds = [1, 2, 3, 4]
    values = {f"g{i}": {s: 0.1 * s for s in seeds} for i in range(4)} | {"bad": {s: 0.9 for s in seeds}}
    log = replay(values, seeds, settings(max_seeds=4), "min", "main")
    assert [(e.config, e.round, e.p_value) for e in log.eliminations] == [("bad", 3, 0.0)]
    assert log.rounds[0].omnibus_p < 0.05
    assert log.alive == ("g0", "g1", "g2", "g3") and log.finished


def test_friedman_weak_omnibus_keeps_everyone():
    """The omnibus decides first: one worse configuration among five exchangeable ones on 3 seeds is not
    significant (p > alpha), so nobody is compared post hoc or eliminated in that round."""
    seeds = [1, 2, 3, 4, 5, 6]
    values = {**latin_goods(5, seeds), "bad": {s: 0.6 for s in seeds}}
    first = decide(values, list(values), seeds[:3], settings(), "min")
    assert first.omnibus_p > 0.05 and first.eliminated == () and first.p_values == {}


@pytest.mark.parametrize("test", ["friedman", "t-test"])
def test_two_equal_configurations_survive_to_max_seeds(test):
    """Two configurations whose paired differences cancel (+e, -e, ...) and one clearly worse: the worse
    goes at min_seeds (t-test) or when the omnibus allows it (friedman); the two equal ones are compared
    in every round up to max_seeds and both survive."""
    seeds = list(range(8))
    a = {s: 0.10 + 0.01 * (s % 3) for s in seeds}
    b = {s: a[s] + (0.005 if s % 2 else -0.005) for s in seeds}
    values = {"a": a, "b": b, "bad": {s: 0.5 + 0.01 * (s % 2) for s in seeds}}
    log = replay(values, seeds, settings(min_seeds=3, max_seeds=8, test=test), "min", "main")
    assert log.finished and log.next_k is None
    assert log.alive == ("a", "b")
    assert [r.k for r in log.rounds] == list(range(3, 9))
    assert log.rounds[-1].alive == ("a", "b")
    assert log.eliminated_round("bad") is not None
    if test == "friedman":  # with two alive, the pair is compared by Wilcoxon's signed-rank test
        assert log.rounds[-1].omnibus_p is None
        assert log.rounds[-1].p_values["b"] > 0.05


def paired(best: list[float], d: list[float]) -> list[float]:
    return [x + y for x, y in zip(best, d)]


def test_holm_family_keeps_a_configuration_that_passes_unadjusted():
    """t-test, four configurations: one clearly worse and two slightly worse (unadjusted p < 0.05 each);
    Holm over the family of 3 multiplies the smaller of the two marginal p-values by 2 -> both survive."""
    best = [0.10, 0.12, 0.11, 0.13, 0.09]
    values = {
        "best": best,
        "bad": paired(best, [0.40, 0.41, 0.39, 0.40, 0.42]),
        "m1": paired(best, [0.012, 0.030, 0.002, 0.026, 0.010]),
        "m2": paired(best, [0.010, 0.030, 0.000, 0.025, 0.012]),
    }
    seeds = list(range(5))
    table = {c: dict(zip(seeds, v)) for c, v in values.items()}
    raw = {c: stats.ttest_rel(values[c], best).pvalue for c in ("bad", "m1", "m2")}
    assert raw["m1"] < 0.05 and raw["m2"] < 0.05  # each would go without the correction
    r = decide(table, list(table), seeds, settings(min_seeds=5, test="t-test"), "min")
    assert r.omnibus_p is None and r.best == "best"
    assert [e.config for e in r.eliminated] == ["bad"] and r.eliminated[0].test == "t-test"
    assert [r.p_values[c] for c in ("bad", "m1", "m2")] == pytest.approx(holm(list(raw.values())))
    assert r.p_values["m1"] >= 0.05 and r.p_values["m2"] >= 0.05


def test_failed_seeds_count_as_the_worst_value():
    """A seed that failed (None) or diverged (nan) ranks last on that seed, and a configuration that failed
    everywhere is eliminated like a clearly worse one."""
    seeds = [0, 1, 2]
    values = {"a": {0: 0.1, 1: 0.2, 2: 0.3}, "b": {0: 0.15, 1: None, 2: float("nan")}}
    t = loss_table(values, ["a", "b"], seeds, "min")
    assert t[1, 1] == pytest.approx(0.2 + 0.2) and t[2, 1] == pytest.approx(0.3 + 0.2)  # worst on the seed + span
    t_max = loss_table(values, ["a", "b"], seeds, "max")
    assert t_max[1, 1] > t_max[:, 0].max()  # mode max: still the worst
    best = [0.10, 0.12, 0.11]
    table = {f"g{i}": {s: best[s] + 0.001 * i * (s % 2) for s in seeds} for i in range(3)}
    table["dead"] = {s: None for s in seeds}
    r = decide(table, list(table), seeds, settings(test="t-test"), "min")
    assert [e.config for e in r.eliminated] == ["dead"]


def test_mode_max_is_the_mirror_of_min():
    seeds = list(range(6))
    values = {f"c{i}": {s: 0.1 * i + 0.01 * ((s * (i + 1)) % 5) for s in seeds} for i in range(4)}
    mirrored = {c: {s: -v for s, v in vs.items()} for c, vs in values.items()}
    for test in ("friedman", "t-test"):
        lo = replay(values, seeds, settings(test=test), "min", "x")
        hi = replay(mirrored, seeds, settings(test=test), "max", "x")
        assert lo.rounds == hi.rounds and lo.alive == hi.alive


def test_replay_stops_at_the_first_incomplete_round_and_is_order_free():
    """A round waits for every alive configuration's results on its seeds; the log does not depend on the
    order the results came in; it round-trips through JSON."""
    seeds = list(range(6))
    full = {f"c{i}": {s: 0.1 * i + 0.01 * (s % 3) for s in seeds} for i in range(4)}
    partial = {c: {s: v for s, v in vs.items() if s < 3} for c, vs in full.items()}
    partial["c0"].pop(2)
    waiting = replay(partial, seeds, settings(test="t-test"), "min", "main")
    assert waiting.rounds == () and waiting.next_k == 3 and not waiting.finished
    assert waiting.alive == ("c0", "c1", "c2", "c3")
    log = replay(full, seeds, settings(test="t-test"), "min", "main")
    shuffled = {c: dict(reversed(list(full[c].items()))) for c in reversed(list(full))}
    assert replay(shuffled, seeds, settings(test="t-test"), "min", "main") == log
    assert RaceLog.from_json(json.loads(log.dumps())) == log
    assert log.to_json()["rounds"][0]["k"] == 3


def test_single_candidate_race_is_over_before_it_starts():
    log = replay({"only": {}}, [1, 2, 3], settings(), "min", "m")
    assert log.finished and log.rounds == () and log.alive == ("only",) and log.next_k is None


def test_a_protected_configuration_is_compared_but_never_eliminated():
    seeds = [1, 2, 3, 4]
    values = {f"g{i}": {s: 0.1 * s for s in seeds} for i in range(3)} | {"base": {s: 0.9 for s in seeds}}
    log = replay(values, seeds, settings(max_seeds=4), "min", "final", protected=frozenset({"base"}))
    assert log.rounds[0].p_values["base"] == 0.0 and log.eliminations == ()
    assert "base" in log.alive and log.finished and [r.k for r in log.rounds] == [3, 4]


def test_conover_post_hoc_equals_scikit_posthocs():
    """The F-Race post-hoc (Conover's rank t for the Friedman design) gives scikit-posthocs' unadjusted p-values
    (``posthoc_conover_friedman``, a dependency already) against the round's best; Holm is applied afterwards."""
    import numpy as np
    import scikit_posthocs as sp

    from sweeper.search.racing import _conover

    rng = np.random.default_rng(0)
    for b, m in [(3, 4), (5, 3), (8, 6), (10, 30)]:
        table = rng.normal(size=(b, m)) + 0.3 * np.arange(m)
        best, ps = _conover(table)
        ref = sp.posthoc_conover_friedman(table, p_adjust=None)
        assert ps and all(abs(ps[j] - float(ref.iloc[best, j])) < 1e-12 for j in ps)
