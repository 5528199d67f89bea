"""``gait gate eval --explain --json`` (issue 15, item 8): one decision, explained.

The reference's ``gait.gate.policy_explain`` document: the decision is made and recorded as
usual (trace, audits) and the exit code is the decision's; the document says which rules
matched, which fields were missing, what approval, broker and delegation the decision needs,
the credential posture and context-evidence status the gate saw, and where its proofs are.
Plain ``--explain`` (without ``--json``) stays help text, as on every command.
"""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "gait.gate.policy_explain"
_MISSING = {
    "credential_evidence_missing": "credential_evidence",
    "sandbox_metadata_missing": "sandbox",
    "sandbox_evidence_missing": "sandbox_evidence",
    "kill_switch_state_unavailable": "kill_switch_state",
    "broker_credential_missing": "broker_credential",
}


def policy_explain(policy: Any, outcome: Any, producer_version: str) -> dict[str, Any]:
    decision = outcome.decision
    names = {n.strip() for n in outcome.matched_rule.split(",") if n.strip()}
    rules = [
        {"name": r.name, "priority": r.priority, "effect": r.effect}
        for r in policy.rules
        if r.name in names
    ]
    reasons = sorted(set(outcome.reason_codes))
    missing = sorted(
        {
            r.removeprefix("fail_closed_missing_")
            for r in reasons
            if r.startswith("fail_closed_missing_")
        }
        | {_MISSING[r] for r in reasons if r in _MISSING}
    )
    doc: dict[str, Any] = {
        "ok": True,
        "schema_id": SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": outcome.created_at,
        "producer_version": producer_version,
        "verdict": outcome.verdict,
    }
    intent = decision.intent if decision is not None else None
    optional: dict[str, Any] = {
        "matched_rule": outcome.matched_rule,
        "matched_rules": rules,
        "reason_codes": reasons,
        "violations": sorted(set(outcome.violations)),
        "missing_fields": missing,
        "fail_closed_reason_codes": [r for r in reasons if r.startswith("fail_closed_")],
        "approval_required": outcome.verdict == "require_approval",
        "required_approvals": outcome.required_approvals,
        "valid_approvals": outcome.valid_approvals,
    }
    if decision is not None:
        optional.update(
            require_broker_credential=decision.require_broker_credential,
            broker_reference=decision.broker_reference,
            broker_scopes=list(decision.broker_scopes),
            require_delegation=decision.require_delegation,
            required_delegation_scopes=list(decision.delegation_scopes),
        )
    if intent is not None:
        optional["credential_posture"] = credential_posture(intent.context)
        optional["context_evidence_status"] = context_evidence_status(intent.context)
    more = decision.more if decision is not None and decision.more else {}
    optional["freeze_window"] = more.get("freeze_window")
    optional["kill_switch"] = outcome.extra.get("kill_switch")
    optional["sandbox"] = more.get("sandbox")
    refs = {
        "trace_id": outcome.trace["trace_id"] if outcome.trace else "",
        "trace_path": outcome.trace_path,
        "approval_audit_path": outcome.approval_audit_path,
        "delegation_audit_path": outcome.extra_fields.get("delegation_audit_path", ""),
        "credential_evidence_path": outcome.extra_fields.get("credential_evidence_path", ""),
    }
    optional["proof_refs"] = {k: v for k, v in refs.items() if v}
    for name, value in optional.items():
        if value or name == "proof_refs":
            doc[name] = value
    return doc


def credential_posture(ctx: dict[str, Any]) -> dict[str, Any]:
    fields = ("credential_ref", "credential_source", "credential_access_type")
    if not any(ctx.get(f) for f in (*fields, "credential_issuer", "credential_ttl_seconds")):
        return {"present": False}
    out: dict[str, Any] = {"present": bool(ctx.get("credential_ref"))}
    for key, name in (
        ("source", "credential_source"),
        ("access_type", "credential_access_type"),
        ("issuer", "credential_issuer"),
        ("ttl_seconds", "credential_ttl_seconds"),
        ("credential_ref", "credential_ref"),
    ):
        if ctx.get(name):
            out[key] = ctx[name]
    return out


def context_evidence_status(ctx: dict[str, Any]) -> str:
    has_digest = bool(ctx.get("context_set_digest"))
    has_refs = bool(ctx.get("context_refs"))
    if ctx.get("context_evidence_mode") == "required":
        return "verified" if has_digest and has_refs else "missing"
    return "present" if has_digest or has_refs else "not_required"
