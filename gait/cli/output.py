"""What a command hands back to the CLI, and how the CLI prints it.

Commands never print: they return an ``Outcome`` (or raise a ``GaitError``) and this module turns
it into one compact JSON document (``--json``) or a bounded human summary.
"""

from __future__ import annotations

import os
import sys

from gait.canon import dumps_compact, id24
from gait.errors import ExitCode, GaitError
from gait.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_SUMMARY_LINES = 12


class Outcome(Plain):
    """What a command hands back: the CLI alone decides how (and whether) to print it.

    Not a dataclass (gait.plain: the same equality and repr): every CLI process builds it."""

    __slots__ = _fields = ("payload", "exit_code", "lines", "warnings", "text")

    def __init__(
        self,
        payload: dict[str, Any],
        exit_code: int = ExitCode.OK,
        lines: list[str] | None = None,
        warnings: list[str] | None = None,
        text: str | None = None,
    ) -> None:
        self.payload = payload
        self.exit_code = exit_code
        self.lines: list[str] = [] if lines is None else lines
        self.warnings: list[str] = [] if warnings is None else warnings
        # Printed verbatim instead of ``lines`` (no line cap) when not --json: a document the
        # user asked for, such as ``gait policy fmt``'s formatted policy.
        self.text = text


def correlation_id(argv: list[str]) -> str:
    """id24 of the argv (``gait`` as argv[0], never a path), each trimmed, joined by U+001F."""
    return id24("\x1f".join(part.strip() for part in ["gait", *argv]))


def emit(outcome: Outcome, *, as_json: bool, argv: list[str]) -> int:
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if as_json:
        doc = dict(outcome.payload)
        doc["correlation_id"] = correlation_id(argv)
        print(dumps_compact(doc))
    elif outcome.text is not None:
        sys.stdout.write(outcome.text)
    else:
        lines = outcome.lines or [_default_line(outcome)]
        for line in lines[:MAX_SUMMARY_LINES]:
            print(line)
    return int(outcome.exit_code)


def _default_line(outcome: Outcome) -> str:
    ok = outcome.payload.get("ok")
    return "ok" if ok or ok is None else "failed"


def error_payload(error: GaitError) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ok": False,
        "error": error.message,
        "error_code": error.code,
        "error_category": error.category,
        "retryable": error.retryable,
    }
    if error.hint:
        doc["hint"] = error.hint
    for key, value in error.details.items():
        doc.setdefault(key, value)
    return doc


def emit_error(error: GaitError, *, as_json: bool, argv: list[str]) -> int:
    if as_json:
        doc = error_payload(error)
        doc["correlation_id"] = correlation_id(argv)
        print(dumps_compact(doc))
    else:
        print(f"gait: {error.code}: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"next: {error.hint}", file=sys.stderr)
    return int(error.exit_code)


def debug_enabled() -> bool:
    return os.environ.get("GAIT_DEBUG", "") not in ("", "0")
