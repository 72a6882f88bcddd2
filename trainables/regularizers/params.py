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
``DOCS`` (a class variable) gives every field its valid range and one line of meaning
(``trainables/paramdoc.py``; printed by ``sweeper show regularizer NAME``).
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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "attention_weight_decay": ("", "apply the train section's weight decay to the attention head a = W_a h + b_a too (false: exclude it, like DropMax's retain head)"),
    }


@dataclass(frozen=True)
class DetDropmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "det_dropmax_ce",
        "det_dropmax_att_target",
        "det_dropmax_att_nontarget",
        "det_dropmax_aux",
    )
    attention_weight_decay: bool = True
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "attention_weight_decay": ("", "apply the train section's weight decay to the attention head a = W_a h + b_a too (false: exclude it, like DropMax's retain head)"),
    }


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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "tau": ("(0, inf)", "temperature of the binary-concrete relaxation of the retain mask z in training (paper 0.1)"),
        "eps": ("(0, 0.001]", "constant inside every log(x + eps) of the loss and of the prediction o + log(p + eps) (authors' 1e-20)"),
        "eval_mc_samples": ("[0, inf)", "prediction: 0 = eq. 15, logits o + log(p + eps); S > 0 = eq. 14, the mean softmax over S masks z ~ Bernoulli(p)"),
        "eval_mc_seed": ("any integer", "seed of the generator that draws eq. 14's evaluation masks, re-seeded at every evaluation (deterministic)"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "gamma": ("[0, inf)", "weight of the negative-entropy term sum_k [p log p + (1-p) log(1-p)] on the retain probabilities (paper tunes 1, 0.1, 0.01)"),
        "target_kl": ("", "keep the target's -log p_y term (KL[q || p] with q(z_y) = Ber(1)); false drops it (the paper does not say)"),
        "tau": ("(0, inf)", "temperature of the binary-concrete relaxation of the retain mask z in training (paper 0.1)"),
        "eps": ("(0, 0.001]", "constant inside every log(x + eps) of the loss and of the prediction o + log(p + eps) (authors' 1e-20)"),
        "retain_weight_decay": ("", "apply weight decay to the retain head ph too (false: excluded, as DropMax's section 4.4)"),
        "eval_mc_samples": ("[0, inf)", "prediction: 0 = eq. 15, logits o + log(p + eps); S > 0 = eq. 14, the mean softmax over S masks z ~ Bernoulli(p)"),
        "eval_mc_seed": ("any integer", "seed of the generator that draws eq. 14's evaluation masks, re-seeded at every evaluation (deterministic)"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "keep": ("(0, 1]", "keep probability: in training y = x * m / keep with m ~ Bernoulli(keep); at test y = x"),
        "layers": ("", "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds the head (penultimate)"),
        "per_channel": ("", "at convolution positions drop whole feature maps (nn.Dropout2d) instead of single elements"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "variant": ("", "Beta(alpha, beta) prior on every gate k, by its mode: flat (no prior), 0.5 (alpha = beta = c), 1 (alpha = c, beta = 1: gates pushed on), 0 (alpha = 1, beta = c: pushed off), custom (alpha, beta)"),
        "concentration": ("(1, inf)", "c, the Beta parameter that sets the prior's mode for variants 0.5, 1 and 0 (larger: a stronger pull)"),
        "alpha": ("(0, inf)", "the prior's alpha; read by variant custom only"),
        "beta": ("(0, inf)", "the prior's beta; read by variant custom only"),
        "init": ("[0, 1]", "initial value of every gate k, clamped into [eps, 1 - eps] on a side where the prior is singular (paper: 1, the fastest to train)"),
        "prior_weight": ("[0, inf) or null", "weight of the Beta prior term in the loss; null = 1/N_train (the paper sums over N examples, the loop minimises a batch mean)"),
        "conv_gates": ("", "convolution gates: one k and one coin per element of the (C, H, W) map, as the paper's Sec. 2.6 (element), or per feature map (channel)"),
        "layers": ("", "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds the head (penultimate)"),
        "eps": ("(0, 0.5)", "k is kept in [eps, 1 - eps] on each side where the prior is singular, which bounds the prior's gradient by prior_weight * (|alpha-1| + |beta-1|) / eps"),
        "threshold": ("[0, 1]", "a gate counts as active when k > threshold (metric dropout_pp_active_{i})"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "schedule": ("", "units dropped per batch: standard (constant rho), randomized (uniform in {0, ..., D} per batch), forward / reverse (logistic anneal over epochs, the seed's eqs. 1, 2), periodic (rho on every t_period-th batch only)"),
        "rho": ("[0, 1] as a fraction or an integer in [0, D] as a count (see rho_unit)", "units of the penultimate layer (width D) zeroed per example by standard and periodic: those whose V helps the correct class most"),
        "rho_unit": ("", "how rho is read: auto (rho < 1 a fraction of D, an integer rho >= 1 a count), count, or fraction (rounded half up)"),
        "omega": ("[0, inf) or null", "weight of the wrong classes in V = h_j W[y, j] - omega h_j sum_{k != y} W[k, j]; null = 1/(D - 1), the seed's balancing (footnote 2)"),
        "anneal_offset": ("[-100, 100]", "a, the offset inside the logistic of forward / reverse: rho_i = D / (1 + exp(-(a + r i))) at epoch i (-ln 15 starts forward at D/16)"),
        "anneal_rate": ("[0, 100]", "r, the per-epoch rate inside that logistic (1 = the seed; other values are an extension)"),
        "t_period": ("[1, inf)", "periodic: drop on every t_period-th training batch of the run only, nothing on the others"),
        "p_pass_window": ("", "test-time pass rate p_pass_j that scales unit j: kept / seen over all training (all), or a bias-corrected moving average of per-batch kept fractions (ema)"),
        "ema_decay": ("(0, 1)", "decay of the ema average of p_pass (used when p_pass_window is ema)"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "rho": ("(0, 1]", "retain probability of every non-target class in training (z_k ~ Bernoulli(rho), z_y = 1); 1 is plain cross-entropy (paper tunes 0.2, 0.4, 0.6)"),
        "eps": ("(0, 0.001]", "constant inside log(z + eps) of the masked softmax (as DropMax, 1e-20)"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "beta_over_alpha": ("(0, inf)", "r = beta / alpha of the bimodal Beta(alpha, beta) prior on the gates (paper sweeps 1, 10, 100: larger gives smaller networks)"),
        "geomean": ("(0, min(sqrt(r), 1/sqrt(r))), r = beta_over_alpha, so that alpha, beta < 1", "s = sqrt(alpha * beta), which with r fixes alpha = s / sqrt(r) and beta = s * sqrt(r) (the paper gives neither)"),
        "init": ("[0, 1]", "initial value of every gate k (0 and 1 are absorbing under this prior, so a gate started at 1 never moves)"),
        "prior_weight": ("[0, inf) or null", "weight of the Beta prior term in the loss; null = 1/N_train (the paper sums over N examples, the loop minimises a batch mean)"),
        "eps": ("(0, 0.5)", "constant inside the prior's logs, log(k + eps) and log(1 - k + eps)"),
        "layers": ("", "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds the head (penultimate)"),
        "rule": ("", "pruning after training: keep units with k > threshold (threshold), or cut in the middle of the largest jump of the sorted k when it is >= min_rise (sharp_rise)"),
        "threshold": ("[0, 1]", "pruning keeps a unit when k > threshold (also sharp_rise's fallback and what counts as an active gate)"),
        "min_rise": ("[0, 1]", "sharp_rise: the smallest jump between consecutive sorted k that places the cut"),
        "match_tol": ("[0, 1]", "the pruned net's test error must be within match_tol of the gated net's for sal_match = 1"),
    }

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
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "fraction": ("(0, 1]", "share of the classes kept per training example, the target always among them; the test uses the full softmax"),
        "count_over": ("", "what fraction counts: total (the kept set, target included, has round(fraction K) classes; the paper's reading) or non_target (round(fraction (K-1)) others plus the target)"),
    }

    def __post_init__(self):
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.count_over not in ("total", "non_target"):
            raise ValueError(f"count_over must be one of total, non_target, got {self.count_over!r}")


@dataclass(frozen=True)
class SoftmaxParams:
    """Base softmax has no hyperparameters."""
    METRICS: ClassVar[tuple[str, ...]] = ()
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {}


@dataclass(frozen=True)
class SparsemaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    nll_floor: float = 1e-6
    DOCS: ClassVar[dict[str, tuple[str, str]]] = {
        "nll_floor": ("(0, 0.1]", "prediction logits are log(sparsemax(o) + nll_floor), so the NLL of a target given zero mass stays finite"),
    }

    def __post_init__(self):
        if not 0 < self.nll_floor <= 0.1:
            raise ValueError(f"nll_floor must be in (0, 0.1], got {self.nll_floor}")
