"""Build runpacks from logs an agent already writes (``gait run record --from FORMAT``).

Each importer turns a log into a stream of ``Call`` and ``Output`` events; the driver feeds them
to the streaming ``Recorder``, so a log of any size is read once, line by line, in bounded
memory (JSON Lines is streamed; a single JSON document is read whole, up to a limit).

Imports are deterministic: times come from the log (calls without a time reuse the last one
seen, the first defaults to 1980-01-01), the environment says where the log came from rather
than where it was imported, so importing one log twice gives the same ``manifest_digest``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait import __version__, timefmt
from gait.errors import InvalidInput

FORMATS = ("openai", "anthropic", "mcp", "otel")
CODE = "E_RECORD_INPUT_INVALID"


@dataclass
class Call:
    """A tool call the agent made (an intent)."""

    call_id: str
    tool_name: str
    args: Any
    where: str
    ts: str | None = None


@dataclass
class Output:
    """What a tool call returned (a result)."""

    call_id: str
    result: Any
    where: str
    status: str = "ok"
    ts: str | None = None


Event = Call | Output


def fail(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}", code=CODE)


_ID_OK = re.compile(r"[^A-Za-z0-9_.:-]+")


def safe_id(text: str) -> str:
    return _ID_OK.sub("_", str(text))[:128] or "call"


def run_id_for(path: str | Path) -> str:
    """``run_<file stem>``: the same log gives the same run id wherever it is imported."""
    stem = Path(path).name.split(".")[0]
    return "run_" + (re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "import")


def events(fmt: str, path: str | Path) -> Iterator[Event]:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r} (use {', '.join(FORMATS)})", code="E_USAGE")
    module = importlib.import_module(f"gait.runpack.importers.{fmt}")
    return module.events(Path(path))


def import_log(
    fmt: str,
    path: str | Path,
    *,
    run_id: str | None = None,
    out: str | Path | None = None,
    out_dir: str | Path = "gait-out",
    capture_mode: str = "reference",
    redact: Iterable[str] | None = None,
    signing_key: Any = None,
    sign: bool = True,
) -> Any:
    """Write a runpack from a log; returns the Recorder (``.written``, ``.redaction_report``)."""
    from gait.runpack.recorder import Recorder

    stream = events(fmt, path)
    first = next(stream, None)
    if first is None:
        raise InvalidInput(
            f"{path}: no tool calls found in this {fmt} log",
            code=CODE,
            hint=f"is it really a {fmt} log? gait run record --explain lists the formats",
        )
    created = first.ts or timefmt.EPOCH_1980
    last = [created]

    def clock() -> str:
        return last[0]

    recorder = Recorder(
        run_id or run_id_for(path),
        out=out,
        out_dir=out_dir,
        capture_mode=capture_mode,
        redact=redact,
        signing_key=signing_key,
        sign=sign,
        env={
            "os": "unknown",
            "arch": "unknown",
            "runtime": "python",
            "source_format": fmt,
            "gait_version": __version__,
        },
        created_at=created,
        clock=clock,
    )
    seen: dict[str, str] = {}
    for event in _chain(first, stream):
        if event.ts:
            last[0] = event.ts
        if isinstance(event, Call):
            if event.call_id in seen:
                raise fail(event.where, f"tool call id {event.call_id!r} appears twice")
            seen[event.call_id] = event.tool_name
            recorder.intent(event.tool_name, event.args, intent_id=event.call_id, ts=event.ts)
        else:
            if event.call_id not in seen:
                raise fail(event.where, f"result for call id {event.call_id!r} has no tool call")
            recorder.result(event.call_id, event.result, status=event.status, ts=event.ts)
    recorder.close()
    return recorder


def _chain(first: Event, rest: Iterator[Event]) -> Iterator[Event]:
    yield first
    yield from rest
