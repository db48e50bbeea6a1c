"""Find the line of a bad field in a TOML source, for start-up errors a person can act on.

`tomllib` reports a line only for syntax errors; a well-formed file with a wrong value (`weight = "x"`)
parses fine and is rejected later, by `worker.config.models`, with a message naming the table and the field.
This module maps that message back to a line by scanning the source for the table header and the key,
so the error says "line 12" instead of leaving the reader to count `[[...targets]]` blocks.
"""

from __future__ import annotations

import re

_TARGET = re.compile(r"^\[\[models\.(?P<slug>.+?)\.targets\]\] #(?P<n>\d+)")
_MODEL = re.compile(r"^\[models\.(?P<slug>.+?)\]")
_FIELD = re.compile(r"field '(?P<name>[A-Za-z0-9_-]+)'|: (?P<bare>[A-Za-z0-9_-]+) must be")


def _header_name(line: str) -> str | None:
    """`[[ models."qwq-32b".targets ]]` -> `[[models.qwq-32b.targets]]`; None when not a header."""
    stripped = line.split("#", 1)[0].strip()
    if not stripped.startswith("["):
        return None
    return re.sub(r"\s+", "", stripped).replace('"', "").replace("'", "")


def _key_line(lines: list[str], start: int, key: str) -> int | None:
    """The 1-based line of `key = ...` in the table whose header is at index `start`."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for index in range(start + 1, len(lines)):
        if _header_name(lines[index]) is not None:
            break
        if pattern.match(lines[index]):
            return index + 1
    return None


def locate(source: str, message: str) -> int | None:
    """The line that `message` (from `worker.config.models`) is about, or None when it cannot be told."""
    lines = source.splitlines()
    field = _FIELD.search(message)
    key = (field.group("name") or field.group("bare")) if field else None
    target = _TARGET.match(message)
    model = _MODEL.match(message) if target is None else None
    if target is not None:
        wanted = f"[[models.{target.group('slug')}.targets]]"
        count = int(target.group("n"))
    elif model is not None:
        wanted, count = f"[models.{model.group('slug')}]", 1
    else:
        return None
    seen = 0
    for index, line in enumerate(lines):
        if _header_name(line) == wanted:
            seen += 1
            if seen == count:
                found = _key_line(lines, index, key) if key else None
                return found or index + 1
    return None
