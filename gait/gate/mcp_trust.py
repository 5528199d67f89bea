"""The policy's ``mcp_trust`` block (issue 15, item 6): which MCP servers are trusted.

Parsed and digested with the policy; evaluated against a server's entry in the trust snapshot
by ``evaluate_server_trust`` (used by ``gait mcp``). Any configured key turns the block on;
``snapshot`` is then required, ``action`` defaults to ``block`` and ``required_risk_classes``
to ``[critical, high]``; ``max_age`` is a Go duration (``24h``, ``90m``), hashed in Go's form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ACTIONS = frozenset({"block", "require_approval"})
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000}
_UNITS.update({"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000})
_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True)
class MCPTrustPolicy:
    snapshot: str
    action: str
    required_risk_classes: tuple[str, ...]
    min_score: float
    max_age: str
    max_age_seconds: int
    publisher_allowlist: tuple[str, ...]
    require_registry: bool


def compile_mcp_trust(
    raw: dict[str, Any] | None,
) -> tuple[MCPTrustPolicy | None, dict[str, Any] | None]:
    """(policy or None, the ``MCPTrust`` digest payload or None)."""
    from gait.gate.policy_keys import err, norm

    raw = raw or {}
    snapshot = (raw.get("snapshot") or "").strip()
    action = (raw.get("action") or "").strip().lower()
    risk = norm(raw.get("required_risk_classes"), lower=True)
    publishers = norm(raw.get("publisher_allowlist"), lower=True)
    max_age = (raw.get("max_age") or "").strip()
    min_score = raw.get("min_score") or 0
    registry = bool(raw.get("require_registry"))
    configured = (
        raw.get("enabled")
        or snapshot
        or action
        or risk
        or min_score > 0
        or max_age
        or publishers
        or registry
    )
    if not configured:
        return None, None
    if not snapshot:
        raise err("mcp_trust.snapshot is required when mcp_trust is configured")
    action = action or "block"
    if action not in ACTIONS:
        raise err(f"unsupported mcp_trust.action {action!r}")
    risk = risk or ["critical", "high"]
    if min_score < 0 or min_score > 1:
        raise err("mcp_trust.min_score must be between 0 and 1")
    nanos = 0
    if max_age:
        nanos = parse_go_duration(max_age)
        if nanos <= 0:
            raise err("mcp_trust.max_age must be > 0")
        max_age = format_go_duration(nanos)
    payload = {
        "Enabled": True,
        "SnapshotPath": snapshot,
        "Action": action,
        "RequiredRiskClasses": risk,
        "MinScore": min_score,
        "MaxAge": max_age,
        "PublisherAllowlist": publishers,
        "RequireRegistry": registry,
    }
    policy = MCPTrustPolicy(
        snapshot=snapshot,
        action=action,
        required_risk_classes=tuple(risk),
        min_score=float(min_score),
        max_age=max_age,
        max_age_seconds=nanos // 1_000_000_000,
        publisher_allowlist=tuple(publishers),
        require_registry=registry,
    )
    return policy, payload


def parse_go_duration(text: str) -> int:
    """Go ``time.ParseDuration`` in nanoseconds; raises the policy error when malformed."""
    from gait.gate.policy_keys import err

    body = text
    sign = 1
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    total = 0.0
    pos = 0
    if not body:
        raise err(f"parse mcp_trust.max_age: invalid duration {text!r}")
    while pos < len(body):
        match = _PART.match(body, pos)
        if not match or match.group(1) in ("", "."):
            raise err(f"parse mcp_trust.max_age: invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * int(total)


def format_go_duration(nanos: int) -> str:
    """Go ``time.Duration.String`` for a positive whole-second-or-finer duration."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                value = f"{nanos / size:.9f}".rstrip("0").rstrip(".")
                return f"{sign}{value}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds, frac = divmod(rest, 1_000_000_000)
    sec = str(seconds)
    if frac:
        sec += "." + f"{frac:09d}".rstrip("0")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec}s"
    if minutes:
        return f"{sign}{minutes}m{sec}s"
    return f"{sign}{sec}s"
