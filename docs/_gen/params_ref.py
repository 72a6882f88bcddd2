"""The parameter reference as Markdown, from the text ``sweeper show`` prints.

It runs the command itself (``sweeper.cli:main`` through click's in-process runner), so the page
documents exactly what ``sweeper show`` reads from the ``Params`` declarations:

- ``sweeper show SECTION`` lists the registered names: ``  NAME  N parameters  SUMMARY``;
- ``sweeper show SECTION NAME`` (and ``sweeper show train``) prints one block per parameter::

      section.field: TYPE = DEFAULT    valid: VALID
          meaning, wrapped over indented lines

A line that fits neither shape raises ``ShowFormatError``, so a change of the command's output
fails the (strict) docs build instead of producing a wrong page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SECTIONS = ("regularizer", "model", "dataset")
PARAM = re.compile(r"^  (?P<path>[\w.]+): (?P<type>.+?) = (?P<default>.*?)    valid: (?P<valid>.*)$")
LISTED = re.compile(r"^  (?P<name>\w+)\s+(?P<count>\d+) parameters?\s+(?P<summary>.*)$")


class ShowFormatError(RuntimeError):
    """``sweeper show`` printed a line this parser does not know."""


@dataclass
class Param:
    path: str
    type: str
    default: str
    valid: str
    meaning: str = ""


def run_show(*args: str) -> str:
    """The output of ``sweeper show ARGS``; raises when the command fails."""
    from click.testing import CliRunner

    from sweeper.cli import main

    res = CliRunner().invoke(main, ["show", *args])
    if res.exit_code != 0:
        raise ShowFormatError(f"sweeper show {' '.join(args)} exited {res.exit_code}: {res.output}")
    return res.output


def listed(section: str) -> list[tuple[str, str]]:
    """(name, summary) of every entry ``sweeper show SECTION`` lists."""
    out = []
    for line in run_show(section).splitlines()[1:]:
        m = LISTED.match(line)
        if not m:
            raise ShowFormatError(f"sweeper show {section}: unexpected line {line!r}")
        out.append((m["name"], m["summary"]))
    return out


def params(*args: str) -> list[Param]:
    """The parameter blocks of ``sweeper show ARGS``, in order."""
    text = run_show(*args)
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    out: list[Param] = []
    for line in body.splitlines():
        m = PARAM.match(line)
        if m:
            out.append(Param(m["path"], m["type"], m["default"], m["valid"]))
        elif line.startswith("      ") and out:
            out[-1].meaning = (out[-1].meaning + " " + line.strip()).strip()
        elif line.strip() == "(no parameters)":
            return []
        elif line.strip():
            raise ShowFormatError(f"sweeper show {' '.join(args)}: unexpected line {line!r}")
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "–"


def table(ps: list[Param]) -> list[str]:
    """A Markdown table of parameters (or a line saying there are none)."""
    if not ps:
        return ["No parameters.", ""]
    rows = ["| parameter | type | default | valid | meaning |", "|---|---|---|---|---|"]
    rows += [f"| `{p.path}` | `{_cell(p.type)}` | `{_cell(p.default)}` | {_cell(p.valid)} | {_cell(p.meaning)} |"
             for p in ps]
    return rows + [""]


def section_markdown(section: str) -> str:
    """Every entry of SECTION: a heading, its one-line summary and its parameter table."""
    lines: list[str] = []
    for name, summary in listed(section):
        lines += [f"### `{name}`", "", summary, "", *table(params(section, name))]
    return "\n".join(lines)


def train_markdown() -> str:
    """The ``train:`` section's parameter table."""
    return "\n".join(table(params("train")))
