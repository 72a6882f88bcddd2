"""Torch-free configuration records of a trial, the one merge of suggested values, the one flattening.

- ``TrainConfig``: the ``train:`` section of a sweep YAML (``loop.py`` re-exports it).
- ``TrialConfig``: one trial's resolved configuration: each of ``dataset``, ``model`` and
  ``regularizer`` is a ``Section(name, params)`` whose ``params`` is the registry entry's frozen
  ``Params`` instance with every default filled in, ``train`` is a full ``TrainConfig``, plus the
  seed and the dataset root. ``to_dict`` is its JSON form (the trial's provenance record).
- ``merge(base, suggested)``: the one merge of suggested values onto the spec's sections (dicts).
- ``flatten(cfg)``: the one flat form, ``{name: scalar}`` under the names the spec uses
  (``dataset.name``, ``model.widths``, ``regularizer.rho``, ``train.lr``, ``seed``): the child
  run's MLflow params, the configuration columns of ``trials.parquet`` and the report labels.

This is the ground floor: it imports no registry and no torch. Turning names and dicts into
``Params`` instances needs the registry tables, so it sits one floor up, in
``trainables/resolve.py`` (``resolve(base, suggested)``, ``from_dict``, ``trial_config``): the
trial (``trainables.trial.run_trial``) and the driver (``sweeper.store.identity``, for a trial that
reported no identity) resolve through it alike.

Each ``TrainConfig`` field is declared once, ``param(default, valid, doc)`` (``trainables/paramdoc.py``:
``check`` enforces its valid range, ``sweeper show train`` prints it).
"""
from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from trainables.paramdoc import check, param

MAX_EPOCHS = 100_000
MAX_BATCH = 10_000_000


@dataclass(frozen=True)
class TrainConfig:
    """The ``train:`` section of a sweep YAML.

    ``momentum`` is SGD's heavy-ball coefficient in [0, 1) (Adam ignores it);
    ``eval_batch_size`` only sets how many examples are evaluated at once.
    Sizes are bounded (epochs <= 100,000, batch sizes <= 10^7) so that an absurd
    value is refused by ``sweeper validate`` instead of failing every trial.

    Precision and layout options (defaults: fp32, no channels_last, no compile):

    - ``precision``: ``"fp32"`` (default), ``"tf32"`` or ``"bf16"``. ``fp32`` is
      float32 throughout, on CUDA too: TF32 tensor cores are off for matmuls and
      cuDNN convolutions (PyTorch's own default turns them on for convolutions,
      which rounds their inputs to a 10-bit mantissa; measured on an H200: NCHW
      and NHWC LeNet/ResNet outputs 3e-4 to 3e-3 apart with it, agreeing to 1e-4
      without). ``tf32`` turns TF32 on for both (CUDA only; on the CPU it is fp32).
      ``bf16``: ``torch.autocast`` with bfloat16 around forward + loss on the
      trial's device (CPU and CUDA), TF32 off for what stays float32.
      Parameters, gradients and Adam/SGD state stay fp32, so no loss scaling is
      needed. bf16 keeps fp32's exponent range, so masks, top-k selections and
      log-probabilities behave as in fp32 at ~3 significant digits (tested:
      tests/trainables/test_precision.py, within 2 points of fp32 validation error).
    - ``channels_last``: ``False`` (default) or ``True``: NHWC memory format for
      the network's 4-D weights and the input batches (faster convolutions on
      tensor-core GPUs, ideally with bf16); MLPs are unaffected.
    - ``compile``: ``False`` (default) or ``True``: ``torch.compile`` (inductor)
      of the network's forward; the first steps pay the compile time (seconds
      to minutes), and a head whose Python state changes per batch (Malicious
      Dropout's rho) recompiles per distinct value until torch's limit, then
      runs eagerly.
    """

    epochs: int = param(
        10, f"[1, {MAX_EPOCHS}]",
        "passes over the training split; validation after each, test after the last",
    )
    batch_size: int = param(
        64, f"[1, {MAX_BATCH}]",
        "training examples per optimiser step (the last batch of an epoch may be smaller)",
    )
    optimizer: Literal["adam", "sgd"] = param(
        "adam", "",
        "adam (Adam, or AdamW with decoupled_weight_decay; betas 0.9, 0.999, eps 1e-8) or sgd (SGD with heavy-ball momentum)",
    )
    lr: float = param(
        1e-3, "(0, inf)",
        "initial learning rate, scaled per step by lr_schedule",
    )
    weight_decay: float = param(
        0.0, "[0, inf)",
        "L2 coefficient added to the gradient (decoupled decay with AdamW); parameters a regularizer excludes "
        "(no_weight_decay) get none",
    )
    decoupled_weight_decay: bool = param(
        False, "",
        "adam only: AdamW's decoupled weight decay instead of L2 through the gradient",
    )
    momentum: float = param(
        0.9, "[0, 1)",
        "SGD's heavy-ball coefficient mu: v <- mu v + g, w <- w - lr v (Adam ignores it)",
    )
    lr_schedule: Literal["constant", "thirds", "cosine"] = param(
        "constant", "",
        "constant; thirds (x0.1 after a third of the steps and again after two thirds: the DropMax authors' "
        "protocol); cosine (to zero over the run)",
    )
    init: Literal["default", "glorot"] = param(
        "default", "",
        "weight initialisation: default (PyTorch's per layer) or glorot (Glorot-uniform weights and zero "
        "biases, the DropMax authors' code; gates keep their own init)",
    )
    eval_batch_size: int = param(
        1000, f"[1, {MAX_BATCH}]",
        "examples evaluated at once: memory use and speed (metrics differ at most in float rounding)",
    )
    precision: Literal["fp32", "tf32", "bf16"] = param(
        "fp32", "",
        "fp32 (TF32 off on CUDA), tf32 (CUDA matmuls and convolutions on TF32 tensor cores), or bf16 autocast "
        "around forward and loss (weights, gradients and optimizer state stay fp32)",
    )
    channels_last: bool = param(
        False, "",
        "NHWC memory format for 4-D weights and image batches (faster convolutions on tensor-core GPUs)",
    )
    compile: bool = param(
        False, "",
        "torch.compile (inductor) the network's forward; the first steps pay the compile time",
    )

    def __post_init__(self):
        check(self)  # every declared range at once, "; "-joined
        for flag in ("channels_last", "compile"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")


SECTIONS = ("dataset", "model", "regularizer")  # registry sections; ``train`` is TrainConfig
Scalar = bool | int | float | str | None


@dataclass(frozen=True)
class Section:
    """A registry choice: its name and its ``Params``. A ``TrialConfig`` always holds the entry's
    ``Params`` instance (defaults filled in); a dict given here (hand-built configurations in
    benchmarks and tests) is turned into one by ``trainables.resolve.trial_config``."""

    name: str
    params: Any = field(default_factory=dict)


@dataclass(frozen=True)
class TrialConfig:
    """One trial's resolved configuration (every default filled in); see the module docstring.

    Each section's ``params`` must already be a ``Params`` instance (a dataclass): build one from
    names and dicts with ``trainables.resolve`` (``resolve``, ``from_dict``, ``trial_config``),
    which also checks that it is the class of the section's registry entry. ``train`` may be a
    dict of ``TrainConfig`` fields; invalid values raise ``TrainConfig``'s ``ValueError``."""

    dataset: Section
    model: Section
    regularizer: Section
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    data_root: str | None = None

    def __post_init__(self):
        for section in SECTIONS:
            s = getattr(self, section)
            if not dataclasses.is_dataclass(s.params) or isinstance(s.params, type):
                raise TypeError(f"{section}.params of {s.name!r}: expected its registry entry's Params instance, got "
                                f"{type(s.params).__name__} (trainables.resolve.trial_config builds one from a dict)")
        if not isinstance(self.train, TrainConfig):  # frozen: the typed record replaces what was given, once
            object.__setattr__(self, "train", TrainConfig(**dict(self.train or {})))
        object.__setattr__(self, "seed", int(self.seed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested form: ``{"dataset": {"name", "params", "root"}, "model": {"name", "params"},
        "regularizer": {"name", "params"}, "train": {...}, "seed"}``, every field of every ``Params``."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            s = getattr(self, section)
            out[section] = {"name": s.name, "params": plain(dataclasses.asdict(s.params))}
        out["dataset"]["root"] = self.data_root
        out["train"] = plain(dataclasses.asdict(self.train))
        out["seed"] = self.seed
        return out


def plain(v: Any) -> Any:
    """JSON-able form of a Params value (tuples become lists)."""
    if isinstance(v, (tuple, list)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def scalar(v: Any) -> Scalar:
    """A flat value: None, bool, int, float and str as they are; a list, tuple or mapping as compact
    JSON (``[128, 128]``), which is also how a label prints it."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(plain(v))


def flatten(cfg: TrialConfig) -> dict[str, Scalar]:
    """The one flat form of a resolved configuration, under the names the spec uses.

    ``<section>.name`` and ``<section>.<field>`` for every field of the section's ``Params``
    (the spec's ``regularizer.rho`` is ``regularizer.params.rho`` in the YAML's nesting, and
    ``regularizer.rho`` in a ``space:`` path, here, in MLflow, in Parquet and in labels),
    ``dataset.root`` when one is set, ``train.<field>`` for every ``TrainConfig`` field, and ``seed``.
    Order: dataset, model, regularizer, train, seed; fields in their dataclass order."""
    out: dict[str, Scalar] = {}
    for section in SECTIONS:
        s = getattr(cfg, section)
        out[f"{section}.name"] = s.name
        for f in dataclasses.fields(s.params):
            out[f"{section}.{f.name}"] = scalar(getattr(s.params, f.name))
        if section == "dataset" and cfg.data_root is not None:
            out["dataset.root"] = cfg.data_root
    for f in dataclasses.fields(cfg.train):
        out[f"train.{f.name}"] = scalar(getattr(cfg.train, f.name))
    out["seed"] = cfg.seed
    return out


def is_config_name(name: str) -> bool:
    """True for a name ``flatten`` makes (``seed``, ``<dataset|model|regularizer|train>.<...>``)."""
    return name == "seed" or ("." in name and name.split(".", 1)[0] in (*SECTIONS, "train"))


def merge(base: dict[str, Any], suggested: dict[str, Any]) -> dict[str, Any]:
    """The one merge of suggested values: ``suggested`` (dotted spec paths, plus ``seed``) onto
    ``base`` (the spec's ``dataset``/``model``/``regularizer``/``train`` sections, as the YAML wrote them).

    ``<section>.name`` picks the registry entry (and drops the base's params of another entry);
    ``<section>.<key>`` sets ``<section>.params.<key>`` for dataset/model/regularizer and
    ``train.<key>`` directly. Keys starting with ``_`` are Tune/Ray bookkeeping and ignored.
    Names are applied before values, so the order of ``suggested`` does not matter."""
    d = copy.deepcopy(base)
    items = sorted(((k, v) for k, v in suggested.items() if not k.startswith("_")),
                   key=lambda kv: not kv[0].endswith(".name"))
    for key, value in items:
        if key == "seed":
            d["seed"] = value
            continue
        section, _, name = key.partition(".")
        if section == "train":
            d.setdefault("train", {})[name] = value
        elif name == "name":
            d[section] = {"name": value, "params": {}, **{k: v for k, v in d.get(section, {}).items() if k == "root"}}
        else:
            d.setdefault(section, {}).setdefault("params", {})[name] = value
    return d

