"""Weight initialisation shared by the trial's network builder (``train.init: glorot``).

``glorot_(module)``: for every ``nn.Linear`` and ``nn.Conv2d`` in ``module``, weights drawn from
Glorot-uniform U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (``nn.init.xavier_uniform_``) and
biases set to zero, as in the DropMax authors' code. Other modules (gates, norms) keep their
own initialisation; a module implementing ``ResetGates`` re-applies its own afterwards.
"""
from __future__ import annotations

from torch import nn


def glorot_(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases on every Linear/Conv, as in the DropMax code."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
