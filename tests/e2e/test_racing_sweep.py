"""A real raced sweep (search.racing): digits, a tiny MLP, a grid of two learning rates x two weight decays. lr 1e-6
cannot learn in two epochs; weight decay 1e-30 changes nothing, so the two lr 1e-2 configurations are equal. With
min_seeds 3 of 4 seeds and paired t-tests (Holm over the three comparisons) both lr 1e-6 configurations are
eliminated after their first three seeds and the two equal ones race on to the fourth: 14 trials instead of 16.
The sweep writes race.json, the race_eliminated_round column and the sweeper.race.* tags of the eliminated
configurations' MLflow runs; a driver interrupted (SIGINT) after the first round and resumed ends with the same race
as the uninterrupted sweep."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from sweeper.store.columns import race_eliminated_round
from tests.support.misbehaving_trial import MISBEHAVING

REPO = Path(__file__).resolve().parents[2]
NAME = "race_e2e"
BAD = ['{"train.lr": 1e-06, "train.weight_decay": 0.0}', '{"train.lr": 1e-06, "train.weight_decay": 1e-30}']
SPEC = {
    "name": NAME,
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 2, "batch_size": 128},
    "space": {"train.lr": {"type": "categorical", "choices": [1.0e-6, 1.0e-2]},
              "train.weight_decay": {"type": "categorical", "choices": [0.0, 1.0e-30]}},
    "seeds": [0, 1, 2, 3],
    "search": {"sampler": "grid", "max_concurrent": 2, "max_failures": 0, "snapshot_every_s": 1,
               "racing": {"min_seeds": 3, "test": "t-test"}},
    "resources": {"cpu": 1},
}


def cli(cwd: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sweeper.cli", *args]


def env(**faults: str) -> dict:
    """The CLI's environment; ``faults`` (``SWEEPER_TEST_*``) bring the test trainable that reads them."""
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    if faults:
        e.update(MISBEHAVING, **faults)
    return e


# the interrupted run and its resume: each fourth-seed trial (the second round's) sleeps 2 s after its first epoch,
# so the SIGINT sent once the first round is decided lands before the race can finish (its two 2-epoch trials
# otherwise take well under a second)
SLOW_SECOND_ROUND = {"SWEEPER_TEST_EPOCH_DELAY_S": "2", "SWEEPER_TEST_DELAY_SEED": "3"}


def run(cwd: Path, *args: str, **faults: str) -> subprocess.CompletedProcess:
    r = subprocess.run(cli(cwd, *args), cwd=cwd, env=env(**faults), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r


def races(sweep: Path) -> list[dict]:
    return json.loads((sweep / "race.json").read_text())["races"]


def interrupted_after_first_round(cwd: Path, name: str) -> None:
    """`sweeper launch --name NAME`, interrupted with SIGINT once race.json records a decided round."""
    sweep = cwd / "sweeps" / name
    proc = subprocess.Popen(cli(cwd, "launch", "race.yaml", "--name", name, "--num-cpus", "2", "--quiet"), cwd=cwd,
                            env=env(**SLOW_SECOND_ROUND), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not ((sweep / "race.json").exists() and any(r["rounds"] for r in races(sweep))):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-4000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 130, err[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not json.loads((sweep / "race.json").read_text())["finished"]


@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.fault
@pytest.mark.timeout(2400)
def test_racing_sweep_eliminates_the_hopeless_lr_and_resumes_to_the_same_race(tmp_path):
    (tmp_path / "race.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    run(tmp_path, "launch", "race.yaml", "--num-cpus", "2", "--quiet")
    sweep = tmp_path / "sweeps" / NAME
    race = json.loads((sweep / "race.json").read_text())
    assert race["finished"] and race["racing"] == {"min_seeds": 3, "max_seeds": 4, "alpha": 0.05, "test": "t-test"}
    gone = [race["configs"][b]["eliminated"] for b in BAD]
    assert all(g["round"] == 3 and g["test"] == "t-test" and g["p_value"] < 0.05 for g in gone), race
    assert [r["k"] for r in race["races"][0]["rounds"]] == [3, 4] and len(race["races"][0]["alive"]) == 2
    trials = pd.read_parquet(sweep / "trials.parquet")
    assert len(trials) == race["trials_spent"] == 14 and race["full_design"] == 16
    assert (trials["status"] == "finished").all()
    bad = trials["train.lr"] == 1.0e-6
    assert sorted(trials.loc[bad, "seed"]) == [0, 0, 1, 1, 2, 2]
    rounds = race_eliminated_round(trials)
    assert (rounds[bad] == 3).all() and rounds[~bad].isna().all()
    assert (sweep / "report" / "report.md").exists()

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name(NAME)
    kids = {r.data.tags["sweeper.trial_id"]: r for r in client.search_runs([exp.experiment_id], max_results=1000)
            if "sweeper.trial_id" in r.data.tags}
    assert set(kids) == set(trials["trial_id"])
    for tid in trials.loc[bad, "trial_id"]:
        tags = kids[tid].data.tags
        assert tags["sweeper.race.eliminated_round"] == "3" and tags["sweeper.race.test"] == "t-test", tags
        assert float(tags["sweeper.race.p_value"]) == pytest.approx(gone[0]["p_value"], rel=1e-5)
    eliminated_ids = set(trials.loc[bad, "trial_id"])
    survivors = set(trials["trial_id"]) - eliminated_ids
    assert not any("sweeper.race.eliminated_round" in kids[t].data.tags for t in survivors)

    interrupted_after_first_round(tmp_path, "race_resumed")
    run(tmp_path, "resume", "race_resumed", "--num-cpus", "2", "--quiet", **SLOW_SECOND_ROUND)
    resumed = tmp_path / "sweeps" / "race_resumed"
    again = json.loads((resumed / "race.json").read_text())
    assert again["finished"] and again["races"] == race["races"]
    assert again["trials_spent"] == race["trials_spent"] == len(pd.read_parquet(resumed / "trials.parquet"))
