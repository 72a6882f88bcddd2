"""The race figure (sweeper/figures/race.py) of a sweep raced by the real race searcher
(tests/support/raced_sweep.py): one line per configuration, eliminated ones ending at their round."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweeper.figures import race as race_fig
from sweeper.figures import sweep_figures
from sweeper.store import race_file
from tests.support import raced_sweep as R


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    return R.make(tmp_path_factory.mktemp("sweeps") / "raced")


def test_lines_end_at_their_round(raced):
    t = pd.read_parquet(raced / "trials.parquet")
    fig = race_fig.draw(t, race_file.read(raced))
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label().startswith("softmax lr=")}
    assert set(lines) == {"softmax lr=0.001", "softmax lr=0.002", "softmax lr=0.02", "softmax lr=0.05"}
    for name in ("softmax lr=0.02", "softmax lr=0.05"):  # eliminated in round 3: seeds 1..3, an x at the end
        assert list(lines[name].get_xdata()) == [1, 2, 3] and lines[name].get_marker() == "x"
    for name in ("softmax lr=0.001", "softmax lr=0.002"):  # survivors: to round 6
        assert list(lines[name].get_xdata()) == [1, 2, 3, 4, 5, 6] and lines[name].get_marker() == "o"
    v = t[t["config"] == "train.lr=0.05"].sort_values("seed")["val_error"].to_numpy()
    assert lines["softmax lr=0.05"].get_ydata()[-1] == pytest.approx(100 * v[:3].mean())
    assert np.all(np.diff(lines["softmax lr=0.001"].get_xdata()) == 1)
    assert {h.get_label() for h in ax.get_legend().legend_handles} == {"softmax lr=0.001", "softmax lr=0.002", "eliminated (2), x at its round"}


def test_drawn_by_sweep_figures_only_for_a_raced_sweep(raced, tmp_path):
    t = pd.read_parquet(raced / "trials.parquet")
    ep = pd.read_parquet(raced / "epochs.parquet")
    figs = sweep_figures(t, ep, tmp_path / "a", race_payload=race_file.read(raced))
    assert figs[race_fig.TITLE].is_file()
    assert race_fig.TITLE not in sweep_figures(t, ep, tmp_path / "b")
