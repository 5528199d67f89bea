"""Tool and verdict sequences of a run, read the way the reference reads them.

A result's verdict is its payload's ``verdict`` when that names one (a gate decision recorded
as a tool result), else its status: ``ok`` is ``allow``, anything unknown is ``error``.
"""

from __future__ import annotations

from typing import Any

from gait.runpack.model import Runpack

VERDICTS = ("allow", "block", "require_approval", "dry_run", "error")
_ALIASES = {
    "allow": "allow",
    "ok": "allow",
    "pass": "allow",
    "passed": "allow",
    "success": "allow",
    "block": "block",
    "blocked": "block",
    "deny": "block",
    "denied": "block",
    "require_approval": "require_approval",
    "approval_required": "require_approval",
    "needs_approval": "require_approval",
    "needsapproval": "require_approval",
    "dry_run": "dry_run",
    "dryrun": "dry_run",
    "simulate": "dry_run",
    "simulated": "dry_run",
    "error": "error",
    "failed": "error",
    "failure": "error",
}


def normalize_verdict(value: Any) -> str:
    """The canonical verdict for an alias, or "" when it names none."""
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(text, "")


def tool_sequence(runpack: Runpack) -> list[str]:
    return [
        str(intent.get("tool_name", "")).strip()
        for intent in runpack.intents
        if str(intent.get("tool_name", "")).strip()
    ]


def result_verdict(result: dict[str, Any]) -> str:
    payload = result.get("result")
    if isinstance(payload, dict) and "verdict" in payload:
        found = normalize_verdict(payload["verdict"])
        if found:
            return found
    return normalize_verdict(result.get("status", "")) or "error"


def verdict_sequence(runpack: Runpack) -> list[str]:
    return [result_verdict(result) for result in runpack.results]
