"""Where sweeps live: a sweep folder from its id or path (no Ray, no torch: ``status`` and ``report`` use it)."""
from __future__ import annotations

from pathlib import Path

DEFAULT_OUT = "sweeps"


class NoSuchSweep(FileNotFoundError):
    """No sweep folder of that id or path."""


def sweep_path(name_or_path: str | Path, out: str | Path = DEFAULT_OUT) -> Path:
    """A sweep folder from its id (looked up under ``out``) or its path."""
    p = Path(name_or_path)
    for cand in (p, Path(out) / p):
        if (cand / "sweep.json").exists():
            return cand.resolve()
    raise NoSuchSweep(f"no sweep {str(name_or_path)!r}: looked for {p}/sweep.json and {Path(out) / p}/sweep.json")
