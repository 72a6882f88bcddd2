"""Read a sweep YAML with guards: size, encoding, depth, aliases, duplicate keys.

``read(path) -> data`` or ``YamlRefused(problems)``. Built on ``yaml.SafeLoader``
(no arbitrary objects) with these limits, each refused with its line number:

- size: at most ``MAX_BYTES`` (1 MiB; a sweep spec is a few KiB), checked before reading;
- encoding: UTF-8 text without NUL bytes (a binary or Latin-1 file is refused, not decoded);
- anchors and aliases (``&x`` / ``*x``) are refused: they are the vehicle of "billion
  laughs" expansion bombs and a spec never needs them (write the value again);
- nesting deeper than ``MAX_DEPTH`` (20) levels is refused while composing, before
  Python's recursion limit is reached;
- a key given twice in one mapping is an error (PyYAML silently keeps the last one).

``excerpt(value)`` is the bounded ``repr`` every error message uses for user values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode

MAX_BYTES = 1 << 20
MAX_DEPTH = 20
EXCERPT = 60


class YamlRefused(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length), safe for huge or odd values."""
    if isinstance(value, (list, tuple, dict, set)) and len(value) > limit:
        return f"<{type(value).__name__} of {len(value)} items>"
    r = repr(value)
    return r if len(r) <= limit else f"{r[:limit]}... ({len(r)} characters)"


class _GuardedLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self.duplicates: list[str] = []

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            ev = self.peek_event()
            raise YamlRefused([f"(yaml) line {ev.start_mark.line + 1}: aliases (*{ev.anchor}) are not allowed in a sweep spec; "
                               "write the value out"])
        ev = self.peek_event()
        if getattr(ev, "anchor", None):
            raise YamlRefused([f"(yaml) line {ev.start_mark.line + 1}: anchors (&{ev.anchor}) are not allowed in a sweep spec; "
                               "write the value out"])
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlRefused([f"(yaml) line {ev.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep"])
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (ConstructorError, TypeError):
                    continue  # PyYAML reports unhashable keys itself
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append(
                        f"(yaml) line {line}: duplicate key {excerpt(key)} (first given at line {seen[key]}); "
                        "give each key once"
                    )
                else:
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)


def loads(text: str) -> Any:
    loader = _GuardedLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if loader.duplicates:
        raise YamlRefused(loader.duplicates)
    return data


def read(path: Path) -> Any:
    """The YAML document in ``path``, or ``YamlRefused`` (also for YAML syntax errors)."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlRefused([f"(file): {size:,} bytes is too large for a sweep spec (at most {MAX_BYTES:,})"])
    raw = path.read_bytes()
    if b"\0" in raw:
        at = raw.index(b"\0")
        raise YamlRefused([f"(file): contains NUL bytes (first at offset {at}); a sweep spec is a UTF-8 text file"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise YamlRefused([f"(file): not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                           "save the spec as UTF-8"]) from None
    try:
        return loads(text)
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise YamlRefused([f"(yaml): not valid YAML: {msg[:300]}"]) from None
    except RecursionError:
        raise YamlRefused([f"(yaml): nested too deeply (at most {MAX_DEPTH} levels)"]) from None
