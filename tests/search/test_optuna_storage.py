"""The sweep's Optuna studies in a real RDB storage (issue 25): the same suggestions as in memory,
saved by name and read back from the database, orphaned trials reused, one Optuna trial per
configuration run after an interruption and a resume, and served by `sweeper dashboard`."""
from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from tests.support.misbehaving_trial import MISBEHAVING

REPO = Path(__file__).resolve().parents[2]
SPEC = {
    "name": "st", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"}, "train": {"epochs": 1},
    "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True},
              "train.batch_size": {"type": "categorical", "choices": [32, 64]}},
    "seeds": [0], "search": {"sampler": "tpe", "num_samples": 14, "sampler_seed": 0, "metric": "val_error", "mode": "min"},
}


def _drive(searcher, ids: list[str], *, roundtrip_at: int | None = None):
    """Suggest and complete each id in turn (objective: a bowl around lr = 0.01); with
    ``roundtrip_at``, the searcher is pickled and unpickled before that id (what resume does)."""
    out = []
    for i, tid in enumerate(ids):
        if i == roundtrip_at:
            searcher = pickle.loads(pickle.dumps(searcher))
        c = searcher.suggest(tid)
        out.append(c)
        searcher.on_trial_complete(tid, result={"val_error": (c["train.lr"] - 0.01) ** 2})
    return out, searcher


def test_study_in_a_database_suggests_as_in_memory_and_survives_a_pickle(tmp_path):
    from sweeper.search import space, study
    from sweeper.spec import from_dict

    spec = from_dict(SPEC)
    ids = [f"t{i}" for i in range(14)]  # past TPE's 10 start-up trials
    mem = _drive(space.search_setup(spec)[1].searcher, ids)[0]
    url = study.default_url(tmp_path)
    got = _drive(space.search_setup(spec, study=(url, "st"))[1].searcher, ids, roundtrip_at=11)[0]
    assert got == mem
    trials = optuna.load_study(study_name="st", storage=url).trials
    assert [t.user_attrs[study.TUNE_ID] for t in trials] == ids
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert [t.params["train.lr"] for t in trials] == [c["train.lr"] for c in mem]


def test_a_configuration_asked_but_never_run_is_reused_on_resume(tmp_path, monkeypatch):
    from sweeper.search import space, study
    from sweeper.spec import from_dict

    url = study.default_url(tmp_path)
    searcher = space.search_setup(from_dict(SPEC), study=(url, "st"))[1].searcher
    _drive(searcher, ["a"])
    orphan = searcher.suggest("b")  # the driver is killed before Tune records trial b
    saved = pickle.dumps(searcher)
    assert study.release_orphans(url, "st", known={"a"}) == 1
    monkeypatch.setenv(study.ENV, url)
    resumed = pickle.loads(saved)
    assert resumed.suggest("c") == orphan
    resumed.on_trial_complete("c", result={"val_error": 0.5})
    trials = optuna.load_study(study_name="st", storage=url).trials
    assert len(trials) == 2 and [t.user_attrs[study.TUNE_ID] for t in trials] == ["a", "c"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)


def test_an_orphan_sampled_after_the_last_snapshot_costs_no_budget_on_resume(tmp_path, monkeypatch):
    """The driver is killed after asking for trial b but before Tune's next snapshot: the resumed
    searcher (Tune's last snapshot, from before b was sampled) replays b's configuration, and its
    sampler then samples that same point again. That second copy is neither trained nor counted: every
    one of ``num_samples`` configurations is still distinct and trained, and the study holds one COMPLETE
    trial per configuration run (the re-derived copy is FAIL)."""
    from ray.tune.search import Searcher

    from sweeper.search import space, study
    from sweeper.spec import from_dict

    spec = {**SPEC, "space": {"train.lr": SPEC["space"]["train.lr"]}, "search": {**SPEC["search"], "num_samples": 3}}
    url = study.default_url(tmp_path)
    searcher = space.search_setup(from_dict(spec), study=(url, "st"))[1].searcher
    _, searcher = _drive(searcher, ["a"])
    saved = pickle.dumps(searcher)  # Tune's last snapshot
    orphan = searcher.suggest("b")  # asked after it; the driver is killed before Tune records trial b
    assert study.release_orphans(url, "st", known={"a"}) == 1
    monkeypatch.setenv(study.ENV, url)
    resumed = pickle.loads(saved)
    assert resumed.suggest("c") == orphan  # replayed
    resumed.on_trial_complete("c", result={"val_error": 0.5})
    d = resumed.suggest("d")  # the restored sampler samples the orphan's point again: skipped, asked again
    assert d not in (None, Searcher.FINISHED) and d != orphan, d
    resumed.on_trial_complete("d", result={"val_error": 0.4})
    assert resumed.suggest("e") == Searcher.FINISHED  # 3 configurations: a, c (= b's), d
    trials = optuna.load_study(study_name="st", storage=url).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert [t.user_attrs[study.TUNE_ID] for t in complete] == ["a", "c", "d"]
    assert len({t.params["train.lr"] for t in complete}) == 3
    assert [t.number for t in trials] == list(range(len(trials)))


def _env() -> dict:
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def _cli(cwd: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "sweeper.cli", *args], cwd=cwd, env=_env(), capture_output=True,
                       text=True, timeout=900, **kw)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-5000:]}"
    return r


def _per_method_spec(cwd: Path) -> None:
    spec = {
        "name": "pm", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "softmax"}, "train": {"epochs": 3, "batch_size": 256},
        "space": {"regularizer.name": {"type": "categorical", "choices": ["softmax", "dropout"]},
                  "train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True}},
        "seeds": [0, 1],
        "search": {"sampler": "random", "num_samples": 2, "sampler_seed": 0, "max_failures": 0,
                   "snapshot_every_s": 1, "max_concurrent": 2},
        "resources": {"cpu": 1},
    }
    (cwd / "pm.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def _interrupt_after_first_result(cwd: Path, sweep: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sweeper.cli", "launch", "pm.yaml", "--num-cpus", "2", "--quiet"],
                            cwd=cwd, env={**_env(), "SWEEPER_TEST_EPOCH_DELAY_S": "2", **MISBEHAVING}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while not any(p.stat().st_size for p in (sweep / "tune").glob("trial_*/result.json")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-4000:]
            time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 130, err[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.cli
@pytest.mark.ray
@pytest.mark.fault
@pytest.mark.timeout(1800)
def test_per_method_studies_agree_with_trials_after_interrupt_and_resume(tmp_path):
    from sweeper.search import study

    _per_method_spec(tmp_path)
    sweep = tmp_path / "sweeps" / "pm"
    _interrupt_after_first_result(tmp_path, sweep)
    _cli(tmp_path, "resume", "pm", "--num-cpus", "2", "--quiet")
    trials = pd.read_parquet(sweep / "trials.parquet")
    assert len(trials) == 8 and (trials.status == "finished").all()
    url = study.default_url(sweep)
    names = sorted(s.study_name for s in study.sweep_studies(url, "pm"))
    assert names == ["pm/dropout", "pm/softmax"]
    by_tune_id = trials.set_index("trial_id")
    study_configs = []  # the configuration of each Optuna trial, over every study
    for name in names:
        ot = optuna.load_study(study_name=name, storage=url).trials
        assert len(ot) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in ot), ot
        for t in ot:  # the first seed's trial of the configuration: its method, lr and seed-mean objective
            row = by_tune_id.loc[t.user_attrs[study.TUNE_ID]]
            assert row.regularizer == name.split("/")[1] and row["train.lr"] == t.params["train.lr"]
            seeds = trials[trials.config_id == row.config_id]
            assert len(seeds) == 2 and t.value == pytest.approx(seeds.val_error.mean())
            study_configs.append(row.config_id)
    # exactly one Optuna trial per configuration run: none missing, none twice (a resumed or orphaned ask)
    assert sorted(study_configs) == sorted(trials.config_id.unique()) and trials.config_id.nunique() == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).read())


@pytest.mark.cli
def test_dashboard_serves_the_sweep_study_on_localhost(tmp_path):
    from sweeper.search import space, study
    from sweeper.spec import from_dict

    sweep = tmp_path / "sweeps" / "st"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"sweep_id": "st"}))
    _drive(space.search_setup(from_dict(SPEC), study=(study.default_url(sweep), "st"))[1].searcher,
           [f"t{i}" for i in range(6)])
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sweeper.cli", "dashboard", "st", "--port", str(port)],
                            cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, body = time.monotonic() + 120, None
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                body = _get(port, "/api/studies")
            except OSError:
                time.sleep(0.5)
        assert body is not None, proc.communicate(timeout=30)
        studies = body["study_summaries"]
        assert [s["study_name"] for s in studies] == ["st"]
        sid = studies[0]["study_id"]
        assert len(_get(port, f"/api/studies/{sid}")["trials"]) == 6  # the history
        imp = _get(port, f"/api/studies/{sid}/param_importances")["param_importances"][0]
        assert {p["name"] for p in imp} == {"train.lr", "train.batch_size"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0


@pytest.mark.cli
def test_dashboard_without_a_study_is_one_clear_error(tmp_path):
    sweep = tmp_path / "sweeps" / "old"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"sweep_id": "old"}))
    r = subprocess.run([sys.executable, "-m", "sweeper.cli", "dashboard", "old"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "has no Optuna study" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_report_importance_section_per_study(tmp_path):
    from sweeper.report import importance
    from sweeper.search import space, study
    from sweeper.spec import from_dict

    sweep = tmp_path / "st"
    sweep.mkdir()
    assert importance.section(sweep, "st") == ""  # no study: no section
    _drive(space.search_setup(from_dict(SPEC), study=(study.default_url(sweep), "st"))[1].searcher,
           [f"t{i}" for i in range(8)])
    rows = importance.table(sweep, "st")
    assert {p for _, p, _, _ in rows} == {"train.lr", "train.batch_size"}
    assert sum(v for _, _, v, _ in rows) == pytest.approx(1.0) and all(n == 8 for *_, n in rows)
    lr = next(v for _, p, v, _ in rows if p == "train.lr")
    assert lr > 0.5  # the objective depends on the learning rate alone
    assert "| st | train.lr |" in importance.section(sweep, "st")
