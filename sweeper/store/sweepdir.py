"""The sweep folder's own files: where they are, how they are read and written, and the driver lock.

Shared by the launcher, ``sweeper status``, ``sweeper report`` and the results code; imports
neither Ray nor torch, so reading a sweep stays cheap.

Files (``<out>/<sweep_id>/``)::

    driver.lock   the live driver: {"host", "pid", "start", "time"}; created exclusively with its
                  content (written under a temporary name, then hard-linked: never seen empty)
    sweep.json    ids and the sweep's state: status running|finished|interrupted|failed, driver
                  pid/host, spec_sha256 (hash of the resolved spec at launch), spec_source_text
    spec.yaml     the resolved spec the trials run

Every JSON file is written atomically (a temporary file in the same folder, then ``os.replace``)
so a reader sees the old or the new file, never a half-written one; reads of files other
processes rewrite (Tune's) go through :func:`read_json_tolerant`.

The lock: one driver per sweep. ``DriverLock.acquire`` creates ``driver.lock`` exclusively; if
it exists and names a live process, it refuses (:class:`SweepLocked`, naming host and pid); if
it names a dead process on this host (or a pid reused by another process: the recorded process
start time differs), the lock is stale and is taken over. A lock from another host cannot be
checked from here and is refused with instructions.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from sweeper.spec import SweepSpec, from_dict
from sweeper.spec.model import BASE_SECTIONS

DEFAULT_OUT = "sweeps"
LOCK = "driver.lock"
META = "sweep.json"
SPEC = "spec.yaml"


class SweepError(Exception):
    """A problem with a sweep folder that the CLI reports in one line and exit code 2."""


class NoSuchSweep(SweepError, FileNotFoundError):
    """No sweep folder of that id or path."""


class SweepCorrupt(SweepError):
    """A sweep file exists but cannot be read (truncated, edited into invalid JSON/YAML)."""


class SweepLocked(SweepError):
    """Another live driver holds the sweep's lock."""


class SpecChanged(SweepError):
    """The spec was edited since the sweep was launched (resume refuses it)."""


# ---------------------------------------------------------------------------------------------
# atomic and tolerant file access


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, default=str))


def read_json_tolerant(read: Callable[[], str | None], budget_s: float = 3.0) -> Any:
    """JSON from ``read()`` (None: no file), retrying a half-written file for up to ``budget_s``.

    Tune rewrites ``params.json``, ``result.json`` and its snapshots in place (truncate, then
    write); a read can land mid-write and see an empty or cut-off file. That is retried with
    short, growing pauses; if no read parses within the budget the last error is raised
    (callers treat it as "not readable now", never as a result).
    """
    deadline = time.monotonic() + budget_s
    pause = 0.005
    while True:
        text = read()
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(0.1, pause * 1.5)


# ---------------------------------------------------------------------------------------------
# the sweep folder


def sweep_path(name_or_path: str | Path, out: str | Path = DEFAULT_OUT) -> Path:
    """A sweep folder from its id (looked up under ``out``) or its path."""
    p = Path(name_or_path)
    for cand in (p, Path(out) / p):
        if (cand / META).exists():
            return cand.resolve()
    raise NoSuchSweep(f"no sweep {str(name_or_path)!r}: looked for {p}/{META} and {Path(out) / p}/{META}")


def read_meta(sweep_dir: Path) -> dict[str, Any]:
    f = Path(sweep_dir) / META
    try:
        meta = json.loads(f.read_text())
    except FileNotFoundError:
        raise NoSuchSweep(f"{f} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SweepCorrupt(
            f"{f} is damaged ({e}); the trial folders under {Path(sweep_dir) / 'tune'} are intact: "
            f"restore {META} from a backup, or start the sweep again with --overwrite"
        ) from None
    if not isinstance(meta, dict) or "sweep_id" not in meta:
        raise SweepCorrupt(f"{f} is damaged: expected a JSON object with a sweep_id")
    return meta


def write_meta(sweep_dir: Path, **kw: Any) -> dict[str, Any]:
    """Update sweep.json (atomically; created when missing)."""
    f = Path(sweep_dir) / META
    meta = read_meta(sweep_dir) if f.exists() else {}
    meta.update(kw)
    atomic_write_json(f, meta)
    return meta


def read_spec(sweep_dir: Path) -> dict[str, Any]:
    f = Path(sweep_dir) / SPEC
    try:
        d = yaml.safe_load(f.read_text())
    except FileNotFoundError:
        raise SweepCorrupt(f"{f} is missing: the sweep folder is incomplete") from None
    except yaml.YAMLError as e:
        raise SweepCorrupt(f"{f} is damaged (not valid YAML: {str(e).splitlines()[0]})") from None
    if not isinstance(d, dict) or not {"search", "seeds", *BASE_SECTIONS} <= set(d):
        raise SweepCorrupt(f"{f} is damaged: expected the resolved spec (a mapping with search, seeds, dataset, ...)")
    return d


def load_spec(sweep_dir: Path) -> SweepSpec:
    """The sweep's stored spec (``spec.yaml``, the resolved spec it was launched with), validated."""
    return from_dict(read_spec(sweep_dir), source=str(Path(sweep_dir) / SPEC))


# ---------------------------------------------------------------------------------------------
# spec fingerprint


def spec_hash(spec_dict: dict[str, Any]) -> str:
    """sha256 of the resolved spec (canonical JSON: sorted keys)."""
    return hashlib.sha256(json.dumps(spec_dict, sort_keys=True, default=str).encode()).hexdigest()


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): d}


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two specs: ``path: old -> new``."""
    a, b = _flat(old), _flat(new)
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "<absent>") != b.get(k, "<absent>"):
            out.append(f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}")
    return out


def check_spec_unchanged(sweep_dir: Path, meta: dict[str, Any], spec_dict: dict[str, Any]) -> None:
    """Raise :class:`SpecChanged` when spec.yaml, or the spec file the sweep was launched from,
    was edited since the launch. Sweeps launched before fingerprints existed are not checked."""
    problems = []
    launched = meta.get("spec_resolved")
    if meta.get("spec_sha256") and spec_hash(spec_dict) != meta["spec_sha256"]:
        diff = spec_diff(launched, spec_dict) if isinstance(launched, dict) else ["(contents differ)"]
        problems.append(f"{Path(sweep_dir) / SPEC} was edited: " + "; ".join(diff))
    src, text = meta.get("spec_source"), meta.get("spec_source_text")
    if src and text is not None and Path(src).is_file():
        now = Path(src).read_text()
        if now != text:
            try:
                diff = spec_diff(yaml.safe_load(text) or {}, yaml.safe_load(now) or {})
            except yaml.YAMLError:
                diff = ["(no longer valid YAML)"]
            if diff:
                problems.append(f"{src} was edited since the launch: " + "; ".join(diff))
    if problems:
        raise SpecChanged(
            "refusing to resume: " + " | ".join(problems) + ". Resume runs the spec the sweep was launched "
            "with; undo the edit, or launch the edited spec as a new sweep (--name NEW_NAME). Nothing was changed."
        )


# ---------------------------------------------------------------------------------------------
# processes and the driver lock


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Is process ``pid`` of THIS host alive (and, if ``start`` is given, the same process)?"""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except (OSError, ValueError, TypeError):
        return False
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        pass
    now = _proc_start(int(pid))
    return not (start and now and now != start)


def read_lock(sweep_dir: Path) -> dict[str, Any] | None:
    """The lock's content; None when there is no lock; {} when it is unreadable (being written)."""
    f = Path(sweep_dir) / LOCK
    try:
        return json.loads(f.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError):
        return {}


def driver_state(info: dict[str, Any] | None) -> str:
    """'alive', 'dead' or 'unknown' (another host) for a lock or sweep.json's driver fields."""
    if not info or not info.get("pid") and not info.get("driver_pid"):
        return "dead"
    host = info.get("host", info.get("driver_host"))
    pid = info.get("pid", info.get("driver_pid"))
    if host != socket.gethostname():
        return "unknown"
    return "alive" if pid_alive(pid, info.get("start")) else "dead"


def _locked_error(sweep_dir: Path, info: dict[str, Any]) -> SweepLocked:
    where = f"pid {info.get('pid')} on host {info.get('host')}"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("time", 0)))
    if driver_state(info) == "unknown":
        return SweepLocked(
            f"sweep {sweep_dir.name} is locked by a driver on another host ({where}, since {since}); it cannot be "
            f"checked from here. If that driver is gone, delete {sweep_dir / LOCK} and retry. Nothing was changed.")
    return SweepLocked(
        f"sweep {sweep_dir.name} is being run by another driver ({where}, since {since}); wait for it, or stop it "
        f"(Ctrl-C / kill {info.get('pid')}) and then `sweeper resume {sweep_dir.name}`. Nothing was changed.")


def refuse_if_locked(sweep_dir: Path) -> None:
    """Raise :class:`SweepLocked` when a live (or unverifiable) driver holds the sweep's lock; a
    cheap early check (the lock itself is what guarantees one driver)."""
    info = read_lock(Path(sweep_dir))
    if info and driver_state(info) != "dead":
        raise _locked_error(Path(sweep_dir), info)


class DriverLock:
    """Exclusive lock of a sweep folder for one driver process (see the module docstring)."""

    def __init__(self, sweep_dir: Path):
        self.sweep_dir = Path(sweep_dir)
        self.path = self.sweep_dir / LOCK
        self.held = False

    def _mine(self) -> dict[str, Any]:
        pid = os.getpid()
        return {"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid), "time": time.time()}

    def acquire(self) -> "DriverLock":
        for _ in range(20):
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._create()
            except FileNotFoundError:
                continue  # the folder was removed meanwhile (a refused driver cleaning up): make it again
            except FileExistsError:
                info = read_lock(self.sweep_dir)
                if info is None:
                    continue  # released meanwhile: try again
                if info == {}:  # never written by this code (see _create): a damaged lock, or a moment's read error
                    time.sleep(0.1)
                    info = read_lock(self.sweep_dir)
                    if info == {}:
                        self._break_stale({})
                        continue
                    if info is None:
                        continue
                if driver_state(info) == "dead":
                    self._break_stale(info)
                    continue
                raise _locked_error(self.sweep_dir, info)
            self.held = True
            return self
        raise SweepLocked(f"could not take {self.path}: it keeps changing (another driver starting?)")

    def _create(self) -> None:
        """Create the lock with its content in one step: written and synced under a temporary name, then
        hard-linked to ``driver.lock`` (``link`` fails if it exists, like O_CREAT|O_EXCL), so another
        driver never sees an empty lock, however long this process is descheduled."""
        tmp = self.path.with_name(f".{LOCK}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(json.dumps(self._mine()))
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def _break_stale(self, seen: dict[str, Any]) -> None:
        """Move the stale lock ``seen`` aside. The rename is atomic; if what was moved is not the
        stale lock (another driver replaced it meanwhile), it is put back (link fails if a third
        lock exists), so a live lock is never removed."""
        aside = self.path.with_name(f".{LOCK}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = json.loads(aside.read_text())
        except (json.JSONDecodeError, OSError):
            moved = {}
        if moved != seen:
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if not self.held:
            return
        info = read_lock(self.sweep_dir)
        if info and info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self) -> "DriverLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
