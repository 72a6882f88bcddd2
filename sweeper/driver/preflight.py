"""Everything ``launch`` / ``resume`` can check before they create or delete anything.

Order in ``launch`` (``sweeper.driver.launch``): the spec (already validated) -> the sweep id
(``check_name``) -> the command-line resources (``check_flags``) -> the target folder
(``check_target``: exists? ``--overwrite`` allowed?) -> the sweep folder, a local ``--storage``
(``check_storage``) and the local MLflow store can be written (``check_writable``) -> the data on this machine
(``check_data``, local launches only) -> ``--address`` answers (``check_address``) ->
Ray starts or joins -> the per-trial request fits the cluster (``check_cluster``) ->
only then is an old sweep removed (``wrapup.clear_sweep_dir``) and the folder, ``sweep.json``,
``spec.yaml`` and the MLflow parent run created. Each failure raises ``PreflightError``
with one message (the CLI prints it and exits 2); nothing has been written.

Data checks read only file names and headers (no torch): a tabular file must exist
and have its ``label_column``; ``mnist_t10k`` needs its two t10k files in the root;
``imagefolder`` needs ``root/subdir``; a dataset that cannot download (``download:
false``) needs an existing root. With ``--address`` the data lives on the workers,
which the driver cannot see, so the data checks are skipped there.
"""
from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any

from sweeper.spec import names
from sweeper.spec.yamlsafe import excerpt
from sweeper.store import writable
from sweeper.store.mlflow_uri import store_file, tracking_uri
from sweeper.store.sweepdir import sweep_path

ADDRESS_TIMEOUT_S = 3.0


class PreflightError(ValueError):
    """A launch that cannot work; nothing was created or removed."""


class SweepExists(FileExistsError):
    """A sweep folder of that id already holds a sweep (the CLI exits 2; nothing is changed)."""


def before_ray(spec, *, name: str | None, out: str | Path, num_cpus: int | None, cpus_per_trial: float | None,
               gpus_per_trial: float | None, address: str | None, overwrite: bool,
               storage: str | None = None) -> tuple[str, Path, float, float]:
    """Every check that needs neither Ray nor torch, in order; returns (sweep id, sweep folder,
    CPUs per trial, GPUs per trial). The CLI runs it before importing the launcher, so a wrong
    flag is refused within a second even on a loaded machine."""
    sweep_id = name or spec.name
    check_name(sweep_id, "--name" if name is not None else "name")
    sweep_dir = (Path(out) / sweep_id).resolve()
    cpu = spec.resources.cpu if cpus_per_trial is None else cpus_per_trial
    gpu = spec.resources.gpu if gpus_per_trial is None else gpus_per_trial
    check_flags(num_cpus, cpu, gpu, local=address is None)
    check_target(sweep_dir, sweep_id, overwrite)
    check_writable(sweep_dir, "the sweep folder")
    check_storage(storage)
    check_mlflow_writable()
    if address is None:
        check_data(spec)
    check_address(address)
    return sweep_id, sweep_dir, cpu, gpu


def check_name(sweep_id: Any, flag: str) -> None:
    msg = names.problem(sweep_id)
    if msg:
        raise PreflightError(f"{flag}: {msg} (nothing was created)")


def _finite_positive(v: float | None, flag: str, allow_zero: bool) -> None:
    if v is None:
        return
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise PreflightError(f"{flag}: must be a finite number {'>= 0' if allow_zero else '> 0'}, got {v}")


def check_flags(num_cpus: int | None, cpu_per_trial: float, gpu_per_trial: float, local: bool) -> None:
    """``--num-cpus`` > 0, per-trial CPU > 0 and GPU >= 0 (finite), and on a local instance the
    per-trial CPU at most the instance's CPUs."""
    if num_cpus is not None and num_cpus < 1:
        raise PreflightError(f"--num-cpus: must be >= 1 (omit it to use all {os.cpu_count()} cores), got {num_cpus}")
    _finite_positive(cpu_per_trial, "--cpus-per-trial / resources.cpu", allow_zero=False)
    _finite_positive(gpu_per_trial, "--gpus-per-trial / resources.gpu", allow_zero=True)
    if local:
        have = num_cpus or os.cpu_count() or 1
        if cpu_per_trial > have:
            raise PreflightError(f"--cpus-per-trial / resources.cpu: a trial asks for {cpu_per_trial} CPUs but the local Ray "
                                 f"instance has {have}; no trial could ever start")


def check_target(sweep_dir: Path, sweep_id: str, overwrite: bool) -> None:
    """A new sweep folder: absent, or with ``overwrite`` a sweep of the same id (``sweep.json``
    naming ``sweep_id``). Anything else is refused and left untouched."""
    if not sweep_dir.exists() and not sweep_dir.is_symlink():
        return
    from sweeper.store import sweepdir

    sweepdir.refuse_if_locked(sweep_dir)  # a live driver: name it (it may not have written sweep.json yet)
    meta = sweep_dir / "sweep.json"
    if not overwrite:
        if meta.exists():
            raise SweepExists(
                f"sweep {sweep_id!r} already exists in {sweep_dir}: continue it with `sweeper resume {sweep_id}`, "
                f"or start another with --name NEW_NAME (nothing was changed)")
        if sweep_dir.is_dir() and not any(sweep_dir.iterdir()):
            return
        raise PreflightError(f"{sweep_dir} exists and is not a sweep folder (no sweep.json); "
                             "choose another --name or --out (nothing was changed)")
    if sweep_dir.is_symlink() or not sweep_dir.is_dir():
        raise PreflightError(f"--overwrite: {sweep_dir} is not a sweep folder (a link or a file); nothing was removed")
    try:
        recorded = json.loads(meta.read_text()).get("sweep_id") if meta.is_file() else None
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != sweep_id:
        what = "has no sweep.json" if not meta.is_file() else f"holds sweep {excerpt(recorded)}, not {sweep_id!r}"
        raise PreflightError(f"--overwrite: {sweep_dir} {what}; --overwrite only removes a sweep folder of the same id "
                             "(nothing was removed)")


def check_writable(folder: Path, what: str, fix: str = "choose a writable --out, or make it writable") -> None:
    """``folder`` accepts a new file (``sweeper.store.writable``). Tune's own experiment snapshots are not
    retried by us, so a sweep folder that cannot be written is refused before anything starts."""
    why = writable.refusal(folder)
    if why is not None:
        raise PreflightError(f"{what}: {why}; a sweep writes its state there: {fix} (nothing was created or changed)")


def check_errored_flags(retry_errored: bool, restart_errored: bool) -> None:
    """``resume``: an errored trial is either continued from its last checkpoint or run again from scratch."""
    if retry_errored and restart_errored:
        raise PreflightError("--retry-errored and --restart-errored exclude each other: --retry-errored continues each "
                             "errored trial from its last checkpoint, --restart-errored runs it again from scratch")


def check_storage(storage: str | None) -> None:
    """``--storage`` as a local folder (a path or ``file://``) accepts new files; Tune creates its experiment
    folder there when the sweep starts. A remote URI (``s3://``, ``gs://``) is Tune's to check."""
    if storage is None:
        return
    scheme, _, rest = storage.partition("://") if "://" in storage else ("", "", storage)
    if scheme in ("", "file"):
        check_writable(Path(rest).expanduser(), "--storage", "choose a writable --storage, or omit it (Tune's state "
                       "then goes in the sweep folder)")


def before_resume(sweep: str | Path, out: str | Path, *, num_cpus: int | None, address: str | None,
                  retry_errored: bool, restart_errored: bool) -> Path:
    """``resume``'s checks that need neither Ray nor torch, in order; returns the sweep folder. The CLI runs
    them before importing the launcher, as ``before_ray`` for ``launch``."""
    check_errored_flags(retry_errored, restart_errored)
    check_flags(num_cpus, 1.0, 0.0, local=False)
    check_address(address)
    sweep_dir = sweep_path(sweep, out)
    check_sweep_writable(sweep_dir)
    return sweep_dir


def check_sweep_writable(sweep_dir: Path) -> None:
    """``resume``: the sweep folder and Tune's folder in it accept new files (Tune's own snapshot
    writes are not retried: a folder that cannot be written is refused before Ray starts)."""
    for d in (Path(sweep_dir), Path(sweep_dir) / "tune"):
        if d.is_dir():
            check_writable(d, f"resume {Path(sweep_dir).name}", "make it writable, then resume again")


def check_mlflow_writable() -> None:
    """A local SQLite tracking store (``sqlite:///PATH``, the default ``mlflow.db`` in the current
    folder) must be writable: its folder (SQLite writes a journal beside it) and the file if it exists."""
    uri = tracking_uri()
    db = store_file(uri)
    if db is None:
        return
    db = db.resolve()
    what = f"the MLflow store {db} (MLFLOW_TRACKING_URI={uri})"
    check_writable(db.parent, what, "make that folder writable, or set MLFLOW_TRACKING_URI to another store")
    if db.exists() and not os.access(db, os.W_OK):
        raise PreflightError(f"{what}: the file is read-only; make it writable or set MLFLOW_TRACKING_URI to "
                             "another store (nothing was created)")


def check_address(address: str | None, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """``--address HOST[:PORT]`` (or ``ray://HOST:PORT``) must accept a TCP connection within
    ``timeout`` seconds; ``auto`` is left to Ray's own lookup (``RAY_ADDRESS``, then any running
    cluster on this machine): when it finds none, ``local_ray.start_or_join`` raises
    :class:`PreflightError` with Ray's message."""
    if not address or address == "auto":
        return
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "6379")
    try:
        port_n = int(port)
        if not 0 < port_n < 65536:
            raise ValueError
    except ValueError:
        raise PreflightError(f"--address {excerpt(address)}: expected HOST:PORT (port 1-65535) or auto") from None
    try:
        with socket.create_connection((host.strip("[]"), port_n), timeout=timeout):
            pass
    except OSError as e:
        raise PreflightError(f"--address {address}: nothing answers at {host}:{port_n} within {timeout:g} s ({e.strerror or e}); "
                             "start the head with `ray start --head` or check the address (nothing was created)") from None


def check_cluster(cpu_per_trial: float, gpu_per_trial: float, joined: bool = False) -> None:
    """The per-trial request fits the Ray cluster this process is connected to.

    On a cluster this process started (``joined`` False) the nodes are all there is: a request larger
    than the whole cluster is refused. A joined cluster may grow: ``cluster.yaml``'s head has no CPUs
    and its GPU workers start at zero (``min_workers: 0``), so before the first trial asks for them the
    cluster has none. There the request is refused only when the autoscaler's own node types (as the
    autoscaler reports them to the GCS, ``_node_type_maxima``) hold less per node; when they are not
    reported (Ray's v1 autoscaler does not), the launch goes on with a warning: pending trials wait
    for the autoscaler to add a node (``ray status`` lists pending and infeasible requests)."""
    import ray

    res = ray.cluster_resources()
    short = [(key, want, flag, float(res.get(key, 0.0)))
             for key, want, flag in (("CPU", cpu_per_trial, "--cpus-per-trial / resources.cpu"),
                                     ("GPU", gpu_per_trial, "--gpus-per-trial / resources.gpu"))
             if want > float(res.get(key, 0.0))]
    if not short:
        return
    maxima = _node_type_maxima() if joined else None
    for key, want, flag, have in short:
        if not joined or (maxima is not None and want > maxima.get(key, 0.0)):
            grow = (f"; no node type of its autoscaler has more than {maxima.get(key, 0.0):g}"
                    if maxima is not None else "")
            raise PreflightError(f"{flag}: a trial asks for {want:g} {key}(s) but the Ray cluster has {have:g}{grow}; "
                                 "no trial could ever start (nothing was created)")
    logging.getLogger(__name__).warning(
        "the Ray cluster has %s now, less than one trial asks for (%s): trials wait until its autoscaler adds a "
        "node that holds one (`ray status` shows pending and infeasible requests)",
        ", ".join(f"{have:g} {key}" for key, _, _, have in short),
        ", ".join(f"{want:g} {key}" for key, want, _, _ in short))


def _node_type_maxima() -> dict[str, float] | None:
    """The largest amount of each resource on one node of any node type the cluster's autoscaler may
    launch (node types with ``max_count`` 0 left out), from the cluster config the autoscaler reports to
    the GCS; None when none is reported."""
    from ray._private.state import state  # Ray's reader of the GCS's autoscaler state (no public API)

    try:
        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - an older GCS without the key: nothing known
        return None
    if config is None or not config.node_group_configs:
        return None
    out: dict[str, float] = {}
    for group in config.node_group_configs:
        if group.max_count != 0:
            for key, value in group.resources.items():
                out[key] = max(out.get(key, 0.0), float(value))
    return out


# ---------------------------------------------------------------------------------------------- data


def _table_columns(path: Path) -> list[str]:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        row = next(csv.reader(f, delimiter="\t" if ".tsv" in name else ","), [])
    return [c.strip() for c in row]


def _tabular_problem(params: dict, r: Path | None) -> str | None:
    path = str(params.get("path") or "")
    if not path:
        return "dataset.params.path: not set; point it at your CSV or Parquet file"
    if "://" in path:
        return None
    p = Path(path).expanduser()
    if not p.is_absolute() and r is not None:
        p = r / p
    if not p.is_file():
        return f"dataset.params.path: no such file {p.resolve()}"
    label = params.get("label_column", "label")
    try:
        cols = _table_columns(p)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one clear message
        return f"dataset.params.path: cannot read the header of {p}: {type(e).__name__}: {excerpt(str(e), 200)}"
    if label not in cols:
        return (f"dataset.params.label_column: {excerpt(label)} is not a column of {p}; "
                f"columns: {excerpt(', '.join(cols), 300)}")
    return None


def _mnist_t10k_problem(r: Path | None) -> str | None:
    if r is None:
        return "dataset.root: mnist_t10k has no default location; set dataset.root or --data-root to the MNIST test files"
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        if not any((d / f).is_file() for d in (r, r / "MNIST" / "raw") for f in (stem, stem + ".gz")):
            return f"dataset.root: {stem}[.gz] not found in {r} or {r / 'MNIST' / 'raw'}"
    return None


def _dataset_problem(name: str, params: dict, root: str | None) -> str | None:
    """What is missing on this machine for dataset ``name`` with ``params`` under ``root`` (None: nothing)."""
    if root is not None and "://" in root:
        return None
    r = Path(root) if root else None
    if name == "tabular":
        return _tabular_problem(params, r)
    if name == "mnist_t10k":
        return _mnist_t10k_problem(r)
    if name == "imagefolder":
        if r is None:
            return "dataset.root: imagefolder has no default location; set dataset.root or --data-root"
        d = r / str(params.get("subdir") or "")
        return None if d.is_dir() else f"dataset.root: no such folder {d}"
    if r is not None and not r.exists() and params.get("download", True) is False:
        return f"dataset.root: no such folder {r} (and download is false)"
    return None


def data_problems(spec) -> list[str]:
    """What is missing on this machine for the datasets the sweep can use (empty: nothing).

    Every dataset name the sweep can run is checked, with the base ``dataset.params`` and
    each value a ``space`` entry ``dataset.<field>`` can give (fixed values, categorical choices)."""
    import itertools

    ds = spec.base["dataset"]
    names_ = [ds["name"]]
    options: dict[str, list] = {}
    for p in spec.space:
        if p.path == "dataset.name":
            names_ += list(p.choices) if p.type == "categorical" else [p.value]
        elif p.path.startswith("dataset.") and p.type in ("fixed", "categorical"):
            options[p.path.split(".", 1)[1]] = list(p.choices) if p.type == "categorical" else [p.value]
    out: list[str] = []
    for n in dict.fromkeys(names_):
        fixed = dict(ds["params"]) if n == ds["name"] else {}
        keys = list(options)
        for combo in itertools.islice(itertools.product(*(options[k] for k in keys)), 64):
            msg = _dataset_problem(n, {**fixed, **dict(zip(keys, combo))}, ds.get("root"))
            if msg:
                line = f"{msg} (dataset {n!r})" if len(names_) > 1 else msg
                if line not in out:
                    out.append(line)
    return out


def check_data(spec) -> None:
    problems = data_problems(spec)
    if problems:
        raise PreflightError("the sweep's data is not usable on this machine (nothing was created):\n"
                             + "\n".join(f"  - {p}" for p in problems))
