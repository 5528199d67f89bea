"""Reading logs: JSON Lines streamed line by line, or one JSON document read whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import loads_strict
from gait.errors import InvalidInput

from . import CODE

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def documents(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, parsed value) per JSON line, or once for a whole JSON document.

    A file whose first non-blank line is a complete JSON value is JSON Lines; anything else
    must be one JSON document.
    """
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", code=CODE) from exc
    with handle:
        first = b""
        for line in handle:
            if line.strip():
                first = line
                break
        if not first:
            raise InvalidInput(f"{path} is empty", code=CODE)
        try:
            json.loads(first)
            jsonl = True
        except (ValueError, RecursionError):  # too deep is not JSONL either; reported below
            jsonl = False
        if not jsonl:
            size = path.stat().st_size
            if size > MAX_DOCUMENT_BYTES:
                raise InvalidInput(
                    f"{path} is one {size} byte JSON document; big logs must be JSON Lines",
                    code=CODE,
                )
            handle.seek(0)
            yield "document", loads_strict(handle.read(), what=str(path), code=CODE)
            return
        handle.seek(0)
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            yield f"line {number}", loads_strict(line, what=f"{path} line {number}", code=CODE)


def as_time(value: Any, where: str) -> str | None:
    """RFC 3339 text, Unix seconds (int or float) or Unix nanoseconds (digit string)."""
    if value in (None, "", 0, "0"):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str) and value.isdigit():
            nanos = int(value)
            moment = datetime.fromtimestamp(nanos // 1_000_000_000, UTC)
            return timefmt.format_utc(moment, nanos % 1_000_000_000)
        if isinstance(value, (int, float)):
            # round to the microsecond first, then split: 1.9999999 is 2 s, not "1 s + 1e9 ns"
            whole, micros = divmod(round(value * 1_000_000), 1_000_000)
            return timefmt.format_utc(datetime.fromtimestamp(whole, UTC), micros * 1000)
        if isinstance(value, str):
            return timefmt.canonical(value)
    except (ValueError, OverflowError, OSError, InvalidInput):
        pass
    raise InvalidInput(f"{where}: not a time: {value!r}", code=CODE)


def parse_json_text(text: Any, where: str) -> Any:
    """Tool arguments arrive as JSON text in most APIs; an object passes through."""
    if not isinstance(text, str):
        return text
    if not text.strip():
        return {}
    try:
        return loads_strict(text, what=where, code=CODE)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{where}: arguments are not valid JSON ({exc.message})", code=CODE
        ) from exc


def maybe_json(text: Any, where: str) -> Any:
    """Tool outputs are often JSON text: parsed strictly, and plain text kept as it is.

    Text that is JSON only to a lenient reader (NaN, Infinity, a duplicate key) is refused, as
    ``run record`` refuses such a value given directly: kept as text it would replay as
    something no JSON reader agrees on, and parsed it would have to lose a key or hold a NaN.
    """
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return loads_strict(text, what="tool output", code=CODE)
        except InvalidInput as exc:
            try:
                json.loads(text)
            except (ValueError, RecursionError):
                return text  # not JSON: text it is
            raise InvalidInput(
                f"{where}: {exc.message}",
                code=CODE,
                hint="fix the tool output at its source (finite numbers, unique keys); "
                "gait records no value it cannot write as canonical JSON",
            ) from exc
    return text
    return text
