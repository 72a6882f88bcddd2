"""Draw a share of a sweep's per-trial figures in a separate process: ``python -m sweeper.figures.trial_worker``.

Reads one JSON object on standard input, ``{"sweep_dir": ..., "trial_ids": [...],
"out_dir": ...}``, draws each trial's figures (``sweeper.figures.trial_figures``) under
``out_dir/<trial_id>/`` and prints one JSON object, trial id -> {figure title: PNG path}.
``sweeper.driver.publish`` starts one such process per free CPU after a sweep. A module of its
own, run with ``-m``, so the worker imports only pandas, matplotlib and the figure code,
and never re-runs the script that started the sweep (``multiprocessing``'s spawn start
method re-imports the caller's main module, which for a library user's script without a
``__main__`` guard would call ``launch`` again).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def draw_share(sweep_dir: str, trial_ids: list[str], out_dir: str) -> dict[str, dict[str, str]]:
    """trial id -> {figure title: PNG path} for ``trial_ids`` (paths under ``out_dir``)."""
    import pandas as pd

    from sweeper.figures import trial_figures
    from sweeper.store.columns import read_trials

    trials = read_trials(Path(sweep_dir) / "trials.parquet")
    epochs = pd.read_parquet(Path(sweep_dir) / "epochs.parquet")
    epochs = epochs[epochs["trial_id"].isin(trial_ids)]
    return {tid: {t: str(p) for t, p in trial_figures(trials, epochs, tid, Path(out_dir) / tid).items()}
            for tid in trial_ids}


def main() -> None:
    job = json.load(sys.stdin)
    print(json.dumps(draw_share(job["sweep_dir"], list(job["trial_ids"]), job["out_dir"])))


if __name__ == "__main__":
    main()
