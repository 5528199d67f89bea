"""MCP server trust (issue 15, item 6): the policy's ``mcp_trust`` block and its evaluation.

The one trust evaluator. The block is parsed and digested with the policy (``Policy.mcp_trust``):
any configured key turns it on; ``snapshot`` is then required, ``action`` defaults to ``block``
and ``required_risk_classes`` to ``[critical, high]``; ``max_age`` is a Go duration (``24h``,
``90m``), hashed in Go's form. ``evaluate_server_trust`` judges one server against its entry in
that snapshot (``gait.mcp.trust_snapshot``, produced beforehand by a scanner or registry: the
gate never calls out at decision time) as the reference's ``EvaluateServerTrust`` does, with its
statuses and reason codes; ``gait mcp verify``, ``gait mcp proxy`` and ``gait mcp serve`` all
use it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait import timefmt

ACTIONS = frozenset({"block", "require_approval"})


@dataclass(frozen=True)
class MCPTrustPolicy:
    """The policy's ``mcp_trust`` block, compiled once with the policy and digested with it."""

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
    from gait.gocompat import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise err(f"parse mcp_trust.max_age: invalid duration {text!r}") from None


def format_go_duration(nanos: int) -> str:
    """Go ``time.Duration.String``."""
    from gait.gocompat import format_duration

    return format_duration(nanos)


def duration_seconds(text: str) -> float:
    """Seconds in a Go duration (``90m``, ``1h30m``); ``ValueError`` when malformed."""
    from gait.errors import GaitError

    try:
        return parse_go_duration(text.strip()) / 1e9
    except GaitError as exc:
        raise ValueError(str(exc)) from exc


# ---- the trust snapshot and the decision (the reference's core/mcp/trust.go) ----

SNAPSHOT_SCHEMA_ID = "gait.mcp.trust_snapshot"
SNAPSHOT_SCHEMA_VERSION = "1.0.0"
ZERO_TIME = "0001-01-01T00:00:00Z"
_RISK_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_TRUSTED_STATUSES = ("", "trusted", "allow", "pass")
_REGISTRY_FLAGS = ("signature_verified", "publisher_allowed", "pin_present", "pin_verified")


class SnapshotError(Exception):
    """``kind`` is ``unavailable`` (cannot be read) or ``invalid`` (read, but not a snapshot)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _snapshot_text(entry: Mapping[str, Any], name: str, index: int) -> str:
    """A string field as Go's decoder takes it: absent or null is empty, any other type is an
    invalid snapshot."""
    value = entry.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SnapshotError("invalid", f"trust snapshot entry[{index}].{name} is not a string")
    return value.strip()


def load_snapshot(path: str) -> list[dict[str, Any]]:
    """The snapshot's entries, normalised and sorted by server key."""
    if not path.strip():
        raise SnapshotError("invalid", "trust snapshot path is required")
    try:
        raw = Path(path.strip()).read_bytes()
    except OSError as exc:
        raise SnapshotError("unavailable", f"read trust snapshot: {exc}") from exc
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise SnapshotError("invalid", f"parse trust snapshot: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise SnapshotError("invalid", "parse trust snapshot: not an object")
    schema_id = doc.get("schema_id") or SNAPSHOT_SCHEMA_ID
    if schema_id != SNAPSHOT_SCHEMA_ID:
        raise SnapshotError("invalid", f"unsupported trust snapshot schema_id {schema_id!r}")
    version = doc.get("schema_version") or SNAPSHOT_SCHEMA_VERSION
    if version != SNAPSHOT_SCHEMA_VERSION:
        raise SnapshotError("invalid", f"unsupported trust snapshot schema_version {version!r}")
    entries = doc.get("entries") or []
    if not isinstance(entries, list):
        raise SnapshotError("invalid", "parse trust snapshot: entries must be a list")
    seen: dict[str, int] = {}
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise SnapshotError("invalid", f"trust snapshot entry[{index}] is not an object")
        norm = dict(entry)
        for name in ("server_id", "server_name", "evidence_path", "endpoint"):
            norm[name] = _snapshot_text(entry, name, index)
        for name in ("publisher", "source", "status"):
            norm[name] = _snapshot_text(entry, name, index).lower()
        score = entry.get("score", 0)
        if score is None:
            score = 0
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise SnapshotError("invalid", f"trust snapshot entry[{index}].score is not a number")
        norm["score"] = float(score)
        updated = entry.get("updated_at")
        try:
            norm["updated_at"] = timefmt.canonical(updated) if updated else ""
        except Exception as exc:  # noqa: BLE001 - any unparsable time makes the snapshot invalid
            raise SnapshotError(
                "invalid", f"trust snapshot entry[{index}].updated_at: {exc}"
            ) from exc
        registry = entry.get("registry_verification")
        if registry is not None and not (
            isinstance(registry, Mapping)
            and all(isinstance(registry.get(f, False), bool) for f in _REGISTRY_FLAGS)
        ):
            raise SnapshotError(
                "invalid", f"trust snapshot entry[{index}].registry_verification is malformed"
            )
        key = server_key(norm["server_id"], norm["server_name"])
        if not key:
            raise SnapshotError(
                "invalid", f"trust snapshot entry[{index}] requires server_id or server_name"
            )
        if key in seen:
            raise SnapshotError(
                "invalid",
                f"trust snapshot contains duplicate server identity {key!r} at "
                f"entries[{seen[key]}] and entries[{index}]",
            )
        seen[key] = index
        out.append(norm)
    return sorted(out, key=lambda e: server_key(e["server_id"], e["server_name"]))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def server_key(server_id: str, server_name: str) -> str:
    return (server_id.strip() or server_name.strip()).lower()


def _status_for(reasons: list[str]) -> str:
    table = {
        "mcp_trust_snapshot_unavailable": "missing",
        "mcp_trust_identifier_missing": "missing",
        "mcp_trust_server_unknown": "unknown",
        "mcp_trust_publisher_untrusted": "untrusted",
        "mcp_trust_status_untrusted": "untrusted",
        "mcp_trust_registry_unverified": "invalid",
        "mcp_trust_stale": "stale",
        "mcp_trust_below_threshold": "below_threshold",
    }
    for reason in reasons:
        if reason in table:
            return table[reason]
    return "untrusted"


@dataclass
class TrustDecision:
    """The reference's ``MCPTrustDecision``; ``record()`` is its JSON form."""

    required: bool
    threshold: float
    decision_source: str
    max_age_seconds: int
    server_id: str = ""
    server_name: str = ""
    publisher: str = ""
    source: str = ""
    status: str = ""
    score: float = 0.0
    updated_at: str = ""
    enforced: bool = False
    registry_verified: bool = False
    publisher_allowed: bool = False
    reason_codes: list[str] = dataclasses.field(default_factory=list)

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in (
            "server_id",
            "server_name",
            "publisher",
            "source",
            "status",
            "decision_source",
            "score",
            "threshold",
        ):
            value = getattr(self, name)
            if value:
                out[name] = value
        out["updated_at"] = self.updated_at or ZERO_TIME
        for name in (
            "max_age_seconds",
            "required",
            "enforced",
            "registry_verified",
            "publisher_allowed",
        ):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.reason_codes:
            out["reason_codes"] = list(self.reason_codes)
        return out


def evaluate_server_trust(
    policy: MCPTrustPolicy | None, server: Mapping[str, Any] | None, risk_class: str, now: str
) -> TrustDecision | None:
    """Is ``server`` trusted enough for a call of ``risk_class`` under ``policy`` at ``now``?

    None when the policy has no ``mcp_trust`` block (nothing to judge). ``enforced`` says the
    decision binds (the call's risk class is one the block requires); the caller then applies
    ``policy.action``.
    """
    if policy is None:
        return None
    decision = TrustDecision(
        required=risk_class.strip().lower() in policy.required_risk_classes,
        threshold=policy.min_score,
        decision_source=policy.snapshot,
        max_age_seconds=policy.max_age_seconds,
    )
    if server:
        decision.server_id = _text(server.get("server_id"))
        decision.server_name = _text(server.get("server_name"))
        decision.publisher = _text(server.get("publisher")).lower()
        decision.source = _text(server.get("source")).lower()
    key = server_key(decision.server_id, decision.server_name)
    if not key:
        decision.status = "missing"
        decision.reason_codes = ["mcp_trust_identifier_missing"]
        decision.enforced = decision.required
        return decision
    try:
        entries = load_snapshot(policy.snapshot)
    except SnapshotError as exc:
        if exc.kind == "invalid":
            decision.status, decision.reason_codes = "invalid", ["mcp_trust_snapshot_invalid"]
        else:
            decision.status, decision.reason_codes = "missing", ["mcp_trust_snapshot_unavailable"]
        decision.enforced = decision.required
        return decision
    entry = next((e for e in entries if server_key(e["server_id"], e["server_name"]) == key), None)
    if entry is None:
        decision.status = "unknown"
        decision.reason_codes = ["mcp_trust_server_unknown"]
        decision.enforced = decision.required
        return decision
    decision.server_id = entry["server_id"]
    decision.server_name = entry["server_name"]
    decision.publisher = entry["publisher"]
    decision.source = entry["source"]
    decision.score = entry["score"]
    decision.updated_at = entry["updated_at"]
    if entry["evidence_path"]:
        decision.decision_source = entry["evidence_path"]
    reasons: list[str] = []
    if entry["status"] not in _TRUSTED_STATUSES:
        reasons.append("mcp_trust_status_untrusted")
    if policy.publisher_allowlist:
        decision.publisher_allowed = entry["publisher"] in policy.publisher_allowlist
        if not decision.publisher_allowed:
            reasons.append("mcp_trust_publisher_untrusted")
    if policy.require_registry:
        reg = entry.get("registry_verification")
        reg = reg if isinstance(reg, Mapping) else {}
        decision.registry_verified = bool(
            reg.get("signature_verified")
            and reg.get("publisher_allowed")
            and (not reg.get("pin_present") or reg.get("pin_verified"))
        )
        if not decision.registry_verified:
            reasons.append("mcp_trust_registry_unverified")
    if decision.max_age_seconds > 0:
        stale = not entry["updated_at"] or entry["updated_at"] == ZERO_TIME
        if not stale:
            updated, _ = timefmt.parse(entry["updated_at"])
            current, _ = timefmt.parse(now)
            stale = (current - updated).total_seconds() > decision.max_age_seconds
        if stale:
            reasons.append("mcp_trust_stale")
    if policy.min_score > 0 and entry["score"] < policy.min_score:
        reasons.append("mcp_trust_below_threshold")
    if not reasons:
        decision.status = "trusted"
        decision.reason_codes = ["mcp_trust_verified"]
        return decision
    decision.status = _status_for(reasons)
    decision.reason_codes = sorted(set(reasons))
    decision.enforced = decision.required
    return decision


def verify_risk_class(policy: MCPTrustPolicy, explicit: str = "") -> str:
    """The risk class ``gait mcp verify`` checks: the given one, else the strictest required."""
    if explicit.strip():
        return explicit.strip().lower()
    if not policy.required_risk_classes:
        return "high"
    return min(policy.required_risk_classes, key=lambda c: _RISK_RANK.get(c, len(_RISK_RANK) + 1))
