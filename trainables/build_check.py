"""Build each distinct network of a sweep once, before any trial runs (``python -m trainables.build_check``).

Run by the driver (``sweeper.driver.build_check``) in a short subprocess, so the driver itself never
imports torch. Input on stdin, JSON: ``{"base": run_trial's base, "combos": [{dotted path: value}, ...]}``;
each combination is resolved like a trial's configuration (first seed of the spec), its dataset loaded
(once per dataset), and its backbone and head built on the CPU (``trainables.trial.build``): the shapes
only, no training step. Output on stdout, JSON: ``{"problems": [{"combo": ..., "error": "Type: message"},
...], "unloaded": N}``: one problem per combination whose configuration or network cannot be built
(none: all can), and the number of combinations not built because their dataset could not be loaded
here (not reported as problems: the driver's data checks and the trials say why).
"""
from __future__ import annotations

import json
import sys
from typing import Any

from trainables.resolve import resolve
from trainables.trial import build, load_splits


def check(base: dict[str, Any], combos: list[dict[str, Any]]) -> dict[str, Any]:
    seed = int((base.get("seeds") or [0])[0])
    splits: dict[str, Any] = {}
    problems, unloaded = [], 0
    for combo in combos:
        try:
            cfg = resolve(base, {**combo, "seed": seed})
        except (TypeError, ValueError, KeyError) as e:
            problems.append({"combo": combo, "error": f"{type(e).__name__}: {e}"})
            continue
        key = json.dumps([cfg.dataset.name, str(cfg.dataset.params), cfg.data_root], default=str)
        if key not in splits:
            try:
                splits[key] = load_splits(cfg)
            except Exception:  # noqa: BLE001 - not this check's business (see the module docstring)
                splits[key] = None
        if splits[key] is None:
            unloaded += 1
            continue
        try:
            build(cfg, splits[key])
        except Exception as e:  # noqa: BLE001 - any error building the network is what this check reports
            problems.append({"combo": combo, "error": f"{type(e).__name__}: {e}"})
    return {"problems": problems, "unloaded": unloaded}


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(check(job["base"], job["combos"]), sys.stdout)


if __name__ == "__main__":
    main()
