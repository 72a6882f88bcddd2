"""A command-line program's end without Python's teardown, once its exit handlers have run.

After a sweep, Python's own teardown (clearing every module, then a last garbage collection over
the driver's heap of Ray, Tune, MLflow and pyarrow objects) takes ~1.2 s and writes nothing: the
exit handlers have already flushed the logs, shut Ray down and ended the MLflow runs. :func:`run`
registers :func:`_end_process` before the command imports any module that registers a handler of
its own, so it runs last (exit handlers run in reverse order); it flushes stdout and stderr and
ends the process with the command's exit code (``os._exit``). It steps aside, keeping Python's
normal exit, when the command did not end by ``sys.exit`` with a number (an uncaught exception, a
message as exit code) or when coverage measures the process (coverage writes its data from a
handler registered earlier).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable

_exit_code: list[int] = []  # the command's exit code, once it has ended by sys.exit


def run(command: Callable[[], None]) -> None:
    """``command()`` (a click command in standalone mode: it always ends by ``sys.exit``)."""
    atexit.register(_end_process)
    try:
        command()
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            _exit_code.append(e.code or 0)
        raise


def _end_process() -> None:
    if not _exit_code or "coverage" in sys.modules:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be written
            stream.flush()
    os._exit(_exit_code[0])
