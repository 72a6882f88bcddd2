"""The regularizer plug-in contract, as code: one ``Regularizer`` record per regularizer.

Torch-free at run time (torch appears only in annotations), so the driver and the
registry tables may import it; models import it instead of the regularizers package.

A regularizer is one module ``trainables/regularizers/<yaml_name>.py`` that ends with
exactly one entry::

    PLUGIN = Regularizer(name="dropmax", kind="head", params=Params, build_head=build_head,
                         hooks=(OnBatchStart, NoWeightDecay, FinalArtifacts), finalize=finalize)

plus one line in the registry (``trainables/regularizers/__init__.py``) naming its torch-free
``Params`` class and the module. Callers (``trial.build``, ``trial.run_finalize``) use the
entry's fields; nothing is looked up by name on the module.

- ``params``: a frozen dataclass whose fields are exactly the hyperparameters a YAML may
  set (``regularizer.<field>``), with defaults. ``__post_init__`` raises ``ValueError``
  whose message starts with the name of the field at fault and states the valid range (the
  validator reports it at that field's path). It is defined in the torch-free
  ``regularizers/params.py`` (so the spec validator never imports torch), with ``METRICS``
  (every metric name the regularizer reports); each field is one ``param(default, range, meaning)``
  declaration (``trainables/paramdoc.py``: validation, ``sweeper show``, the JSON Schema); the
  registry line names the same class.
- ``kind``: ``"head"`` or ``"gate"``; the matching builder is set, the other is None:
  - heads: ``build_head(params, in_features, num_classes, ctx) -> nn.Module`` whose
    ``forward(h, target=None) -> HeadOutput``. ``h`` is the backbone's penultimate
    features (B, D); ``target`` is given in training only.
  - gates: ``layer_factory(params, ctx) -> DropLayer``: the backbone calls
    ``drop_layer(num_features, kind)`` at each gated position, kind one of ``"conv"``
    (after a conv block, input (B, C, H, W)), ``"fc"`` (after a hidden fully connected
    layer) or ``"penultimate"`` (the last hidden layer, whose output feeds the head; a
    gate treats it as ``"fc"``). The model never imports a regularizer; with no
    regularizer gate it gets ``nn.Identity``. A gate regularizer's network ends in the
    ``softmax`` head.
- ``hooks``: the hook protocols below that the modules it builds implement (declared, so
  a reader sees them in one place; the contract test checks the declaration against the
  built network). The loop finds hook implementers with ``isinstance(m, Protocol)`` over
  ``net.modules()``, so one network may hold several (e.g. one per gate layer).
- ``finalize`` (optional), called once after the last epoch:
  ``finalize(net, params, test_batches, device, artifact_dir) -> dict[str, float]``
  with the trained network, the regularizer's ``Params``, a function returning the test
  split's ``(x, y)`` batches on ``device`` in evaluation batch size, and a folder for
  files (created by it if needed; the driver stores them as the trial's MLflow
  artifacts). It returns extra final metrics (prefixed names, declared in ``METRICS``).
  SAL prunes and evaluates the smaller network there; DropMax writes Figure 4e on test images.

Hooks (methods of the built ``nn.Module`` s; a generic mechanism, no special cases in the loop):

- ``OnBatchStart.on_batch_start(epoch, batch)``       schedules (Malicious Dropout rho).
- ``AfterOptimizerStep.after_optimizer_step()``       projections (Dropout++ clamps k).
- ``Penalty.penalty() -> Tensor``                     extra loss added to the objective (Beta prior).
- ``NoWeightDecay.no_weight_decay() -> [Parameter]``  parameters excluded from weight decay.
- ``EpochMetrics.epoch_metrics() -> dict[str, float]``  extra per-epoch metrics, names prefixed.
- ``FinalArtifacts.final_artifacts() -> dict``        JSON-able / tensor artifacts at trial end.
- ``ResetGates.reset_gates()``                        re-apply the module's own initial values after
                                                      ``train.init: glorot`` re-initialised every layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the contract imports no torch at run time
    import torch
    from torch import nn


class HeadOutput(NamedTuple):
    """What a head returns.

    logits: (B, K) prediction logits; ``softmax(logits)`` is the predictive
        distribution used for error, NLL and ECE.
    loss: scalar training loss (None when no target was given).
    terms: named scalar loss terms for logging (keys prefixed with the
        regularizer name, e.g. ``dropmax_kl``); detached or not, the loop
        only reads them.
    """

    logits: torch.Tensor
    loss: torch.Tensor | None
    terms: dict[str, torch.Tensor]


@dataclass(frozen=True)
class BuildContext:
    """Facts about the run that a regularizer may need when it is built."""

    n_train: int
    num_classes: int
    init: str = "default"  # "default" (PyTorch) or "glorot" (DropMax authors' code)
    extra: dict = field(default_factory=dict)


DropLayer = Callable[[int, str], "nn.Module"]


# --- hooks --------------------------------------------------------------------------------------------
@runtime_checkable
class OnBatchStart(Protocol):
    def on_batch_start(self, epoch: int, batch: int) -> None: ...


@runtime_checkable
class AfterOptimizerStep(Protocol):
    def after_optimizer_step(self) -> None: ...


@runtime_checkable
class Penalty(Protocol):
    def penalty(self) -> torch.Tensor: ...


@runtime_checkable
class NoWeightDecay(Protocol):
    def no_weight_decay(self) -> list[nn.Parameter]: ...


@runtime_checkable
class EpochMetrics(Protocol):
    def epoch_metrics(self) -> dict[str, float]: ...


@runtime_checkable
class FinalArtifacts(Protocol):
    def final_artifacts(self) -> dict[str, object]: ...


@runtime_checkable
class ResetGates(Protocol):
    def reset_gates(self) -> None: ...


HOOKS: tuple[type, ...] = (OnBatchStart, AfterOptimizerStep, Penalty, NoWeightDecay, EpochMetrics, FinalArtifacts,
                           ResetGates)


def implementers(net: nn.Module, hook: type) -> list:
    """The submodules of ``net`` (itself included) implementing the hook protocol ``hook``, in ``modules()`` order."""
    return [m for m in net.modules() if isinstance(m, hook)]


# --- the entry ------------------------------------------------------------------------------------------
SplitBatches = Callable[[], Iterable[tuple["torch.Tensor", "torch.Tensor"]]]
HeadBuilder = Callable[[Any, int, int, BuildContext], "nn.Module"]
GateBuilder = Callable[[Any, BuildContext], DropLayer]
Finalize = Callable[["nn.Module", Any, SplitBatches, "torch.device", Path], dict[str, float]]


@dataclass(frozen=True)
class Regularizer:
    """One regularizer's plug-in entry (see the module docstring for each field's contract)."""

    name: str
    kind: Literal["head", "gate"]
    params: type
    build_head: HeadBuilder | None = None
    layer_factory: GateBuilder | None = None
    hooks: tuple[type, ...] = ()
    finalize: Finalize | None = None

    def __post_init__(self):
        if self.kind not in ("head", "gate"):
            raise ValueError(f"{self.name}: kind must be 'head' or 'gate', got {self.kind!r}")
        if (self.build_head is None) != (self.kind == "gate") or (self.layer_factory is None) != (self.kind == "head"):
            raise ValueError(f"{self.name}: a {self.kind} sets exactly "
                             f"{'build_head' if self.kind == 'head' else 'layer_factory'} of the two builders")
        unknown = [h for h in self.hooks if h not in HOOKS]
        if unknown:
            raise ValueError(f"{self.name}: hooks must be among contract.HOOKS, got {unknown}")
