"""The figures plot what the tables hold: each test reads the data back from the matplotlib Figure
a ``draw`` returns and compares it with values computed here independently (numpy / scipy)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from scipy import stats

from sweeper import figures
from sweeper.figures import budget, common, gates, learning_curves, p_pass, paired, reliability, retain, sal

SEEDS = [0, 1, 2]


def _calib(seed: int) -> str:
    edges = [i / 15 for i in range(16)]
    count = [0] * 12 + [10 + seed, 20, 30 - seed]
    conf = [None] * 12 + [0.83, 0.9, 0.97]
    acc = [None] * 12 + [0.7 + 0.01 * seed, 0.85, 0.99]
    return json.dumps({"edges": edges, "count": count, "confidence": conf, "accuracy": acc})


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """3 configurations x 3 seeds (+ one diverged trial), 4 epochs; known values."""
    rng = np.random.default_rng(0)
    configs = [("c_soft", "softmax", "regularizer.name=softmax", 0.05),
               ("c_dm", "dropmax", "regularizer.name=dropmax, regularizer.tau=0.5", 0.04),
               ("c_md", "malicious_dropout", "regularizer.name=malicious_dropout, regularizer.rho=0.1", 0.06)]
    trials, epochs = [], []
    for cid, reg, label, base in configs:
        for s in SEEDS:
            tid = f"{cid}_{s}"
            row = {"trial_id": tid, "config_id": cid, "config": label, "regularizer": reg, "seed": s,
                   "status": "finished", "epochs": 4, "val_error": base + 0.002 * s,
                   "test_error": base + 0.003 * s + 0.001, "test_calibration": _calib(s)}
            trials.append(row)
            for e in range(1, 5):
                epochs.append({"trial_id": tid, "config_id": cid, "seed": s, "epoch": e,
                               "val_error": base + 0.1 / e + rng.uniform(0, 0.01), "train_loss": 1.0 / e + rng.uniform(0, 0.05),
                               "malicious_dropout_p_pass_mean": (0.9 + 0.01 * e + 0.001 * s) if reg == "malicious_dropout" else np.nan,
                               "malicious_dropout_p_pass_min": (0.5 + 0.01 * e) if reg == "malicious_dropout" else np.nan})
    trials.append({"trial_id": "bad", "config_id": "c_dm", "config": configs[1][2], "regularizer": "dropmax", "seed": 3,
                   "status": "diverged", "epochs": 2, "val_error": np.nan, "test_error": np.nan, "test_calibration": None})
    epochs.append({"trial_id": "bad", "config_id": "c_dm", "seed": 3, "epoch": 1, "val_error": 0.9, "train_loss": 50.0})
    return pd.DataFrame(trials), pd.DataFrame(epochs)


def t_band(v):
    v = np.asarray(v, float)
    h = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return v.mean() - h, v.mean() + h


def test_seed_band_rules():
    assert common.seed_band([0.1]) == (0.1, 0.1, 0.1)
    assert common.seed_band([0.1, 0.3]) == pytest.approx((0.2, 0.1, 0.3))  # range, not a t interval, for 2 seeds
    m, lo, hi = common.seed_band([0.1, 0.2, 0.6])
    assert (lo, hi) == pytest.approx(t_band([0.1, 0.2, 0.6]))


def test_learning_curves_plot_seed_means_and_t_bands():
    trials, epochs = tables()
    fig = learning_curves.draw(trials, epochs, ["c_soft", "c_dm"])
    val_ax, loss_ax = fig.axes[:2]
    assert val_ax.get_ylabel() == "val_error (%)" and loss_ax.get_ylabel() == "train_loss (nats, incl. regularizer terms)"
    for ax, metric, sc in ((val_ax, "val_error", 100), (loss_ax, "train_loss", 1)):
        lines = ax.get_lines()
        assert [ln.get_label().split(" (n=")[0] for ln in lines] == ["softmax", "dropmax tau=0.5"]
        for ln, cid in zip(lines, ["c_soft", "c_dm"]):
            ep = epochs[(epochs.config_id == cid) & (epochs.trial_id != "bad")]  # the diverged trial is left out
            want = ep.groupby("epoch")[metric].mean().to_numpy() * sc
            np.testing.assert_allclose(ln.get_ydata(), want)
            assert "n=3" in ln.get_label()
        polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(polys) == 2
        ep = epochs[(epochs.config_id == "c_dm") & (epochs.trial_id != "bad") & (epochs.epoch == 2)][metric]
        lo, hi = t_band(ep)
        verts = polys[1].get_paths()[0].vertices
        ys = verts[np.isclose(verts[:, 0], 2.0), 1]
        np.testing.assert_allclose(sorted(ys)[:1] + sorted(ys)[-1:], [lo * sc, hi * sc], rtol=1e-9)


def test_paired_differences_per_seed_against_baseline():
    trials, _ = tables()
    base = common.resolve_baseline(trials, "softmax", "val_error", "min")
    assert base == "c_soft"
    fig = paired.draw(trials, base, ["c_dm", "c_md", "c_soft"], "test_error")
    ax = fig.axes[0]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 2
    t = trials[trials.status == "finished"].set_index(["config_id", "seed"])["test_error"]
    for coll, cid in zip(dots, ["c_dm", "c_md"]):
        want = [(t[(cid, s)] - t[("c_soft", s)]) * 100 for s in SEEDS]
        np.testing.assert_allclose(coll.get_offsets()[:, 1], want)
    assert [tk.get_text().split("\n")[0] for tk in ax.get_xticklabels()] == ["dropmax tau=0.5", "malicious_dropout rho=0.1"]
    assert "(pp)" in ax.get_ylabel()


def test_paired_pairs_only_seeds_finished_in_both():
    trials, _ = tables()
    trials.loc[(trials.config_id == "c_soft") & (trials.seed == 1), "status"] = "error"
    d = paired.differences(trials, "c_dm", "c_soft", "test_error")
    assert list(d.index) == [0, 2]


def test_reliability_diagram_pools_seeds_by_count():
    trials, _ = tables()
    fig = reliability.draw(trials, ["c_dm"])
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    counts = np.array([[10 + s, 20, 30 - s] for s in SEEDS], float)
    accs = np.array([[0.7 + 0.01 * s, 0.85, 0.99] for s in SEEDS])
    want_acc = (counts * accs).sum(0) / counts.sum(0)
    np.testing.assert_allclose([b.get_height() for b in bars], want_acc)
    np.testing.assert_allclose([b.get_x() for b in bars], [12 / 15, 13 / 15, 14 / 15])
    ece = (counts.sum(0) * np.abs(want_acc - np.array([0.83, 0.9, 0.97]))).sum() / counts.sum()
    assert f"ECE {100 * ece:.2f}%" in ax.get_title() and "n=180" in ax.get_title()


def test_retain_heatmap_is_the_seed_mean(tmp_path):
    trials, _ = tables()
    dirs, mats = {}, []
    for s in SEEDS:
        d = tmp_path / f"c_dm_{s}"
        d.mkdir()
        m = np.full((3, 3), 0.1 * s) + np.eye(3) * 0.5
        mats.append(m)
        (d / "dropmax_retain_per_class_test.json").write_text(json.dumps(
            {"all": {"mean_p": m.tolist()}, "hard": {"mean_p": (m / 2).tolist()}}))
        dirs[f"c_dm_{s}"] = d
    fig = retain.draw(trials, dirs, "c_dm")
    imgs = [im for ax in fig.axes for im in ax.get_images() if isinstance(im, AxesImage)]
    np.testing.assert_allclose(imgs[0].get_array(), np.mean(mats, axis=0))
    np.testing.assert_allclose(imgs[1].get_array(), np.mean(mats, axis=0) / 2)


def test_sal_pareto_front_and_architecture_labels():
    pts = np.array([[100, 0.05], [200, 0.03], [150, 0.06], [400, 0.03], [50, 0.10]])
    assert list(sal.pareto(pts)) == [4, 0, 1]  # 150/0.06 and 400/0.03 are dominated
    rows = []
    for cid, params, err, widths in (("a", 1000, 0.05, (10, 20)), ("b", 3000, 0.03, (30, 40)), ("c", 5000, 0.04, (50, 60))):
        for s in SEEDS:
            rows.append({"trial_id": f"{cid}{s}", "config_id": cid, "config": f"regularizer.beta_over_alpha={cid}",
                         "regularizer": "sal", "seed": s, "status": "finished", "metric.sal_params": params + s,
                         "metric.sal_pruned_test_error": err, "test_error": err, "metric.sal_width_1": widths[0],
                         "metric.sal_width_2": widths[1]})
    trials = pd.DataFrame(rows)
    fig = sal.draw(trials)
    ax = fig.axes[0]
    front = [ln for ln in ax.get_lines() if ln.get_label() == "Pareto front"][0]
    np.testing.assert_allclose(front.get_xdata(), [1001, 3001])
    np.testing.assert_allclose(front.get_ydata(), [5.0, 3.0])
    texts = sorted(t.get_text().split("\n")[0] for t in ax.texts)
    assert texts == ["10-20", "30-40", "50-60"]


def test_p_pass_per_epoch():
    trials, epochs = tables()
    fig = p_pass.draw(trials, epochs, ["c_md", "c_soft"])
    ax = fig.axes[0]
    solid = ax.get_lines()[0]
    np.testing.assert_allclose(solid.get_ydata(), [0.9 + 0.01 * e + 0.001 for e in range(1, 5)])
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.5 + 0.01 * e for e in range(1, 5)])
    assert len(ax.get_lines()) == 2  # softmax has no p_pass


def test_gate_histograms_sum_seeds(tmp_path):
    rows, dirs = [], {}
    for s in SEEDS:
        d = tmp_path / f"g{s}"
        d.mkdir()
        for layer in (1, 2):
            (d / f"dropout_pp_gates_{layer}.json").write_text(json.dumps(
                {"hist_edges": [0, 0.5, 1.0], "hist_count": [s + layer, 10 * layer]}))
        dirs[f"g{s}"] = d
        rows.append({"trial_id": f"g{s}", "config_id": "g", "config": "regularizer.variant=0", "regularizer": "dropout_pp",
                     "seed": s, "status": "finished"})
    fig = gates.draw(pd.DataFrame(rows), dirs, ["g"])
    for ax, layer in zip(fig.axes, (1, 2)):
        heights = [p.get_height() for p in ax.patches]
        assert heights == [sum(s + layer for s in SEEDS), 30 * layer]
        assert f"layer {layer}" in ax.get_title()


def test_budget_figure_selects_per_budget_on_validation():
    rows = []
    # at 10 epochs config A is better on validation, at 40 config B; test values differ from validation
    for cid, ep, val, test in (("A10", 10, 0.1, 0.20), ("B10", 10, 0.2, 0.10), ("A40", 40, 0.3, 0.30), ("B40", 40, 0.1, 0.05)):
        for s in SEEDS:
            rows.append({"trial_id": f"{cid}{s}", "config_id": cid, "config": f"x={cid}", "regularizer": "dropmax",
                         "seed": s, "status": "finished", "epochs": ep, "val_error": val, "test_error": test + 0.01 * s})
    for ep in (10, 40):
        for s in SEEDS:
            rows.append({"trial_id": f"S{ep}{s}", "config_id": f"S{ep}", "config": "(fixed)", "regularizer": "softmax",
                         "seed": s, "status": "finished", "epochs": ep, "val_error": 0.2, "test_error": 0.15 - 0.001 * ep})
    trials = pd.DataFrame(rows)
    sel = budget.selection(trials, "val_error", "min", "test_error")
    assert sel.set_index(["regularizer", "budget"])["config_id"].to_dict() == {
        ("dropmax", 10): "A10", ("dropmax", 40): "B40", ("softmax", 10): "S10", ("softmax", 40): "S40"}
    fig = budget.draw(trials, "val_error", "min")
    line = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("dropmax")][0]
    np.testing.assert_allclose(line.get_xdata(), [10, 40])
    np.testing.assert_allclose(line.get_ydata(), [21.0, 6.0])
    poly = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)][0]
    verts = poly.get_paths()[0].vertices
    for x, vals in ((10, [0.20, 0.21, 0.22]), (40, [0.05, 0.06, 0.07])):
        ys = verts[np.isclose(verts[:, 0], x), 1]
        lo, hi = t_band(vals)
        assert min(ys) == pytest.approx(lo * 100) and max(ys) == pytest.approx(hi * 100)
    assert budget.draw(trials[trials.epochs == 10], "val_error", "min") is None  # one budget: nothing to draw
    trials["best_test_error"] = trials["test_error"] - 0.01
    fig = budget.draw(trials, "val_error", "min")
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "dropmax, at its best validation epoch"][0]
    np.testing.assert_allclose(dashed.get_ydata(), [20.0, 5.0])


def test_sweep_figures_draws_what_the_data_supports(tmp_path):
    trials, epochs = tables()
    out = figures.sweep_figures(trials, epochs, tmp_path, metric="val_error", mode="min", baseline="softmax")
    assert set(out) == {
        "Learning curves, best configuration per method", "Learning curves, top configurations",
        "Paired differences in test_error vs the baseline", "Reliability diagrams, best configuration per method",
        "Malicious Dropout p_pass per epoch"}
    for p in out.values():
        assert p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG"
    trial = figures.trial_figures(trials, epochs, "c_dm_1", tmp_path / "t")
    assert set(trial) == {"learning curve", "reliability diagram"}
    assert figures.trial_figures(trials, epochs, "bad", tmp_path / "t2") == {}


def test_tables_without_telemetry_say_which_figures_are_missing(tmp_path):
    """A results folder recorded before the calibration column, with no trial folders: the table figures are
    drawn, the others are listed with the reason in report.md (no crash)."""
    from sweeper.report.run import make_report

    trials, epochs = tables()
    trials = trials.drop(columns=["test_calibration"])
    skipped: dict[str, str] = {}
    out = figures.sweep_figures(trials, epochs, tmp_path / "f", baseline="softmax", skipped=skipped)
    assert "Paired differences in test_error vs the baseline" in out and "Malicious Dropout p_pass per epoch" in out
    assert "test_calibration" in skipped["Reliability diagrams, best configuration per method"]
    assert "none here" in skipped["dropmax retain probabilities per class"]
    folder = tmp_path / "results" / "old"
    folder.mkdir(parents=True)
    trials.to_parquet(folder / "trials.parquet")
    epochs.to_parquet(folder / "epochs.parquet")
    md = make_report([folder], out=folder / "report", baseline="softmax", log_mlflow=False).report_md.read_text()
    assert "![Learning curves, top configurations](figures/learning_curves_top_configurations.png)" in md
    assert "## Figures not drawn" in md and "- Reliability diagrams, best configuration per method: trials.parquet" in md


def test_legend_labels_drop_values_every_configuration_shares():
    t = pd.DataFrame({"config_id": ["a", "b"], "regularizer": ["dropout_pp"] * 2,
                      "config": ["regularizer.init=1, regularizer.name=dropout_pp, regularizer.variant=0",
                                 "regularizer.init=1, regularizer.name=dropout_pp, regularizer.variant=flat"]})
    assert common.label(t, "a") == "dropout_pp variant=0" and common.label(t, "b") == "dropout_pp variant=flat"
    assert common.label(t.iloc[:1], "a") == "dropout_pp init=1 variant=0"  # one configuration: nothing to drop


def test_learning_curve_error_axis_is_clipped_when_early_epochs_dwarf_the_end_and_says_so():
    trials, epochs = tables()
    ep = epochs.copy()
    first = ep["epoch"] == 1
    ep.loc[first & (ep.config_id == "c_soft"), "val_error"] = 0.80  # 80% after one epoch, ~7% at the end
    ax = learning_curves.draw(trials, ep, ["c_soft", "c_dm"]).axes[0]
    finals = [ep[(ep.config_id == c) & (ep.epoch == 4) & (ep.trial_id != "bad")]["val_error"].mean() * 100
              for c in ("c_soft", "c_dm")]
    top = learning_curves.CLIP * max(finals)
    assert ax.get_ylim() == pytest.approx((0, top))
    assert f"axis clipped at {top:.3g}%" in ax.get_title() and "early epochs reach 80%" in ax.get_title()
    # unclipped when nothing is far above the end
    ax = learning_curves.draw(trials, epochs, ["c_soft", "c_dm"]).axes[0]
    assert "clipped" not in ax.get_title() and ax.get_ylim()[1] > 100 * epochs[epochs.trial_id != "bad"]["val_error"].max()


def test_trial_figures_drawn_by_worker_processes_match_the_serial_drawing(tmp_path, caplog, monkeypatch):
    """publish._draw_in_processes: real `python -m sweeper.figures.trial_worker` processes draw the
    same figures for the same trials as drawing in this process; a worker that fails (its sweep
    folder is gone) has its share drawn here instead, and says so in the log."""
    from pathlib import Path

    from sweeper.driver import publish
    from sweeper.figures import trial_worker

    sweep = Path(__file__).resolve().parents[2] / "results" / "maldrop_rho"
    tids = list(pd.read_parquet(sweep / "trials.parquet").query("status == 'finished'")["trial_id"][:3])
    serial = trial_worker.draw_share(str(sweep), tids, str(tmp_path / "serial"))
    shares = [{"sweep_dir": str(sweep), "trial_ids": tids[i::2], "out_dir": str(tmp_path / f"w{i}")} for i in range(2)]
    drawn = publish._draw_in_processes(shares)
    merged = {k: v for share in drawn for k, v in share.items()}
    assert set(merged) == set(tids) and {k: set(v) for k, v in merged.items()} == {k: set(v) for k, v in serial.items()}
    for figs in merged.values():
        for p in figs.values():
            assert str(p).startswith(str(tmp_path / "w")) and Path(p).read_bytes()[:4] == b"\x89PNG"

    import shutil

    gone = tmp_path / "gone"
    shutil.copytree(sweep, gone, ignore=shutil.ignore_patterns("report", "artifacts"))
    bad = [{"sweep_dir": str(gone), "trial_ids": tids[:1], "out_dir": str(tmp_path / "b")}]
    real = publish.trial_worker.draw_share
    calls = []

    def here(**kw):  # the fallback, after the worker failed: draw from the real folder
        calls.append(kw["trial_ids"])
        return real(str(sweep), kw["trial_ids"], kw["out_dir"])

    (gone / "trials.parquet").unlink()  # the worker cannot read the table: it exits non-zero
    monkeypatch.setattr(publish.trial_worker, "draw_share", here)
    out = publish._draw_in_processes(bad)
    assert calls == [tids[:1]] and set(out[0]) == set(tids[:1])
    assert "a figure worker failed" in caplog.text


def test_a_repeated_configuration_and_seed_is_drawn_once():
    """The same (configuration, seed) trained twice (its copy with different numbers, to see which is drawn):
    the learning curve and the paired figure use one trial per seed, the first by trial_id."""
    trials, epochs = tables()
    copy = trials[trials.trial_id == "c_soft_0"].assign(trial_id="c_soft_0_copy", test_error=0.9)
    ep_copy = epochs[epochs.trial_id == "c_soft_0"].assign(trial_id="c_soft_0_copy", val_error=0.9)
    trials, epochs = pd.concat([trials, copy]), pd.concat([epochs, ep_copy])
    fig = learning_curves.draw(trials, epochs, ["c_soft"])
    line = fig.axes[0].get_lines()[0]
    assert "n=3" in line.get_label() and max(line.get_ydata()) < 50
    d = paired.differences(trials, "c_dm", "c_soft", "test_error")
    assert list(d.index) == SEEDS and abs(d[0]) < 0.1


def test_learning_curves_mark_the_lr_steps_and_say_one_trial(tmp_path):
    trials, epochs = tables()
    steps = figures.schedule_steps(trials, {"lr_schedule": "thirds", "epochs": 6}, ["c_soft"])
    assert steps == {"c_soft": [2.0, 4.0]}
    assert figures.schedule_steps(trials, {"lr_schedule": "cosine", "epochs": 6}, ["c_soft"]) == {"c_soft": []}
    fig = learning_curves.draw(trials, epochs, ["c_soft"], steps=steps)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert sorted(ln.get_xdata()[0] for ln in vlines) == [2.0, 4.0]
    assert "lr step (x0.1)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "mean over seeds" in ax.get_title()
    assert set(figures.trial_figures(trials, epochs, "c_dm_1", tmp_path)) == {"learning curve", "reliability diagram"}
    single = learning_curves.draw(trials[trials.trial_id == "c_dm_1"], epochs, ["c_dm"])
    assert "one trial" in single.axes[0].get_title() and "mean over seeds" not in single.axes[0].get_title()
    assert single.axes[0].get_legend().get_title().get_text() == ""


def test_reliability_bars_carry_their_bin_counts():
    trials, _ = tables()
    fig = reliability.draw(trials, ["c_soft"])
    ax = fig.axes[0]
    counts = sorted(int(t.get_text()) for t in ax.texts)
    assert counts == sorted([sum(10 + s for s in SEEDS), 60, sum(30 - s for s in SEEDS)])
    assert "count per bin" in ax.get_title()


def test_retain_heatmap_uses_the_data_class_names(tmp_path):
    trials, _ = tables()
    dirs = {}
    for s in SEEDS:
        d = tmp_path / f"c_dm_{s}"
        d.mkdir()
        (d / "dropmax_retain_per_class_test.json").write_text(json.dumps({"all": {"mean_p": np.eye(3).tolist()}}))
        (d / "classes.json").write_text(json.dumps({"class_names": ["A", "B", "C"]}))
        dirs[f"c_dm_{s}"] = d
    ax = retain.draw(trials, dirs, "c_dm").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "C"]
