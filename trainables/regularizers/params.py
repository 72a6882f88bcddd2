"""The ``Params`` of every regularizer (the YAML's ``regularizer.params``), torch-free.

One frozen dataclass per regularizer; the registry (``trainables/regularizers/__init__.py``)
maps each YAML name to its class here and to its implementation module
(``trainables/regularizers/<name>.py``, one regularizer per file, which imports torch and
re-exports its class as ``Params``). They live here, apart from the implementations, so
that ``sweeper validate`` checks a spec against every regularizer without importing torch.

Contract of a ``Params`` class: its fields are exactly the hyperparameters a YAML may set,
with defaults; ``Literal[...]`` fields list their valid values; ``__post_init__`` raises
``ValueError`` naming the field and its valid range. ``METRICS`` (a class variable, not a
field) declares every metric name the regularizer reports (per-epoch loss terms and
``epoch_metrics``, and ``finalize``'s); ``{i}`` stands for a 1-based layer index. The spec
validator accepts a regularizer metric as a search objective only if it is declared here,
and the contract test checks that a trained regularizer reports nothing undeclared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

SCHEDULES = ("standard", "randomized", "forward", "reverse", "periodic")  # Malicious Dropout's rho schedules
VARIANTS = ("flat", "0.5", "1", "0", "custom")  # Dropout++ Beta-prior variants


def check_common(p) -> None:
    """Range checks shared by Dropout++ and SAL Params."""
    if not 0.0 <= p.init <= 1.0:
        raise ValueError(f"init must be in [0, 1], got {p.init}")
    if p.prior_weight is not None and p.prior_weight < 0:
        raise ValueError(f"prior_weight must be >= 0 (or null for 1/N_train), got {p.prior_weight}")
    if p.layers not in ("all", "penultimate"):
        raise ValueError(f"layers must be 'all' or 'penultimate', got {p.layers!r}")
    if not 0.0 < p.eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {p.eps}")
    if not 0.0 <= p.threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {p.threshold}")


def sal_alpha_beta(p: SalParams) -> tuple[float, float]:
    """SAL's Beta prior (alpha, beta) from its geometric mean and ratio r: alpha = g / sqrt(r), beta = g * sqrt(r)."""
    r = math.sqrt(p.beta_over_alpha)
    return p.geomean / r, p.geomean * r


@dataclass(frozen=True)
class DetAttentionParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "det_attention_ce",
        "det_attention_att_target",
        "det_attention_att_nontarget",
    )
    attention_weight_decay: bool = True


@dataclass(frozen=True)
class DetDropmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "det_dropmax_ce",
        "det_dropmax_att_target",
        "det_dropmax_att_nontarget",
        "det_dropmax_aux",
    )
    attention_weight_decay: bool = True


@dataclass(frozen=True)
class DropmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "dropmax_ce",
        "dropmax_kl",
        "dropmax_aux",
        "dropmax_neg_entropy",
        "dropmax_p_target",
        "dropmax_p_nontarget",
        "dropmax_test_all_p_target",
        "dropmax_test_all_p_nontarget",
        "dropmax_test_hard_p_target",
        "dropmax_test_hard_p_nontarget",
    )
    tau: float = 0.1
    eps: float = 1e-20
    eval_mc_samples: int = 0
    eval_mc_seed: int = 0

    def __post_init__(self):
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if not 0 < self.eps <= 1e-3:
            raise ValueError(f"eps must be in (0, 1e-3], got {self.eps}")
        if self.eval_mc_samples < 0:
            raise ValueError(f"eval_mc_samples must be >= 0 (0 = eq. 15), got {self.eval_mc_samples}")


@dataclass(frozen=True)
class DropmaxQpParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "dropmax_qp_ce",
        "dropmax_qp_kl_target",
        "dropmax_qp_neg_entropy",
        "dropmax_qp_p_target",
        "dropmax_qp_p_nontarget",
        "dropmax_qp_test_all_p_target",
        "dropmax_qp_test_all_p_nontarget",
        "dropmax_qp_test_hard_p_target",
        "dropmax_qp_test_hard_p_nontarget",
    )
    gamma: float = 0.1
    target_kl: bool = True
    tau: float = 0.1
    eps: float = 1e-20
    retain_weight_decay: bool = False
    eval_mc_samples: int = 0
    eval_mc_seed: int = 0

    def __post_init__(self):
        if not self.gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if not 0 < self.eps <= 1e-3:
            raise ValueError(f"eps must be in (0, 1e-3], got {self.eps}")
        if self.eval_mc_samples < 0:
            raise ValueError(f"eval_mc_samples must be >= 0 (0 = eq. 15), got {self.eval_mc_samples}")


@dataclass(frozen=True)
class DropoutParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    keep: float = 0.5
    layers: Literal["all", "penultimate"] = "penultimate"
    per_channel: bool = False

    def __post_init__(self):
        if not 0.0 < self.keep <= 1.0:
            raise ValueError(f"keep must be in (0, 1], got {self.keep}")
        if self.layers not in ("all", "penultimate"):
            raise ValueError(f"layers must be 'all' or 'penultimate', got {self.layers!r}")


@dataclass(frozen=True)
class DropoutPpParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "dropout_pp_k_mean_{i}",
        "dropout_pp_active_{i}",
        "dropout_pp_alpha",
        "dropout_pp_beta",
    )
    variant: Literal["flat", "0.5", "1", "0", "custom"] = "flat"
    concentration: float = 2.0
    alpha: float = 1.0
    beta: float = 1.0
    init: float = 1.0
    prior_weight: float | None = None
    conv_gates: Literal["channel", "element"] = "element"  # per element as the paper's Sec. 2.6 (dropout_pp.py)
    layers: Literal["all", "penultimate"] = "all"
    eps: float = 0.01  # k kept in [eps, 1 - eps] where the prior is singular (dropout_pp.py)
    threshold: float = 0.5

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if not self.concentration > 1.0:
            raise ValueError(f"concentration must be > 1 (the Beta parameter that sets the mode), got {self.concentration}")
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"alpha and beta must be > 0, got alpha={self.alpha}, beta={self.beta}")
        if self.conv_gates not in ("channel", "element"):
            raise ValueError(f"conv_gates must be 'channel' or 'element', got {self.conv_gates!r}")
        check_common(self)


@dataclass(frozen=True)
class MaliciousDropoutParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "malicious_dropout_rho",
        "malicious_dropout_active",
        "malicious_dropout_p_pass_mean",
        "malicious_dropout_p_pass_min",
    )
    schedule: Literal["standard", "randomized", "forward", "reverse", "periodic"] = "standard"
    rho: float = 0.0625
    rho_unit: Literal["auto", "count", "fraction"] = "auto"
    omega: float | None = None
    anneal_offset: float = 0.0
    anneal_rate: float = 1.0
    t_period: int = 5
    p_pass_window: Literal["all", "ema"] = "all"
    ema_decay: float = 0.99

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.rho_unit not in ("auto", "count", "fraction"):
            raise ValueError(f"rho_unit must be 'auto', 'count' or 'fraction', got {self.rho_unit!r}")
        r = self.rho
        if not (math.isfinite(r) and r >= 0):
            raise ValueError(f"rho must be a finite number >= 0, got {r}")
        if self.rho_unit == "fraction" and r > 1:
            raise ValueError(f"rho must be in [0, 1] when rho_unit is 'fraction', got {r}")
        if self.rho_unit == "count" and r != int(r):
            raise ValueError(f"rho must be an integer >= 0 when rho_unit is 'count', got {r}")
        if self.rho_unit == "auto" and r >= 1 and r != int(r):
            raise ValueError(f"rho must be in [0, 1) (a fraction) or an integer >= 1 (a count), got {r}")
        if self.omega is not None and not (math.isfinite(self.omega) and self.omega >= 0):
            raise ValueError(f"omega must be a finite number >= 0 (or null for 1/(D-1)), got {self.omega}")
        if not (math.isfinite(self.anneal_offset) and abs(self.anneal_offset) <= 100):
            raise ValueError(f"anneal_offset must be in [-100, 100], got {self.anneal_offset}")
        if not (math.isfinite(self.anneal_rate) and 0 <= self.anneal_rate <= 100):
            raise ValueError(f"anneal_rate must be in [0, 100], got {self.anneal_rate}")
        if not (isinstance(self.t_period, int) and self.t_period >= 1):
            raise ValueError(f"t_period must be an integer >= 1, got {self.t_period}")
        if self.p_pass_window not in ("all", "ema"):
            raise ValueError(f"p_pass_window must be 'all' or 'ema', got {self.p_pass_window!r}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    def rho_count(self, num_units: int) -> int:
        """The constant rho of ``standard``/``periodic`` as a unit count (rounded half up)."""
        as_fraction = self.rho_unit == "fraction" or (self.rho_unit == "auto" and self.rho < 1)
        n = math.floor(self.rho * num_units + 0.5) if as_fraction else int(self.rho)
        if n > num_units:
            raise ValueError(f"rho must be at most the layer width {num_units} as a count, got {self.rho}")
        return n


@dataclass(frozen=True)
class RandomDropmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    rho: float = 0.4
    eps: float = 1e-20

    def __post_init__(self):
        if not 0 < self.rho <= 1:
            raise ValueError(f"rho must be in (0, 1], got {self.rho}")
        if not 0 < self.eps <= 1e-3:
            raise ValueError(f"eps must be in (0, 1e-3], got {self.eps}")


@dataclass(frozen=True)
class SalParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "sal_k_mean_{i}",
        "sal_active_{i}",
        "sal_alpha",
        "sal_beta",
        "sal_params",
        "sal_params_full",
        "sal_pruned_test_error",
        "sal_gated_test_error",
        "sal_error_gap",
        "sal_max_logit_diff",
        "sal_removed_k_max",
        "sal_match",
        "sal_width_{i}",
    )
    beta_over_alpha: float = 10.0
    geomean: float = 0.09
    init: float = 0.5
    prior_weight: float | None = None
    eps: float = 1e-6
    layers: Literal["all", "penultimate"] = "all"
    rule: Literal["threshold", "sharp_rise"] = "threshold"
    threshold: float = 0.5
    min_rise: float = 0.25
    match_tol: float = 0.005

    def __post_init__(self):
        if not self.beta_over_alpha > 0:
            raise ValueError(f"beta_over_alpha must be > 0, got {self.beta_over_alpha}")
        a, b = sal_alpha_beta(self)
        if not (0 < self.geomean and b < 1 and a < 1):
            raise ValueError(
                f"geomean must be > 0 with alpha = geomean/sqrt(r) < 1 and beta = geomean*sqrt(r) < 1 "
                f"(r = beta_over_alpha); got geomean={self.geomean}, alpha={a:.4g}, beta={b:.4g}"
            )
        check_common(self)
        if self.rule not in ("threshold", "sharp_rise"):
            raise ValueError(f"rule must be 'threshold' or 'sharp_rise', got {self.rule!r}")
        if not 0.0 <= self.min_rise <= 1.0:
            raise ValueError(f"min_rise must be in [0, 1], got {self.min_rise}")
        if not 0.0 <= self.match_tol <= 1.0:
            raise ValueError(f"match_tol must be in [0, 1], got {self.match_tol}")


@dataclass(frozen=True)
class SampledSoftmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    fraction: float = 0.4
    count_over: Literal["total", "non_target"] = "total"  # the paper's "of total classes" (sampled_softmax.py)

    def __post_init__(self):
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.count_over not in ("total", "non_target"):
            raise ValueError(f"count_over must be one of total, non_target, got {self.count_over!r}")


@dataclass(frozen=True)
class SoftmaxParams:
    """Base softmax has no hyperparameters."""
    METRICS: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class SparsemaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    nll_floor: float = 1e-6

    def __post_init__(self):
        if not 0 < self.nll_floor <= 0.1:
            raise ValueError(f"nll_floor must be in (0, 0.1], got {self.nll_floor}")
