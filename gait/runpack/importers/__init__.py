"""Build runpacks from logs an agent already writes (``gait run record --from FORMAT``).

Each importer turns a log into a stream of ``Call`` and ``Output`` events; the driver feeds them
to the streaming ``Recorder``, so a log of any size is read once, line by line, in bounded
memory (JSON Lines is streamed; a single JSON document is read whole, up to a limit).

Imports are deterministic: times come from the log (calls without a time reuse the last one
seen, the first defaults to 1980-01-01), the environment says where the log came from rather
than where it was imported, so importing one log twice gives the same ``manifest_digest``.

Nothing is dropped without being counted. Whatever an importer reads but does not record
(handshakes, tool listings, plain messages, repeated turns) comes back as a ``Skip`` and is
counted by kind in the import report (``Recorder.import_report``, the CLI's ``import`` field, and
``env.import`` inside the runpack). Per-request logs repeat earlier turns: a call or result seen
again with the same content is counted as ``duplicate``; with different content the import is
refused. A call whose arguments are cut off or unreadable (``finish_reason=length``) is recorded
with its raw text and an ``error`` result, since that call is often the incident itself. Calls of
other kinds than plain functions (custom, hosted MCP, server tools) keep their kind in
``env.import.call_kinds``. A log that fails to import writes nothing.
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
    """A tool call the agent made (an intent); ``kind`` is the API's own kind of call."""

    call_id: str
    tool_name: str
    args: Any
    where: str
    ts: str | None = None
    kind: str = "function"
    error: str = ""  # set when the call's arguments could not be read (kept as raw text)


@dataclass
class Skip:
    """Something the log holds that is not a tool call or result, counted by kind."""

    kind: str
    where: str


@dataclass
class Output:
    """What a tool call returned (a result)."""

    call_id: str
    result: Any
    where: str
    status: str = "ok"
    ts: str | None = None


Event = Call | Output | Skip


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
    found: Iterator[Event] = module.events(Path(path))
    return found


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
    from gait.canon import canonical_bytes
    from gait.runpack.recorder import Recorder

    skipped: dict[str, int] = {}
    stream = events(fmt, path)
    first = None
    for event in stream:
        if isinstance(event, Skip):
            skipped[event.kind] = skipped.get(event.kind, 0) + 1
            continue
        first = event
        break
    if first is None:
        seen_kinds = ", ".join(f"{k} x{n}" for k, n in sorted(skipped.items()))
        raise InvalidInput(
            f"{path}: no tool calls found in this {fmt} log"
            + (f" (read and skipped: {seen_kinds})" if seen_kinds else ""),
            code=CODE,
            hint=f"is it really a {fmt} log? gait run record --explain lists the formats",
        )
    created = first.ts or timefmt.EPOCH_1980
    last = [created]

    def clock() -> str:
        return last[0]

    env: dict[str, Any] = {
        "os": "unknown",
        "arch": "unknown",
        "runtime": "python",
        "source_format": fmt,
        "gait_version": __version__,
    }
    recorder = Recorder(
        run_id or run_id_for(path),
        out=out,
        out_dir=out_dir,
        capture_mode=capture_mode,
        redact=redact,
        signing_key=signing_key,
        sign=sign,
        env=env,
        created_at=created,
        clock=clock,
    )
    calls: dict[str, tuple[bytes, str]] = {}  # call id -> (content, where first seen)
    outputs: dict[str, tuple[bytes, str]] = {}
    kinds: dict[str, str] = {}
    unreadable: dict[str, str] = {}  # call id -> why its arguments could not be read

    def skip(kind: str) -> None:
        skipped[kind] = skipped.get(kind, 0) + 1

    for event in _chain(first, stream):
        if isinstance(event, Skip):
            skip(event.kind)
            continue
        if event.ts:
            last[0] = event.ts
        if isinstance(event, Call):
            content = canonical_bytes([event.tool_name, event.kind, event.error, event.args])
            if event.call_id in calls:
                before, where = calls[event.call_id]
                if before != content:
                    raise fail(
                        event.where,
                        f"tool call id {event.call_id!r} appears twice with different content "
                        f"(first at {where}); a per-request log must repeat earlier turns as is",
                    )
                skip("duplicate call")
                continue
            calls[event.call_id] = (content, event.where)
            if event.kind != "function":
                kinds[event.call_id] = event.kind
            args = event.args
            if event.error:
                unreadable[event.call_id] = event.error
                args = {"unparsed_arguments": args}
            recorder.intent(event.tool_name, args, intent_id=event.call_id, ts=event.ts)
        else:
            if event.call_id not in calls:
                raise fail(event.where, f"result for call id {event.call_id!r} has no tool call")
            content = canonical_bytes([event.status, event.result])
            if event.call_id in outputs:
                before, where = outputs[event.call_id]
                if before != content:
                    raise fail(
                        event.where,
                        f"call id {event.call_id!r} has two different results (first at {where})",
                    )
                skip("duplicate result")
                continue
            outputs[event.call_id] = (content, event.where)
            recorder.result(event.call_id, event.result, status=event.status, ts=event.ts)
    for call_id, why in unreadable.items():
        if call_id not in outputs:
            recorder.result(
                call_id,
                {"error": why, "error_code": "E_TOOL_ARGS_UNREADABLE"},
                status="error",
            )
    report: dict[str, Any] = {
        "calls": len(calls),
        "results": len(outputs),
        "skipped": dict(sorted(skipped.items())),
        "skipped_total": sum(skipped.values()),
    }
    if kinds:
        report["call_kinds"] = dict(sorted(kinds.items()))
    if unreadable:
        report["unreadable_calls"] = sorted(unreadable)
    recorder.note_env("import", report)
    recorder.import_report = report
    recorder.close()
    return recorder


def _chain(first: Event, rest: Iterator[Event]) -> Iterator[Event]:
    yield first
    yield from rest
