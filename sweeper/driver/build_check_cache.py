"""Passing network checks are remembered: a sweep launched again skips the check (its torch import: ~3 CPU-s).

A check that built every combination of its job is recorded as an empty file
``cache_dir()/build_checks/<key>`` (``sweeper.store.cache``). ``key`` is the SHA-256 of

- the job, as sent to ``trainables.build_check`` (the trial base and the combinations);
- the source of the ``trainables`` package (every ``.py`` file: the models, regularizers and data
  loaders that are built) and the versions of Python and torch;
- a stamp (path, size, modification time) of every existing file or folder that a string of the job
  names (a data root, a tabular file, an image folder) and of the default data root; a folder's stamp
  lists its files, and a folder of more than ``MAX_STAMPED`` files is not remembered at all.

A check that found a problem, or could not load a dataset, is never remembered: it runs, and says
why, on every launch. Deleting the folder only costs the check's time again.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

import trainables
from sweeper.store.cache import cache_dir
from trainables.data import default_root

MAX_STAMPED = 5000


class _TooMany(Exception):
    pass


def key(job: dict[str, Any]) -> str | None:
    """The key of ``job`` (module docstring); None when it cannot be remembered."""
    paths = sorted({default_root(), *(Path(s).expanduser() for s in _strings(job) if os.sep in s or s.startswith("~"))})
    try:
        stamps = [_stamp(p) for p in paths]
    except _TooMany:
        return None
    h = hashlib.sha256(json.dumps(job, sort_keys=True, default=str).encode())
    h.update(json.dumps([platform.python_version(), _version("torch"), stamps]).encode())
    src = Path(trainables.__file__).parent
    for f in sorted(src.rglob("*.py")):
        h.update(str(f.relative_to(src)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def known(k: str | None) -> bool:
    return k is not None and (cache_dir() / "build_checks" / k).exists()


def remember(k: str | None) -> None:
    if k is None:
        return
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs the check again
        folder = cache_dir() / "build_checks"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / k).touch()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _stamp(path: Path) -> list:
    if not path.exists():
        return [str(path), None]
    if path.is_file():
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    out = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()  # os.walk visits them in this order: the stamp does not depend on the file system's order
        for name in sorted(files):
            st = os.stat(os.path.join(folder, name))
            out.append([os.path.join(folder, name), st.st_size, st.st_mtime_ns])
            if len(out) > MAX_STAMPED:
                raise _TooMany(str(path))
    return [str(path), out]


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
