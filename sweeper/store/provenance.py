"""Driver-side provenance of a sweep: code version, packages, driver host; stored once per sweep.

``record(sweep_dir, client, run_id)`` (called by ``launch`` and ``resume``) writes
``<sweep>/provenance.json`` and, when the working tree has uncommitted changes,
``<sweep>/code.diff``, and puts both on the sweep's MLflow parent run (artifacts,
plus the tags ``sweeper.git_commit`` and ``sweeper.git_dirty``). ``results``
copies ``provenance.json`` into the Parquet metadata (``sweeper.provenance``).
A resumed sweep keeps its first record and appends the code version it resumed
with under ``resumed`` (when that differs, the sweep ran on two code versions and
says so).

Code version: the git checkout holding the ``sweeper`` package (not the current
directory): ``commit`` (``git rev-parse HEAD``) and ``dirty`` (tracked files differ
from HEAD, staged or not, or untracked source files (``.py``, ``.yaml``, ``.toml``)
exist; other untracked files do not count: sweep folders and MLflow stores live
untracked in the checkout). The diff is ``git diff HEAD`` plus each untracked
source file as a new-file diff; ``diff_sha256`` identifies it. Not a git checkout (an installed package), or no ``git``:
``commit`` and ``dirty`` are null and ``note`` says why; the package version
still identifies the code.

``record_base(sweep_dir, spec_dict, client, run_id)`` (called by ``launch``) writes
``<sweep>/resolved.yaml`` beside ``spec.yaml``: the sweep's base configuration with every
default filled in (``spec.yaml`` keeps what the YAML wrote), and the defaults of every
entry a searched ``<section>.name`` can pick; it goes to the parent run as an artifact.

The trial side (``trainables.provenance``) adds, per trial, the resolved
configuration, a fingerprint of the data and the hardware.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from sweeper.spec.model import BASE_SECTIONS

PACKAGES = ["sweeper", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow",
            "ray", "optuna", "mlflow"]
FILE = "provenance.json"
DIFF = "code.diff"
RESOLVED = "resolved.yaml"
COMMIT_TAG, DIRTY_TAG = "sweeper.git_commit", "sweeper.git_dirty"


def code_root() -> Path:
    """The folder the running ``sweeper`` package was imported from (its checkout, when it is one)."""
    return Path(__file__).resolve().parents[1]


SOURCE_SUFFIXES = (".py", ".yaml", ".toml")


def _git(root: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=check,
                          timeout=30).stdout


def code_version(root: Path | None = None) -> tuple[dict[str, Any], str]:
    """(``{"commit", "dirty", "diff_sha256", "untracked", "root", "note"}``, the diff text or '')."""
    root = root or code_root()
    info: dict[str, Any] = {"root": str(root), "commit": None, "dirty": None}
    try:
        if not _git(root, "ls-files", "sweeper/__init__.py").strip():  # e.g. site-packages inside another repo
            info["note"] = f"{root} is not a git checkout of sweeper: no commit recorded"
            return info, ""
        info["commit"] = _git(root, "rev-parse", "HEAD").strip()
        diff = _git(root, "diff", "HEAD", "--binary")
        untracked = [f for f in _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
                     if f.endswith(SOURCE_SUFFIXES)]
        for f in untracked:  # exits 1 when the files differ, as they do
            diff += _git(root, "diff", "--no-index", "--binary", "--", "/dev/null", f, check=False)
    except FileNotFoundError:
        info["note"] = "git is not installed: no commit recorded"
        return info, ""
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        err = (getattr(e, "stderr", "") or "").strip().splitlines()
        info["note"] = f"{root} is not a git checkout: no commit recorded ({err[0] if err else e})"
        return info, ""
    info["dirty"] = bool(diff)
    info["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest() if diff else None
    info["untracked"] = untracked[:50]
    return info, diff


def packages() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def collect() -> tuple[dict[str, Any], str]:
    """(the sweep's provenance record, the diff text or '')."""
    code, diff = code_version()
    return {
        "code": code, "packages": packages(),
        "driver": {"host": socket.gethostname(), "platform": platform.platform(), "argv": sys.argv[:20],
                   "cwd": str(Path.cwd())},
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }, diff


def load(sweep_dir: Path) -> dict[str, Any] | None:
    f = Path(sweep_dir) / FILE
    return json.loads(f.read_text()) if f.exists() else None


def record(sweep_dir: Path, client=None, run_id: str | None = None) -> dict[str, Any]:
    """Write the sweep's provenance (first launch) or append a resume's code version; log to MLflow."""
    sweep_dir = Path(sweep_dir)
    now, diff = collect()
    prev = load(sweep_dir)
    if prev is None:
        rec = now
        if diff:
            (sweep_dir / DIFF).write_text(diff)
    else:
        rec = prev
        if now["code"] != prev["code"] or now["packages"] != prev["packages"]:
            rec.setdefault("resumed", []).append(now)
            if diff:
                (sweep_dir / f"code.resumed{len(rec['resumed'])}.diff").write_text(diff)
    (sweep_dir / FILE).write_text(json.dumps(rec, indent=1))
    if client is not None and run_id is not None:
        client.set_tag(run_id, COMMIT_TAG, str(rec["code"]["commit"]))
        client.set_tag(run_id, DIRTY_TAG, str(rec["code"]["dirty"]))
        client.log_artifact(run_id, str(sweep_dir / FILE))
        for f in sorted(sweep_dir.glob("code*.diff")):
            client.log_artifact(run_id, str(f))
    return rec


def resolved_base(spec_dict: dict[str, Any]) -> dict[str, Any]:
    """The base configuration of a sweep with every default filled in (``TrialConfig.to_dict()``
    without a seed), plus ``candidates``: for each searched ``<section>.name``, every entry it can
    pick with its ``Params`` defaults (a searched name starts from its entry's defaults: the base's
    params of that section do not apply, see ``trainables.config.merge``).
    A base that is valid only with its searched values applied says so under ``note``."""
    from trainables.config import SECTIONS, plain
    from trainables.resolve import from_dict, params_class

    base = {k: spec_dict[k] for k in BASE_SECTIONS}
    try:
        out: dict[str, Any] = from_dict(base).to_dict()
        out.pop("seed")
    except (TypeError, ValueError, KeyError) as e:
        out = {**base, "note": f"not resolved on its own ({type(e).__name__}: {e}); each trial's resolved "
                                "configuration is in its provenance record"}
    candidates: dict[str, Any] = {}
    for path, p in (spec_dict.get("space") or {}).items():
        section, _, key = path.partition(".")
        if key != "name" or section not in SECTIONS:
            continue
        for name in (p["choices"] if "choices" in p else [p.get("value")]):
            try:
                params = plain(dataclasses.asdict(params_class(section, name)()))
            except (TypeError, ValueError, KeyError) as e:
                params = {"note": f"{type(e).__name__}: {e}"}
            candidates.setdefault(section, {})[name] = params
    if candidates:
        out["candidates"] = candidates
    return out


def record_base(sweep_dir: Path, spec_dict: dict[str, Any], client=None, run_id: str | None = None) -> Path:
    """Write ``resolved.yaml`` (``resolved_base``) into the sweep folder; log it to the parent run."""
    import yaml

    f = Path(sweep_dir) / RESOLVED
    head = ("# The base configuration of this sweep with every default filled in (spec.yaml: what the YAML\n"
            "# wrote). A trial applies its searched values (space:) and its seed on top; each trial's own\n"
            "# resolved configuration is in its provenance record and in trials.parquet's columns.\n")
    f.write_text(head + yaml.safe_dump(resolved_base(spec_dict), sort_keys=False))
    if client is not None and run_id is not None:
        client.log_artifact(run_id, str(f))
    return f


def differences(recorded: dict[str, Any], now: dict[str, Any], path: str = "") -> list[str]:
    """Every leaf that differs between two nested records, as ``path: recorded -> now``."""
    out: list[str] = []
    for k in sorted(set(recorded) | set(now), key=str):
        a, b = recorded.get(k), now.get(k)
        p = f"{path}.{k}" if path else str(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(differences(a, b, p))
        elif a != b:
            out.append(f"{p}: {a!r} -> {b!r}")
    return out
