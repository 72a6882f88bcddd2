"""Benchmarks: ratios against a baseline measured in the same run (never timed unit tests).

Registry ``{name: module}``; each module exports
``run(quick: bool = False) -> list[dict]`` (rows with at least ``name``,
``baseline``, ``ms``, ``baseline_ms``, ``ratio``, ``target``) and a docstring saying
what is measured, on what, and how (warm-up, interleaved repeats, median).
``sweeper bench [NAME ...]`` prints them. A benchmark that needs something absent here (a
GPU) raises ``Unavailable``: named, the CLI prints why and exits 2; in a run of all, it is skipped
with that message. ``run`` may also take ``device`` (``sweeper bench gpu --device cpu``).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from trainables.registry import UnknownName

BENCHMARKS: dict[str, str] = {
    "heads": "benchmarks.heads",  # DropMax family step time vs softmax (issue 3)
    "gates": "benchmarks.gates",  # Dropout++ / SAL step time vs vanilla dropout (issue 4)
    "maldrop": "benchmarks.maldrop",  # Malicious Dropout vs vanilla dropout, 4096 units (issue 5)
    "loop": "benchmarks.loop",  # project loop epoch vs hand-written torch loop (issue 6)
    "stream": "benchmarks.stream",  # image folder streamed from disk vs held in memory (issue 6)
    "overhead": "benchmarks.overhead",  # fixed cost per trial of a sweep vs a plain loop (issue 12)
    "gpu": "benchmarks.gpu",  # CUDA step/epoch times, fp32 vs bf16 vs channels_last (issue 17)
    "scale": "benchmarks.scale",  # driver cost per trial at 100 / 1,000 / 3,000 report-only trials (issue 25)
    "race": "benchmarks.race",  # racing over seeds: trials spent and the choice vs the full design (issue 24)
}


class Unavailable(RuntimeError):
    """This benchmark cannot run here (e.g. no CUDA device); the message says why and what to do."""


def get(name: str) -> ModuleType:
    """The benchmark module ``name``; ``UnknownName`` lists the valid ones."""
    if name not in BENCHMARKS:  # (trainables.registry.lookup now takes Entry records, not module paths)
        raise UnknownName("benchmark", name, list(BENCHMARKS))
    return importlib.import_module(BENCHMARKS[name])
