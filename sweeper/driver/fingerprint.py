"""A failed trial's fingerprint: what its error is, without what changes from one run to the next.

Tune appends every failure of a trial to its ``error.txt`` as ``Failure # N (occurred at ...)``
followed by the text of the exception it caught. For an exception raised by the trial's own code
that text is Ray's task header (``ray::ImplicitFunc.train() (pid=..., ip=..., actor_id=...)``),
the traceback's frames (indented lines) and last the exception itself, ``Type: message`` (the
message may run over several lines). ``fingerprint(text)`` reads the LAST failure of such a text:

    fingerprint = Type + ": " + normalize(message)

where ``normalize`` replaces what differs between two processes failing the same way: memory
addresses (``0x7f3a...`` -> ``0x?``), long hexadecimal ids (actor, object, trial hashes -> ``<id>``),
process ids (``pid=123``, ``pid 123``, ``process 123`` -> ``pid <n>``), IP addresses (-> ``<ip>``),
absolute paths (-> ``<path>``), dates and clock times (-> ``<time>``) and durations
(``3.2 s``, ``15ms`` -> ``<t>``), then collapses white space. Other numbers (shapes, sizes) stay:
they are what makes one error differ from another.

There is no fingerprint (``None``) for a failure that is not an exception of the trial's code, or
that may heal by itself, so that such a failure is always retried:

- the death of the trial's process or node (Ray's own exception types: ``ActorDiedError``,
  ``OutOfMemoryError`` from the memory monitor, a kill for ``search.trial_timeout_s``, ...): the
  machine, not the configuration, is the likely cause;
- a transient error by the driver's own rule (``sweeper.store.retry``): an ``OSError`` other than
  a missing path (connection reset, a full disk, a permission flip) or a message of a locked,
  busy or unreachable service;
- a text with no exception line.
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

import ray.exceptions

from sweeper.store.retry import transient_text

_FAILURE = re.compile(r"^Failure # \d+ \(occurred at [^)]*\)\s*$", re.M)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# ``Type: message``, ``Type`` alone, or Ray's ``ray.exceptions.RayTaskError(Type): message``
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?:\(([A-Za-z_][\w.]*)\))?(?:: ?(.*))?$")
# Ray's own exception classes: a failure reported as one of them is a dead process, node or object
_RAY_TYPES = frozenset(n for n, c in vars(ray.exceptions).items() if isinstance(c, type) and issubclass(c, BaseException))
# OSError and its builtin subclasses, less a wrong path (which does not heal by waiting)
_OS_TYPES = frozenset(n for n, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, OSError)) \
    - {"FileNotFoundError", "IsADirectoryError", "NotADirectoryError"}

_VOLATILE = [  # (pattern, replacement), applied in this order
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T_]\d{2}[:-]\d{2}[:-]\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"\b(pid|process|worker|tid|thread)([ =:#]+)\d+", re.I), r"\1\2<n>"),
    (re.compile(r"(?<![\w.])(?:~|\.{1,2})?(?:/[\w.@%+~-]+)+/?"), "<path>"),
    (re.compile(r"\b[0-9a-fA-F]{8,}\b"), "<id>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\s*(?:s|ms|us|µs|ns|sec|secs|seconds?|min|minutes?|h|hours?)\b"), "<t>"),
    (re.compile(r"\s+"), " "),
]


@dataclass(frozen=True)
class Failure:
    """The last failure of a trial's error text: its exception type and message (as raised)."""
    type: str
    message: str

    @property
    def fingerprint(self) -> str:
        return f"{self.type}: {normalize(self.message)}"

    @property
    def short(self) -> str:
        """``Type: first line of the message``, at most 300 characters."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        text = f"{self.type}: {first}" if first else self.type
        return text if len(text) <= 300 else text[:297] + "..."


def normalize(message: str) -> str:
    """``message`` with its volatile parts replaced (see the module docstring)."""
    for pattern, repl in _VOLATILE:
        message = pattern.sub(repl, message)
    return message.strip()


def last_failure(text: str) -> Failure | None:
    """The exception of the last failure in Tune's error text, or None (no exception line)."""
    block = _FAILURE.split(_ANSI.sub("", text or ""))[-1]
    lines = block.rstrip().splitlines()
    # the exception starts after the last frame (``  File "...", line N, in f``, then its indented
    # code and caret lines); the message's own lines may be indented
    start = max((i for i, line in enumerate(lines) if line.startswith('  File "')), default=-1) + 1
    while start and start < len(lines) and lines[start][:1].isspace():
        start += 1
    m = _EXC_LINE.match(lines[start]) if start < len(lines) else None
    if m is None:
        return None
    outer, inner = m.group(1).rsplit(".", 1)[-1], m.group(2)
    kind = inner.rsplit(".", 1)[-1] if inner and outer == "RayTaskError" else outer
    return Failure(kind, "\n".join([m.group(3) or "", *lines[start + 1:]]).strip())


def fingerprint(text: str) -> Failure | None:
    """The last failure of ``text`` when it is the trial's own, deterministic-looking exception, else None."""
    failure = last_failure(text)
    if failure is None or failure.type in _RAY_TYPES or failure.type in _OS_TYPES:
        return None
    if transient_text(f"{failure.type}: {failure.message}"):
        return None
    return failure
