"""The small contract every regularizer module follows.

A regularizer module ``trainables/regularizers/<yaml_name>.py`` exports:

- ``Params``: a frozen dataclass; its fields are exactly the hyperparameters a
  YAML may set (``regularizer.<field>``), with defaults. ``__post_init__``
  raises ``ValueError`` whose message starts with the name of the field at fault
  and states the valid range (the validator reports it at that field's path).
  The class is defined in the torch-free ``regularizers/params.py`` (so that the
  spec validator never imports torch), registered there with the module path,
  and imported by the module as ``Params``; its ``METRICS`` class variable
  declares every metric name the regularizer reports.
- ``KIND``: ``"head"`` or ``"gate"``.
- heads: ``build_head(params, in_features, num_classes, ctx) -> nn.Module`` whose
  ``forward(h, target=None) -> HeadOutput``. ``h`` is the backbone's penultimate
  features (B, D); ``target`` is given in training only.
- gates: ``layer_factory(params, ctx) -> DropLayer``: the backbone calls
  ``drop_layer(num_features, kind)`` at each gated position, kind one of
  ``"conv"`` (after a conv block, input (B, C, H, W)), ``"fc"`` (after a hidden
  fully connected layer) or ``"penultimate"`` (the last hidden layer, whose output
  feeds the head; a gate treats it as ``"fc"``). The model never imports a
  regularizer; with no regularizer gate it gets ``nn.Identity``.

Optional module-level function, called once after the last epoch:

- ``finalize(trainer, artifact_dir: Path) -> dict[str, float]``: returns
  extra final metrics (prefixed names); it may write files into
  ``artifact_dir`` (created by it if needed), which the driver stores as the
  trial's MLflow artifacts. SAL prunes and evaluates the smaller network here.

Optional hooks the training loop calls on any submodule that defines them (a
generic mechanism, no special cases in the loop):

- ``on_batch_start(epoch: int, batch: int)``  schedules (Malicious Dropout rho).
- ``after_optimizer_step()``                  projections (Dropout++ clamps k to [0, 1]).
- ``penalty() -> Tensor``                     extra loss added to the objective (Beta prior).
- ``no_weight_decay() -> list[nn.Parameter]`` parameters excluded from weight decay.
- ``epoch_metrics() -> dict[str, float]``     extra per-epoch metrics, names prefixed.
- ``final_artifacts() -> dict[str, object]``  JSON-able artifacts stored at trial end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

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


DropLayer = Callable[[int, str], nn.Module]


def glorot_(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases on every Linear/Conv, as in the DropMax code."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
