"""Small helpers shared by the starter graders: bounded text, JSON paths, pairing of steps."""

from __future__ import annotations

import re
from typing import Any

from gait.canon import dumps_compact

MAX_TEXT = 80
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]")


def short(value: Any, width: int = MAX_TEXT) -> str:
    """A bounded one-line rendering: failure reports never print a whole payload."""
    text = "(none)" if value is None else dumps_compact(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def first_mismatch(expected: list[Any], actual: list[Any]) -> int:
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return index
    return min(len(expected), len(actual))


class PathError(ValueError):
    pass


def parse_path(path: str) -> list[str | int]:
    """``$.a.b[0]["odd key"]`` (the ``$`` is optional) into its segments."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith(("[", ".")):
        text = "." + text
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if not match:
            raise PathError(f"bad JSON path {path!r} at {text[position:]!r}")
        name, index, quoted = match.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", quoted))
        position = match.end()
    return parts


_MISSING = object()


def lookup(doc: Any, parts: list[str | int]) -> Any:
    """The value at a parsed path, or ``MISSING``."""
    current = doc
    for part in parts:
        if isinstance(part, int) and isinstance(current, list) and part < len(current):
            current = current[part]
        elif isinstance(part, str) and isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


MISSING = _MISSING


def occurrences(intents: list[dict[str, Any]], tool: str) -> list[dict[str, Any]]:
    return [i for i in intents if str(i.get("tool_name", "")).strip() == tool]
