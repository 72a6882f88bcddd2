"""`sweeper show`: every parameter with type, default, valid range and meaning, read from the Params classes.

The range text of a field (its one declaration, ``param(default, valid, doc)``) is checked against
what the class enforces wherever it is one interval, so ``show`` cannot silently drift from what the validator refuses.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import typing
from dataclasses import fields
from pathlib import Path

import pytest

from trainables.config import TrainConfig
from trainables.data import DATASETS
from trainables.models import MODELS
from trainables.paramdoc import decls, field_docs, missing_docs, parse_interval
from trainables.regularizers import REGULARIZERS

ROOT = Path(__file__).resolve().parents[2]
CLASSES = {
    **{f"regularizer {n}": e.params for n, e in REGULARIZERS.items()},
    **{f"model {n}": e.params for n, e in MODELS.items()},
    **{f"dataset {n}": e.params for n, e in DATASETS.items()},
    "train": TrainConfig,
}


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``sweeper ARGS`` in a fresh interpreter; prints which of torch / ray got imported."""
    code = ("import sys\nfrom sweeper.cli import main\ntry:\n    main(sys.argv[1:], standalone_mode=True)\n"
            "except SystemExit:\n    bad = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ray'})\n"
            "    print('IMPORTED', bad)\n    raise\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("what", sorted(CLASSES))
def test_every_field_is_documented(what):
    assert missing_docs(CLASSES[what]) == []


def _accepts(cls: type, name: str, value) -> bool:
    try:
        cls(**{name: value})
        return True
    except (ValueError, TypeError):
        return False


def _interval_fields() -> list[tuple[str, str]]:
    out = []
    for what, cls in CLASSES.items():
        for d in field_docs(cls):
            if parse_interval(d.valid) is not None:
                out.append((what, d.name))
    return out


@pytest.mark.parametrize("what,name", _interval_fields())
def test_interval_agrees_with_post_init(what, name):
    """Closed endpoints are accepted, open ones refused, values just outside refused, an interior value accepted."""
    cls = CLASSES[what]
    iv = parse_interval(decls(cls)[name].valid)
    integer = typing.get_type_hints(cls)[name] is int
    scale = max(1.0, abs(iv.low) if math.isfinite(iv.low) else 1.0, abs(iv.high) if math.isfinite(iv.high) else 1.0)
    step = 1 if integer else 1e-6 * scale
    conv = int if integer else float
    if math.isfinite(iv.low):
        assert _accepts(cls, name, conv(iv.low)) == iv.low_closed, (name, iv.low)
        assert not _accepts(cls, name, conv(iv.low) - step), (name, iv.low - step)
    if math.isfinite(iv.high):
        assert _accepts(cls, name, conv(iv.high)) == iv.high_closed, (name, iv.high)
        assert not _accepts(cls, name, conv(iv.high) + step), (name, iv.high + step)
    lo = iv.low if math.isfinite(iv.low) else (iv.high - 10 if math.isfinite(iv.high) else 0)
    hi = iv.high if math.isfinite(iv.high) else lo + 10
    mid = (lo + hi) / 2
    if integer:
        mid = math.floor(mid) if math.floor(mid) > lo or iv.low_closed else math.floor(mid) + 1
    assert _accepts(cls, name, conv(mid)), (name, mid)


def test_the_interval_check_has_teeth():
    """A wrong range text is caught: DropoutParams.keep is (0, 1], not [0, 1]."""
    from trainables.regularizers.params import DropoutParams

    assert not _accepts(DropoutParams, "keep", 0.0)  # so "[0, 1]" would fail the test above
    assert len(_interval_fields()) >= 30  # most numeric fields are probed, not skipped


@pytest.mark.cli
def test_show_regularizer_lists_every_field_without_torch_or_ray():
    r = _cli("show", "regularizer", "dropout")
    assert r.returncode == 0, r.stderr
    assert "IMPORTED []" in r.stdout
    from trainables.regularizers.params import DropoutParams

    for f in fields(DropoutParams):
        meaning = decls(DropoutParams)[f.name].doc
        assert f"regularizer.{f.name}: " in r.stdout
        assert meaning.split()[0] in r.stdout
    assert "regularizer.keep: float = 0.5    valid: (0, 1]" in r.stdout
    assert "regularizer.layers: str = penultimate    valid: one of all, penultimate" in r.stdout
    assert "regularizer.per_channel: bool = false    valid: true or false" in r.stdout


@pytest.mark.cli
def test_show_train_documents_momentum_and_schedules():
    r = _cli("show", "train")
    assert r.returncode == 0, r.stderr
    assert "IMPORTED []" in r.stdout
    out = " ".join(r.stdout.split())  # meanings are wrapped
    assert "train.momentum: float = 0.9 valid: [0, 1)" in out
    assert "heavy-ball" in out
    assert "train.lr_schedule: str = constant valid: one of constant, thirds, cosine" in out
    assert "train.init: str = default valid: one of default, glorot" in out
    for f in fields(TrainConfig):
        assert f"train.{f.name}: " in out


@pytest.mark.cli
def test_show_without_name_lists_every_entry():
    r = _cli("show", "regularizer")
    assert r.returncode == 0, r.stderr
    for n in REGULARIZERS:
        assert f"\n  {n} " in r.stdout
    r = _cli("show", "model")
    assert r.returncode == 0 and all(f"\n  {n} " in r.stdout for n in MODELS)
    r = _cli("show", "dataset", "imagefolder")
    assert r.returncode == 0 and "dataset.max_memory_gb: float = 8.0" in r.stdout


@pytest.mark.cli
@pytest.mark.parametrize("args,expect", [
    (("show", "regularizer", "dropmaxx"), "unknown regularizer 'dropmaxx': valid are det_attention,"),
    (("show", "model", "lenet5"), "unknown model 'lenet5': valid are "),
    (("show", "dataset", "mnist-t10k"), "unknown dataset 'mnist-t10k': valid are "),
    (("show", "train", "lr"), "`sweeper show train` takes no NAME"),
])
def test_unknown_name_is_one_clear_error(args, expect):
    r = _cli(*args)
    assert r.returncode == 2
    assert expect in r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1
    assert "IMPORTED []" in r.stdout


@pytest.mark.cli
def test_validate_of_a_spec_with_a_paper_block_imports_no_statistics_stack():
    """`sweeper validate` starts fast: a paper sweep's spec (with a `paper:` block) is checked without
    importing torch, Ray, scipy or pandas (the block's parser is sweeper/spec/paper.py, not sweeper.report)."""
    code = ("import sys\nfrom sweeper.cli import main\ntry:\n    main(sys.argv[1:], standalone_mode=True)\n"
            "except SystemExit:\n    print('HEAVY', sorted({m.split('.')[0] for m in sys.modules}"
            " & {'torch', 'ray', 'scipy', 'pandas'}))\n    raise\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code, "validate", "search_spaces/paper/dropmax_table1_mnist1k.yaml",
                        "--no-data-check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "ok — sweep 'dropmax_table1_mnist1k'" in r.stdout
    assert "HEAVY []" in r.stdout, r.stdout
