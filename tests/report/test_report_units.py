"""Units follow the metric: errors and ECE in %, NLL in nats (never "points"), per-seed values below 3 seeds."""
from sweeper.report import units


def test_cells_in_the_metric_unit():
    assert units.cell(0.0354, 0.0024, 5, [], "test_error") == "3.54 ± 0.24"
    assert units.cell(0.114, 0.0071, 5, [], "test_nll") == "0.114 ± 0.007"
    assert units.cell(0.0070, 0.0027, 5, [], "test_ece") == "0.70 ± 0.27"  # ECE in % with 2 decimals, not 0.01 ± 0.00
    assert units.cell(263000.0, 1500.0, 3, [], "sal_params") == "263,000 ± 1,500"
    assert units.header("test_nll") == "test NLL (nats)" and units.header("test_ece") == "test ECE %"
    assert units.unit_of("test_nll").diff_label == "nats" and units.unit_of("val_error").diff_label == "pp"


def test_fewer_than_three_seeds_shows_the_values_not_an_interval():
    assert units.cell(0.55, 6.4, 2, [0.5, 0.6], "val_error") == "seeds: 50.00, 60.00 (n=2)"
    assert units.cell(0.2, float("nan"), 1, [0.2], "test_nll") == "seeds: 0.200 (n=1)"
    assert units.cell(float("nan"), float("nan"), 0, [], "test_error") == "-"
