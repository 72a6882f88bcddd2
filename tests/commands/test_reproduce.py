"""Provenance, `sweeper reproduce` and `sweeper confirm` on one tiny real sweep.

The sweep is the session's search sweep (``search_sweep`` in tests/conftest.py: one real
``sweeper launch``, a local Ray, Optuna's random sampler, MLflow SQLite, Parquet) on a tabular
CSV: 2 random values of ``regularizer.keep`` x seeds 0, 1, an MLP with dropout, 1 epoch; this
module works on one copy of it. The tests read its provenance, re-run one of its trials
in-process (bitwise-equal metrics on CPU), change the data file (mismatch naming the data
fingerprint), and run two confirm sweeps (real ``sweeper confirm`` subprocesses): its best
configuration on a fresh seed, and each method's selection at twice the epochs on the next seeds.
"""
from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from sweeper import cli
from tests.support.cli import sweeper
from tests.support.specs import SEARCH_NAME as NAME
from tests.support.specs import copy_sweep

CONFIRM, LONG = f"{NAME}_confirm", f"{NAME}_long"  # the two confirm sweeps


@pytest.fixture(scope="module")
def sweep(search_sweep, tmp_path_factory):
    """A copy of the session's search sweep (the confirm tests add sweeps and MLflow runs to it)."""
    return copy_sweep(search_sweep.root, tmp_path_factory.mktemp(NAME) / "c", NAME)


def _invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.mark.cli
@pytest.mark.ray
def test_provenance_in_parquet_and_mlflow(sweep):
    d = sweep / "sweeps" / NAME
    meta = pq.read_schema(d / "trials.parquet").metadata
    prov = json.loads(meta[b"sweeper.provenance"])
    code = prov["code"]
    assert (re.fullmatch(r"[0-9a-f]{40}", code["commit"] or "") and isinstance(code["dirty"], bool)) or code["note"]
    assert code["dirty"] is not True or (d / "code.diff").read_text()
    assert prov["packages"]["torch"] != "not installed" and prov["packages"]["python"]
    trials = pd.read_parquet(d / "trials.parquet")
    assert (trials.status == "finished").all() and trials.provenance.notna().all()
    rec = json.loads(trials.provenance.iloc[0])
    # resolved, not only what the YAML wrote: defaults of train and of the regularizer's Params (keep is searched)
    assert rec["config"]["train"]["momentum"] == 0.9 and rec["config"]["regularizer"]["params"]["per_channel"] is False
    assert rec["config"]["regularizer"]["params"]["keep"] == trials["regularizer.keep"].iloc[0]
    assert rec["config"]["seed"] == trials.seed.iloc[0]
    assert {s: len(rec["data"][s]) for s in ("train", "val", "test", "all")} == {s: 64 for s in ("train", "val", "test", "all")}
    assert len({json.loads(p)["data"]["all"] for p in trials.provenance}) == 1  # one data file, one split seed
    assert rec["hardware"]["device"] == "cpu" and rec["hardware"]["torch_threads"] == 1 and rec["hardware"]["cpu_count"]

    client = MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(NAME).experiment_id])
    parent = next(r for r in runs if r.data.tags.get("sweeper.sweep_id") == NAME)
    assert parent.data.tags["sweeper.git_commit"] == str(code["commit"])
    assert "provenance.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    child = next(r for r in runs if r.data.tags.get("sweeper.trial_id") == trials.trial_id.iloc[0])
    assert child.data.params["train.momentum"] == "0.9" and child.data.params["regularizer.per_channel"] == "False"
    assert float(child.data.params["regularizer.keep"]) == rec["config"]["regularizer"]["params"]["keep"]
    assert child.data.tags["sweeper.data_sha256"] == rec["data"]["all"]
    assert "provenance.json" in {a.path for a in client.list_artifacts(child.info.run_id)}


@pytest.mark.cli
@pytest.mark.ray
def test_reproduce_is_exact_on_cpu(sweep):
    out = str(sweep / "sweeps")
    trials = pd.read_parquet(sweep / "sweeps" / NAME / "trials.parquet")
    t = trials.iloc[2]
    r = _invoke("reproduce", t.trial_id, "--out", out)
    assert r.exit_code == 0, r.output
    assert "exactly (bitwise-equal floats" in r.output and "reproduced: all" in r.output
    assert f"| test_error | {float(t.test_error)!r} | {float(t.test_error)!r} | same |" in r.output

    from sweeper.commands.reproduce import find_trial

    client = MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name(NAME).experiment_id],
                             filter_string=f"tags.`sweeper.trial_id` = '{t.trial_id}'")[0]
    assert find_trial(run.info.run_id, out) == (sweep / "sweeps" / NAME, t.trial_id)  # an MLflow run id works too

    bad = _invoke("reproduce", "no_such_trial", "--out", out)
    assert bad.exit_code == 2 and "neither a trial id nor an MLflow run id" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)


@pytest.mark.cli
@pytest.mark.ray
def test_reproduce_names_a_changed_data_file(sweep, search_sweep):
    data = search_sweep.root / "data.csv"  # the file the trials read (the copy's spec names it), restored below
    original = data.read_bytes()
    df = pd.read_csv(data)
    df.loc[3, "f0"] += 1.0
    try:
        df.to_csv(data, index=False)
        trial_id = pd.read_parquet(sweep / "sweeps" / NAME / "trials.parquet").trial_id.iloc[0]
        r = _invoke("reproduce", trial_id, "--out", str(sweep / "sweeps"))
    finally:
        data.write_bytes(original)
    assert r.exit_code == 1, r.output
    assert "NOT reproduced" in r.output and "the data fingerprint differs" in r.output
    assert re.search(r"data fingerprint: train split sha256 [0-9a-f]{16}\.\.\. recorded, [0-9a-f]{16}\.\.\. now", r.output)


@pytest.mark.cli
@pytest.mark.ray
def test_confirm_refuses_search_seeds_and_runs_a_linked_sweep(sweep, capsys):
    out = str(sweep / "sweeps")
    bad = _invoke("confirm", NAME, "--top", "1", "--seeds", "1,7", "--out", out)
    assert bad.exit_code == 2 and f"--seeds 1 was used for selection (sweep {NAME} ran seeds 0, 1)" in bad.output
    too_many = _invoke("confirm", NAME, "--top", "3", "--seeds", "7", "--out", out)
    assert too_many.exit_code == 2 and "has 2 configuration(s)" in too_many.output
    assert not (sweep / "sweeps" / CONFIRM).exists()

    r = sweeper(sweep, "confirm", NAME, "--top", "1", "--seeds", "5", "--num-cpus", "2", "--quiet", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "come from seeds never used for selection" in r.stdout

    src = pd.read_parquet(sweep / "sweeps" / NAME / "trials.parquet")
    best = src.groupby("config_id").val_error.mean().idxmin()
    d = sweep / "sweeps" / CONFIRM
    conf = pd.read_parquet(d / "trials.parquet")
    assert list(conf.seed) == [5] and list(conf.config_id) == [best] and (conf.status == "finished").all()
    meta = pq.read_schema(d / "trials.parquet").metadata
    assert meta[b"sweeper.confirms"] == NAME.encode() and json.loads(meta[b"sweeper.confirm"])["selection_seeds"] == [0, 1]
    client = MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(NAME).experiment_id])
    parent = next(x for x in runs if x.data.tags.get("sweeper.sweep_id") == CONFIRM)
    assert parent.data.tags["sweeper.confirms"] == NAME

    rep = _invoke("report", CONFIRM, "--out", out)
    assert rep.exit_code == 0 and "test numbers above come from seeds never used for selection" in rep.output
    assert "never used for selection" not in _invoke("report", NAME, "--out", out).output

    # resumed (a finished sweep: nothing runs again), a confirm sweep ends as confirm does
    again = sweeper(sweep, "resume", CONFIRM, "--num-cpus", "2", "--quiet", timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Does the sign of each comparison hold on the fresh seeds?" in again.stdout
    assert "come from seeds never used for selection" in again.stdout
    # its source moved away: said, not a traceback
    from types import SimpleNamespace

    from sweeper.cli.sweep import _print_confirmation

    confirms = {**json.loads((d / "sweep.json").read_text())["confirms"], "source_dir": str(sweep / "gone")}
    _print_confirmation(SimpleNamespace(trials=conf, sweep_dir=d), confirms)
    printed = capsys.readouterr().out
    assert f"the source sweep {NAME} is no longer at {sweep / 'gone'}: the sign of its comparisons was not checked" in printed


@pytest.mark.cli
@pytest.mark.ray
def test_confirm_per_method_at_twice_the_budget_on_default_fresh_seeds(sweep):
    """`sweeper confirm SWEEP --epochs 2x`: each method's selected configuration (by validation), 2 x 1 epochs,
    as many fresh seeds as the search ran (the next after its seeds), and the sign check printed (one method
    here, dropout: its selection is the best configuration)."""
    out = str(sweep / "sweeps")
    both = _invoke("confirm", NAME, "--top", "1", "--per-method", "--out", out)
    assert both.exit_code == 2 and "exclude each other" in both.output
    bad = _invoke("confirm", NAME, "--epochs", "twice", "--out", out)
    assert bad.exit_code == 2 and "such as 2x" in bad.output
    r = sweeper(sweep, "confirm", NAME, "--epochs", "2x", "--name", LONG, "--num-cpus", "2", "--quiet", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    src = pd.read_parquet(sweep / "sweeps" / NAME / "trials.parquet")
    best = src.groupby("config_id").val_error.mean().idxmin()
    conf = pd.read_parquet(sweep / "sweeps" / LONG / "trials.parquet")
    assert sorted(conf.seed) == [2, 3] and set(conf.config_id) == {best} and (conf.epochs == 2).all()  # 2 x 1
    assert "Does the sign of each comparison hold on the fresh seeds?" in r.stdout
    assert "re-run on seeds 2, 3 at 2x epochs" in r.stdout
    meta = json.loads((sweep / "sweeps" / LONG / "sweep.json").read_text())["confirms"]
    assert meta["top"] == "per-method" and meta["epochs"] == "2x"



@pytest.mark.cli
@pytest.mark.ray
def test_an_interrupted_confirm_says_so_and_exits_with_the_signal_s_code(sweep, monkeypatch):
    """The confirm sweep's driver stopped by SIGINT (here the driver's launch raises what its signal guard
    raises): the message and exit 130, as launch and resume, no traceback."""
    import signal

    from sweeper.driver import launch as launch_mod
    from sweeper.driver.interrupt import SweepInterrupted

    def interrupted(*args, **kwargs):
        raise SweepInterrupted(signal.SIGINT, "interrupted by SIGINT; resume with: sweeper resume x")

    monkeypatch.setattr(launch_mod, "launch", interrupted)
    r = _invoke("confirm", NAME, "--top", "1", "--seeds", "9", "--name", "stopped", "--out", str(sweep / "sweeps"))
    assert r.exit_code == 130 and isinstance(r.exception, SystemExit), r.output  # not the exception itself
    assert "interrupted by SIGINT; resume with: sweeper resume x" in r.output

def test_confirm_epochs_parsing():
    from sweeper.commands.confirm import ConfirmError, budget, fresh_seeds, parse_epochs

    assert budget(60, parse_epochs("2x")) == 120 and budget(60, parse_epochs("1.5x")) == 90
    assert budget(60, parse_epochs("400")) == 400 and budget(60, None) == 60
    assert fresh_seeds({0: "a", 1: "a", 5: "b"}, 3) == [6, 7, 8]
    for bad in ("0x", "-2", "2y", "x"):
        with pytest.raises(ConfirmError, match="such as 2x"):
            parse_epochs(bad)


def test_code_version_of_a_checkout_and_of_a_plain_folder(tmp_path):
    from sweeper.store.provenance import code_version

    plain, diff = code_version(tmp_path)
    assert plain["commit"] is None and plain["dirty"] is None and "not a git checkout" in plain["note"] and diff == ""
    repo = tmp_path / "repo"
    (repo / "sweeper").mkdir(parents=True)
    (repo / "sweeper" / "__init__.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "c"]):
        subprocess.run(git + args, check=True, capture_output=True)
    clean, diff = code_version(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", clean["commit"]) and clean["dirty"] is False and diff == ""
    (repo / "sweeper" / "__init__.py").write_text("x = 2\n")
    (repo / "sweeper" / "new.py").write_text("y = 3\n")
    (repo / "mlflow.db").write_text("")  # untracked non-source files do not make the tree dirty
    dirty, diff = code_version(repo)
    assert dirty["dirty"] is True and dirty["commit"] == clean["commit"] and dirty["untracked"] == ["sweeper/new.py"]
    assert "+x = 2" in diff and "+y = 3" in diff and "mlflow.db" not in diff


def test_resolved_config_and_data_fingerprint():
    import torch

    from trainables.data.splits import Splits
    from trainables.provenance import data_fingerprint
    from trainables.resolve import from_dict

    cfg = from_dict({"dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [8]}},
                                 "regularizer": {"name": "malicious_dropout", "params": {"rho": 0.2}},
                                 "train": {"lr": 0.01}, "seed": 3}).to_dict()
    assert cfg["train"]["lr"] == 0.01 and cfg["train"]["epochs"] == 10 and cfg["seed"] == 3
    assert cfg["regularizer"]["params"]["rho"] == 0.2 and "omega" in cfg["regularizer"]["params"]
    assert cfg["model"]["params"]["widths"] == [8] and json.dumps(cfg)
    x, y = torch.arange(12.0).reshape(6, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    a = data_fingerprint(Splits(x, y, x[:2], y[:2], x[2:], y[2:], 2))
    x2 = x.clone()
    x2[4, 1] += 1e-6
    b = data_fingerprint(Splits(x2, y, x[:2], y[:2], x[2:], y[2:], 2))
    assert a["val"] == b["val"] and a["test"] == b["test"] and a["train"] != b["train"] and a["all"] != b["all"]


def test_confirm_seed_parsing():
    from sweeper.commands.confirm import ConfirmError, parse_seeds

    assert parse_seeds("5, 6,7") == [5, 6, 7]
    for bad, msg in (("5,x", "'x' is not one"), ("", "comma-separated"), ("5,5", "5 more than once"), ("-1", "'-1'")):
        with pytest.raises(ConfirmError, match=msg):
            parse_seeds(bad)


def test_reproduce_refuses_a_negative_tolerance():
    for opt in ("--atol", "--rtol"):
        r = _invoke("reproduce", "any_trial", opt, "-0.5")
        assert r.exit_code == 2 and f"Invalid value for '{opt}': -0.5 is not in the range x>=0.0" in r.output, r.output
