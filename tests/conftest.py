"""Test-wide settings, the lanes and the shared fixtures.

- One torch thread in the test process (2-core CI machine; Ray trials set their own thread count
  from their CPU allocation).
- Lanes by cost (markers registered in pyproject.toml): ``ray`` (starts Ray), ``cli`` (spawns the
  CLI in a subprocess), ``cluster`` (a multi-node Ray cluster), ``fault`` (a real kill, timeout, OOM
  or lock), ``browser``. A test with none of them is marked ``unit`` here
  (``python -m pytest -m unit``: the fast lane). A ``unit`` test that spawns the CLI, a Ray
  process or an MLflow/Optuna server fails, naming the marker it lacks (a guard on
  ``subprocess.Popen``: Ray starts its GCS and raylet through it).
- ``device``: a test that takes it runs once per available device (``cpu``, plus ``cuda`` when
  ``torch.cuda.is_available()``) and asserts the same things on each.
- ``SWEEPER_CACHE_DIR`` (MLflow's schema template, cached build checks) is a folder of this test run,
  shared by its xdist workers: the suite starts from an empty cache, as on a fresh machine, and never
  touches the user's.
- ``finished_sweep``: ONE real ``sweeper launch`` per test session of :data:`tests.support.specs.TINY`
  (real local Ray, Optuna grid, MLflow SQLite, Parquet, the report); tests read it, and copy it with
  :func:`tests.support.specs.copy_sweep` before changing anything.
- ``search_sweep``: ONE real ``sweeper launch`` per test session of :func:`tests.support.specs.search_spec`
  (Optuna's random sampler over ``regularizer.keep`` on a tabular CSV, 2 configurations x 2 seeds): the
  configuration-name test (tests/spec/test_config_names.py) reads it; the provenance, reproduce and confirm tests
  (tests/commands/test_reproduce.py) work on a copy of it; while it runs, a ``TableCache`` in the test process
  rewrites its tables every 0.2 s (tests/store/test_table_cache.py checks what it wrote, on copies).
- Each session sweep's tests form one ``xdist_group`` (named after the fixture): a session fixture is built
  once per xdist worker, so its tests go to one worker and the sweep runs once.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from tests.support.cli import cli, env, ok, sweeper
from tests.support.specs import SEARCH_NAME, TINY, search_spec, write_search_data

torch.set_num_threads(1)
os.environ["SWEEPER_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "sweeper-tests"
                                     / os.environ.get("PYTEST_XDIST_TESTRUNUID", f"run-{os.getpid()}"))

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
COST = ("ray", "cli", "cluster", "fault", "browser")
SESSION_SWEEPS = ("finished_sweep", "search_sweep")  # session fixtures that launch a real sweep
# what a unit test must not start (matched in the first three words of a subprocess's argv): the CLI,
# Ray's processes, an MLflow or Optuna server
_EXPENSIVE = {"sweeper.cli": "cli", "gcs_server": "ray", "raylet": "ray", "mlflow": "cli", "optuna-dashboard": "cli"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items) -> None:
    """Marks ``unit`` what has no cost marker, and groups the rest for ``pytest-xdist --dist loadgroup``:
    the tests of each session sweep on one worker (it is launched once per worker); a costly test that uses a
    module- or class-scoped fixture with the rest of its file (module-scoped sweeps are built once); every other
    test goes wherever a worker is free. With two workers at most two costly tests run at once, the load the
    timing-sensitive tests (``cluster``, ``fault``) are sized for (three workers made the OOM test's hog time out
    and the autoscaler test fail); one group for all of them made one worker's queue the whole CI run (about 20 of
    its 21 minutes).

    Collection order is kept: handing out the costliest tests first (tried) ran the timing-sensitive tests side
    by side with each other instead of with unit tests, and the MLflow lock test saw one result where it needs
    two."""
    for item in items:
        session = [f for f in SESSION_SWEEPS if f in item.fixturenames]
        if session:  # a session sweep: a real launch, Ray inside
            item.add_marker("ray")
            item.add_marker("cli")
        if not any(item.get_closest_marker(m) for m in COST):
            item.add_marker("unit")
        elif session:  # (no test reads both session sweeps: each would then run on whichever worker took it)
            item.add_marker(pytest.mark.xdist_group(session[0]))
        elif _uses_shared_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.path.name))


def _uses_shared_fixture(item) -> bool:
    """Whether ``item`` uses a fixture that lives longer than one test (module, class or package scope)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d and d[-1].scope in ("module", "class", "package") for d in defs)


_spawned: list[str] | None = None  # the expensive argvs of the running unit test; None: not watching
_popen_init = subprocess.Popen.__init__


def _watching_init(self, args, *a, **kw) -> None:
    if _spawned is not None:
        words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
        head = " ".join(words[:3])
        _spawned.extend(f"{' '.join(words)[:200]} (-> mark it {m})" for k, m in _EXPENSIVE.items() if k in head)
    _popen_init(self, args, *a, **kw)


subprocess.Popen.__init__ = _watching_init


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    global _spawned
    if item.get_closest_marker("unit") is None:
        return (yield)
    _spawned = []
    try:
        result = yield
    finally:
        seen, _spawned = _spawned, None
    if seen:
        raise AssertionError("a unit test (no cost marker) spawned: " + "; ".join(seen))
    return result


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@dataclass(frozen=True)
class FinishedSweep:
    """A session sweep: ``root`` holds its spec, ``mlflow.db`` and ``sweeps/<name>``; ``stdout`` is what its
    ``sweeper launch`` printed (``finished_sweep``: ``sweeper launch tiny.yaml --num-cpus 2``)."""
    root: Path
    stdout: str
    name: str = TINY["name"]

    @property
    def dir(self) -> Path:
        return self.root / "sweeps" / self.name


@pytest.fixture(scope="session")
def finished_sweep(tmp_path_factory) -> FinishedSweep:
    root = tmp_path_factory.mktemp("finished")
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    r = ok(sweeper(root, "launch", "tiny.yaml", "--num-cpus", "2", timeout=900))
    return FinishedSweep(root, r.stdout)


@dataclass(frozen=True)
class WatchedSweep(FinishedSweep):
    """The session's search sweep, with ``cache``: the ``TableCache`` that rewrote its tables from the test
    process every 0.2 s while the driver ran (as the driver's callback does), and once after the driver
    exited; ``seen``: the trial rows (``trial_id``, ``status``, ``reason``, ``epochs``) of each write while the
    driver ran."""
    cache: object = None
    seen: tuple = ()


@pytest.fixture(scope="session")
def search_sweep(tmp_path_factory) -> WatchedSweep:
    """The session's search sweep: ``root`` holds ``data.csv`` (the tabular data its trials read),
    ``search.yaml``, ``mlflow.db`` and ``sweeps/search``; ``stdout`` is what
    ``sweeper launch search.yaml --num-cpus 2 --quiet`` printed. Copy it before changing anything (the data
    file stays in ``root``: the trials' configuration names it by its absolute path). Its tables were also
    written live by a ``TableCache`` in this process (tests/store/test_table_cache.py reads what it saw)."""
    import time

    import pyarrow.parquet as pq

    from sweeper.spec import from_dict
    from sweeper.store.table_cache import TableCache

    root = tmp_path_factory.mktemp("search")
    raw = search_spec(write_search_data(root / "data.csv"))
    (root / "search.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    spec, sweep = from_dict(raw), root / "sweeps" / SEARCH_NAME
    logs = tmp_path_factory.mktemp("search_logs")  # files, not pipes: nobody reads them while the driver runs
    cache, seen, deadline = TableCache(), [], time.monotonic() + 900
    with open(logs / "stdout", "w") as o, open(logs / "stderr", "w") as e:
        proc = subprocess.Popen(cli("launch", "search.yaml", "--num-cpus", "2", "--quiet"), cwd=root, env=env(),
                                stdout=o, stderr=e, text=True)
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if (sweep / "tune").exists() and (sweep / "spec.yaml").exists():
                    if cache.write(sweep, spec) is not None:
                        seen.append(pq.read_table(sweep / "trials.parquet",
                                                  columns=["trial_id", "status", "reason", "epochs"]).to_pylist())
                time.sleep(0.2)
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out, err = (logs / "stdout").read_text(), (logs / "stderr").read_text()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-3000:]}\n{err[-6000:]}"
    assert cache.write(sweep, spec) is not None
    return WatchedSweep(root, out, SEARCH_NAME, cache=cache, seen=tuple(seen))
