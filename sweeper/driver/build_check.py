"""Networks that cannot be built are found before the sweep starts, not by every trial.

A configuration whose model cannot take its dataset's input (``model: lenet`` with
``padding: valid`` on the 8x8 ``digits``), or whose regularizer's head cannot be built, passes
``validate`` (which imports no torch) but would fail in every trial, each retried. ``start``
launches ``python -m trainables.build_check`` (the driver never imports torch) on every distinct
combination of the space's structural choices (``dataset.*``, ``model.*`` and ``regularizer.name``
values that are fixed or categorical, each under its ``when:`` conditions; at most
``MAX_COMBOS``); it runs while Ray starts. ``wait`` raises :class:`PreflightError` (the CLI: one
message, exit 2) naming each combination that failed and why. The check is skipped with
``--address`` (the data lives on the workers); if the subprocess itself fails or exceeds
``TIMEOUT_S``, a warning is logged and the sweep goes on (the trials report any problem). A check
that built every combination is remembered, and the same job on the same code, packages and data
is not checked again (``sweeper.driver.build_check_cache``).
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from sweeper.driver import build_check_cache
from sweeper.driver.preflight import PreflightError
from sweeper.spec import SweepSpec
from sweeper.store import identity

log = logging.getLogger("sweeper")
MAX_COMBOS = 64
TIMEOUT_S = 300.0


def combinations(spec: SweepSpec) -> list[dict[str, Any]]:
    """Distinct structural choices of the space (path -> value), the base's own values left out."""
    params = [p for p in spec.space if p.type in ("fixed", "categorical")
              and (p.path.startswith(("dataset.", "model.")) or p.path == "regularizer.name")]
    params.sort(key=lambda p: p.path != "regularizer.name")  # conditions name it: decided first
    known = {f"{s}.name": spec.base[s]["name"] for s in ("dataset", "model", "regularizer")}
    out: list[dict[str, Any]] = []
    for values in itertools.islice(itertools.product(*(p.grid_values() for p in params)), MAX_COMBOS):
        combo: dict[str, Any] = {}
        for p, v in zip(params, values):
            if p.active({**known, **combo}):
                combo[p.path] = v
        if combo not in out:
            out.append(combo)
    return out or [{}]


@dataclass
class Running:
    """A check in progress: its subprocess and the key it is remembered by if it passes."""
    proc: subprocess.Popen
    key: str | None


def start(spec: SweepSpec) -> Running | None:
    """The check running in a subprocess (None: nothing to check, or this job passed before)."""
    job = {"base": identity.trial_base(spec), "combos": combinations(spec)}
    key = build_check_cache.key(job)
    if build_check_cache.known(key):
        log.info("the networks of %s were checked before (same job, code, packages and data)", spec.name)
        return None
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # shapes only: the CPU is enough
    proc = subprocess.Popen([sys.executable, "-m", "trainables.build_check"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    proc.stdin.write(json.dumps(job, default=str))
    proc.stdin.close()
    proc.stdin = None  # written and closed: communicate() only reads
    return Running(proc, key)


def stop(check: Running | None) -> None:
    """End the check without its answer (the launch failed for another reason)."""
    if check is not None and check.proc.poll() is None:
        check.proc.kill()
        check.proc.communicate()


def wait(check: Running | None, spec: SweepSpec) -> None:
    """Raise :class:`PreflightError` when a combination cannot be built (see the module docstring)."""
    if check is None:
        return
    proc = check.proc
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        answer = json.loads(out) if proc.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        proc.kill()
        proc.communicate()
        answer, err = None, "no answer"
    problems = None if answer is None else answer["problems"]
    if answer is not None and not problems and not answer["unloaded"]:
        build_check_cache.remember(check.key)
    if problems is None:
        log.warning("the networks of %s could not be checked before the launch (%s); the trials will say "
                    "if one cannot be built", spec.name, (err or "").strip().splitlines()[-1:] or "no output")
        return
    if problems:
        lines = [f"  - {_describe(p['combo'], spec)}: {p['error'][:500]}" for p in problems]
        raise PreflightError(f"{len(problems)} of the sweep's networks cannot be built, so every trial of them "
                             f"would fail (nothing was created):\n" + "\n".join(lines))


def _describe(combo: dict[str, Any], spec: SweepSpec) -> str:
    names = {f"{s}.name": spec.base[s]["name"] for s in ("model", "dataset", "regularizer")}
    names.update({k: v for k, v in combo.items() if k.endswith(".name")})
    rest = ", ".join(f"{k}={v}" for k, v in combo.items() if not k.endswith(".name"))
    what = f"model {names['model.name']} on dataset {names['dataset.name']} with regularizer {names['regularizer.name']}"
    return what + (f" ({rest})" if rest else "")
