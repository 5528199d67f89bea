"""What ``gait gate eval`` was given beyond the intent (issue 15): delegation evidence, the
verified approved-script entries, a tool inventory and a context envelope, bundled so the
engine takes one argument for them and a plain decision pays nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gait.gate.delegation_tokens import DelegationEvidence


@dataclass
class GateInputs:
    delegation: DelegationEvidence | None = None
    approved_scripts: list[Any] = field(default_factory=list)  # verified registry entries
    inventory: dict[str, dict[str, str]] | None = None  # tool name -> wrkr.* context values
    inventory_source: str = ""
    warnings: list[str] = field(default_factory=list)  # features turned off, and why
    broker: Any = None  # gait.gate.broker.BrokerSettings
    # oss-prod: approvals and delegations verify only with an explicitly given key
    explicit_verify_keys: bool = False
    # A verified ``gait.context.envelope`` (gait.contextproof): bound to the intent before
    # evaluation, so evidence rules see it (unverified claims are stripped otherwise).
    context_envelope: dict[str, Any] | None = None


def policy_requires_context_evidence(policy: Any) -> bool:
    """As the reference: context evidence required by fail_closed or by any rule."""
    if "context_evidence" in policy.required_fields:
        return True
    for rule in policy.normalized["Rules"]:
        if rule.get("RequireContextEvidence") or rule.get("MaxContextAgeSeconds"):
            return True
        if rule.get("RequiredContextEvidenceMode") == "required":
            return True
    return False


def pre_approved_decision(intent: Any, policy: Any, entries: list[Any], now: str) -> Any:
    """The approved-script fast path: an allow without evaluation, or None when no entry
    matches (the reason is then kept as ``registry_reason``)."""
    from gait.gate.approved_scripts import match_script, step_risk_classes
    from gait.gate.evaluate import Decision
    from gait.gate.scripts import composite_risk

    match = match_script(intent, policy.digest, entries, now)
    if not match.matched:
        return None, match.reason
    steps = [
        {
            "index": index,
            "tool_name": step["tool_name"],
            "verdict": "allow",
            "reason_codes": [match.reason],
            "violations": [],
            "matched_rule": "",
        }
        for index, step in enumerate(intent.script["steps"])
    ]
    decision = Decision(
        "allow",
        [match.reason],
        [],
        intent.created_at,
        intent,
        step_verdicts=steps,
        more={"composite_risk_class": composite_risk(set(step_risk_classes(intent)))},
    )
    return decision, match.pattern_id
