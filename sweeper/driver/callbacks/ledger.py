"""Tune callback keeping ``ledger.json`` and the Parquet tables current while a sweep runs."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from sweeper.driver.callbacks import not_retried
from sweeper.spec import SweepSpec, from_dict
from sweeper.store.ledger import LEDGER, Ledger
from sweeper.store.table_cache import TableCache
from sweeper.store.trial_status import ended_status, failure_reason

SHARE = 20  # table writes are spaced at least 20x their duration apart (<= 5 % of the driver's time)


class LedgerCallback(Callback):
    """Ray Tune callback keeping ``ledger.json`` and the Parquet tables current.

    The tables are rewritten at most every ``every_s`` seconds through a ``TableCache``
    (only the trial folders that changed since the last write are read; nothing sleeps on
    Tune's event loop); the driver rebuilds them from every folder once more when the sweep ends.

    Nothing here may raise into Tune: an exception from a callback is charged to the trial
    (Tune errors it and spends a retry). A failed ledger or table write is logged and
    left to the next rebuild, which derives everything again from Tune's state.
    """

    def __init__(self, sweep_dir: Path, spec: SweepSpec, every_s: float = 15.0):
        self.sweep_dir = Path(sweep_dir)
        self.spec = spec
        self.every_s = every_s
        self._written = 0.0
        self._cost = 0.0  # seconds the last table write took
        self._tables = TableCache()
        self._led: Ledger | None = None

    def __getstate__(self) -> dict[str, Any]:  # the caches are rebuilt, not saved
        return {k: v for k, v in self.__dict__.items() if k not in ("_tables", "_led")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A sweep launched before the spec was passed on pickled the stored spec as ``spec_dict``.
        if "spec_dict" in state:
            state = {k: v for k, v in state.items() if k != "spec_dict"} | {"spec": from_dict(state["spec_dict"])}
        self.__dict__.update(state)
        self._tables = TableCache()
        self._led = None

    def _safe(self, what: str, fn) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - see the class docstring
            logging.getLogger("sweeper").warning("%s failed (left to the next rebuild): %s", what, str(e)[:300])

    def _maybe_write_tables(self) -> None:
        """Write the tables when ``every_s`` has passed, and at least ``SHARE`` x their last write's
        duration: a write is O(trials) (stat every folder, write every row), so as the sweep grows the
        writes space out and take at most 1/``SHARE`` of the driver's time."""
        if time.monotonic() - self._written >= max(self.every_s, SHARE * getattr(self, "_cost", 0.0)):
            t0 = time.monotonic()
            if self._led is not None and self._led.needs_compaction():
                self._safe("compacting the ledger", self._led.compact)
            self._safe("writing the tables", lambda: self._tables.write(self.sweep_dir, self.spec))
            self._written = time.monotonic()
            self._cost = self._written - t0

    @property
    def ledger(self) -> Ledger:
        """The ledger, loaded once; later reads apply only the journal lines written since."""
        if self._led is None:
            self._led = Ledger(self.sweep_dir / LEDGER)
        else:
            self._led.refresh()
        return self._led

    def on_experiment_end(self, trials, **info):
        self._safe("compacting the ledger", lambda: self.ledger.compact())

    def _retries(self, led: Ledger, trial_id: str) -> int:
        return int(led.data.get(trial_id, {}).get("retries", 0))

    def on_trial_start(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            if not_retried.marked(trial):  # a start that only ends the trial: the reason stays
                return
            led.set(trial.trial_id, "running", retries=self._retries(led, trial.trial_id), not_retried="")
        self._safe("ledger", f)

    def on_trial_recover(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            if not_retried.marked(trial):  # the driver does not retry it (callbacks/not_retried.py)
                why = not_retried.reason(trial)
                led.set(trial.trial_id, "running", why, retries=self._retries(led, trial.trial_id), not_retried=why)
                return
            n = self._retries(led, trial.trial_id) + 1
            why = failure_reason(str(trial.get_error() or ""), led.data.get(trial.trial_id, {}))
            led.set(trial.trial_id, "running", f"retry {n} after: {why[-1500:]}", retries=n, timeout="")
        self._safe("ledger", f)

    def on_trial_complete(self, iteration, trials, trial, **info):
        def f():
            last = trial.last_result or {}
            status, reason = ended_status(last)
            led = self.ledger
            led.set(trial.trial_id, status, reason, retries=self._retries(led, trial.trial_id))
        self._safe("ledger", f)
        self._maybe_write_tables()

    def on_trial_error(self, iteration, trials, trial, **info):
        def f():
            led = self.ledger
            entry = led.data.get(trial.trial_id, {})
            led.set(trial.trial_id, "error", failure_reason(str(trial.get_error() or ""), entry),
                    retries=self._retries(led, trial.trial_id))
        self._safe("ledger", f)
        self._maybe_write_tables()
