"""Tools around the sweeps: ``bench`` (the benchmarks), ``ui`` (MLflow UI), ``dashboard`` (optuna-dashboard)."""
from __future__ import annotations

import json
import sys

import click

from sweeper.cli.bad_input import fail


@click.command()
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
            fail(str(e))
        try:
            rows.extend(mod.run(quick=quick, device=device) if n == "gpu" else mod.run(quick=quick))
        except bench_mod.Unavailable as e:
            if names:
                fail(str(e))
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


@click.command()
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
        fail(str(e))


@click.command()
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
        fail(str(e))


