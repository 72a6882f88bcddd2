"""Commands that run a sweep's trials on Ray: ``launch``, ``resume``, ``confirm``.

Each runs the checks that need neither Ray nor torch first (bad input: exit 2 before Ray starts),
then imports the driver (Ray, Tune, MLflow: seconds), and ends by printing the outcome
(:mod:`sweeper.cli.outcome`).
"""
from __future__ import annotations

import click

from sweeper.cli import outcome
from sweeper.cli.bad_input import fail, load_spec


@click.command()
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
    s = load_spec(spec_file)
    if data_root:
        from sweeper import spec as spec_mod

        s = spec_mod.with_data_root(s, data_root)
    if optuna_storage:
        _check_storage_url(optuna_storage)
    from sweeper.driver import preflight
    from sweeper.store.sweepdir import SweepError

    try:  # the checks that need neither Ray nor torch, before the (slow) import of the launcher
        preflight.before_ray(s, name=name, out=out, num_cpus=num_cpus, cpus_per_trial=cpus_per_trial,
                             gpus_per_trial=gpus_per_trial, address=address, overwrite=overwrite, storage=storage)
    except (preflight.SweepExists, preflight.PreflightError, SweepError) as e:
        fail(str(e))
    from sweeper.driver import launch as launch_mod

    with outcome.driver_run():
        res = launch_mod.launch(
            s, address=address, num_cpus=num_cpus, out=out, storage=storage, cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial, name=name, overwrite=overwrite, verbose=0 if quiet else 1,
            optuna_storage=optuna_storage,
        )
    outcome.print_result(res)
    outcome.exit_unless_finished(res)


def _check_storage_url(url: str) -> None:
    from sqlalchemy.engine import make_url

    try:
        make_url(url)
    except Exception:  # noqa: BLE001 - sqlalchemy.exc.ArgumentError and friends
        fail(f"--optuna-storage {url!r} is not an SQLAlchemy URL; valid: e.g. sqlite:////abs/path/optuna.db, "
             "postgresql://USER@HOST/DB")


@click.command()
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
    again on a finished sweep changes nothing but the tables' timestamps. A confirm sweep ends with
    what `sweeper confirm` prints (the sign check on the fresh seeds)."""
    from sweeper.driver import preflight
    from sweeper.store import sweepdir

    try:  # before the (slow) import of the launcher, like launch
        preflight.before_resume(sweep, out, num_cpus=num_cpus, address=address, retry_errored=retry_errored,
                                restart_errored=restart_errored)
    except (preflight.PreflightError, sweepdir.SweepError) as e:
        fail(str(e))
    from sweeper.driver import launch as launch_mod

    with outcome.driver_run():
        res = launch_mod.resume(sweep, address=address, num_cpus=num_cpus, out=out, retry_errored=retry_errored,
                                restart_errored=restart_errored, verbose=0 if quiet else 1)
    outcome.print_result(res)
    confirms = sweepdir.read_meta(res.sweep_dir).get("confirms")
    if confirms:  # a confirm sweep: what `sweeper confirm` prints at its end
        _print_confirmation(res, confirms)
    outcome.exit_unless_finished(res)


@click.command()
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
    from sweeper.commands import confirm as confirm_mod

    if top is not None and per_method:
        fail("--top and --per-method exclude each other: --top K re-runs the K best configurations overall, "
             "--per-method each method's selected one")
    with outcome.driver_run(confirm_mod.ConfirmError):
        plan = confirm_mod.plan(sweep, top, confirm_mod.parse_seeds(seeds) if seeds else None, out=out, name=name,
                                epochs=epochs)
        res = confirm_mod.run(plan, address=address, num_cpus=num_cpus, out=out, verbose=0 if quiet else 1)
    outcome.print_result(res)
    _print_confirmation(res, plan.confirms)
    outcome.exit_unless_finished(res)


def _print_confirmation(res, confirms: dict) -> None:
    """A confirm sweep's own lines after the summary (``confirm``, and ``resume`` of a confirm sweep): its
    test error per configuration, whether the sign of each comparison of its source holds on the fresh seeds,
    and the note every report of a confirm sweep prints. ``confirms``: the link recorded in its sweep.json."""
    from sweeper import report as report_mod
    from sweeper.commands import confirm as confirm_mod
    from sweeper.report import data as report_data
    from sweeper.report import robustness

    metric, objective = "test_error", (confirms["metric"], confirms["mode"])
    click.echo(f"\n{metric} of the confirmed configurations (seeds {', '.join(map(str, confirms['seeds']))}):")
    click.echo(report_mod.format_table(report_mod.summarize(res.trials, metric), metric))
    try:
        source = report_data.load(confirms["source_dir"])
    except report_data.NoSweepData:
        click.echo(f"\nthe source sweep {confirms['source']} is no longer at {confirms['source_dir']}: "
                   "the sign of its comparisons was not checked")
    else:
        click.echo("\nDoes the sign of each comparison hold on the fresh seeds?\n"
                   + robustness.sign_table(source.trials, res.trials, metric, objective, confirms["source"]))
    click.echo("\n" + confirm_mod.report_note(res.sweep_dir))


