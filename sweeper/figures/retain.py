"""DropMax retain probabilities per class (the DropMax paper's Figure 4e), from the trial artifacts.

Heatmap of the mean retain probability p_k(x) (column k) over the test images
of true class c (row c): all test images, and the "hard" ones the trained model
misclassifies (``<prefix>_retain_per_class_test.json``; trials without it fall
back to the training-image matrix of the last epoch). A method's best
configuration is drawn, its seeds averaged cell by cell. Classes are labelled
with the data's own class names where the trials recorded them
(``classes.json``, e.g. A-Z for a letters table), else 0..K-1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sweeper.figures import artifacts as A
from sweeper.figures import common as C


def matrices(dirs, trial_ids, prefix: str) -> dict[str, np.ndarray]:
    """{"test, all images": K x K, "test, misclassified": ..., or "training, last epoch": ...}, seed means."""
    test = A.read_json(dirs, trial_ids, f"{prefix}_retain_per_class_test.json")
    if test:
        out = {"test, all images": np.mean([t["all"]["mean_p"] for t in test], axis=0)}
        if all("hard" in t for t in test):
            out["test, misclassified"] = np.mean([t["hard"]["mean_p"] for t in test], axis=0)
        return out
    train = A.read_json(dirs, trial_ids, f"{prefix}_retain_per_class.json")
    return {"training, last epoch": np.mean([t["mean_p"] for t in train], axis=0)} if train else {}


def draw(trials: pd.DataFrame, dirs: dict, config_id: str) -> Figure | None:
    done = C.finished(trials)
    rows = done[done["config_id"] == config_id]
    if rows.empty:
        return None
    prefix = str(rows["regularizer"].iloc[0])
    mats = matrices(dirs, rows["trial_id"].tolist(), prefix)
    if not mats:
        return None
    names = next((c["class_names"] for c in A.read_json(dirs, rows["trial_id"].tolist(), "classes.json")), None)
    fig, axes = C.new_figure(ncols=len(mats), width=4.6, height=4.2)
    for ax, (title, m) in zip(axes[0], mats.items()):
        im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
        if names and len(names) == len(m):
            small = 6 if len(names) > 12 else 8
            ax.set_xticks(range(len(names)), names, fontsize=small)
            ax.set_yticks(range(len(names)), names, fontsize=small)
        ax.set_xlabel("class k (retain probability p_k)")
        ax.set_ylabel("true class c")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    seeds = f"{len(rows)} seed{'s' if len(rows) != 1 else ''}"
    fig.suptitle(f"{C.label(trials, config_id)}: mean retain probability per class ({seeds})", fontsize=9)
    return fig
