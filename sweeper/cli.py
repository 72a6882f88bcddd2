"""``sweeper`` command line: thin click wrappers that parse, then call the library.

Bad input (a spec with problems, an unknown sweep, a sweep that already
exists) prints one clear message and exits with code 2, no traceback, and
changes nothing already stored.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sweeper import process_end

if TYPE_CHECKING:
    from sweeper.spec import SweepSpec

# Quick commands (--help, status, report) import neither Ray nor torch: heavy modules are
# imported inside the commands that need them.

EXIT_BAD_INPUT = 2


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _load_spec(path: str) -> SweepSpec:
    from sweeper import spec as spec_mod

    try:
        s = spec_mod.load(path)
    except spec_mod.SpecError as e:
        _fail(str(e))
    for w in s.warnings:
        click.echo(f"warning: {path}: {w}", err=True)
    return s


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Hyperparameter sweeps for classifier regularizers on Ray Tune + Optuna + MLflow."""


@main.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--no-data-check", is_flag=True,
              help="Do not look for the dataset files on this machine (e.g. they exist only on the cluster).")
def validate(spec_file: str, no_data_check: bool) -> None:
    """Check SPEC_FILE; print every problem at once (exit 2) or a summary of the sweep.

    Also checks that local data exists (a tabular file and its label column, MNIST files,
    an image folder) unless --no-data-check. Imports neither torch nor Ray."""
    s = _load_spec(spec_file)
    if not no_data_check:
        from sweeper.driver import preflight

        data = preflight.data_problems(s)
        if data:
            _fail(f"{spec_file}: the sweep's data is not usable on this machine (skip with --no-data-check):\n"
                  + "\n".join(f"  - {p}" for p in data))
    from sweeper.search.per_method import methods, trial_count  # no Ray import

    per = methods(s)
    n_trials = trial_count(s)
    objectives = ", ".join(f"{m} ({o})" for m, o in zip(s.search.metric, s.search.mode))
    click.echo(
        f"{spec_file}: ok — sweep {s.name!r}: {len(s.space)} space parameter(s), {len(s.seeds)} seed(s), "
        f"sampler {s.search.sampler}, {n_trials} trial(s), objective {objectives}"
        + (f", one study per method ({', '.join(per)}: {s.search.num_samples} configurations each)" if per else "")
    )


@main.command()
@click.argument("section", type=click.Choice(["regularizer", "model", "dataset", "train"]))
@click.argument("name", required=False)
def show(section: str, name: str | None) -> None:
    """Every parameter of a regularizer, model or dataset NAME (or of `train`): type, default, valid range, meaning.

    Without NAME: the registered names. Read from the Params dataclasses; imports neither torch nor Ray."""
    from sweeper.commands import show as show_mod
    from trainables.registry import UnknownName

    if section == "train" and name is not None:
        _fail(f"`sweeper show train` takes no NAME (got {name!r}): the train section is the same for every sweep")
    try:
        click.echo(show_mod.show(section, name), nl=False)
    except UnknownName as e:
        _fail(str(e))


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the schema to this file instead of printing it.")
def schema(output: str | None) -> None:
    """The sweep spec's JSON Schema (search_spaces/sweep.schema.json), for editor validation and completion.

    Put `# yaml-language-server: $schema=PATH/sweep.schema.json` as a sweep file's first line.
    Generated from the Params declarations; imports neither torch nor Ray."""
    from sweeper.commands import schema as schema_mod

    if output is None:
        click.echo(schema_mod.text(), nl=False)
        return
    try:
        Path(output).write_text(schema_mod.text(), encoding="utf-8")
    except OSError as e:
        _fail(f"--output {output}: cannot write the schema: {e.strerror or e}")


def _print_result(res) -> None:
    from sweeper import report

    click.echo(f"\nsweep folder: {res.sweep_dir}")
    counts = res.trials["status"].value_counts().to_dict()
    click.echo("trials: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    click.echo(f"best configurations by {res.metric} ({res.mode}), mean ± 95% CI over seeds:")
    click.echo(report.format_table(res.summary, res.metric, top=10))
    from sweeper.commands.ui import runs_url

    click.echo(f"\nMLflow: sweeper ui, then open {runs_url('http://127.0.0.1:5000', res.mlflow_experiment_id)}"
               f"  (parent run {res.mlflow_parent_run})")
    rep = res.sweep_dir / "report" / "report.md"
    _print_robustness(res.sweep_dir / "report" / "robustness.csv")
    click.echo(f"report: {rep}" if rep.exists() else f"report: sweeper report {res.sweep_dir.name}")


def _print_robustness(f) -> None:
    """The report's robustness lines (each method against the best, or the baseline): budget, fresh seeds,
    validation vs test."""
    import csv

    if not f.exists():
        return
    with open(f, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows:
        click.echo("\nrobustness of the verdicts (README: Robustness of a verdict):")
        for r in rows:
            click.echo(f"  {r['a']} vs {r['b']}: budget: {r['budget']}; fresh seeds: {r['fresh_seeds']}; "
                       f"validation vs test: {r['validation_vs_test']}".replace("`", ""))


@main.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--address", default=None,
              help="Ray cluster address (auto, or HOST:6379 on the head); default: a local Ray instance. Token auth: "
                   "RAY_AUTH_TOKEN(_PATH) or ~/.ray/auth_token.")
@click.option("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all cores).")
@click.option("--cpus-per-trial", type=float, default=None, help="Overrides resources.cpu of the spec.")
@click.option("--gpus-per-trial", type=float, default=None, help="Overrides resources.gpu (fractions share a GPU, e.g. 0.25).")
@click.option("--out", default="sweeps", show_default=True, help="Folder holding sweep folders (Parquet, spec, Tune state).")
@click.option("--storage", default=None,
              help="Ray Tune storage (local path or s3://bucket/prefix); default: inside the sweep folder.")
@click.option("--data-root", default=None, type=click.Path(file_okay=False),
              help="Overrides dataset.root of the spec (e.g. ../shared/data/mnist-t10k).")
@click.option("--name", default=None, help="Sweep id (default: the spec's name).")
@click.option("--overwrite", is_flag=True, help="Delete an existing sweep folder of the same id first.")
@click.option("--quiet", is_flag=True, help="No live progress table.")
@click.option("--optuna-storage", default=None,
              help="SQLAlchemy URL holding the Optuna studies (e.g. postgresql://HOST/DB); default: optuna.db in the "
                   "sweep folder.")
def launch(spec_file, address, num_cpus, cpus_per_trial, gpus_per_trial, out, storage, data_root, name, overwrite, quiet,
           optuna_storage) -> None:
    """Validate SPEC_FILE, then run the sweep (nothing starts on a bad spec)."""
    s = _load_spec(spec_file)
    if data_root:
        from sweeper import spec as spec_mod

        s = spec_mod.with_data_root(s, data_root)
    if optuna_storage:
        _check_storage_url(optuna_storage)
    from sweeper.driver import preflight
    from sweeper.store.sweepdir import SweepError

    try:  # the checks that need neither Ray nor torch, before the (slow) import of the launcher
        preflight.before_ray(s, name=name, out=out, num_cpus=num_cpus, cpus_per_trial=cpus_per_trial,
                             gpus_per_trial=gpus_per_trial, address=address, overwrite=overwrite)
    except (preflight.SweepExists, preflight.PreflightError, SweepError) as e:
        _fail(str(e))
    from sweeper.driver import launch as launch_mod
    from sweeper.driver.preflight import PreflightError

    try:
        res = launch_mod.launch(
            s, address=address, num_cpus=num_cpus, out=out, storage=storage, cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial, name=name, overwrite=overwrite, verbose=0 if quiet else 1,
            optuna_storage=optuna_storage,
        )
    except (launch_mod.SweepExists, PreflightError, SweepError) as e:  # exists, locked by a live driver, damaged
        _fail(str(e))
    except launch_mod.SweepInterrupted as e:
        _interrupted(e)
    except launch_mod.RayStartError as e:
        _ray_did_not_start(e)
    _print_result(res)
    _exit_unless_finished(res)


def _check_storage_url(url: str) -> None:
    from sqlalchemy.engine import make_url

    try:
        make_url(url)
    except Exception:  # noqa: BLE001 - sqlalchemy.exc.ArgumentError and friends
        _fail(f"--optuna-storage {url!r} is not an SQLAlchemy URL; valid: e.g. sqlite:////abs/path/optuna.db, "
              "postgresql://USER@HOST/DB")


def _exit_unless_finished(res) -> None:
    """Exit 1 when no trial of the sweep finished (every one failed, diverged or never ran)."""
    if "status" not in res.trials or not (res.trials["status"] == "finished").any():
        click.echo(f"error: no trial of {res.sweep_dir.name} finished; see `sweeper status {res.sweep_dir.name}`", err=True)
        sys.exit(1)


def _ray_did_not_start(e) -> None:
    """Ray's local start timed out, twice (sweeper.driver.local_ray): one message, exit 1."""
    click.echo(f"error: {e}", err=True)
    sys.exit(1)


def _interrupted(e) -> None:
    click.echo(f"\n{e}", err=True)
    sys.exit(e.exit_code)


@main.command()
@click.argument("sweep")
@click.option("--address", default=None, help="Ray cluster address; default: a local Ray instance.")
@click.option("--num-cpus", type=int, default=None)
@click.option("--out", default="sweeps", show_default=True)
@click.option("--retry-errored", is_flag=True, help="Also rerun trials that ended in error (from their last checkpoint).")
@click.option("--restart-errored", is_flag=True,
              help="Also rerun trials that ended in error, from scratch (e.g. every checkpoint of theirs is damaged).")
@click.option("--quiet", is_flag=True)
def resume(sweep, address, num_cpus, out, retry_errored, restart_errored, quiet) -> None:
    """Continue SWEEP (an id under --out, or a folder) after its driver stopped.

    Finished trials are kept, unfinished ones continue from their last checkpoint; running it
    again on a finished sweep changes nothing but the tables' timestamps."""
    from sweeper.driver import preflight
    from sweeper.store import sweepdir

    try:  # before the (slow) import of the launcher, like launch
        preflight.check_flags(num_cpus, 1.0, 0.0, local=False)
        preflight.check_address(address)
        preflight.check_sweep_writable(sweepdir.sweep_path(sweep, out))
    except (preflight.PreflightError, sweepdir.SweepError) as e:
        _fail(str(e))
    from sweeper.driver import launch as launch_mod
    from sweeper.driver.preflight import PreflightError
    from sweeper.store.sweepdir import SweepError

    try:
        res = launch_mod.resume(sweep, address=address, num_cpus=num_cpus, out=out, retry_errored=retry_errored,
                                restart_errored=restart_errored,
                                verbose=0 if quiet else 1)
    except (launch_mod.NoSuchSweep, PreflightError, SweepError) as e:  # no such sweep, locked, damaged, spec edited
        _fail(str(e))
    except launch_mod.SweepInterrupted as e:
        _interrupted(e)
    except launch_mod.RayStartError as e:
        _ray_did_not_start(e)
    _print_result(res)
    _exit_unless_finished(res)


def _rebuild_missing_tables(sweeps, sweeps_dir: str) -> None:
    """A sweep folder (sweep.json, trial folders) whose trials.parquet was deleted gets its tables
    rebuilt from the trial folders first, as ``status`` and ``resume`` do (else: "no sweep")."""
    from sweeper import spec as spec_mod
    from sweeper.store import sweepdir, tables

    for s in sweeps:
        try:
            d = sweepdir.sweep_path(s, sweeps_dir)
        except sweepdir.NoSuchSweep:
            continue  # a results folder, or no sweep at all: the report says which
        if not (d / "trials.parquet").exists():
            tables.write_tables(d, spec_mod.from_dict(sweepdir.read_spec(d), source=str(d / sweepdir.SPEC)))


@main.command()
@click.argument("sweep")
@click.option("--out", default="sweeps", show_default=True)
def status(sweep, out) -> None:
    """Trials finished, running, failed, and the best so far (reads files only; starts no Ray)."""
    from sweeper.commands import status as status_mod
    from sweeper.store.sweepdir import SweepError

    try:
        click.echo(status_mod.status_text(sweep, out))
    except (FileNotFoundError, SweepError) as e:
        _fail(str(e))


@main.command()
@click.argument("sweeps", nargs=-1, required=True)
@click.option("--out", "sweeps_dir", default="sweeps", show_default=True,
              help="Folder holding sweep folders, as for launch/status (SWEEP may also be a path, e.g. results/NAME).")
@click.option("--report-dir", "out", default=None,
              help="Report folder (default: SWEEP/report; several sweeps: OUT/across_A_B...).")
@click.option("--metric", "metrics", multiple=True,
              help="Adds a metric column (repeatable), e.g. sal_params; the first one is the compared metric (default "
                   "test_error).")
@click.option("--baseline", default=None,
              help="A config_id or a method (regularizer) name: paired comparisons against it (a method: its best "
                   "configuration by the sweep's objective).")
@click.option("--all-pairs", is_flag=True, help="Paired comparisons of every pair of methods (no baseline).")
@click.option("--paper", "paper_file", default=None, type=click.Path(dir_okay=False),
              help="A spec file whose paper: block gives the targets (default: the sweep's own spec).")
@click.option("--no-mlflow", is_flag=True, help="Do not log the report to the sweep's MLflow parent run.")
def report(sweeps, sweeps_dir, out, metrics, baseline, all_pairs, paper_file, no_mlflow) -> None:
    """Write the report of SWEEP (or compare several): report.md, CSV tables, figures; print the main table."""
    from sweeper.report import data as report_data
    from sweeper.report import run as report_run
    from sweeper.store import sweepdir

    try:
        _rebuild_missing_tables(sweeps, sweeps_dir)
        w = report_run.make_report(list(sweeps), sweeps_dir=sweeps_dir, out=out, metrics=tuple(metrics), baseline=baseline,
                                   all_pairs=all_pairs, paper_file=paper_file, log_mlflow=not no_mlflow)
    except (report_data.NoSweepData, report_run.ReportInputError, sweepdir.SweepError) as e:
        _fail(str(e))
    click.echo(w.main)
    click.echo(f"\nreport: {w.report_md}" + (f" (logged to MLflow run(s) {', '.join(w.mlflow_runs)})" if w.mlflow_runs else ""))
    from sweeper.commands.confirm import report_note

    for sw in sweeps:
        if note := report_note(report_data.find(sw, sweeps_dir)):
            click.echo("\n" + note)


@main.command()
@click.argument("trial")
@click.option("--out", default="sweeps", show_default=True, help="Folder holding the sweep folders searched for TRIAL.")
@click.option("--sweep", default=None, help="Only look in this sweep (an id under --out, or a folder).")
@click.option("--atol", type=float, default=None, help="Absolute tolerance when the runs are not both on CPU (default 0.01).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance when the runs are not both on CPU (default 0.01).")
def reproduce(trial, out, sweep, atol, rtol) -> None:
    """Re-run TRIAL (a trial id or MLflow run id) here, without Ray, and compare its final metrics.

    Exact on CPU; exit 0 when it reproduces, 1 when it does not (with what differs: data
    fingerprint, code version, packages, hardware), 2 on bad input."""
    from sweeper.commands import reproduce as reproduce_mod
    from trainables.data import DatasetNotFound

    try:
        outcome = reproduce_mod.reproduce(trial, out=out, sweep=sweep, atol=atol, rtol=rtol)
    except (reproduce_mod.ReproduceError, DatasetNotFound) as e:
        _fail(str(e))
    click.echo(outcome.text())
    sys.exit(0 if outcome.reproduced else 1)


@main.command()
@click.argument("sweep")
@click.option("--top", type=int, default=None,
              help="Re-run the TOP best configurations (default: each method's selected one, as --per-method).")
@click.option("--per-method", is_flag=True, help="Re-run each method's selected configuration (the default without --top).")
@click.option("--seeds", default=None,
              help="Fresh seeds, comma-separated (e.g. 5,6,7); none may be a search seed. Default: as many as the search "
                   "ran, after its largest.")
@click.option("--epochs", default=None,
              help="Budget of the re-runs: 2x (each configuration's epochs times 2) or a number of epochs. Default: the "
                   "search's.")
@click.option("--name", default=None, help="Id of the confirm sweep (default: SWEEP_confirm).")
@click.option("--out", default="sweeps", show_default=True)
@click.option("--address", default=None, help="Ray cluster address; default: a local Ray instance.")
@click.option("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all cores).")
@click.option("--quiet", is_flag=True, help="No live progress table.")
def confirm(sweep, top, per_method, seeds, epochs, name, out, address, num_cpus, quiet) -> None:
    """Re-run SWEEP's selected configurations (by its validation objective) on fresh seeds, optionally at another budget.

    A new sweep linked to SWEEP (MLflow tag sweeper.confirms, Parquet metadata), run as a grid
    over exactly those configurations x the new seeds; seeds of the search are refused (exit 2).
    Prints, for each pair of methods, whether the sign of their difference holds."""
    from sweeper import report as report_mod
    from sweeper.commands import confirm as confirm_mod
    from sweeper.driver import launch as launch_mod
    from sweeper.driver.preflight import PreflightError
    from sweeper.report import data as report_data
    from sweeper.report import robustness

    if top is not None and per_method:
        _fail("--top and --per-method exclude each other: --top K re-runs the K best configurations overall, "
              "--per-method each method's selected one")
    try:
        plan = confirm_mod.plan(sweep, top, confirm_mod.parse_seeds(seeds) if seeds else None, out=out, name=name,
                                epochs=epochs)
        res = confirm_mod.run(plan, address=address, num_cpus=num_cpus, out=out, verbose=0 if quiet else 1)
    except (confirm_mod.ConfirmError, launch_mod.SweepExists, PreflightError) as e:
        _fail(str(e))
    except launch_mod.RayStartError as e:
        _ray_did_not_start(e)
    _print_result(res)
    metric, objective = "test_error", (plan.confirms["metric"], plan.confirms["mode"])
    click.echo(f"\n{metric} of the confirmed configurations (seeds {', '.join(map(str, plan.confirms['seeds']))}):")
    click.echo(report_mod.format_table(report_mod.summarize(res.trials, metric), metric))
    source = report_data.load(plan.confirms["source_dir"])
    click.echo("\nDoes the sign of each comparison hold on the fresh seeds?\n"
               + robustness.sign_table(source.trials, res.trials, metric, objective, plan.source))
    click.echo("\n" + confirm_mod.report_note(res.sweep_dir))
    _exit_unless_finished(res)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Fewer repeats (a smoke run).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--device", default=None, help="Device for the gpu benchmark (default cuda; `cpu` smoke-tests its timing code).")
def bench(names, quick, as_json, device) -> None:
    """Benchmarks: step-time ratios against a baseline measured in the same run."""
    import benchmarks as bench_mod
    from trainables.registry import UnknownName

    rows = []
    for n in names or list(bench_mod.BENCHMARKS):
        try:
            mod = bench_mod.get(n)
        except UnknownName as e:
            _fail(str(e))
        try:
            rows.extend(mod.run(quick=quick, device=device) if n == "gpu" else mod.run(quick=quick))
        except bench_mod.Unavailable as e:
            if names:
                _fail(str(e))
            click.echo(f"skipped {e}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    std = ("name", "baseline", "ms", "baseline_ms", "ratio", "target")
    click.echo("| benchmark | baseline | ms | baseline ms | ratio | target | details |")
    click.echo("|---|---|---|---|---|---|---|")
    for r in rows:
        extra = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items() if k not in std)
        click.echo(f"| {r['name']} | {r['baseline']} | {r['ms']:.2f} | {r['baseline_ms']:.2f} | {r['ratio']:.3f} | "
                   f"{r.get('target') or '-'} | {extra} |")


@main.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def ui(port) -> None:
    """Open the MLflow UI on the tracking store (bound to 127.0.0.1); Ctrl-C or SIGTERM stops it."""
    from sweeper.commands import ui as ui_mod
    from sweeper.store.mlflow_uri import tracking_uri

    uri = tracking_uri()
    try:
        ui_mod.command(port, uri)  # mlflow on PATH?
        ui_mod.check_port(port)
        for line in ui_mod.runs_links(port, uri):
            click.echo(line)
        sys.exit(ui_mod.serve(port, uri))
    except ui_mod.UIError as e:
        _fail(str(e))


@main.command()
@click.argument("sweep")
@click.option("--out", default="sweeps", show_default=True, help="Folder holding sweep folders (SWEEP may also be a path).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def dashboard(sweep, out, port) -> None:
    """Open optuna-dashboard on SWEEP's Optuna studies (bound to 127.0.0.1); Ctrl-C or SIGTERM stops it."""
    from sweeper.commands import dashboard as dash
    from sweeper.store.sweepdir import SweepError, sweep_path

    try:
        sys.exit(dash.serve(sweep_path(sweep, out), port))
    except (dash.UIError, SweepError) as e:
        _fail(str(e))


def entry() -> None:
    """The ``sweeper`` program: :func:`main`, the process ended as soon as its exit handlers have run
    (``sweeper/process_end.py``)."""
    process_end.run(main)


if __name__ == "__main__":
    entry()
