"""The ``Params`` of every regularizer (the YAML's ``regularizer.params``), torch-free.

One frozen dataclass per regularizer; the registry (``trainables/regularizers/__init__.py``)
maps each YAML name to its class here and to its implementation module
(``trainables/regularizers/<name>.py``, one regularizer per file, which imports torch and
re-exports its class as ``Params``). They live here, apart from the implementations, so
that ``sweeper validate`` checks a spec against every regularizer without importing torch.

Contract of a ``Params`` class: its fields are exactly the hyperparameters a YAML may set,
with defaults, each declared once as ``param(default, valid, doc)`` (``trainables/paramdoc.py``:
the type, the valid range that ``check`` enforces and the validator applies to searched ranges,
the meaning that ``sweeper show regularizer NAME`` prints). ``__post_init__`` runs ``check(self)``
and then only the rules one field cannot state alone, raising ``ValueError`` naming the field.
A field read only under some values of another says so (``read_when``: Malicious Dropout's
``rho`` under the standard and periodic schedules). ``METRICS`` (a class variable, not a
field) declares every metric name the regularizer reports (per-epoch loss terms and
``epoch_metrics``, and ``finalize``'s); ``{i}`` stands for a 1-based layer index. The spec
validator accepts a regularizer metric as a search objective only if it is declared here,
and the contract test checks that a trained regularizer reports nothing undeclared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from trainables.paramdoc import check, param

RHO_SCHEDULES = ("standard", "periodic")  # the schedules that read rho
SCHEDULES = ("standard", "randomized", "forward", "reverse", "periodic")  # Malicious Dropout's rho schedules
VARIANTS = ("flat", "0.5", "1", "0", "custom")  # Dropout++ Beta-prior variants


def rho_problem(r: float, unit: str) -> str | None:
    """Malicious Dropout's rho beyond its interval [0, inf): a fraction in [0, 1] or an integer count, by ``unit``."""
    if unit == "fraction" and r > 1:
        return f"rho must be in [0, 1] when rho_unit is 'fraction', got {r}"
    if unit == "count" and r != int(r):
        return f"rho must be an integer >= 0 when rho_unit is 'count', got {r}"
    if unit == "auto" and r >= 1 and r != int(r):
        return f"rho must be in [0, 1) (a fraction) or an integer >= 1 (a count), got {r}"
    return None


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
    attention_weight_decay: bool = param(
        True, "",
        "apply the train section's weight decay to the attention head a = W_a h + b_a too (false: exclude it, "
        "like DropMax's retain head)",
    )


@dataclass(frozen=True)
class DetDropmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "det_dropmax_ce",
        "det_dropmax_att_target",
        "det_dropmax_att_nontarget",
        "det_dropmax_aux",
    )
    attention_weight_decay: bool = param(
        True, "",
        "apply the train section's weight decay to the attention head a = W_a h + b_a too (false: exclude it, "
        "like DropMax's retain head)",
    )


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
    tau: float = param(
        0.1, "(0, inf)",
        "temperature of the binary-concrete relaxation of the retain mask z in training (paper 0.1)",
    )
    eps: float = param(
        1e-20, "(0, 0.001]",
        "constant inside every log(x + eps) of the loss and of the prediction o + log(p + eps) (authors' 1e-20)",
    )
    eval_mc_samples: int = param(
        0, "[0, inf)",
        "prediction: 0 = eq. 15, logits o + log(p + eps); S > 0 = eq. 14, the mean softmax over S masks z ~ Bernoulli(p)",
    )
    eval_mc_seed: int = param(
        0, "any integer",
        "seed of the generator that draws eq. 14's evaluation masks, re-seeded at every evaluation (deterministic)",
    )

    def __post_init__(self):
        check(self)


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
    gamma: float = param(
        0.1, "[0, inf)",
        "weight of the negative-entropy term sum_k [p log p + (1-p) log(1-p)] on the retain probabilities "
        "(paper tunes 1, 0.1, 0.01)",
    )
    target_kl: bool = param(
        True, "",
        "keep the target's -log p_y term (KL[q || p] with q(z_y) = Ber(1)); false drops it (the paper does not say)",
    )
    tau: float = param(
        0.1, "(0, inf)",
        "temperature of the binary-concrete relaxation of the retain mask z in training (paper 0.1)",
    )
    eps: float = param(
        1e-20, "(0, 0.001]",
        "constant inside every log(x + eps) of the loss and of the prediction o + log(p + eps) (authors' 1e-20)",
    )
    retain_weight_decay: bool = param(
        False, "",
        "apply weight decay to the retain head ph too (false: excluded, as DropMax's section 4.4)",
    )
    eval_mc_samples: int = param(
        0, "[0, inf)",
        "prediction: 0 = eq. 15, logits o + log(p + eps); S > 0 = eq. 14, the mean softmax over S masks z ~ Bernoulli(p)",
    )
    eval_mc_seed: int = param(
        0, "any integer",
        "seed of the generator that draws eq. 14's evaluation masks, re-seeded at every evaluation (deterministic)",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class DropoutParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    keep: float = param(
        0.5, "(0, 1]",
        "keep probability: in training y = x * m / keep with m ~ Bernoulli(keep); at test y = x",
    )
    layers: Literal["all", "penultimate"] = param(
        "penultimate", "",
        "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds "
        "the head (penultimate)",
    )
    per_channel: bool = param(
        False, "",
        "at convolution positions drop whole feature maps (nn.Dropout2d) instead of single elements",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class DropoutPpParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "dropout_pp_k_mean_{i}",
        "dropout_pp_active_{i}",
        "dropout_pp_alpha",
        "dropout_pp_beta",
    )
    variant: Literal["flat", "0.5", "1", "0", "custom"] = param(
        "flat", "",
        "Beta(alpha, beta) prior on every gate k, by its mode: flat (no prior), 0.5 (alpha = beta = c), 1 "
        "(alpha = c, beta = 1: gates pushed on), 0 (alpha = 1, beta = c: pushed off), custom (alpha, beta)",
    )
    concentration: float = param(
        2.0, "(1, inf)",
        "c, the Beta parameter that sets the prior's mode for variants 0.5, 1 and 0 (larger: a stronger pull)",
    )
    alpha: float = param(
        1.0, "(0, inf)",
        "the prior's alpha; read by variant custom only",
    )
    beta: float = param(
        1.0, "(0, inf)",
        "the prior's beta; read by variant custom only",
    )
    init: float = param(
        1.0, "[0, 1]",
        "initial value of every gate k, clamped into [eps, 1 - eps] on a side where the prior is singular "
        "(paper: 1, the fastest to train)",
    )
    prior_weight: float | None = param(
        None, "[0, inf) or null",
        "weight of the Beta prior term in the loss; null = 1/N_train (the paper sums over N examples, the loop "
        "minimises a batch mean)",
    )
    conv_gates: Literal["channel", "element"] = param(
        "element", "",
        "convolution gates: one k and one coin per element of the (C, H, W) map, as the paper's Sec. 2.6 "
        "(element), or per feature map (channel)",
    )  # per element as the paper's Sec. 2.6 (dropout_pp.py)
    layers: Literal["all", "penultimate"] = param(
        "all", "",
        "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds "
        "the head (penultimate)",
    )
    eps: float = param(
        0.01, "(0, 0.5)",
        "k is kept in [eps, 1 - eps] on each side where the prior is singular, which bounds the prior's "
        "gradient by prior_weight * (|alpha-1| + |beta-1|) / eps",
    )  # k kept in [eps, 1 - eps] where the prior is singular (dropout_pp.py)
    threshold: float = param(
        0.5, "[0, 1]",
        "a gate counts as active when k > threshold (metric dropout_pp_active_{i})",
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class MaliciousDropoutParams:
    METRICS: ClassVar[tuple[str, ...]] = (
        "malicious_dropout_rho",
        "malicious_dropout_active",
        "malicious_dropout_p_pass_mean",
        "malicious_dropout_p_pass_min",
    )
    schedule: Literal["standard", "randomized", "forward", "reverse", "periodic"] = param(
        "standard", "",
        "units dropped per batch: standard (constant rho), randomized (uniform in {0, ..., D} per batch), "
        "forward / reverse (logistic anneal over epochs, the seed's eqs. 1, 2), periodic (rho on every t_period-th batch only)",
    )
    rho: float = param(
        0.0625, "[0, inf): a fraction in [0, 1], or an integer count in [0, D] (see rho_unit)",
        "units of the penultimate layer (width D) zeroed per example by standard and periodic: those whose V "
        "helps the correct class most",
        read_when={"schedule": RHO_SCHEDULES},
        why=("forward and reverse anneal with anneal_offset (and anneal_rate), randomized draws rho ~ Uniform{0..L} per "
             "batch; rho applies only to standard and periodic. Restrict it with when: {regularizer.schedule: "
             "[standard, periodic]}, or set anneal_offset for forward/reverse"),
    )
    rho_unit: Literal["auto", "count", "fraction"] = param(
        "auto", "",
        "how rho is read: auto (rho < 1 a fraction of D, an integer rho >= 1 a count), count, or fraction (rounded half up)",
    )
    omega: float | None = param(
        None, "[0, inf) or null",
        "weight of the wrong classes in V = h_j W[y, j] - omega h_j sum_{k != y} W[k, j]; null = 1/(D - 1), "
        "the seed's balancing (footnote 2)",
    )
    anneal_offset: float = param(
        0.0, "[-100, 100]",
        "a, the offset inside the logistic of forward / reverse: rho_i = D / (1 + exp(-(a + r i))) at epoch i "
        "(-ln 15 starts forward at D/16)",
    )
    anneal_rate: float = param(
        1.0, "[0, 100]",
        "r, the per-epoch rate inside that logistic (1 = the seed; other values are an extension)",
    )
    t_period: int = param(
        5, "[1, inf)",
        "periodic: drop on every t_period-th training batch of the run only, nothing on the others",
    )
    p_pass_window: Literal["all", "ema"] = param(
        "all", "",
        "test-time pass rate p_pass_j that scales unit j: kept / seen over all training (all), or a "
        "bias-corrected moving average of per-batch kept fractions (ema)",
    )
    ema_decay: float = param(
        0.99, "(0, 1)",
        "decay of the ema average of p_pass (used when p_pass_window is ema)",
    )

    def __post_init__(self):
        check(self)
        if (msg := rho_problem(self.rho, self.rho_unit)) is not None:
            raise ValueError(msg)
        if not isinstance(self.t_period, int):
            raise ValueError(f"t_period must be an integer >= 1, got {self.t_period}")

    @classmethod
    def range_problem(cls, name: str, low: float, high: float, step: float | None, fixed: dict) -> tuple[float, str] | None:
        """A searched ``rho`` range: above 1 (``auto``) or anywhere (``count``) only integers are valid.
        A grid (``step``) is checked at its points; a continuous range reaching there holds invalid
        values, e.g. its first half-integer."""
        unit = fixed.get("rho_unit", "auto")
        if name != "rho" or low == high or unit == "fraction":
            return None
        if step is not None:
            points = (round(low + i * step, 12) for i in range(min(int(round((high - low) / step)), 10_000) + 1))
            return next(((v, m) for v in points if (m := rho_problem(v, unit)) is not None), None)
        if unit == "auto" and high <= 1:
            return None
        v = math.floor(max(low, 1.0 if unit == "auto" else low)) + 0.5
        v = v if v < high else (low + high) / 2
        msg = rho_problem(v, unit)
        return None if msg is None else (v, msg)

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
    rho: float = param(
        0.4, "(0, 1]",
        "retain probability of every non-target class in training (z_k ~ Bernoulli(rho), z_y = 1); 1 is plain "
        "cross-entropy (paper tunes 0.2, 0.4, 0.6)",
    )
    eps: float = param(
        1e-20, "(0, 0.001]",
        "constant inside log(z + eps) of the masked softmax (as DropMax, 1e-20)",
    )

    def __post_init__(self):
        check(self)


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
    beta_over_alpha: float = param(
        10.0, "(0, inf)",
        "r = beta / alpha of the bimodal Beta(alpha, beta) prior on the gates (paper sweeps 1, 10, 100: larger "
        "gives smaller networks)",
    )
    geomean: float = param(
        0.09, "(0, min(sqrt(r), 1/sqrt(r))), r = beta_over_alpha, so that alpha, beta < 1",
        "s = sqrt(alpha * beta), which with r fixes alpha = s / sqrt(r) and beta = s * sqrt(r) (the paper gives neither)",
    )
    init: float = param(
        0.5, "[0, 1]",
        "initial value of every gate k (0 and 1 are absorbing under this prior, so a gate started at 1 never moves)",
    )
    prior_weight: float | None = param(
        None, "[0, inf) or null",
        "weight of the Beta prior term in the loss; null = 1/N_train (the paper sums over N examples, the loop "
        "minimises a batch mean)",
    )
    eps: float = param(
        1e-6, "(0, 0.5)",
        "constant inside the prior's logs, log(k + eps) and log(1 - k + eps)",
    )
    layers: Literal["all", "penultimate"] = param(
        "all", "",
        "where gates go: every gated position of the backbone (all) or only the last hidden layer, which feeds "
        "the head (penultimate)",
    )
    rule: Literal["threshold", "sharp_rise"] = param(
        "threshold", "",
        "pruning after training: keep units with k > threshold (threshold), or cut in the middle of the "
        "largest jump of the sorted k when it is >= min_rise (sharp_rise)",
    )
    threshold: float = param(
        0.5, "[0, 1]",
        "pruning keeps a unit when k > threshold (also sharp_rise's fallback and what counts as an active gate)",
    )
    min_rise: float = param(
        0.25, "[0, 1]",
        "sharp_rise: the smallest jump between consecutive sorted k that places the cut",
    )
    match_tol: float = param(
        0.005, "[0, 1]",
        "the pruned net's test error must be within match_tol of the gated net's for sal_match = 1",
    )

    def __post_init__(self):
        check(self)
        a, b = sal_alpha_beta(self)
        if not (0 < self.geomean and b < 1 and a < 1):
            raise ValueError(
                f"geomean must be > 0 with alpha = geomean/sqrt(r) < 1 and beta = geomean*sqrt(r) < 1 "
                f"(r = beta_over_alpha); got geomean={self.geomean}, alpha={a:.4g}, beta={b:.4g}"
            )


@dataclass(frozen=True)
class SampledSoftmaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    fraction: float = param(
        0.4, "(0, 1]",
        "share of the classes kept per training example, the target always among them; the test uses the full softmax",
    )
    count_over: Literal["total", "non_target"] = param(
        "total", "",
        "what fraction counts: total (the kept set, target included, has round(fraction K) classes; the "
        "paper's reading) or non_target (round(fraction (K-1)) others plus the target)",
    )  # the paper's "of total classes" (sampled_softmax.py)

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class SoftmaxParams:
    """Base softmax has no hyperparameters."""
    METRICS: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class SparsemaxParams:
    METRICS: ClassVar[tuple[str, ...]] = ()
    nll_floor: float = param(
        1e-6, "(0, 0.1]",
        "prediction logits are log(sparsemax(o) + nll_floor), so the NLL of a target given zero mass stays finite",
    )

    def __post_init__(self):
        check(self)
