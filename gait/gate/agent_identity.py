"""Agent identity constraints of a rule (``require_declared_agent``, ``allowed_agent_ids`` ...).

A matched rule whose intent's declared agent does not satisfy them blocks, with the
reference's ``agent_*`` reason codes.
"""

from __future__ import annotations

import re
from typing import Any

from gait import timefmt

_HEX64 = re.compile(r"^[a-f0-9]{64}$")


def compile_rule(raw: dict[str, Any], payload: dict[str, Any], name: str) -> Any:
    from gait.gate.policy_keys import err, norm

    declared = bool(raw.get("require_declared_agent"))
    allowed = norm(raw.get("allowed_agent_ids"), lower=False)
    denied = norm(raw.get("denied_agent_ids"), lower=False)
    manifest = (raw.get("required_agent_manifest_digest") or "").strip().lower()
    if manifest and not _HEX64.match(manifest):
        raise err(f"required_agent_manifest_digest must be sha256 hex for {name}")
    publishers = norm(raw.get("allowed_agent_manifest_publishers"), lower=True)
    sources = norm(raw.get("allowed_agent_manifest_sources"), lower=True)
    states = norm(raw.get("required_agent_lifecycle_states"), lower=True)
    owner = bool(raw.get("require_agent_owner"))
    unexpired = bool(raw.get("require_unexpired_agent"))
    for key, value in (
        ("RequireDeclaredAgent", declared),
        ("AllowedAgentIDs", allowed),
        ("DeniedAgentIDs", denied),
        ("RequiredAgentManifestDigest", manifest),
        ("AllowedAgentManifestPublishers", publishers),
        ("AllowedAgentManifestSources", sources),
        ("RequiredAgentLifecycleStates", states),
        ("RequireAgentOwner", owner),
        ("RequireUnexpiredAgent", unexpired),
    ):
        if value:
            payload[key] = value
    if not (declared or allowed or denied or manifest or publishers or sources or states):
        if not (owner or unexpired):
            return None

    def constraint(intent: Any, now: Any) -> Any:
        ctx = intent.context
        agent_id = ctx.get("agent_id", "").strip()
        ident = ctx.get("agent_identity")
        reasons: set[str] = set()
        violations: set[str] = set()

        def add(reason: str, violation: str) -> None:
            reasons.add(reason)
            violations.add(violation)

        if declared and (not agent_id or ident is None):
            add("agent_unknown", "agent_identity_missing")
        if denied and agent_id and agent_id in denied:
            add("agent_revoked", "agent_revoked")
        if ident is not None and ident.get("revoked"):
            add("agent_revoked", "agent_revoked")
        if allowed and (not agent_id or agent_id not in allowed):
            add("agent_unknown", "agent_not_declared")
        if owner and (ident is None or not ident.get("owner", "").strip()):
            add("agent_owner_missing", "agent_owner_missing")
        if states:
            have = ident.get("lifecycle_states", []) if ident is not None else []
            if ident is None or not have or any(s not in have for s in states):
                add("agent_lifecycle_state_invalid", "agent_lifecycle_state_invalid")
        if unexpired:
            expires = ident.get("expires_at", timefmt.ZERO_TIME) if ident else timefmt.ZERO_TIME
            if expires == timefmt.ZERO_TIME or not timefmt.to_datetime(expires) > now():
                add("agent_expired", "agent_expired")
        if manifest and (ident is None or ident.get("manifest_digest", "").strip() != manifest):
            add("agent_manifest_mismatch", "agent_manifest_mismatch")
        if publishers and (
            ident is None or ident.get("publisher", "").strip().lower() not in publishers
        ):
            add("agent_manifest_mismatch", "agent_manifest_mismatch")
        if sources and (ident is None or ident.get("source", "").strip().lower() not in sources):
            add("agent_manifest_mismatch", "agent_manifest_mismatch")
        if not reasons:
            return None
        return "block", reasons, violations, ""

    return constraint
