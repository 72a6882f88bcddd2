"""Malicious Dropout (Maris & Pashayev, seed 004) as a head: it holds the final linear classifier.

Placement: the backbone's penultimate features h (B, D) feed this head, which drops
units of h and then applies the classifier ``logits = h' W^T + b`` (W stored (K, D)).

Training (label y_n known), per example n and unit j, without gradient:

    V[n, j] = h[n, j] * W[y_n, j] - omega * h[n, j] * sum_{k != y_n} W[k, j]

The rho units with the highest V in each row (those helping the correct class most)
are zeroed: one gather of W by the labels, an elementwise product, a per-row
``torch.topk`` and a scatter into a mask; no loop over examples or units. The loss is
cross-entropy of the masked logits. Ties in V (e.g. ReLU zeros) are broken by topk.
The head computes its training loss with the pure ``malicious_dropout_loss`` (which
returns the loss, the logits and the drop mask it counts); under bf16 autocast the
classifier's product runs in bf16 and the cross-entropy in float32 (``fp32.fp32``).

Test time (``eval()``, or no label given): no dropping; every unit is multiplied by
p_pass_j, the fraction of training examples in which unit j was kept, then the
classifier is applied. Before any training example is seen p_pass = 1.

Hyperparameters (``Params``) and the choices the seed leaves open:

- ``schedule``: how many units are dropped per batch (i = 0-based epoch, L = D):
  ``standard``  rho constant;
  ``randomized`` rho ~ Uniform{0, ..., L} (discrete, both ends included) drawn per batch
  on the host from the global torch RNG (seeded by the trial seed);
  ``forward``   rho_i = L / (1 + exp(-(a + r i)))            (seed eq. 1 with r = 1);
  ``reverse``   rho_i = L * (1 - 1 / (1 + exp(-(a + r i))))  (seed eq. 2 with r = 1);
  ``periodic``  rho (as standard) on every ``t_period``-th training batch only (global
  batch count over the whole run: batches t-1, 2t-1, ...; nothing dropped on the others).
- ``rho`` (standard, periodic): a count or a fraction of D per ``rho_unit``:
  ``auto`` reads rho < 1 as a fraction and an integer-valued rho >= 1 as a count;
  ``fraction`` (rho in [0, 1]); ``count`` (integer rho >= 0, at most D). A fraction is
  rounded half up: round(rho * D) = floor(rho * D + 0.5). Default 1/16 (the seed's 256
  of 4,096). Annealed rho_i is rounded the same way and clamped to [0, L].
- rho is read by ``standard`` and ``periodic`` only; ``forward``/``reverse`` use ``anneal_offset``
  and ``anneal_rate``, ``randomized`` draws its own. The spec validator refuses a sweep that sets rho
  where the schedule can be one of those (the rule is declared with rho in ``regularizers/params.py``).
- ``anneal_offset`` a (forward, reverse): the seed's "initial rho" inside the logistic
  (any real; a = -ln 15 ~ -2.708 makes forward start at L/16). ``anneal_rate`` r: an
  extension (the seed calls its tracing of the logistic "inadequate"); r = 1 is the seed.
- ``omega`` >= 0 weights the wrong-class contributions; ``None`` (default) means
  1 / (D - 1), the seed's balancing suggestion (footnote 2); 0 when D = 1.
- ``p_pass_window``: ``all`` (kept / seen over the whole training, int64 counts) or
  ``ema`` (per-batch kept fraction averaged with decay ``ema_decay``, bias-corrected as
  in Adam: ema / (1 - decay^t) after t batches). Every training example counts, also
  those of batches where nothing was dropped (rho = 0, periodic off-batches).

The counters are registered buffers and the schedule position (global batch count) is
module extra state, so both land in checkpoints. Per-epoch metrics (``epoch_metrics``):
``malicious_dropout_rho`` (mean units dropped per batch), ``malicious_dropout_active``
(fraction of batches that dropped anything), ``malicious_dropout_p_pass_mean`` / ``_min``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import (
    BuildContext,
    EpochMetrics,
    HeadOutput,
    OnBatchStart,
    Regularizer,
)
from trainables.regularizers.fp32 import fp32
from trainables.regularizers.params import MaliciousDropoutParams as Params


def _round_clamp(x: float, num_units: int) -> int:
    return min(max(math.floor(x + 0.5), 0), num_units)


def anneal_rho(kind: str, epoch: int, num_units: int, offset: float, rate: float = 1.0) -> int:
    """Seed eq. (1) (``forward``) or (2) (``reverse``) at 0-based ``epoch``, rounded half up."""
    s = 1.0 / (1.0 + math.exp(-(offset + rate * epoch)))
    return _round_clamp(num_units * (s if kind == "forward" else 1.0 - s), num_units)


def malicious_scores(h: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, omega: float) -> torch.Tensor:
    """V (B, D): h * W[y] - omega * h * (sum_k W[k] - W[y]); ``weight`` is (K, D)."""
    w_y = weight.index_select(0, target)  # (B, D)
    return h * (w_y - omega * (weight.sum(0) - w_y))


def malicious_drop_mask(h: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, rho: int, omega: float) -> torch.Tensor:
    """Bool (B, D), True where a unit is dropped: the ``rho`` largest V per row."""
    drop = torch.zeros_like(h, dtype=torch.bool)
    if rho > 0:
        with torch.no_grad():
            idx = malicious_scores(h, weight, target, omega).topk(rho, dim=1, sorted=False).indices
        drop.scatter_(1, idx, True)
    return drop


def malicious_dropout_loss(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor, rho: int, omega: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy of the classifier on h with its top-rho units by V zeroed (pure function).

    Returns (loss, logits, drop): the batch-mean CE of ``logits = (h with drop zeroed) W^T + b``,
    computed in float32 from the logits, and the bool (B, D) mask of dropped units. With rho = 0
    the classifier sees h itself."""
    drop = malicious_drop_mask(h, weight, target, rho, omega)
    logits = F.linear(h.masked_fill(drop, 0.0) if rho > 0 else h, weight, bias)
    return F.cross_entropy(fp32(logits), target), logits, drop


class MaliciousDropoutHead(nn.Module):
    def __init__(self, params: Params, in_features: int, num_classes: int):
        super().__init__()
        self.params = params
        self.num_units = in_features
        self.o = nn.Linear(in_features, num_classes)  # same name and init order as the softmax head
        self.omega = params.omega if params.omega is not None else (1.0 / (in_features - 1) if in_features > 1 else 0.0)
        self.base_rho = params.rho_count(in_features)
        self.register_buffer("kept", torch.zeros(in_features, dtype=torch.long))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("ema", torch.zeros(in_features))
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self.step = 0  # training batches started (global); schedule position
        self.rho_now = self.schedule_rho(0, 0) if params.schedule != "randomized" else 0
        self._rho_sum, self._batches, self._active = 0, 0, 0

    # --- schedule (host side, from epoch / batch counts) ------------------------------------
    def schedule_rho(self, epoch: int, step: int) -> int:
        """Units to drop in the batch at 0-based ``epoch`` and global batch ``step``."""
        p, L = self.params, self.num_units
        if p.schedule == "randomized":
            return int(torch.randint(0, L + 1, ()))  # host CPU RNG: no device sync
        if p.schedule in ("forward", "reverse"):
            return anneal_rho(p.schedule, epoch, L, p.anneal_offset, p.anneal_rate)
        if p.schedule == "periodic" and (step + 1) % p.t_period != 0:
            return 0
        return self.base_rho

    def on_batch_start(self, epoch: int, batch: int) -> None:
        self.rho_now = self.schedule_rho(epoch, self.step)
        self.step += 1
        self._rho_sum += self.rho_now
        self._batches += 1
        self._active += self.rho_now > 0

    def get_extra_state(self) -> dict:
        return {"step": self.step, "rho_now": self.rho_now}

    def set_extra_state(self, state: dict) -> None:
        self.step, self.rho_now = int(state["step"]), int(state["rho_now"])

    # --- p_pass ------------------------------------------------------------------------------
    def p_pass(self) -> torch.Tensor:
        """(D,) keep frequency under the chosen window; 1 before any training example."""
        if self.params.p_pass_window == "ema":
            corr = 1.0 - torch.pow(torch.tensor(self.params.ema_decay, device=self.ema.device), self.ema_steps.float())
            return torch.where(self.ema_steps > 0, self.ema / corr.clamp_min(1e-30), torch.ones_like(self.ema))
        seen = self.seen.to(torch.float64)
        return torch.where(self.seen > 0, self.kept.to(torch.float64) / seen.clamp_min(1), 1.0).float()

    @torch.no_grad()
    def _count(self, drop: torch.Tensor) -> None:
        dropped = drop.sum(0)
        if self.params.p_pass_window == "ema":
            d = self.params.ema_decay
            self.ema.mul_(d).add_((1.0 - dropped.float() / drop.shape[0]) * (1.0 - d))
            self.ema_steps += 1
        else:
            self.kept += drop.shape[0] - dropped
            self.seen += drop.shape[0]

    # --- forward -----------------------------------------------------------------------------
    def forward(self, h: torch.Tensor, target: torch.Tensor | None = None) -> HeadOutput:
        if self.training and target is not None:
            loss, logits, drop = malicious_dropout_loss(h, self.o.weight, self.o.bias, target, self.rho_now, self.omega)
            self._count(drop)
            return HeadOutput(logits, loss, {})
        scaled = h * self.p_pass().to(h.dtype)
        if target is None:
            return HeadOutput(self.o(scaled), None, {})
        loss, logits, _ = malicious_dropout_loss(scaled, self.o.weight, self.o.bias, target, 0, self.omega)
        return HeadOutput(logits, loss, {})

    def epoch_metrics(self) -> dict[str, float]:
        p = self.p_pass().float().cpu()  # one read per epoch
        n = max(self._batches, 1)
        out = {
            "malicious_dropout_rho": self._rho_sum / n,
            "malicious_dropout_active": self._active / n,
            "malicious_dropout_p_pass_mean": float(p.mean()),
            "malicious_dropout_p_pass_min": float(p.min()),
        }
        self._rho_sum, self._batches, self._active = 0, 0, 0
        return out


def build_head(params: Params, in_features: int, num_classes: int, ctx: BuildContext) -> MaliciousDropoutHead:
    return MaliciousDropoutHead(params, in_features, num_classes)


PLUGIN = Regularizer(name="malicious_dropout", kind="head", params=Params, build_head=build_head,
                     hooks=(OnBatchStart, EpochMetrics))
