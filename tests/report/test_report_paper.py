"""Paper targets: the spec's paper: block (validation), measured vs paper, deltas, ordering and flipped pairs."""
import pytest
from scipy import stats as sps

from sweeper.report import paper, tables
from tests.report.report_fixtures import rows, table

OBJ = ("val_error", "min")
BLOCK = {"source": "a made-up Table 1", "targets": {
    "a": {"test_error": {"value": 5.0, "ci95": 0.5}},
    "b": {"test_error": 7.0},
    "regularizer.name=c, regularizer.rho=0.4": {"test_error": 6.0},
    "d": {"test_error": 1.0},
}}


def _configs():
    t = table(rows("a", "regularizer.name=a", {"val_error": [.1] * 3, "test_error": [.040, .041, .039]}, seeds=(0, 1, 2)),
              rows("b", "regularizer.name=b", {"val_error": [.1] * 3, "test_error": [.060, .061, .059]}, seeds=(0, 1, 2)),
              rows("c", "regularizer.name=c, regularizer.rho=0.4", {"val_error": [.1] * 3, "test_error": [.070, .070, .070]}, seeds=(0, 1, 2)),
              rows("c", "regularizer.name=c, regularizer.rho=0.6", {"val_error": [.2] * 3, "test_error": [.010, .010, .010]}, seeds=(0, 1, 2)))
    return tables.config_table(t, ["test_error"], OBJ)


def test_measured_vs_paper_deltas_and_flips():
    block, problems = paper.parse(BLOCK)
    assert problems == [] and block["targets"]["b"]["test_error"] == {"value": 7.0, "ci95": None}
    comp = paper.compare(block, _configs()).set_index("target")
    assert comp.loc["a", "measured"] == pytest.approx(4.0) and comp.loc["a", "delta"] == pytest.approx(-1.0)
    assert comp.loc["a", "paper_ci95"] == 0.5 and comp.loc["a", "n"] == 3
    # the key with rho=0.4 picks that configuration (7.0 %), not rho=0.6 (1.0 %)
    assert comp.loc["regularizer.name=c, regularizer.rho=0.4", "measured"] == pytest.approx(7.0)
    assert comp.loc["d", "note"] == "no configuration of the sweep matches"
    order = paper.ordering(comp.reset_index()).iloc[0]
    # measured a 4 < b 6 < c 7; paper a 5 < c 6 < b 7: the pair b / c flips
    assert order["flipped"] == 1 and order["flipped_pairs"] == "b / regularizer.name=c, regularizer.rho=0.4"
    assert order["kendall_tau"] == pytest.approx((2 - 1) / 3)  # 2 concordant, 1 discordant pair
    assert order["spearman_rho"] == pytest.approx(sps.spearmanr([4, 6, 7], [5, 7, 6]).statistic) == pytest.approx(0.5)
    text = paper.render(block, comp.reset_index(), paper.ordering(comp.reset_index()))
    assert "| a | test error % | 4.00 ± " in text and "| 5.00 ± 0.50 | -1.00 |" in text and "1 of 3 pairs flip order" in text


@pytest.mark.parametrize("raw, where", [
    ("Table 1", "paper"),
    ({"targets": {"a": {"test_error": 1.0}}}, "paper.source"),
    ({"source": "x", "targets": {"a": {"test_error": "7.09 ± 0.4"}}}, "paper.targets.a.test_error"),
    ({"source": "x", "targets": {"a": {"test_error": {"value": 1.0, "ci95": -1}}}}, "paper.targets.a.test_error.ci95"),
    ({"source": "x", "targets": {"regularizer.nope=1": {"test_error": 1.0}}}, "paper.targets.regularizer.nope=1"),
    ({"source": "x", "targets": {}, "extra": 1}, "paper.extra"),
])
def test_bad_paper_blocks_name_the_yaml_path(raw, where):
    block, problems = paper.parse(raw, {"regularizer.name"})
    assert block is None and where in [p for p, _ in problems]


def test_spec_validates_and_keeps_the_paper_block():
    from sweeper import spec

    raw = {"name": "p", "dataset": {"name": "digits"}, "model": {"name": "mlp"}, "regularizer": {"name": "softmax"},
           "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]}},
           "paper": {"source": "x", "targets": {"softmax": {"test_error": 2.0}, "regularizer.name=dropout": {"test_error": 1.5}}}}
    s = spec.from_dict(raw)
    assert s.paper["targets"]["softmax"]["test_error"]["value"] == 2.0
    assert spec.from_dict(s.to_dict()).paper == s.paper  # round trip through the stored spec.yaml
    with pytest.raises(spec.SpecError, match=r"paper.targets.softmax.test_error: expected a number"):
        spec.from_dict({**raw, "paper": {"source": "x", "targets": {"softmax": {"test_error": "2"}}}})


def test_paper_specs_declare_targets():
    from pathlib import Path

    from sweeper import spec

    root = Path(__file__).resolve().parents[2] / "search_spaces" / "paper"
    for name in ("dropmax_table1_mnist1k", "gd_table1_sal", "maldrop_mnist"):
        s = spec.load(root / f"{name}.yaml")
        assert s.paper and s.paper["source"] and len(s.paper["targets"]) >= 3, name
