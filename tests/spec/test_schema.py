"""The sweep spec's JSON Schema (`sweeper schema`, search_spaces/sweep.schema.json), checked with `jsonschema`.

- the committed file is what the declarations generate (byte for byte), and what `sweeper schema` prints,
  without importing torch or Ray;
- it is a valid draft 2020-12 schema, and every committed spec (search_spaces/, the docs' examples)
  validates against it;
- a sample of the malformed specs of tests/test_bad_input.py (structure, types, declared ranges,
  enums, unknown keys, PyYAML's `1e-4` string) and of this file is rejected by it, and an interval
  declared on a Params field reaches the schema (keep in (0, 1]: 1.5 and 0 refused, 1 accepted).
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from sweeper.commands import schema as schema_cmd
from sweeper.spec.schema import schema
from tests.spec.test_bad_input import CORPUS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "search_spaces" / "sweep.schema.json"
SPECS = sorted((ROOT / "search_spaces").rglob("*.yaml")) + [ROOT / "docs" / "reference" / "spec-example.yaml",
                                                             ROOT / "docs" / "tutorials" / "my_sweep.yaml"]
VALIDATOR = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text(encoding="utf-8")))
# malformed specs of test_bad_input.py that a schema can see (the others need the validator:
# cross-field rules, whole-range checks, NaN, duplicate keys, YAML-level limits)
SCHEMA_VISIBLE = ["not_a_mapping", "name_dotdot", "name_abs", "name_quote", "name_newline", "inf_resources",
                  "negative_gpu", "momentum", "eval_batch_size", "huge_seed", "huge_epochs", "huge_num_samples",
                  "asha_unknown_key", "empty_metric", "literal_field", "float_hint", "sampler_hint",
                  "train_field_hint", "max_concurrent"]
GOOD = {"name": "t", "dataset": {"name": "digits"}, "model": {"name": "mlp", "params": {"widths": [16]}},
        "regularizer": {"name": "dropout", "params": {"keep": 0.5}}, "train": {"epochs": 2},
        "space": {"train.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-2, "log": True}}, "seeds": [0, 1]}


@pytest.mark.cli
def test_committed_schema_is_generated_and_printed_without_torch_or_ray():
    assert COMMITTED.read_text(encoding="utf-8") == schema_cmd.text(), "run: sweeper schema -o search_spaces/sweep.schema.json"
    code = ("import sys\nfrom sweeper.cli import main\ntry:\n    main(['schema'], standalone_mode=True)\n"
            "except SystemExit:\n    print('IMPORTED', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ray'}))\n")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith(COMMITTED.read_text(encoding="utf-8")) and "IMPORTED []" in r.stdout


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_every_committed_spec_validates(path):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
    assert errors == []


@pytest.mark.parametrize("key", SCHEMA_VISIBLE)
def test_malformed_specs_of_the_cli_corpus_are_rejected(key):
    text, _ = CORPUS[key]
    assert not VALIDATOR.is_valid(yaml.safe_load(text))


def _with(path: str, value) -> dict:
    raw = copy.deepcopy(GOOD)
    *parents, last = path.split("/")
    node = raw
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = value
    return raw


@pytest.mark.parametrize("path,value,valid", [
    ("regularizer/params/keep", 1.5, False),
    ("regularizer/params/keep", 0.0, False),
    ("regularizer/params/keep", 1.0, True),
    ("regularizer/params/rho", 0.1, False),          # dropout has no rho (each name its own params)
    ("regularizer/name", "dropmaxx", False),
    ("model/params/widths", ["a"], False),
    ("train", [], False),                            # issue 26: `train: []` is no mapping
    ("train/lr", "1e-3", False),                     # what PyYAML makes of `lr: 1e-3`
    ("space/seed", {"type": "int", "low": 0, "high": 3}, False),
    ("space/train.lr", {"type": "float", "low": 1.0e-4}, False),
    ("space/train.lr", {"type": "categorical", "choices": []}, False),
    ("space/train.lr", {"value": 0.01}, True),
    ("search/mode", "maximize", False),
    ("paper", {"source": "x", "targets": {}}, False),
    ("bogus", 1, False),
])
def test_schema_follows_the_declarations(path, value, valid):
    assert VALIDATOR.is_valid(_with(path, value)) == valid
