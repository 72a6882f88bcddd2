"""SIGINT / SIGTERM during a sweep: stop cleanly the first time, at once the second time.

The first signal asks Ray Tune to end its loop the way its own Ctrl-C handler does (Tune's
``SIGUSR1`` handler, installed for the duration of ``Tuner.fit``): the experiment state is saved
one last time and the trial actors are stopped, so ``resume`` continues every unfinished trial
from its last checkpoint. The driver then writes the tables, marks the sweep and its MLflow runs
as interrupted, prints how to resume and exits with ``128 + signal`` (130 for SIGINT, 143 for
SIGTERM). A signal that arrives before Tune's loop runs unwinds at once with
:class:`SweepInterrupted`. A second signal ends the process immediately (``os._exit``) after
``on_abort`` (set by the driver: one atomic write marking ``sweep.json`` interrupted, no MLflow,
no Ray) has run; the tables are not written and MLflow runs stay RUNNING until ``resume``
reconciles them. The lock it leaves names a dead process and is taken over by the next ``resume``.
Every process this driver started is killed first (:func:`kill_descendants`): Ray 2.60's GCS and
raylet go down with their driver, but its dashboard and runtime-env agents outlive an ``os._exit``
for good (measured: still there minutes later), as would trial workers of the local instance.

Tune's own SIGINT handler is switched off (``TUNE_DISABLE_SIGINT_HANDLER``), and SIGTERM, which
otherwise kills the driver inside Ray's core worker with a C++ stack dump, gets the same
treatment as SIGINT.
"""
from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Callable

HANDLED = (signal.SIGINT, signal.SIGTERM)


class SweepInterrupted(Exception):
    """The sweep was stopped by a signal; the CLI exits with ``exit_code``."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _tune_stop_handler():
    """Tune's 'end the run gracefully' handler while ``Tuner.fit`` runs, else None."""
    h = signal.getsignal(signal.SIGUSR1) if hasattr(signal, "SIGUSR1") else None
    return h if callable(h) and getattr(h, "__name__", "") == "signal_interrupt_tune_run" else None


def kill_descendants() -> int:
    """SIGKILL every process started by this one (children first listed, recursively): the local
    Ray instance, its agents and its trial workers. Returns how many were signalled."""
    import psutil  # a Ray dependency

    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    return len(procs)


class SignalGuard:
    """Context manager installing the handlers above (main thread only); ``signum`` is the
    first signal received, or None."""

    def __init__(self, on_abort: Callable[[int], str] | None = None) -> None:
        self.signum: int | None = None
        self.on_abort = on_abort  # second signal: record it, return what to tell the user
        self._old: dict[int, object] = {}

    def install(self) -> None:
        """(Re)install the handlers: call again after ``ray.init``, which installs its own."""
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for s in HANDLED:
            old = signal.signal(s, self._handle)
            self._old.setdefault(s, old)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            note = "`sweeper resume` continues the sweep"
            try:
                note = self.on_abort(signum) if self.on_abort is not None else note
            except Exception as e:  # noqa: BLE001 - stopping at once matters more than the record
                note += f" (it could not be marked interrupted: {e})"
            sys.stderr.write(f"\n{name} again: stopping at once, without writing the tables; {note}\n")
            sys.stderr.flush()
            kill_descendants()
            os._exit(128 + signum)
        self.signum = signum
        sys.stderr.write(f"\n{name} received: stopping the trials and writing the tables "
                         f"(press Ctrl-C again to stop at once)\n")
        sys.stderr.flush()
        tune_stop = _tune_stop_handler()
        if tune_stop is not None:
            tune_stop(signal.SIGUSR1, frame)
        else:
            raise SweepInterrupted(signum)

    def __enter__(self) -> "SignalGuard":
        self.install()
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)  # type: ignore[arg-type]
        self._old.clear()
