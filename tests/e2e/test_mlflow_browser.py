"""The sweep as a person sees it in the MLflow UI, checked in a real headless browser.

The session's real tiny sweep (``finished_sweep``, a copy of it: ``sweeper launch`` with real
local Ray and ``--num-cpus 2``, Optuna grid, MLflow SQLite; digits, a 16-unit MLP, softmax and
dropout x 2 seeds, 2 epochs), served by the real
``sweeper ui``, viewed in Debian's Chromium (``/usr/bin/chromium``, headless) driven by Playwright.
The assertions are on what the rendered page shows: the child runs' readable names in the
experiment's runs table (after clicking the parent row's expand button, as a user does), ``report/report.md``'s text and a report figure (an ``<img>`` that loaded:
``naturalWidth > 0``) in the parent run's artifact view, and a trial's own learning curve in its
child run's artifact view. The REST API is used only to find the ids to open and to wait for the
server. A screenshot of each page is written under ``tmp_path``.

Skipped, with the reason, only when Chromium or the ``playwright`` package is missing (CI installs
both: ``playwright`` in the ``dev`` extras, Chromium by ``.ci/run`` where apt works). Playwright's own
browser download is not used: it needs the internet.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.cli import cli, env, free_port
from tests.support.specs import TINY, copy_sweep

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 180_000  # per wait for something on the page: generous, the 2-core CI machine is often loaded
NAME = TINY["name"]
CHILD_NAMES = ["dropout seed=0", "dropout seed=1", "softmax seed=0", "softmax seed=1"]
REPORT_FIGURE = "report/figures/learning_curves_best_configuration_per_method.png"


def _api(base: str, endpoint: str, body: dict | None = None, **params) -> dict:
    url = f"{base}/ajax-api/2.0/mlflow/{endpoint}" + (f"?{urlencode(params)}" if params else "")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _stop(proc: subprocess.Popen) -> None:
    """``sweeper ui`` forwards SIGTERM to the MLflow server's process group and waits for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _shot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def _image_loads(page, path: str) -> None:
    """Wait until the artifact view's ``<img>`` of artifact ``path`` is shown and has decoded
    (``naturalWidth > 0``). MLflow's image view fetches the file and shows it from a ``blob:`` URL
    with ``alt`` set to the artifact path."""
    page.locator(f'img[alt$="{path}"]').first.wait_for(state="visible")
    page.wait_for_function(
        "path => Array.from(document.images).some(i => i.alt.endsWith(path) && i.complete && i.naturalWidth > 0)",
        arg=path, timeout=TIMEOUT_MS)


@pytest.mark.browser
@pytest.mark.cli  # `sweeper ui` and its MLflow server
@pytest.mark.timeout(1200)  # an MLflow server start, a browser: each minutes on a loaded machine
def test_report_and_figures_are_visible_in_the_mlflow_ui(finished_sweep, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                   "(pip install -e '.[dev]')")

    root = copy_sweep(finished_sweep.root, tmp_path / "c", NAME)
    report_md = (root / "sweeps" / NAME / "report" / "report.md").read_text()
    heading = next(line.lstrip("# ").strip() for line in report_md.splitlines() if line.startswith("#"))

    port = free_port()
    ui_env = env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    ui = subprocess.Popen(cli("ui", "--port", str(port)), cwd=root, env=ui_env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600  # the server's start (its imports) took 8.5 min on the loaded 2-core machine
        while True:
            assert ui.poll() is None, f"sweeper ui exited with {ui.returncode}"
            try:
                exp = _api(base, "experiments/get-by-name", experiment_name=NAME)["experiment"]
                break
            except OSError:
                assert time.time() < deadline, "the MLflow server did not answer"
                time.sleep(1)
        eid = exp["experiment_id"]
        runs = _api(base, "runs/search", {"experiment_ids": [eid], "max_results": 100})["runs"]
        tags = {x["info"]["run_id"]: {t["key"]: t["value"] for t in x["data"].get("tags", [])} for x in runs}
        parent = [rid for rid, t in tags.items() if "mlflow.parentRunId" not in t]
        children = {t["mlflow.runName"]: rid for rid, t in tags.items() if "mlflow.parentRunId" in t}
        assert len(parent) == 1 and sorted(children) == CHILD_NAMES
        parent_id = parent[0]

        check_in_browser(sync_api, base, eid, parent_id, tags[parent_id]["mlflow.runName"], children, heading, tmp_path)
    finally:
        _stop(ui)


def check_in_browser(sync_api, base: str, eid: str, parent_id: str, parent_name: str, children: dict[str, str],
                     heading: str, out: Path) -> None:
    """Open the UI's pages in headless Chromium and assert what they show; screenshots into ``out``.

    Each view is opened in a fresh tab: MLflow's artifact view reads the artifact path from the URL
    when it mounts, so changing only the ``#`` route in the same tab keeps the previous file shown.
    ``workflowType=machine_learning``: MLflow 3.17 otherwise opens an experiment without a
    ``mlflow.experimentKind`` tag on its GenAI overview (traces), not on the runs table."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(out / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": 1000})
        try:
            def open_page(route: str):
                page = browser.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"{base}/#/experiments/{eid}/{route}")
                return page

            # the experiment's runs table: the parent row expanded (child runs are nested, collapsed),
            # then each child run under its readable name, no run id shown
            page = open_page("runs?workflowType=machine_learning")
            name_cell = page.locator('div[role="gridcell"][col-id="attributes.`Run Name`"]')
            name_cell.filter(has_text=parent_name).locator("button").first.click()  # the expand (+) button
            for name in CHILD_NAMES:
                page.get_by_text(name, exact=True).first.wait_for(state="visible")
            shown = page.inner_text("body")
            assert not any(rid in shown for rid in children.values())
            _shot(page, out / "experiment_runs.png")

            # the parent run's artifacts: report.md rendered (its heading), then a report figure that loads
            page = open_page(f"runs/{parent_id}/artifacts/report/report.md")
            page.get_by_text(heading).first.wait_for(state="visible")
            page.get_by_text("report/report.md", exact=True).first.wait_for(state="visible")
            _shot(page, out / "parent_report_md.png")
            page = open_page(f"runs/{parent_id}/artifacts/{REPORT_FIGURE}")
            page.get_by_text(Path(REPORT_FIGURE).name, exact=True).first.wait_for(state="visible")  # in the tree
            _image_loads(page, REPORT_FIGURE)
            _shot(page, out / "parent_report_figure.png")

            # a trial's child run: figures/ listed in its artifact tree, its learning curve loads
            page = open_page(f"runs/{children['softmax seed=0']}/artifacts/figures/learning_curve.png")
            page.get_by_text("softmax seed=0", exact=True).first.wait_for(state="visible")  # the run's title
            page.get_by_text("learning_curve.png", exact=True).first.wait_for(state="visible")
            _image_loads(page, "figures/learning_curve.png")
            _shot(page, out / "child_learning_curve.png")
        finally:
            browser.close()
