"""The working precision of every regularizer loss: at least float32, also under bf16 autocast.

Under ``train.precision: bf16`` the backbone and the heads' linear layers run in bfloat16
(8 significant bits). The losses built on their outputs are not safe there: a sigmoid
above ~6.2 rounds to exactly 1, so ``log(1 - p + 1e-20)`` is -46 instead of -7; uniform
noise drawn in bf16 is exactly 0 in ~0.2 % of draws. So each head passes its layers'
outputs through :func:`fp32` where its loss starts: sigmoids, logs, KL and auxiliary
terms, sampled masks and the cross-entropy are then computed in float32 (autocast leaves
elementwise ops in their input dtype), and only the matrix products stay in bf16.

    fp32(x) = x.float()  if x is bfloat16 or float16,  else x  (float32 and float64 unchanged)

so fp32 training is bit-for-bit what it would be without the call, and float64
gradchecks stay float64.
"""
from __future__ import annotations

import torch

_LOW = (torch.bfloat16, torch.float16)


def fp32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 when it is a 16-bit float tensor; otherwise ``x`` itself."""
    return x.float() if x.dtype in _LOW else x
