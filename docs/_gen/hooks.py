"""MkDocs hooks: the generated parts of the site.

- The repository root goes first on ``sys.path``, so the CLI and parameter reference document the
  checkout being built (not another installed copy).
- ``<!-- sweeper-show: SECTION -->`` in a page is replaced by the parameter tables of ``sweeper show
  SECTION`` (``regularizer``, ``model``, ``dataset``, ``train``; see ``params_ref.py``).
- The committed report figures ``results/<sweep>/report/figures/*.png`` are served at
  ``results/figures/<sweep>/<file>`` (the results pages link there; no copy is committed under docs/).
- Every spec under ``docs/`` (a tutorial's YAML) must pass ``sweeper validate --no-data-check``.
- The committed results and benchmark pages must equal what their generators write from the
  committed data; a stale page is a warning, which fails ``mkdocs build --strict`` (fix: ``bash
  results/regenerate.sh``).
"""
from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

GEN = Path(__file__).resolve().parent
REPO = GEN.parents[1]
for p in (str(GEN), str(REPO)):
    if p not in sys.path:
        sys.path.insert(0, p)

import bench_pages  # noqa: E402
import params_ref  # noqa: E402
import results_pages  # noqa: E402

log = logging.getLogger("mkdocs.plugins.sweeper")
PLACEHOLDER = re.compile(r"<!-- sweeper-show: (\w+) -->")


def on_pre_build(config: MkDocsConfig) -> None:
    """Warn (strict: fail) when a committed generated page differs from what its generator writes."""
    for gen in (results_pages, bench_pages):
        for path, text in gen.render_all().items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                log.warning("%s is not what %s writes from the committed data: run `bash results/regenerate.sh`",
                            path.relative_to(REPO), gen.__name__)
    _validate_doc_specs()


def _validate_doc_specs() -> None:
    from click.testing import CliRunner

    from sweeper.cli import main

    for spec in sorted((REPO / "docs").rglob("*.yaml")):
        res = CliRunner().invoke(main, ["validate", "--no-data-check", str(spec)])
        if res.exit_code != 0:
            log.warning("%s does not validate: %s", spec.relative_to(REPO), res.output.strip())


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Serve every committed report figure at results/figures/<sweep>/<file>."""
    for png in sorted(REPO.glob("results/*/report/figures/*.png")):
        sweep = png.parents[2].name
        files.append(File.generated(config, f"results/figures/{sweep}/{png.name}", abs_src_path=str(png)))
    return files


def _section(match: re.Match) -> str:
    section = match.group(1)
    if section == "train":
        return params_ref.train_markdown()
    if section not in params_ref.SECTIONS:
        raise params_ref.ShowFormatError(f"unknown sweeper-show section {section!r}")
    return params_ref.section_markdown(section)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace each sweeper-show placeholder by the tables the command prints."""
    return PLACEHOLDER.sub(_section, markdown)
