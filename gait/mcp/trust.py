"""MCP server trust: the ``mcp_trust`` policy block and the local trust snapshot check.

A policy with ``mcp_trust`` says which MCP servers may serve calls of which risk classes, judged
against a snapshot file a scanner or registry produced beforehand (``gait.mcp.trust_snapshot``):
the gate never calls out to a registry at decision time. The decision is the reference's
(``core/mcp/trust.go``): the same statuses, reason codes and enforcement rule, so a snapshot and
a policy give the same answer here and there.

The policy block is parsed here only until the policy compiler knows it: ``load_policy`` then
exposes ``Policy.mcp_trust`` and ``load_gate_policy`` uses that instead.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import digest
from gait.errors import InvalidInput

SNAPSHOT_SCHEMA_ID = "gait.mcp.trust_snapshot"
SNAPSHOT_SCHEMA_VERSION = "1.0.0"
ZERO_TIME = "0001-01-01T00:00:00Z"
_ACTIONS = ("block", "require_approval")
_RISK_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class TrustPolicy:
    """The normalised ``mcp_trust`` block (the reference's ``MCPTrustPolicy``)."""

    snapshot: str
    action: str = "block"
    required_risk_classes: tuple[str, ...] = ("critical", "high")
    min_score: float = 0.0
    max_age: str = ""
    publisher_allowlist: tuple[str, ...] = ()
    require_registry: bool = False

    def digest_payload(self) -> dict[str, Any]:
        """The block as the reference folds it into the policy digest."""
        return {
            "Enabled": True,
            "SnapshotPath": self.snapshot,
            "Action": self.action,
            "RequiredRiskClasses": list(self.required_risk_classes),
            "MinScore": self.min_score,
            "MaxAge": self.max_age,
            "PublisherAllowlist": list(self.publisher_allowlist),
            "RequireRegistry": self.require_registry,
        }

    @property
    def max_age_seconds(self) -> int:
        return int(parse_go_duration(self.max_age)) if self.max_age else 0


def _policy_error(message: str) -> InvalidInput:
    from gait.gate.policy import PolicyInvalid

    return PolicyInvalid(f"policy invalid: {message}", code="E_POLICY_PARSE")


# Go's time.ParseDuration units, in nanoseconds.
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNITS["h"] = 3600 * 10**9
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``90m``, ``1h30m``, ``24h``)."""
    rest = text.strip()
    if rest in ("0", ""):
        return 0.0
    total = 0.0
    pos = 0
    while pos < len(rest):
        match = _DURATION_PART.match(rest, pos)
        if not match:
            raise _policy_error(f"parse mcp_trust.max_age: invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total / 1e9


def format_go_duration(seconds: float) -> str:
    """Go's ``Duration.String()`` for whole-second durations (``24h0m0s``)."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rem = divmod(whole, 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _lower_list(values: Any, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _policy_error(f"{where} must be a list of strings")
    return tuple(sorted({v.strip().lower() for v in values if v.strip()}))


def compile_trust(raw: Any) -> TrustPolicy | None:
    """The ``mcp_trust`` block normalised as the reference does, or None when not configured."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _policy_error("mcp_trust must be a mapping")
    known = {
        "enabled",
        "snapshot",
        "action",
        "required_risk_classes",
        "min_score",
        "max_age",
        "publisher_allowlist",
        "require_registry",
    }
    for key in raw:
        if key not in known:
            raise _policy_error(f"unknown key mcp_trust.{key}")
    snapshot = str(raw.get("snapshot") or "").strip()
    action = str(raw.get("action") or "").strip().lower()
    required = _lower_list(raw.get("required_risk_classes"), "mcp_trust.required_risk_classes")
    score = raw.get("min_score") or 0
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise _policy_error("mcp_trust.min_score must be a number")
    max_age = str(raw.get("max_age") or "").strip()
    allow = _lower_list(raw.get("publisher_allowlist"), "mcp_trust.publisher_allowlist")
    registry = raw.get("require_registry") is True
    configured = (
        raw.get("enabled") is True
        or snapshot
        or action
        or required
        or score > 0
        or max_age
        or allow
        or registry
    )
    if not configured:
        return None
    if not snapshot:
        raise _policy_error("mcp_trust.snapshot is required when mcp_trust is configured")
    action = action or "block"
    if action not in _ACTIONS:
        raise _policy_error(f"unsupported mcp_trust.action {action!r}")
    if not 0 <= score <= 1:
        raise _policy_error("mcp_trust.min_score must be between 0 and 1")
    if max_age:
        seconds = parse_go_duration(max_age)
        if seconds <= 0:
            raise _policy_error("mcp_trust.max_age must be > 0")
        max_age = format_go_duration(seconds)
    return TrustPolicy(
        snapshot=snapshot,
        action=action,
        required_risk_classes=required or ("critical", "high"),
        min_score=float(score),
        max_age=max_age,
        publisher_allowlist=allow,
        require_registry=registry,
    )


def load_gate_policy(path: str | Path) -> tuple[Any, TrustPolicy | None]:
    """The compiled policy and its ``mcp_trust`` block.

    When the policy compiler already understands ``mcp_trust`` its answer is used; otherwise the
    block is taken out here, the rest compiled as usual, and the block folded into the digest
    as the reference folds it, so the policy digest matches the reference's either way.
    """
    from gait.gate.policy import PolicyInvalid, load_policy, load_policy_text

    try:
        policy = load_policy(path)
    except PolicyInvalid as exc:
        if "mcp_trust" not in exc.message:
            raise
        return _load_split(path, load_policy_text)
    own = getattr(policy, "mcp_trust", None)
    if own is None:
        return policy, None
    if isinstance(own, TrustPolicy):
        return policy, own
    fields = {f.name for f in dataclasses.fields(TrustPolicy)}
    values = {k: getattr(own, k) for k in fields if hasattr(own, k)}
    return policy, TrustPolicy(**values) if values.get("snapshot") else None


def _load_split(path: str | Path, load_text: Any) -> tuple[Any, TrustPolicy | None]:
    from gait import yamlload
    from gait.gate.policy import parse_policy_text

    text = Path(path).read_bytes()
    lines = text.decode("utf-8", "replace").splitlines(keepends=True)
    # Cut the top-level ``mcp_trust:`` block out of the text so that the rest goes through the
    # strict parser unchanged (line numbers in its errors stay right for the lines before it).
    kept: list[str] = []
    block: list[str] = []
    inside = False
    for line in lines:
        if re.match(r"^mcp_trust\s*:", line):
            inside = True
            block.append(line)
            continue
        if inside and (not line.strip() or line[:1] in (" ", "\t", "#")):
            block.append(line)
            continue
        inside = False
        kept.append(line)
    raw = yamlload.load("".join(block), lambda message, _line: _policy_error(message)) or {}
    trust = compile_trust(raw.get("mcp_trust"))
    parse_policy_text("".join(kept))
    policy = load_text("".join(kept))
    if trust is None:
        return policy, None
    normalized = dict(policy.normalized)
    normalized["MCPTrust"] = trust.digest_payload()
    return dataclasses.replace(policy, digest=digest(normalized), normalized=normalized), trust


class SnapshotError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def load_snapshot(path: str) -> list[dict[str, Any]]:
    """The snapshot's entries, normalised; ``SnapshotError`` ``unavailable`` or ``invalid``."""
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
    if (doc.get("schema_id") or SNAPSHOT_SCHEMA_ID) != SNAPSHOT_SCHEMA_ID:
        raise SnapshotError("invalid", f"unsupported trust snapshot schema_id {doc['schema_id']!r}")
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
        for name in ("server_id", "server_name", "evidence_path"):
            norm[name] = _text(entry.get(name))
        for name in ("publisher", "source", "status"):
            norm[name] = _text(entry.get(name)).lower()
        score = entry.get("score", 0)
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


def evaluate_server(
    policy: TrustPolicy, server: Mapping[str, Any] | None, risk_class: str, now: str
) -> TrustDecision:
    """Is ``server`` trusted enough for a call of ``risk_class`` under ``policy``, at ``now``?"""
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
    if entry["status"] not in ("", "trusted", "allow", "pass"):
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
        stale = not entry["updated_at"]
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


def verify_risk_class(policy: TrustPolicy, explicit: str = "") -> str:
    """The risk class ``gait mcp verify`` checks: the given one, else the strictest required."""
    if explicit.strip():
        return explicit.strip().lower()
    if not policy.required_risk_classes:
        return "high"
    return min(policy.required_risk_classes, key=lambda c: _RISK_RANK.get(c, len(_RISK_RANK) + 1))
