"""The metric functions on tensors: error, NLL, ECE and the calibration bins of a split.

Their result keys follow ``trainables/metric_names.py`` (``{prefix}_error``, ``{prefix}_nll``,
``{prefix}_ece``). ECE uses 15 equal-width confidence bins (Guo et al. 2017); the DropMax
poster does not state its bin count, 15 is the usual choice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

ECE_BINS = 15


def classification_metrics(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sums (not means) of error, NLL and the per-bin ECE statistics for one batch.

    ``logits`` are the prediction logits of a head: ``softmax(logits)`` is the
    predictive distribution. Returned as device tensors so that an epoch can
    accumulate them without a host sync; :func:`finalize` turns them into floats.
    """
    logp = F.log_softmax(logits.float(), dim=-1)
    conf, pred = logp.exp().max(dim=-1)
    wrong = (pred != target).float()
    nll = F.nll_loss(logp, target, reduction="sum")
    bins = torch.clamp((conf * ECE_BINS).long(), max=ECE_BINS - 1)
    count = torch.bincount(bins, minlength=ECE_BINS).float()
    conf_sum = torch.bincount(bins, weights=conf, minlength=ECE_BINS)
    acc_sum = torch.bincount(bins, weights=1.0 - wrong, minlength=ECE_BINS)
    return {
        "n": torch.tensor(float(target.numel()), device=logits.device),
        "error": wrong.sum(),
        "nll": nll,
        "bin_count": count,
        "bin_conf": conf_sum,
        "bin_acc": acc_sum,
    }


def accumulate(total: dict[str, torch.Tensor] | None, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if total is None:
        return {k: v.clone() for k, v in batch.items()}
    for k, v in batch.items():
        total[k] += v
    return total


def finalize(total: dict[str, torch.Tensor], prefix: str) -> dict[str, float]:
    """Sums from :func:`classification_metrics` -> ``{prefix_error, prefix_nll, prefix_ece}``.

    Reads the device once. ECE = sum_b |acc_b - conf_b| * n_b / n.
    """
    t = {k: v.detach().cpu() for k, v in total.items()}
    n = float(t["n"])
    ece = float((t["bin_acc"] - t["bin_conf"]).abs().sum() / n)
    return {
        f"{prefix}_error": float(t["error"]) / n,
        f"{prefix}_nll": float(t["nll"]) / n,
        f"{prefix}_ece": ece,
    }


def calibration_bins(total: dict[str, torch.Tensor]) -> dict[str, list]:
    """The ECE bins of :func:`classification_metrics` sums, for a reliability diagram.

    ``ECE_BINS`` equal-width confidence bins over [0, 1] (the bins of ``*_ece``):
    per bin the number of examples, their mean confidence and their accuracy
    (None for an empty bin). ECE = sum_b count_b * |accuracy_b - confidence_b| / n.
    """
    t = {k: v.detach().cpu() for k, v in total.items()}
    count = t["bin_count"].tolist()
    return {
        "edges": [i / ECE_BINS for i in range(ECE_BINS + 1)],
        "count": [int(c) for c in count],
        "confidence": [float(s) / c if c else None for s, c in zip(t["bin_conf"].tolist(), count)],
        "accuracy": [float(s) / c if c else None for s, c in zip(t["bin_acc"].tolist(), count)],
    }
