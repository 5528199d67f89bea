"""``gait policy test``: one deterministic decision per intent, no state, trace or approvals.

The result (FORMATS.md 6.3) carries the **unstripped** intent digest, as the reference's does,
while the verdict comes from the stripped intent evaluation sees.
"""

from __future__ import annotations

from typing import Any

from gait.gate.evaluate import evaluate
from gait.gate.intent import normalize_intent
from gait.gate.policy import Policy

POLICYTEST_SCHEMA_ID = "gait.policytest.result"
SUMMARY_LIMIT = 240
EXIT_FOR_VERDICT = {"allow": 0, "dry_run": 0, "block": 3, "require_approval": 4}


def bounded_summary(verdict: str, reasons: list[str], violations: list[str]) -> str:
    """``policy test verdict=... reasons=... violations=...`` cut to 240 characters."""
    raw = (
        f"policy test verdict={verdict} reasons={','.join(reasons) or 'none'} "
        f"violations={','.join(violations) or 'none'}"
    )
    encoded = raw.encode("utf-8")
    if len(encoded) <= SUMMARY_LIMIT:
        return raw
    suffix = f"...(+{len(encoded) - SUMMARY_LIMIT})"
    keep = max(SUMMARY_LIMIT - len(suffix), 0)
    return encoded[:keep].decode("utf-8", errors="ignore") + suffix


def run_policy_test(policy: Policy, intent: Any) -> dict[str, Any]:
    """The policy-test result for one decoded intent; raises ``IntentInvalid`` (exit 6)."""
    normalized = normalize_intent(intent)
    decision = evaluate(policy, normalized)
    result: dict[str, Any] = {
        "schema_id": POLICYTEST_SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": decision.created_at,
        "policy_digest": policy.digest,
        "intent_digest": normalized.digest,
        "verdict": decision.verdict,
        "reason_codes": decision.reason_codes,
    }
    if decision.violations:
        result["violations"] = decision.violations
    if decision.matched_rule:
        result["matched_rule"] = decision.matched_rule
    result["summary"] = bounded_summary(
        decision.verdict, decision.reason_codes, decision.violations
    )
    return result
