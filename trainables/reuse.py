"""What a trial process keeps from one trial to the next, and what it resets.

Ray Tune runs trials in actor processes; with ``reuse_actors`` (``sweeper.driver.launch``,
on unless ``SWEEPER_REUSE_PROCESSES=0``) a process that finished a trial runs the
next one, so imports (torch, the registries, sklearn) and loaded datasets are paid
once per process instead of once per trial.

Kept (deliberately): imported modules, and up to ``CACHE_SIZE`` in-memory datasets
(``Splits``) keyed by (dataset name, its params, its root). The trial seed is not
in the key: no dataset module's ``load`` uses its ``seed`` argument (every split is
fixed by the dataset's own ``split_seed``), so every seed of a sweep shares one
entry; a loader whose split came to depend on the trial seed would have to join
the key here. Streamed datasets (``StreamedSplits``: files read each epoch) are not cached.
Trials share the cached tensors without copying them; the training loop only reads
them. That contract is checked, not assumed: every cached tensor carries a
fingerprint (its float64 sum and shape/dtype), compared on every hit; a mismatch
drops the entry and reloads from disk (and warns), so a trial that wrote into its
data can never leak into the next one.

Reset before every trial (``reset(seed, threads)``), to the state a fresh process
has, so a trial's numbers do not depend on which trials ran before it in that
process: torch's intra-op thread count (the trial's CPUs), default dtype
(float32), autograd grad mode and anomaly detection (off), deterministic-algorithm
and cuDNN flags (off, the defaults), and every global RNG seeded from the trial
seed (torch CPU and CUDA, numpy's legacy global, Python's ``random``). The CUDA
caching allocator's free blocks are released. Nothing else is global in
``trainables`` (no module-level caches besides the dataset cache above).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trainables.data.splits import Splits

CACHE_SIZE = 2  # datasets kept per process (least recently used dropped first)

_cache: "OrderedDict[str, tuple[Any, tuple]]" = OrderedDict()
log = logging.getLogger(__name__)


def reset(seed: int, threads: int) -> None:
    """Put the process-global state a trial can see back to a fresh process's, seeded by ``seed``."""
    torch.set_num_threads(max(1, int(threads)))
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.autograd.set_detect_anomaly(False)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = False
    torch.manual_seed(seed)  # CPU and every CUDA device
    np.random.seed(seed % 2**32)
    random.seed(seed)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def cache_key(name: str, params: Any, root: str | None) -> str:
    """The dataset's name, every (resolved) parameter and root: equal keys load equal data."""
    if dataclasses.is_dataclass(params):
        params = dataclasses.asdict(params)
    return json.dumps([name, params, root], sort_keys=True, default=str)


def _fingerprint(splits: Any) -> tuple:
    return tuple(
        (tuple(t.shape), str(t.dtype), float(t.sum(dtype=torch.float64)))
        for t in (getattr(splits, f) for f in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"))
    )


def cached(key: str, load: Callable[[], Any]) -> Any:
    """``load()``'s result, kept for the next trial of this process when it is an in-memory ``Splits``."""
    hit = _cache.get(key)
    if hit is not None:
        splits, fp = hit
        if _fingerprint(splits) == fp:
            _cache.move_to_end(key)
            return splits
        log.warning("cached dataset %s was modified by a trial: reloading it", key)
        del _cache[key]
    splits = load()
    if isinstance(splits, Splits):
        _cache[key] = (splits, _fingerprint(splits))
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return splits


def clear() -> None:
    _cache.clear()
