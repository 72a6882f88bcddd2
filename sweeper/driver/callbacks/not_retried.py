"""A trial that fails with the same error as another seed of its configuration is not retried.

The rule: when a trial fails and another seed of the SAME configuration (same ``config_id``,
``trainables.identity``: the suggested values without the seed) has already failed with the same
fingerprint (``sweeper.driver.fingerprint``: exception type and message, volatile parts such as
addresses, pids, paths and timings normalised), the error belongs to the configuration, not to
the attempt: the trial is not retried. It ends ``error`` with the reason ``not retried: seed S
of the same configuration failed with the same error: Type: message`` and trains no more. A
configuration's first failure, a different error, and failures without a fingerprint (a dead
process or node, a memory or time-limit kill, a transient I/O or service error) are retried up to
``search.max_failures`` times as before.

How, on Ray 2.60's Tune: Tune decides to retry (``Trial.should_recover``: ``num_failures <=
max_failures``) and requeues the trial as PENDING before any callback sees the failure;
``on_trial_recover`` comes after. So this callback, on ``on_trial_recover`` of a matching failure:

1. puts the reason under ``trainables.overrides.NOT_RETRIED`` in the trial's config
   (``Trial.set_config``): the start Tune makes next receives it and ``trainables.entry.run_trial``
   raises it at once, before any training, on whichever node it runs;
2. sets ``Trial.max_failures`` to the failures so far, so that this start's failure is the last
   (``TrialWatchdog`` leaves the allowance of such a trial alone).

On that start's ``on_trial_error`` it removes the key again, gives the trial back its
``search.max_failures`` (for ``resume --retry-errored``) and takes back the failure the start added
to ``Trial.run_metadata.num_failures``, so Tune's count, like the ledger's ``retries``, counts only
real failures. ``LedgerCallback`` (after this one in the callback list) reads the key on
``on_trial_recover`` to record the reason, not a retry. Public attributes of Tune's ``Trial`` relied
on: ``config``/``set_config``, ``max_failures``, ``run_metadata.num_failures`` (with
``run_metadata.invalidate_cache``), ``error_file``, ``get_error``, ``invalidate_json_state``.

The failures seen (configuration -> fingerprint -> seeds) are pickled with the callback in Tune's
experiment state, so a resumed sweep remembers them.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ray.tune import Callback

from sweeper.driver.fingerprint import Failure, fingerprint
from trainables.identity import config_id
from trainables.overrides import NOT_RETRIED, tune_overrides

log = logging.getLogger("sweeper")


def marked(trial) -> bool:
    """Whether ``trial``'s next start is the one that ends it (it is not retried)."""
    return bool((trial.config or {}).get(NOT_RETRIED))


def reason(trial) -> str:
    return str((trial.config or {}).get(NOT_RETRIED, ""))


def unmark(trial, max_failures: int) -> None:
    """Remove the mark and give ``trial`` back its allowance of retries (``search.max_failures``)."""
    if marked(trial):
        trial.set_config({k: v for k, v in trial.config.items() if k != NOT_RETRIED})
    trial.max_failures = max_failures
    trial.invalidate_json_state()


def error_text(trial) -> str:
    """Tune's error text of ``trial`` (every failure so far): the driver's own copy (``error_file``)
    first, which Tune writes at once; ``get_error`` reads the storage copy, synced later."""
    path = trial.error_file
    if path and Path(path).is_file():
        return Path(path).read_text(errors="replace")
    return str(trial.get_error() or "")


class SameErrorNotRetried(Callback):
    def __init__(self, seeds: list[int], max_failures: int):
        self.seeds = list(seeds)
        self.max_failures = max_failures  # search.max_failures
        self.failed: dict[str, dict[str, list[int]]] = {}  # config_id -> fingerprint -> seeds that failed so

    def _key(self, trial) -> tuple[str, int]:
        overrides = tune_overrides(trial.config, self.seeds)
        return config_id(overrides), int(overrides["seed"])

    def _record(self, trial) -> tuple[Failure, int | None] | None:
        """Record ``trial``'s last failure; (the failure, a sibling seed that failed the same way or None)."""
        failure = fingerprint(error_text(trial))
        if failure is None:
            return None
        cid, seed = self._key(trial)
        seeds = self.failed.setdefault(cid, {}).setdefault(failure.fingerprint, [])
        sibling = next((s for s in seeds if s != seed), None)
        if seed not in seeds:
            seeds.append(seed)
        return failure, sibling

    def on_trial_recover(self, iteration, trials, trial, **info):
        try:
            seen = self._record(trial)
            if seen is None or seen[1] is None:
                return
            failure, sibling = seen
            why = f"not retried: seed {sibling} of the same configuration failed with the same error: {failure.short}"
            trial.set_config({**trial.config, NOT_RETRIED: why})
            trial.max_failures = trial.run_metadata.num_failures  # Tune: the next failure is the last
            trial.invalidate_json_state()
            log.warning("trial %s %s", trial.trial_id, why)
        except Exception as e:  # noqa: BLE001 - a callback must not raise into Tune (it would charge the trial)
            log.warning("could not check the failure of trial %s against its other seeds: %s", trial.trial_id, e)

    def on_trial_error(self, iteration, trials, trial, **info):
        try:
            if not marked(trial):
                self._record(trial)  # its last failure: later seeds compare with it
                return
            unmark(trial, self.max_failures)
            trial.run_metadata.num_failures = max(0, trial.run_metadata.num_failures - 1)  # the start that only
            trial.run_metadata.invalidate_cache()  # raised the reason is no failure of the trial
        except Exception as e:  # noqa: BLE001
            log.warning("could not record the failure of trial %s: %s", trial.trial_id, e)
