"""The sweep's Optuna studies in an Optuna RDB storage, where Optuna's own tools can read them.

Storage: ``sqlite:///<sweep folder>/optuna.db`` by default (``DB``), or any SQLAlchemy URL given
with ``sweeper launch --optuna-storage URL`` (e.g. PostgreSQL on a cluster head); the URL is kept
in ``sweep.json`` (``optuna_storage``; absent: the default file of the sweep's current folder).
Study names: the sweep id, and ``<sweep id>/<method>`` for the per-method studies
(``sweeper/search/per_method.py``). One Optuna trial per configuration (the seeds of a
configuration are averaged into one value, ``space.SeedReplicates``); its user attribute
``tune_trial_id`` is the Tune trial id of the configuration's first seed.

``StudySearch`` is Ray's ``OptunaSearch`` whose saved state holds no study: what Tune pickles
(``tuner.pkl``, the searcher checkpoints) keeps the study's name and the sweep's storage URL,
and the study and the Tune-trial -> Optuna-trial map are read back from the database on first
use after a restore (``sweeper resume``). A configuration Optuna handed out but Tune never
recorded (the driver was killed in between) is *reusable*: ``release_orphans`` (run by
``resume``) lists it on the study, and the next suggestion replays its already-sampled
parameters instead of asking a new trial, so a resumed study still has exactly one trial per
configuration run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import optuna
from ray.tune.search.optuna import OptunaSearch

DB = "optuna.db"
ENV = "SWEEPER_OPTUNA_STORAGE"  # set by the driver for the searchers it restores (the sweep may have moved)
TUNE_ID = "tune_trial_id"
REUSABLE = "sweeper.reusable"  # study user attribute: numbers of orphaned RUNNING trials to hand out again


def default_url(sweep_dir: Path) -> str:
    return f"sqlite:///{(Path(sweep_dir) / DB).resolve()}"


def storage_url(sweep_dir: Path, meta: dict[str, Any]) -> str:
    """The sweep's Optuna storage URL: ``sweep.json``'s ``optuna_storage``, else ``optuna.db`` in its folder."""
    return str(meta.get("optuna_storage") or default_url(sweep_dir))


def study_name(sweep_id: str, method: str | None = None) -> str:
    return sweep_id if method is None else f"{sweep_id}/{method}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage; SQLite waits up to 60 s for a lock held by a reader (``sweeper dashboard``)."""
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def sweep_studies(url: str, sweep_id: str) -> list[optuna.study.StudySummary]:
    """The studies of sweep ``sweep_id`` in the storage at ``url`` (one, or one per method)."""
    return [s for s in optuna.get_all_study_summaries(open_storage(url), include_best_trial=False)
            if s.study_name == sweep_id or s.study_name.startswith(f"{sweep_id}/")]


def delete_studies(url: str, sweep_id: str) -> None:
    """Remove a sweep's studies (``--overwrite`` with a storage outside the sweep folder)."""
    storage = open_storage(url)
    for s in sweep_studies(url, sweep_id):
        optuna.delete_study(study_name=s.study_name, storage=storage)


def release_orphans(url: str, sweep_id: str, known: set[str]) -> int:
    """Mark RUNNING trials whose Tune trial is not in ``known`` (Tune's snapshot) reusable; returns their count."""
    storage, n = open_storage(url), 0
    for s in sweep_studies(url, sweep_id):
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        orphans = [t.number for t in running if t.user_attrs.get(TUNE_ID) not in known]
        study.set_user_attr(REUSABLE, orphans)
        n += len(orphans)
    return n


class StudySearch(OptunaSearch):
    """``OptunaSearch`` over a study in an RDB storage that is saved by name and read back from it."""

    def __init__(self, *, url: str, study: str, **kwargs: Any):
        self._url = url
        super().__init__(storage=open_storage(url), study_name=study, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_storage", "_ot_study", "_ot_trials")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._storage = self._ot_study = None
        self._ot_trials = {}

    def save(self, checkpoint_path: str) -> None:
        import pickle

        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        import pickle

        with open(checkpoint_path, "rb") as f:
            self.__setstate__(pickle.load(f))

    def _connect(self) -> None:
        """The study and the Tune-trial -> Optuna-trial map of unfinished trials, from the database."""
        if self._ot_study is not None:
            return
        self._url = os.environ.get(ENV) or self._url
        self._storage = open_storage(self._url)
        self._ot_study = optuna.load_study(study_name=self._study_name, storage=self._storage, sampler=self._sampler,
                                           pruner=optuna.pruners.NopPruner())
        running = self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        self._ot_trials = {t.user_attrs[TUNE_ID]: optuna.Trial(self._ot_study, t._trial_id)
                           for t in running if TUNE_ID in t.user_attrs}

    def _reusable(self) -> optuna.Trial | None:
        numbers = list(self._ot_study.user_attrs.get(REUSABLE) or [])
        if not numbers:
            return None
        self._ot_study.set_user_attr(REUSABLE, numbers[1:])
        frozen = self._ot_study.get_trials(deepcopy=False)[numbers[0]]
        self.replayed = frozen.user_attrs.get(TUNE_ID)  # the Tune trial that asked for it and never ran
        return optuna.Trial(self._ot_study, frozen._trial_id)

    def suggest(self, trial_id: str) -> dict | None:
        self._connect()
        self.replayed = None
        if trial_id not in self._ot_trials and self._space:
            trial = self._reusable() or self._ot_study.ask()
            trial.set_user_attr(TUNE_ID, trial_id)
            self._ot_trials[trial_id] = trial
        return super().suggest(trial_id)

    def relabel(self, asked_as: str, trial_id: str) -> None:
        """The study trial asked as ``asked_as`` belongs to Tune trial ``trial_id`` (``DistinctConfigs``
        asks again under a derived id after a repeat): its ``tune_trial_id`` and the map say so."""
        self._connect()
        trial = self._ot_trials.pop(asked_as)
        trial.set_user_attr(TUNE_ID, trial_id)
        self._ot_trials[trial_id] = trial

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._connect()
        if trial_id in self._ot_trials:
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._connect()
        if trial_id in self._ot_trials:
            super().on_trial_complete(trial_id, result=result, error=error)
