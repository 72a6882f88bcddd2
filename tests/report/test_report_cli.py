"""`sweeper report` on a results folder (tables only, no MLflow), without torch or Ray; bad input exits 2;
the report folder is logged to the sweep's MLflow parent run (real SQLite store)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.report.report_fixtures import dropmax_like

ROOT = Path(__file__).resolve().parents[2]
SPEC = """name: fixture
search: {metric: val_error, mode: min}
paper:
  source: made-up
  targets:
    softmax: {test_error: {value: 7.09, ci95: 0.46}}
    dropmax: {test_error: {value: 5.32, ci95: 0.09}}
    sal: {test_error: 4.5}
"""


def _results(folder: Path) -> Path:
    folder.mkdir(parents=True)
    t = pa.Table.from_pandas(dropmax_like(), preserve_index=False)
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), b"sweeper.spec": SPEC.encode(),
                                   b"sweeper.versions": b'{"sweeper": "0.1.0"}'})
    pq.write_table(t, folder / "trials.parquet")
    return folder


def _cli(*args, cwd):
    code = ("import sys\nfrom sweeper.cli import main\ntry:\n    main(sys.argv[1:], standalone_mode=True)\n"
            "except SystemExit as e:\n    bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'ray')]\n"
            "    print('IMPORTED', bad)\n    raise\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.cli
def test_report_on_a_results_folder(tmp_path):
    d = _results(tmp_path / "results" / "fixture")
    r = _cli("report", str(d), "--baseline", "softmax", "--metric", "test_error", "--report-dir", str(d / "report"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "IMPORTED []" in r.stdout  # neither torch nor Ray was imported
    assert "| dropmax | 1 | 5 | 5/5 | 3.54 ± 0.26 | 5.32 ± 0.09 | -1.62 ± 0.14 | 0.112 ± 0.010 | 0.70 ± 0.20 | 5.10 ± 0.20 |" in r.stdout
    assert "| softmax | 2 | 10 | 5/5 | 5.16 ± 0.26 | 7.09 ± 0.46 | – |" in r.stdout
    assert "baseline: softmax has 2 configurations; using the best by val_error (min)" in r.stdout
    rep = (d / "report" / "report.md").read_text()
    for section in ("## Which method is best", "## All configurations", "## Paired comparisons of test_error against softmax",
                    "## Measured vs paper", "Paper: made-up", "exact sign-flip permutation test", "Holm"):
        assert section in rep, section
    csvs = {p.name for p in (d / "report").glob("*.csv")}
    assert csvs == {"configurations.csv", "methods.csv", "paired_test_error.csv", "paper.csv", "paper_ordering.csv",
                    "robustness.csv"}


@pytest.mark.cli
def test_bad_metric_or_sweep_exits_2_without_traceback(tmp_path):
    d = _results(tmp_path / "r")
    r = _cli("report", str(d), "--metric", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "metric 'nope' is not in" in r.stderr and "Traceback" not in r.stderr
    assert not (d / "report").exists()  # nothing created
    r = _cli("report", "missing", cwd=tmp_path)
    assert r.returncode == 2 and "no sweep 'missing'" in r.stderr and "Traceback" not in r.stderr
    r = _cli("report", str(d), "--baseline", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "matches no config_id or method" in r.stderr
    r = _cli("report", str(d), "--baseline", "softmax", "--all-pairs", cwd=tmp_path)
    assert r.returncode == 2 and "--baseline and --all-pairs exclude each other" in r.stderr and "Traceback" not in r.stderr
    assert not (d / "report").exists()



def test_a_report_folder_that_cannot_be_written_is_bad_input(tmp_path):
    """In this process, through click's runner: --report-dir under a file: exit 2, one message, nothing written."""
    from tests.support.cli import invoke, refused_here

    d = _results(tmp_path / "r")
    (tmp_path / "afile").write_text("")
    r = invoke("report", str(d), "--report-dir", str(tmp_path / "afile" / "rep"), "--no-mlflow", cwd=tmp_path)
    refused_here(r, f"the report folder: {tmp_path / 'afile'} is not a folder; choose a writable --report-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "r"] and list(d.iterdir()) == [d / "trials.parquet"]


def test_report_logged_to_the_parent_run(tmp_path):
    from mlflow import MlflowClient

    from sweeper.report.run import make_report

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(uri)
    run = c.create_run(c.create_experiment("fixture"), run_name="fixture")
    d = _results(tmp_path / "sweeps" / "fixture")
    (d / "sweep.json").write_text(json.dumps({"mlflow_parent_run": run.info.run_id, "mlflow_uri": uri}))
    w = make_report([d], figures=False)
    assert w.mlflow_runs == (run.info.run_id,) and w.report_md == d / "report" / "report.md"
    names = {a.path for a in c.list_artifacts(run.info.run_id, "report")}
    assert {"report/report.md", "report/configurations.csv", "report/methods.csv"} <= names


def test_several_sweeps_and_all_pairs(tmp_path):
    from sweeper.report.run import make_report

    dirs = []
    for i, shift in enumerate((0.0, 0.01, -0.005)):
        d = _results(tmp_path / f"s{i}")
        t = pq.read_table(d / "trials.parquet")
        df = t.to_pandas()
        df["test_error"] += shift * (df["regularizer"] == "sal")  # sal's rank changes between sweeps
        df["sweep"] = f"s{i}"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(t.schema.metadata), d / "trials.parquet")
        dirs.append(d)
    w = make_report(dirs, out=tmp_path / "across", all_pairs=True, figures=False)
    md = w.report_md.read_text()
    assert "## Across sweeps" in md and "Friedman test over 3 sweeps and 3 methods" in md
    assert "![Critical-difference diagram (test_error, 3 sweeps)](figures/critical_difference_test_error.png)" in md
    assert (tmp_path / "across" / "figures" / "critical_difference_test_error.png").stat().st_size > 5000
    assert "## Paired comparisons of test_error (all pairs) (s0)" in md and (tmp_path / "across" / "s0__paired_test_error.csv").exists()
    assert "Average rank (1 = best): dropmax 1.33, sal 1.67, softmax 3.00." in md  # sal beats dropmax in s2


def test_figures_passed_in_are_embedded_and_copied(tmp_path):
    from sweeper.report import data, writer

    d = _results(tmp_path / "r")
    rep = writer.build(data.load(d))
    inside = tmp_path / "out" / "figures" / "curve.png"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"\x89PNG-inside")
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"\x89PNG-outside")
    md = writer.write([rep], tmp_path / "out", {"Learning curves": inside, "Reliability": outside}).read_text()
    assert "![Learning curves](figures/curve.png)" in md and "![Reliability](figures/01_elsewhere.png)" in md
    assert (tmp_path / "out" / "figures" / "01_elsewhere.png").read_bytes() == b"\x89PNG-outside"


def test_paper_targets_from_a_spec_file(tmp_path):
    import pandas as pd
    import pytest

    from sweeper.report.run import ReportInputError, make_report

    d = _results(tmp_path / "results" / "fixture")
    w = make_report([d], paper_file=ROOT / "search_spaces" / "paper" / "dropmax_table1_mnist1k.yaml", baseline="softmax",
                    out=tmp_path / "rep", figures=False)
    pc = pd.read_csv(tmp_path / "rep" / "paper.csv").set_index("target")
    assert len(pc) == 8 and pc["measured"].notna().sum() == 2  # the fixture has dropmax and softmax of the 8 methods
    assert pc.loc["dropmax", "delta"] == pytest.approx(3.54 - 5.32) and pc.loc["softmax", "paper_ci95"] == 0.46
    assert "DropMax (Lee et al., NeurIPS 2018) Table 1" in w.report_md.read_text()
    with pytest.raises(ReportInputError, match="has no paper: block"):
        make_report([d], paper_file=ROOT / "search_spaces" / "maldrop_rho.yaml", out=tmp_path / "x", figures=False)
