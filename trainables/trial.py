"""What runs inside one Ray Tune trial.

``run_trial(config, base)`` is the ONE place raw Tune config keys are read:
``base`` is the resolved sweep spec (a plain dict: dataset, model,
regularizer, train sections), ``config`` holds the values Optuna suggested as
dotted keys (``"regularizer.rho"``, ``"train.lr"``, ...) plus ``"seed"``.
``trainables.resolve.resolve`` makes them the frozen ``TrialConfig`` (every
``Params`` with its defaults filled in), as the driver does; the trial then builds data, backbone
and head, and reports one dict of floats per epoch; a checkpoint goes with a report
when the last one is ``base["checkpoint_every_s"]`` seconds old, and always with the last.
A caller may pass ``after_report(cfg, done)``, run after each report that is not a divergence
(``trainables.entry.AfterReport``; the fault tests' misbehaving trainable uses it). The module
imports nothing from ``trainables.entry``, which calls it.

The seed fixes data order, initialisation and every mask: the same seed gives
the same numbers on CPU.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from trainables import data as data_registry
from trainables import identity, provenance, reuse
from trainables import metric_names as M
from trainables import models as model_registry
from trainables import regularizers as reg_registry
from trainables.config import TrialConfig, flatten
from trainables.contract import BuildContext, FinalArtifacts, ResetGates, implementers
from trainables.data.splits import Splits
from trainables.loop import Net, Trainer
from trainables.overrides import CHECKPOINT_EVERY_S, tune_overrides
from trainables.resolve import resolve
from trainables.weight_init import glorot_

GPU_FALLBACK = "this trial holds GPU {ids} from Ray, but torch sees no CUDA device on this node: it runs on the CPU"


def regularizer_params(cfg: TrialConfig):
    """The regularizer's ``Params`` of ``cfg`` (validated by its ``__post_init__``)."""
    params = cfg.regularizer.params  # resolved by trainables.resolve.resolve: the entry's Params, defaults filled in
    assert isinstance(params, reg_registry.plugin(cfg.regularizer.name).params), type(params)
    return params


def build(cfg: TrialConfig, splits: Splits) -> Net:
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


def load_splits(cfg: TrialConfig) -> Splits:
    mod = data_registry.get(cfg.dataset.name)
    root = Path(cfg.data_root).expanduser() if cfg.data_root else None
    return mod.load(cfg.dataset.params, root, cfg.seed)


def pick_device(assigned_gpus: Sequence[str] = ()) -> torch.device:
    """``cuda`` when torch sees a CUDA device, else ``cpu``.

    ``assigned_gpus``: the GPU ids Ray gave the trial (``ray.get_gpu_ids()``). A trial holding GPUs
    where torch sees none (a node declaring ``GPU`` resources it does not have, a missing driver)
    still runs, on the CPU, and says so: a warning in the trial's log here, and its provenance
    records ``device: cpu`` with ``gpus_assigned`` (``provenance.hardware``)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if assigned_gpus:
        logging.getLogger(__name__).warning(GPU_FALLBACK.format(ids=", ".join(assigned_gpus)))
    return torch.device("cpu")


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


def run_trial(config: dict[str, Any], base: dict[str, Any],
              after_report: Callable[[TrialConfig, bool], None] | None = None) -> None:
    """Ray Tune function trainable (bound with ``tune.with_parameters(run_trial, base=...)``)."""
    import ray  # here, not at the top: build, load_splits and the rest serve tests and replay without Ray
    from ray import tune

    overrides = tune_overrides(config, base.get("seeds", [0]))
    cfg = resolve(base, overrides)
    # the trial's identity, resolved here once: the driver reads it from the first result of this attempt
    first: dict[str, Any] = {identity.REPORT_KEY: identity.encode(
        identity.identity(overrides, flatten(cfg), cfg.train.epochs))}
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
    reuse.reset(cfg.seed, max(1, int(cpus)))  # fractional CPUs still get one thread; a reused process starts clean

    splits = reuse.cached(reuse.cache_key(cfg.dataset.name, cfg.dataset.params, cfg.data_root), lambda: load_splits(cfg))
    gpus = [str(g) for g in ray.get_gpu_ids()]
    device = pick_device(gpus)
    prov = provenance.as_result(provenance.trial_provenance(cfg, splits, device, gpus))  # in the last report
    net = build(cfg, splits)
    trainer = Trainer(net, splits, cfg.train, device, cfg.seed)
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            trainer.load_state_dict(read_state(Path(d) / "state.pt"))

    node_id = ray.get_runtime_context().get_node_id()
    every_s = float(base.get(CHECKPOINT_EVERY_S, 0) or 0)  # 0: a checkpoint every epoch
    last_ckpt = time.monotonic()
    while not trainer.done:
        metrics = trainer.run_epoch()
        metrics["node_id"] = node_id
        metrics.update(first)
        first = {}
        if trainer.done or metrics.get("diverged"):
            metrics[M.PROVENANCE] = prov
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
        if after_report is not None:
            after_report(cfg, trainer.done)
