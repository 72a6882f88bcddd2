"""What runs inside one Ray Tune trial.

``run_trial(config, base)`` is the ONE place raw Tune config keys are read:
``base`` is the resolved sweep spec (a plain dict: dataset, model,
regularizer, train sections), ``config`` holds the values Optuna suggested as
dotted keys (``"regularizer.rho"``, ``"train.lr"``, ...) plus ``"seed"``.
``trainables.config.resolve`` makes them the frozen ``TrialConfig`` (every
``Params`` with its defaults filled in), as the driver does; the trial then builds data, backbone
and head, and reports one dict of floats per epoch; a checkpoint goes with a report
when the last one is ``base["checkpoint_every_s"]`` seconds old, and always with the last.

The seed fixes data order, initialisation and every mask: the same seed gives
the same numbers on CPU.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from trainables import data as data_registry
from trainables import metrics as M
from trainables import models as model_registry
from trainables import provenance
from trainables import regularizers as reg_registry
from trainables import reuse
from trainables.config import Section, TrialConfig, resolve  # noqa: F401  (Section, TrialConfig: re-exported)
from trainables.entry import CHECKPOINT_EVERY_S  # noqa: F401  (the base key; defined where the torch-free driver reads it)
from trainables.overrides import POINT, TRIAL_INDEX, tune_overrides  # noqa: F401  (re-exported)
from trainables.loop import Net, TrainConfig, Trainer
from trainables.regularizers.contract import BuildContext, FinalArtifacts, ResetGates, glorot_, implementers


def regularizer_params(cfg: TrialConfig):
    """The regularizer's ``Params`` of ``cfg`` (validated by its ``__post_init__``)."""
    params = cfg.regularizer.params  # resolved by trainables.config.resolve: the entry's Params, defaults filled in
    assert isinstance(params, reg_registry.plugin(cfg.regularizer.name).params), type(params)
    return params


def build(cfg: TrialConfig, splits: data_registry.Splits) -> Net:
    """Backbone + head for ``cfg``; seeds torch first so initialisation follows the seed."""
    torch.manual_seed(cfg.seed)
    reg = reg_registry.plugin(cfg.regularizer.name)
    rparams = regularizer_params(cfg)
    ctx = BuildContext(n_train=len(splits.train_y), num_classes=splits.num_classes, init=cfg.train.init)
    if reg.kind == "gate":
        drop_layer = reg.layer_factory(rparams, ctx)
        head_reg = reg_registry.plugin("softmax")
        hparams = head_reg.params()
    else:
        drop_layer = lambda n, kind: torch.nn.Identity()  # noqa: E731
        head_reg, hparams = reg, rparams
    mod = model_registry.get(cfg.model.name)
    backbone = mod.build(cfg.model.params, splits.in_shape, splits.num_classes, drop_layer)
    head = head_reg.build_head(hparams, backbone.feature_dim, splits.num_classes, ctx)
    net = Net(backbone, head)
    if cfg.train.init == "glorot":
        glorot_(net)
        for m in implementers(net, ResetGates):  # re-apply a module's own init where it has one (e.g. gate k)
            m.reset_gates()
    return net


def run_finalize(cfg: TrialConfig, trainer: Trainer, artifact_dir: Path) -> dict[str, float]:
    """The regularizer's ``finalize`` after the last epoch (``{}`` when it has none), given what it
    needs: the trained net, its ``Params``, the test split's batches in evaluation batch size, the device."""
    reg = reg_registry.plugin(cfg.regularizer.name)
    if reg.finalize is None:
        return {}
    test = trainer.sources["test"]
    return reg.finalize(trainer.net, regularizer_params(cfg), lambda: test.batches(trainer.cfg.eval_batch_size),
                        trainer.device, artifact_dir)


def load_splits(cfg: TrialConfig) -> data_registry.Splits:
    mod = data_registry.get(cfg.dataset.name)
    root = Path(cfg.data_root).expanduser() if cfg.data_root else None
    return mod.load(cfg.dataset.params, root, cfg.seed)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def read_state(path: Path) -> dict[str, Any]:
    """A trial checkpoint (``Trainer.state_dict()``), read with ``weights_only=True``.

    Checkpoints hold only tensors and plain types (module state dicts, optimizer
    and scheduler state, generator states, ints and dicts of ints such as
    Malicious Dropout's schedule position), so torch's restricted unpickler
    reads them; a checkpoint on shared storage that names any other Python
    object is refused instead of executed.
    """
    return torch.load(path, map_location="cpu", weights_only=True)


def write_final_artifacts(net: torch.nn.Module, directory: Path) -> None:
    """Collect every ``FinalArtifacts`` submodule's ``final_artifacts()`` into ``directory/artifacts/``.

    A value that is a str is written as text, a tensor or a dict holding tensors
    with ``torch.save`` (``.pt``), anything else as JSON. The driver logs this
    folder of the final checkpoint to the trial's MLflow run.
    """
    out = directory / "artifacts"
    for m in implementers(net, FinalArtifacts):
        for name, obj in m.final_artifacts().items():
            out.mkdir(exist_ok=True)
            if isinstance(obj, str):
                (out / name).write_text(obj)
            elif isinstance(obj, torch.Tensor) or (
                isinstance(obj, dict) and any(isinstance(v, torch.Tensor) for v in obj.values())
            ):
                torch.save(obj, out / (name if name.endswith(".pt") else name + ".pt"))
            else:
                (out / (name if name.endswith(".json") else name + ".json")).write_text(json.dumps(obj, indent=1))


def write_class_names(splits, directory: Path) -> None:
    """``artifacts/classes.json`` ({"class_names": [...]}, index k -> the data's label) when the data has
    labels of its own (figures label classes with them instead of 0..K-1)."""
    names = list(getattr(splits, "class_names", ()) or ())
    if names:
        (directory / "artifacts").mkdir(exist_ok=True)
        (directory / "artifacts" / "classes.json").write_text(json.dumps({"class_names": names}))


def write_calibration(trainer: Trainer, directory: Path) -> str:
    """The final test calibration bins as ``artifacts/calibration_test.json``; returns the JSON text.

    The text also goes into the last result (``test_calibration``), so it reaches the
    driver's trials table and reliability diagrams need no checkpoint files."""
    text = json.dumps({"split": "test", **trainer.test_calibration})
    (directory / "artifacts").mkdir(exist_ok=True)
    (directory / "artifacts" / "calibration_test.json").write_text(text)
    return text


def _test_misbehave(seed: int) -> None:
    """Test-only faults, for the trial of one seed, after its first report:
    ``SWEEPER_TEST_HOG=SEED:MB`` allocates (and touches) up to MB megabytes and holds them, stopping
    early while the machine has less than 1 GiB available (Ray's memory monitor, not the kernel's
    OOM killer, is meant to stop it); ``SWEEPER_TEST_HANG_SEED=SEED`` hangs for ever (no more reports)."""
    hog = os.environ.get("SWEEPER_TEST_HOG", "")
    if hog and int(hog.split(":")[0]) == seed:
        import psutil  # a Ray dependency

        held = []
        for _ in range(int(hog.split(":")[1]) // 64):
            if psutil.virtual_memory().available < 2**30:
                break
            held.append(bytearray(b"\x01") * (64 * 1024 * 1024))  # filled: every page is resident
            time.sleep(0.05)
        time.sleep(3600)
    if os.environ.get("SWEEPER_TEST_HANG_SEED", "") == str(seed):
        time.sleep(3600)


def run_trial(config: dict[str, Any], base: dict[str, Any]) -> None:
    """Ray Tune function trainable (bound with ``tune.with_parameters(run_trial, base=...)``)."""
    import ray
    from ray import tune

    cfg = resolve(base, tune_overrides(config, base.get("seeds", [0])))
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
    reuse.reset(cfg.seed, max(1, int(cpus)))  # fractional CPUs still get one thread; a reused process starts clean

    splits = reuse.cached(reuse.cache_key(cfg.dataset.name, cfg.dataset.params, cfg.data_root), lambda: load_splits(cfg))
    prov = provenance.as_result(provenance.trial_provenance(cfg, splits, pick_device()))  # in the last report
    net = build(cfg, splits)
    trainer = Trainer(net, splits, cfg.train, pick_device(), cfg.seed)
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            trainer.load_state_dict(read_state(Path(d) / "state.pt"))

    test_delay = float(os.environ.get("SWEEPER_TEST_EPOCH_DELAY_S", "0") or 0)
    node_id = ray.get_runtime_context().get_node_id()
    every_s = float(base.get(CHECKPOINT_EVERY_S, 0) or 0)  # 0: a checkpoint every epoch
    last_ckpt = time.monotonic()
    while not trainer.done:
        metrics = trainer.run_epoch()
        metrics["node_id"] = node_id
        if trainer.done or metrics.get("diverged"):
            metrics[provenance.PROVENANCE] = prov
        if every_s and not trainer.done and not metrics.get("diverged") and time.monotonic() - last_ckpt < every_s:
            tune.report(metrics)  # no checkpoint: the last one is younger than every_s
        else:
            with tempfile.TemporaryDirectory() as d:
                torch.save(trainer.state_dict(), Path(d) / "state.pt")
                if trainer.done and not metrics.get("diverged"):
                    write_final_artifacts(trainer.net, Path(d))
                    metrics[M.TEST_CALIBRATION] = write_calibration(trainer, Path(d))
                    write_class_names(splits, Path(d))
                    # the regularizer's post-training step (e.g. SAL builds and tests the pruned network)
                    metrics.update(run_finalize(cfg, trainer, Path(d) / "artifacts"))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
            last_ckpt = time.monotonic()
        if metrics.get("diverged"):
            return
        if test_delay and not trainer.done:
            time.sleep(test_delay)  # test-only: lets fault tests kill a node or the driver mid-trial
        _test_misbehave(cfg.seed)
