"""Hostile or careless input through the real CLI: one clear error, exit 2, no traceback,
nothing created and nothing lost (issue 15), and the validator's holes of issue 13.

- ``test_malformed_spec_is_refused``: a corpus of malformed specs (encoding, size, YAML
  bombs, depth, duplicate keys, odd names, NaN/inf, unbounded sizes, impossible ``when:``,
  unknown scheduler keys, undeclared metrics, absurd grids, ranges whose interior is
  invalid, Literal fields, hints), each through ``sweeper validate`` in this process
  (click's runner): exit 2, the expected message; the cases about size and depth also in a
  subprocess limited to 1 GiB of address space (torch alone maps ~3 GB, so this also proves
  that validate does not import it) and a 120 s hang guard: no "Traceback".
- ``test_each_problem_once_at_its_path``: one problem never hides another, a misspelled
  key is reported once, at its own path, and no path has a doubled segment.
- ``test_bad_launch_flags_create_nothing``: wrong or impossible flags and names are refused
  by ``launch`` with exit 2, leaving no sweep folder and no MLflow store (so no run).
- ``test_overwrite_refuses_what_is_not_that_sweep``: ``--overwrite`` on a folder that is not
  a sweep, or is another sweep, or with names like ``..``, leaves every file in place.
- ``test_overwrite_removes_only_that_sweep_and_starts_a_new_parent_run``: the accepted case,
  with a real MLflow SQLite store: the old parent run is retagged and ended, a new one made.
- ``test_missing_data_is_refused_before_ray_starts``: a missing tabular file or label column
  is refused by ``validate`` and ``launch`` with exit 2 and no Ray temp folder created.
- ``test_gpu_request_beyond_the_cluster_is_refused``: the one check that needs Ray (GPUs
  per trial against the started instance): exit 2, Ray shut down, nothing created.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeper import spec
from sweeper.driver import preflight, wrapup
from tests.support.cli import invoke

GOOD = """\
name: t
dataset: {name: digits}
model: {name: mlp, params: {widths: [16]}}
regularizer: {name: malicious_dropout}
train: {epochs: 1, batch_size: 64}
space:
  regularizer.rho: {type: float, low: 0.05, high: 0.5}
seeds: [0]
search: {sampler: random, num_samples: 2}
"""


def _with(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def cli(*args: str, cwd: Path, env: dict | None = None, limit: bool = False) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "sweeper.cli", *args], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=120, preexec_fn=_limit_memory if limit else None)


GRID_1E30 = "search: {sampler: grid}\nspace:\n" + "".join(  # six parameters of 10^5 + 1 grid points each: ~10^30
    f"  {path}: {{type: float, low: {lo}, high: {hi}, step: {(hi - lo) / 10**5:.7f}}}\n"
    for path, lo, hi in (("regularizer.omega", 0.0, 1.0), ("regularizer.anneal_rate", 0.0, 100.0),
                         ("regularizer.anneal_offset", -100.0, 100.0), ("train.momentum", 0.0, 0.9),
                         ("train.weight_decay", 0.0, 1.0), ("train.lr", 0.1, 1.1)))

# id -> (file content, text the error must contain)
CORPUS: dict[str, tuple[str | bytes, str]] = {
    "binary": (b"\x00\x01\x02name: t\n", "contains NUL bytes"),
    "latin1": ("name: caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
    "too_large": ("# " + "x" * (1 << 20) + "\n" + GOOD, "too large for a sweep spec"),
    "alias_bomb": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
                   "anchors (&a) are not allowed"),
    "deep_nesting": ("a: " + "[" * 20000 + "]" * 20000 + "\n", "nested more than 20 levels"),
    "duplicate_top_key": (GOOD + "seeds: [1]\n", "duplicate key 'seeds'"),
    "duplicate_nested_key": (_with("train: {epochs: 1, batch_size: 64}", "train: {epochs: 1, epochs: 2}"),
                             "duplicate key 'epochs'"),
    "not_a_mapping": ("- 1\n- 2\n", "(top): expected a mapping"),
    "bad_yaml": ("name: [\n", "not valid YAML"),
    "name_dotdot": (_with("name: t", "name: '..'"), "name: '..' is not a plain name"),
    "name_abs": (_with("name: t", "name: /abs/dir"), "is not a plain name"),
    "name_up": (_with("name: t", "name: ../../x"), "is not a plain name"),
    "name_quote": (_with("name: t", "name: \"a'b\""), "is not a plain name"),
    "name_newline": (_with("name: t", 'name: "a\\nb"'), "is not a plain name"),
    "name_nul": (_with("name: t", 'name: "a\\0b"'), "is not a plain name"),
    "name_huge": (_with("name: t", "name: " + "n" * 500_000), "characters)"),
    "nan_range": (_with("high: 0.5}", "high: .nan}"), "space.regularizer.rho.high: expected a finite number, got nan"),
    "inf_weight": (_with("batch_size: 64}", "batch_size: 64, weight_decay: .inf}"), "train.weight_decay: expected a finite number"),
    "inf_resources": (GOOD + "resources: {cpu: .inf}\n", "resources.cpu: expected a finite number"),
    "negative_gpu": (GOOD + "resources: {gpu: -1}\n", "resources.gpu: must be in [0, 64]"),
    "momentum": (_with("batch_size: 64}", "batch_size: 64, momentum: 1.5}"), "train.momentum: momentum must be in [0, 1)"),
    "eval_batch_size": (_with("batch_size: 64}", "batch_size: 64, eval_batch_size: 0}"), "train.eval_batch_size:"),
    "huge_seed": (_with("seeds: [0]", "seeds: [1000000000000000000000000000000]"), "seeds: each seed must be in [0, 4294967295]"),
    "huge_epochs": (_with("epochs: 1,", "epochs: 1000000000000,"), "train.epochs: epochs must be in [1, 100000]"),
    "huge_num_samples": (_with("num_samples: 2", "num_samples: 1000000000"), "search.num_samples: must be in [1, 1,000,000]"),
    "when_never": (_with("  regularizer.rho: {type: float, low: 0.05, high: 0.5}",
                         "  regularizer.schedule: {type: categorical, choices: [standard, forward]}\n"
                         "  regularizer.rho: {type: float, low: 0.05, high: 0.5, when: {regularizer.schedule: standart}}"),
                   "space.regularizer.rho.when.regularizer.schedule: 'standart': never taken"),
    "asha_unknown_key": (_with("search: {sampler: random, num_samples: 2}",
                               "search: {sampler: random, num_samples: 2, scheduler: asha, asha: {grace: 1}}"),
                         "search.asha.grace: unknown key; valid keys are grace_period, reduction_factor"),
    "undeclared_metric": (_with("search: {sampler: random, num_samples: 2}",
                                "search: {sampler: random, num_samples: 2, metric: malicious_dropout_rhoo}"),
                          "did you mean 'malicious_dropout_rho'"),
    "empty_metric": (_with("search: {sampler: random, num_samples: 2}", "search: {metric: []}"),
                     "search.metric: an empty list"),
    "grid_1e30": (GOOD.split("space:")[0] + GRID_1E30, "the grid has more than 100,000 configurations"),
    "interior_invalid": (_with("high: 0.5}", "high: 3.0}"), "is invalid: rho must be in [0, 1) (a fraction) or an integer"),
    "literal_field": (_with("regularizer: {name: malicious_dropout}", "regularizer: {name: malicious_dropout, params: {schedule: 7}}"),
                      "regularizer.params.schedule: must be one of 'standard'"),
    "literal_choice": (_with("  regularizer.rho: {type: float, low: 0.05, high: 0.5}",
                             "  regularizer.p_pass_window: {type: categorical, choices: [all, emma]}"),
                       "value 'emma' is invalid: must be one of 'all', 'ema'"),
    "float_hint": (_with("batch_size: 64}", "batch_size: 64, lr: 1e-4}"), "write 1.0e-4"),
    "float_hint_signed": (_with("batch_size: 64}", "batch_size: 64, lr: 1.0e308}"), "write 1.0e+308"),
    "sampler_hint": (_with("sampler: random", "sampler: randon"), "did you mean 'random'"),
    "train_field_hint": (_with("batch_size: 64}", "batchsize: 64}"), "did you mean 'batch_size'"),
    "max_concurrent": (_with("num_samples: 2}", "num_samples: 2, max_concurrent: -1}"), "search.max_concurrent: must be in [0,"),
}


# the cases where memory and time are the point (sizes, bombs, depth, huge grids and names): also
# through a real subprocess limited to 1 GiB of address space, which torch alone exceeds
BOUNDED = ("alias_bomb", "binary", "deep_nesting", "grid_1e30", "name_huge", "too_large")


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_spec_is_refused(case, tmp_path):
    """In this process, through click's runner: exit 2, the message, bounded, nothing created."""
    content, expected = CORPUS[case]
    f = tmp_path / "bad.yaml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = invoke("validate", str(f), cwd=tmp_path)
    assert r.exit_code == 2, (r.exception, r.output[-2000:])
    assert r.exc_info is not None and r.exc_info[0] is SystemExit  # a clean exit, no exception escaped
    assert expected in r.stderr, r.stderr[-2000:]
    assert len(r.stderr) < 20_000  # bounded excerpts, never the whole value
    assert list(tmp_path.iterdir()) == [f]


@pytest.mark.cli
@pytest.mark.parametrize("case", BOUNDED)
def test_malformed_spec_is_refused_by_a_memory_limited_cli(case, tmp_path):
    content, expected = CORPUS[case]
    f = tmp_path / "bad.yaml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = cli("validate", str(f), cwd=tmp_path, limit=True)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out[-2000:]
    assert "Traceback" not in out and "MemoryError" not in out
    assert expected in r.stderr, r.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [f]


def test_the_float_hint_is_only_for_missed_floats():
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(yaml.safe_load(_with("batch_size: 64}", "batch_size: 64, lr: '10'}")))
    (p,) = [x for x in e.value.problems if x.startswith("train.lr")]
    assert "expected a number, got str '10'" in p and "write" not in p


def test_each_problem_once_at_its_path():
    raw = yaml.safe_load(_with("regularizer: {name: malicious_dropout}",
                               "regularizer: {name: malicious_dropout, params: {rhoo: 0.1, ema_decay: 2.0}}")
                         .replace("train: {epochs: 1, batch_size: 64}", "train: {epochs: 0, lr: 1e-4}"))
    with pytest.raises(spec.SpecError) as e:
        spec.from_dict(raw)
    probs = e.value.problems
    # the misspelled key once, at its own path, although a searched regularizer parameter exists
    assert sum("rhoo" in p for p in probs) == 1
    assert any(p.startswith("regularizer.params.rhoo: unknown key") for p in probs)
    # a type error (lr) does not hide a range error (epochs); two range errors in one Params both show
    assert any(p.startswith("train.lr: expected a number") for p in probs)
    assert any(p.startswith("train.epochs: epochs must be in [1, 100000], got 0") for p in probs)
    assert any(p.startswith("regularizer.params.ema_decay: ema_decay must be in (0, 1)") for p in probs)
    assert len(probs) == len(set(probs)) == 4, probs
    for p in probs:
        segs = p.split(":")[0].split(".")
        assert all(a != b for a, b in zip(segs, segs[1:])), f"doubled path segment in {p!r}"


def _assert_nothing_created(tmp_path: Path, keep: set[str]) -> None:
    assert {p.name for p in tmp_path.iterdir()} == keep
    assert not (tmp_path / "m.db").exists()  # no MLflow store, hence no run


@pytest.mark.cli
@pytest.mark.parametrize("flags, expected", [
    (["--num-cpus", "-1"], "--num-cpus: must be >= 1"),
    (["--num-cpus", "0"], "--num-cpus: must be >= 1"),
    (["--cpus-per-trial", "-1"], "must be a finite number > 0"),
    (["--cpus-per-trial", "inf"], "must be a finite number > 0"),
    (["--gpus-per-trial", "nan"], "must be a finite number >= 0"),
    (["--num-cpus", "1", "--cpus-per-trial", "2"], "the local Ray instance has 1"),
    (["--address", "127.0.0.1:1"], "nothing answers at 127.0.0.1:1"),
    (["--name", ".."], "is not a plain name"),
    (["--name", "/abs/dir"], "is not a plain name"),
    (["--name", "../../x"], "is not a plain name"),
    (["--name", "a'b"], "is not a plain name"),
])
def test_bad_launch_flags_create_nothing(flags, expected, tmp_path):
    (tmp_path / "ok.yaml").write_text(GOOD)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}", "RAY_TMPDIR": str(tmp_path / "raytmp")}
    r = cli("launch", "ok.yaml", *flags, cwd=tmp_path, env=env)
    assert r.returncode == 2 and expected in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr
    _assert_nothing_created(tmp_path, {"ok.yaml"})


@pytest.mark.cli
def test_overwrite_refuses_what_is_not_that_sweep(tmp_path):
    (tmp_path / "ok.yaml").write_text(GOOD)
    (tmp_path / "precious.txt").write_text("keep me")
    (tmp_path / "sweeps" / "t").mkdir(parents=True)
    (tmp_path / "sweeps" / "t" / "data.csv").write_text("not a sweep")
    (tmp_path / "sweeps" / "other").mkdir()
    (tmp_path / "sweeps" / "other" / "sweep.json").write_text(json.dumps({"sweep_id": "someone_else"}))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"}
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for flags, expected in (([], "not a sweep folder"), (["--overwrite"], "has no sweep.json"),
                            (["--name", "other", "--overwrite"], "holds sweep 'someone_else'"),
                            (["--name", "..", "--overwrite"], "is not a plain name"),
                            (["--name", str(tmp_path), "--overwrite"], "is not a plain name")):
        r = cli("launch", "ok.yaml", *flags, cwd=tmp_path, env=env)
        assert r.returncode == 2 and expected in r.stderr, (flags, r.stderr[-2000:])
        assert "Traceback" not in r.stderr
        assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_overwrite_removes_only_that_sweep_and_starts_a_new_parent_run(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from sweeper.store import mlflow_runs as tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    d = tmp_path / "sweeps" / "s"
    d.mkdir(parents=True)
    (d / "sweep.json").write_text(json.dumps({"sweep_id": "s"}))
    (d / "trials.parquet").write_text("x")
    old = tracking.SweepTracker("s", experiment="exp", run_name="s").parent_id
    assert tracking.SweepTracker("s", experiment="exp", run_name="s").parent_id == old  # resume finds it again
    preflight.check_target(d, "s", overwrite=True)  # accepted: a sweep of that id
    msg = wrapup.clear_sweep_dir(d)  # what launch --overwrite runs once the checks passed
    assert not any(d.iterdir()) and str(d) in msg and "2 files" in msg
    new = tracking.SweepTracker("s", experiment="exp", run_name="s", fresh=True).parent_id
    assert new != old
    c = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    assert c.get_run(old).info.status == "KILLED" and c.get_run(old).data.tags["sweeper.sweep_id"] != "s"
    assert c.get_run(new).data.tags["sweeper.sweep_id"] == "s"


@pytest.mark.cli
@pytest.mark.parametrize("params, expected", [
    ({"path": "missing.csv"}, "dataset.params.path: no such file"),
    ({"path": "t.csv", "label_column": "klass"}, "dataset.params.label_column: 'klass' is not a column"),
    ({"path": "t.parquet", "label_column": "klass"}, "dataset.params.label_column: 'klass' is not a column"),
])
def test_missing_data_is_refused_before_ray_starts(params, expected, tmp_path):
    import pandas as pd

    pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]}).to_parquet(tmp_path / "t.parquet")
    doc = yaml.safe_load(GOOD)
    doc["dataset"] = {"name": "tabular", "root": str(tmp_path), "params": params}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}", "RAY_TMPDIR": str(tmp_path / "raytmp")}
    for cmd in ("validate", "launch"):
        r = cli(cmd, "s.yaml", cwd=tmp_path, env=env)
        assert r.returncode == 2 and expected in r.stderr, r.stderr[-2000:]
        assert "Traceback" not in r.stdout + r.stderr
    _assert_nothing_created(tmp_path, {"s.yaml", "t.csv", "t.parquet"})  # no raytmp: Ray never started
    assert cli("validate", "s.yaml", "--no-data-check", cwd=tmp_path).returncode == 0


@pytest.mark.cli
@pytest.mark.ray
def test_gpu_request_beyond_the_cluster_is_refused(tmp_path):
    (tmp_path / "ok.yaml").write_text(GOOD)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}", "CUDA_VISIBLE_DEVICES": ""}
    r = cli("launch", "ok.yaml", "--num-cpus", "1", "--gpus-per-trial", "2", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "a trial asks for 2 GPU(s) but the Ray cluster has 0" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr
    _assert_nothing_created(tmp_path, {"ok.yaml"})


def test_random_mutations_of_real_specs_never_crash_the_validator():
    """Seeded random damage (wrong types, NaN, huge numbers, unhashable values, unknown keys) to
    every YAML under search_spaces/: the validator answers SpecError, never another exception."""
    import copy
    import random

    rng = random.Random(0)
    repo = Path(__file__).resolve().parents[2]
    docs = [yaml.safe_load(f.read_text()) for f in sorted((repo / "search_spaces").rglob("*.yaml"))]
    pool = [None, -1, 0, 2.5, 1e308, float("nan"), float("inf"), "x", "", [], {}, [[1]], {"a": 1}, True, 10**30,
            "1e-4", "s" * 5000, {"type": "float"}, {"value": [1]}, {"type": "categorical", "choices": [[1], {"a": 2}]}]

    def paths(d, pre=()):
        yield pre
        items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
        for k, v in items:
            yield from paths(v, pre + (k,))

    refused = 0
    for _ in range(150):
        d = copy.deepcopy(rng.choice(docs))
        for _ in range(rng.randint(1, 3)):
            p = rng.choice([p for p in paths(d) if p])
            tgt = d
            for k in p[:-1]:
                tgt = tgt[k]
            key = rng.choice(["zz", 3]) if isinstance(tgt, dict) and rng.random() < 0.2 else p[-1]
            tgt[key] = copy.deepcopy(rng.choice(pool))
        try:
            spec.from_dict(d)
        except spec.SpecError as e:  # any other exception fails the test
            refused += 1
            assert str(e).strip()  # a message, not an empty error
    assert refused > 100  # the damage is real: most mutated specs are refused


def test_a_spec_path_that_is_not_a_regular_file_says_what_it_is(tmp_path):
    from sweeper import spec as spec_mod

    for path, what in ((tmp_path / "none.yaml", "no such file"), (tmp_path, "a folder; a spec is a YAML file"),
                       (Path("/dev/null"), "not a regular file; a spec is a YAML file")):
        with pytest.raises(spec_mod.SpecError) as e:
            spec_mod.load(path)
        assert f"{path}: {what}" in str(e.value), str(e.value)
