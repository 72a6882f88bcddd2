"""A finished sweep's Optuna study as a person sees it in ``sweeper dashboard``, in a real headless browser.

A real tiny sweep (``sweeper launch``: real local Ray with ``--num-cpus 2``; random sampler over
``train.lr`` and ``train.batch_size``, 6 one-epoch trials of a 16-unit MLP on digits; the study in
the sweep's ``optuna.db``), served by the real ``sweeper dashboard`` (optuna-dashboard on
127.0.0.1), viewed in Debian's Chromium (``/usr/bin/chromium``, headless) driven by Playwright, as
``tests/test_mlflow_browser.py`` views the MLflow UI. The assertions are on the rendered pages: the
study list names the study; the study page shows the best trial, the history plot with one marker
per completed trial, and the hyperparameter-importance plot naming both searched parameters. The
REST API is used only to find the study's id and to wait for the server. Screenshots go under
``tmp_path``.

Skipped, with the reason, only when Chromium or the ``playwright`` package is missing.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 180_000  # per wait on the page: the 2-core CI machine is often loaded
NAME = "dash"
N = 6
PARAMS = ["train.lr", "train.batch_size"]
SPEC = {
    "name": NAME,
    "dataset": {"name": "digits"},
    "model": {"name": "mlp", "params": {"widths": [16]}},
    "regularizer": {"name": "softmax"},
    "train": {"epochs": 1},
    "space": {"train.lr": {"type": "float", "low": 1.0e-3, "high": 3.0e-1, "log": True},
              "train.batch_size": {"type": "categorical", "choices": [32, 128]}},
    "seeds": [0],
    "search": {"sampler": "random", "num_samples": N, "sampler_seed": 0},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}{path}", timeout=30) as r:
        return json.loads(r.read())


def _shot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def _env() -> dict[str, str]:
    repo = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
    return env


@pytest.mark.browser
@pytest.mark.ray
@pytest.mark.cli
@pytest.mark.timeout(1500)
def test_finished_sweep_study_is_visible_in_the_optuna_dashboard(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                   "(pip install -e '.[dev]')")

    (tmp_path / f"{NAME}.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    r = subprocess.run([sys.executable, "-m", "sweeper.cli", "launch", f"{NAME}.yaml", "--num-cpus", "2", "--quiet"],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "sweeper.cli", "dashboard", NAME, "--port", str(port)],
                            cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, f"sweeper dashboard exited with {proc.returncode}: {proc.stderr.read()[-3000:]}"
            try:
                studies = _get(base, "/api/studies")["study_summaries"]
                break
            except OSError:
                assert time.time() < deadline, "optuna-dashboard did not answer"
                time.sleep(1)
        assert [s["study_name"] for s in studies] == [NAME]
        sid = studies[0]["study_id"]
        trials = _get(base, f"/api/studies/{sid}")["trials"]
        complete = [t for t in trials if t["state"] == "Complete"]
        assert len(complete) == N, [t["state"] for t in trials]
        best = min(complete, key=lambda t: t["values"][0])
        check_in_browser(sync_api, base, sid, best["number"], tmp_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check_in_browser(sync_api, base: str, sid: int, best_number: int, out: Path) -> None:
    """Open the dashboard's pages in headless Chromium and assert what they render; screenshots into ``out``."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(out / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": 1200})
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base}/dashboard")
            page.get_by_text(f"{sid}. {NAME}", exact=True).first.wait_for(state="visible")  # the study list
            _shot(page, out / "study_list.png")

            page.goto(f"{base}/dashboard/studies/{sid}")
            page.get_by_text(f"Best Trial (number={best_number})").first.wait_for(state="visible")
            # the history plot (Plotly): its "Objective 0" trace has one marker per completed trial, drawn
            page.wait_for_function(
                "n => { const g = document.getElementById('plot-history');"
                " const d = g && g.data ? g.data.filter(t => t.name.startsWith('Objective 0')) : [];"
                " return d.length === 1 && d[0].x.length === n"
                "   && Array.from(g.querySelectorAll('g.trace.scatter')).some(t => t.querySelectorAll('path.point').length === n); }",
                arg=N, timeout=TIMEOUT_MS)
            page.get_by_text("Hyperparameter Importance", exact=True).first.wait_for(state="visible")
            page.wait_for_function(
                "names => { const g = document.getElementById('graph-hyperparameter-importances');"
                " const t = g ? Array.from(g.querySelectorAll('svg text')).map(e => e.textContent) : [];"
                " return names.every(n => t.includes(n)) && g.querySelectorAll('g.trace.bars path').length > 0; }",
                arg=PARAMS, timeout=TIMEOUT_MS)
            _shot(page, out / "study.png")
        finally:
            browser.close()
