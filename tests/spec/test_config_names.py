"""One resolved configuration, one flattening, one name per parameter.

`trainables.resolve.resolve` builds a trial's configuration once (every `Params` with its
defaults); `flatten` names it as the spec does. The end-to-end test follows one searched
parameter, `regularizer.keep`, from the YAML through a real sweep to the child run's MLflow params,
the columns of trials.parquet, the report's configuration labels and the launch summary, under that
one name. It launches nothing itself: it reads the session's search sweep (``search_sweep`` in
tests/conftest.py: one real ``sweeper launch`` with a local Ray, Optuna's random sampler, MLflow
SQLite, Parquet; the provenance/reproduce/confirm tests use the same sweep).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from sweeper import spec
from sweeper.report import data
from sweeper.store import columns, provenance
from tests.support.specs import search_spec
from trainables.config import Section, TrialConfig, flatten, is_config_name, merge
from trainables.registry import UnknownName
from trainables.resolve import from_dict, resolve, trial_config

ROOT = Path(__file__).resolve().parents[2]
BASE = {"dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "dropout"}, "train": {"epochs": 1, "batch_size": 64}}


def test_flatten_uses_the_spec_paths_and_fills_every_default():
    s = spec.from_dict({"name": "n", **BASE, "seeds": [0],
                        "space": {"regularizer.name": {"type": "categorical", "choices": ["dropout", "malicious_dropout"]},
                                  "regularizer.rho": {"type": "float", "low": 0.1, "high": 0.5,
                                                      "when": {"regularizer.name": "malicious_dropout"}},
                                  "train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}}})
    suggested = {"regularizer.name": "malicious_dropout", "regularizer.rho": 0.3, "train.lr": 0.002, "seed": 4}
    cfg = resolve(s.base, suggested)
    flat = flatten(cfg)
    assert {p.path for p in s.space} <= set(flat)  # every searched path is a flat name, as written
    assert [flat[k] for k in suggested] == [v for v in suggested.values()]
    # defaults filled in: train (momentum, schedule) and the regularizer's Params (omega, ema_decay)
    assert flat["train.momentum"] == 0.9 and flat["train.lr_schedule"] == "constant"
    assert "regularizer.omega" in flat and flat["regularizer.ema_decay"] == 0.99
    assert flat["model.widths"] == "[16]" and flat["dataset.name"] == "digits" and flat["seed"] == 4
    assert all(is_config_name(k) for k in flat) and not any(".params." in k for k in flat)
    assert from_dict(cfg.to_dict()) == cfg  # the provenance record rebuilds it exactly
    assert type(cfg.regularizer.params).__name__ == "MaliciousDropoutParams"


def test_resolving_refuses_invalid_values_and_applies_names_first():
    with pytest.raises(ValueError, match="rho"):
        resolve(BASE, {"regularizer.name": "malicious_dropout", "regularizer.rho": 1.7, "seed": 0})
    # the order Tune hands the values in does not matter: a name resets its section, then values apply
    m = merge(BASE, {"regularizer.rho": 0.2, "regularizer.name": "malicious_dropout"})
    assert m["regularizer"] == {"name": "malicious_dropout", "params": {"rho": 0.2}}


def test_a_trial_config_holds_params_instances_and_resolve_builds_them():
    """config.py holds the records only (no registry); trainables.resolve types names and dicts."""
    with pytest.raises(TypeError, match=r"dataset.params of 'digits'.*trainables.resolve.trial_config"):
        TrialConfig(Section("digits"), Section("mlp", {"widths": (8,)}), Section("softmax"))
    cfg = trial_config(Section("digits"), Section("mlp", {"widths": (8,)}), Section("softmax"), {"epochs": 2}, seed="3")
    assert type(cfg.model.params).__name__ == "MlpParams" and cfg.model.params.widths == (8,)
    assert cfg.train.epochs == 2 and cfg.seed == 3
    assert TrialConfig(cfg.dataset, cfg.model, cfg.regularizer, cfg.train, 3) == cfg  # typed sections are kept
    with pytest.raises(TypeError, match="expected MlpParams for 'mlp', got SoftmaxParams"):
        trial_config(Section("digits"), Section("mlp", cfg.regularizer.params), Section("softmax"))
    with pytest.raises(UnknownName, match="did you mean 'softmax'"):
        trial_config(Section("digits"), Section("mlp"), Section("softmx"))


def test_committed_format_1_tables_are_read_under_todays_names():
    path = ROOT / "results" / "gd_table1_sal" / "trials.parquet"  # written before format 2
    raw = pq.read_schema(path)
    assert columns.file_format(path) == 1 and "param.regularizer.beta_over_alpha" in raw.names  # the file stays as it is
    t = columns.read_trials(path)
    assert "regularizer.beta_over_alpha" in t and "regularizer.name" in t and not any(c.startswith("param.") for c in t)
    assert (t.loc[t["regularizer.beta_over_alpha"].notna(), "regularizer"] == "sal").all()  # searched only there
    sw = data.load(ROOT / "results" / "gd_table1_sal")
    assert "regularizer.beta_over_alpha" in sw.trials and "regularizer.beta_over_alpha" not in data.numeric_metrics(sw.trials)
    assert "sal_params" in data.numeric_metrics(sw.trials)  # metric.<name>: a metric, not configuration
    ba = sw.trials[sw.trials["regularizer.beta_over_alpha"].notna()]
    assert len(ba) and all(f"regularizer.beta_over_alpha={float(v):.4g}" in lbl
                           for v, lbl in zip(ba["regularizer.beta_over_alpha"], ba.config))


def test_format_2_is_not_renamed(tmp_path):
    t = pa.table({"regularizer.rho": [0.1], "param.x": [1.0]})  # a column that merely looks legacy
    pq.write_table(t.replace_schema_metadata({columns.FORMAT_KEY: "2"}), tmp_path / "trials.parquet")
    assert list(columns.read_trials(tmp_path / "trials.parquet").columns) == ["regularizer.rho", "param.x"]


def test_resolved_base_fills_defaults_and_lists_candidates():
    sd = spec.from_dict({"name": "n", **BASE, "seeds": [0], "space": {
        "regularizer.name": {"type": "categorical", "choices": ["dropout", "sal"]}}}).to_dict()
    rb = provenance.resolved_base(sd)
    assert rb["regularizer"]["name"] == "dropout" and rb["regularizer"]["params"]["keep"] == 0.5
    assert rb["regularizer"]["params"]["per_channel"] is False  # a default the YAML did not write
    assert rb["train"]["momentum"] == 0.9 and rb["model"]["params"]["widths"] == [16] and "seed" not in rb
    assert set(rb["candidates"]["regularizer"]) == {"dropout", "sal"}
    assert rb["candidates"]["regularizer"]["sal"]["threshold"] == 0.5
    assert rb["candidates"]["regularizer"]["dropout"] == rb["regularizer"]["params"]


def test_one_searched_parameter_has_one_name_from_yaml_to_mlflow_parquet_and_report(search_sweep):
    """Reads the session's search sweep (``search_sweep``: 2 random values of ``regularizer.keep`` x seeds 0, 1);
    marked ``ray`` and ``cli`` by tests/conftest.py."""
    from mlflow import MlflowClient

    name = "regularizer.keep"
    assert list(search_spec(Path("data.csv"))["space"]) == [name]  # the one searched parameter
    sweep = search_sweep.dir
    assert name in yaml.safe_load((sweep / "spec.yaml").read_text())["space"]

    # Parquet: a column under the spec's name, typed, listed as configuration in the metadata
    trials = columns.read_trials(sweep / "trials.parquet")
    meta = pq.read_schema(sweep / "trials.parquet").metadata
    assert meta[columns.FORMAT_KEY.encode()] == b"2"
    config_cols = json.loads(meta[columns.CONFIG_COLUMNS.encode()])
    assert name in config_cols and "train.momentum" in config_cols and "seed" in config_cols
    assert not any(c.startswith("param.") or ".params." in c for c in trials.columns)
    assert (trials.status == "finished").all() and len(trials) == 4 and sorted(trials.seed) == [0, 0, 1, 1]
    values = dict(zip(trials.trial_id, trials[name]))
    assert pd.api.types.is_float_dtype(trials[name]) and len(set(values.values())) == 2
    assert all(0.4 <= v <= 0.9 for v in values.values())

    # MLflow: the child run's params are the same names as the configuration columns, same values
    client = MlflowClient(f"sqlite:///{search_sweep.root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(search_sweep.name).experiment_id])
    children = {c.data.tags["sweeper.trial_id"]: c for c in runs if c.data.tags.get("mlflow.parentRunId")}
    assert set(children) == set(values)
    for tid, run in children.items():
        assert float(run.data.params[name]) == values[tid]
        assert set(run.data.params) == set(config_cols), set(run.data.params) ^ set(config_cols)
        assert run.data.params["train.epochs"] == "1" and run.data.params["model.widths"] == "[16]"

    # the report: each configuration's label names the parameter the same way
    labels = dict(zip(trials.trial_id, trials.config))
    for tid, v in values.items():
        assert labels[tid] == f"{name}={v:.4g}"
    csv = pd.read_csv(sweep / "report" / "configurations.csv")
    assert sorted(csv.config) == sorted(set(labels.values()))  # one row per configuration
    assert all(lbl in search_sweep.stdout for lbl in labels.values())  # the launch summary prints the labels too

    # the base configuration with every default, beside spec.yaml
    resolved = yaml.safe_load((sweep / provenance.RESOLVED).read_text())
    assert resolved["regularizer"]["params"]["keep"] == 0.5 and "per_channel" in resolved["regularizer"]["params"]
    assert resolved["train"]["momentum"] == 0.9 and resolved["train"]["epochs"] == 1
    parent = next(x for x in runs if x.data.tags.get("sweeper.sweep_id") == search_sweep.name)
    assert provenance.RESOLVED in {a.path for a in client.list_artifacts(parent.info.run_id)}
