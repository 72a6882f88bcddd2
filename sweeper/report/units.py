"""Display units of metrics: what a number means decides how it is printed.

- ``*_error``, ``*_ece`` (fractions in the tables) print in percent; a difference of two of them is in
  percentage points ("pp").
- ``*_nll`` and ``train_loss`` print in nats, as stored; a difference is in nats (never "points").
- ``*_params`` are counts; ``*epoch*`` are epochs; anything else prints as stored with 4 significant digits.

Paper targets (spec ``paper:`` blocks) are written in these display units (7.09 for a 7.09 % error).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Unit:
    scale: float  # display value = stored value * scale
    label: str  # column header suffix, e.g. "%" or "nats"
    diff_label: str  # unit of a difference of two values
    decimals: int | None  # fixed decimals; None: 4 significant digits

    def value(self, v: float) -> float:
        return float(v) * self.scale

    def fmt(self, v: float, signed: bool = False) -> str:
        if v is None or not math.isfinite(v):
            return "-"
        x = self.value(v)
        sign = "+" if signed else ""
        if self.decimals is None:
            return f"{x:{sign}.4g}"
        return f"{x:{sign},.{self.decimals}f}" if self.decimals == 0 else f"{x:{sign}.{self.decimals}f}"


PERCENT = Unit(100.0, "%", "pp", 2)
NATS = Unit(1.0, "nats", "nats", 3)
COUNT = Unit(1.0, "count", "count", 0)
EPOCHS = Unit(1.0, "epochs", "epochs", 1)
PLAIN = Unit(1.0, "", "", None)


def unit_of(metric: str) -> Unit:
    m = metric.removeprefix("metric.")
    if m.endswith("_error") or m.endswith("_ece") or m in ("error", "ece"):
        return PERCENT
    if m.endswith("_nll") or m.endswith("_loss") or m == "nll":
        return NATS
    if m.endswith("_params") or m.startswith("params"):
        return COUNT
    if m.endswith("epoch") or m.endswith("epochs"):
        return EPOCHS
    return PLAIN


def mode_of(metric: str) -> str:
    """Whether lower (min) or higher (max) is better for a metric: max only for accuracies."""
    return "max" if metric.removeprefix("metric.").endswith(("accuracy", "_acc")) else "min"


def header(metric: str) -> str:
    """Column header: ``test_error`` -> ``test error %``; ``test_nll`` -> ``test NLL (nats)``."""
    u = unit_of(metric)
    name = metric.removeprefix("metric.").replace("_nll", "_NLL").replace("_ece", "_ECE").replace("_", " ")
    if u is PERCENT:
        return f"{name} %"
    if u.label and u is not COUNT:
        return f"{name} ({u.label})"
    return name


def cell(mean: float, half: float, n: int, values: list[float] | np.ndarray, metric: str, min_n: int = 3) -> str:
    """``mean ± half`` in the metric's unit; with fewer than ``min_n`` values the values themselves.

    An interval from 2 seeds (t_{0.975,1} = 12.7) spans most of the metric's range and tells a reader
    nothing, so below ``min_n`` finished seeds the per-seed values are printed instead, with n."""
    u = unit_of(metric)
    if n == 0:
        return "-"
    if n < min_n:
        return "seeds: " + ", ".join(u.fmt(v) for v in values) + f" (n={n})"
    return f"{u.fmt(mean)} ± {u.fmt(half)}"
