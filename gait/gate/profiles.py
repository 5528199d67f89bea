"""Gate profiles (issue 15, item 7): ``standard`` and the production ``oss-prod``.

``oss-prod`` refuses, before any decision, what would let a production gate be lax: simulate,
dev keys, no explicit signing key, a default ``allow``, and high-risk allow/approval rules
without ``require_broker_credential`` (or a brokered policy without a broker). It also makes
the kill-switch state, the approved-script registry and the inventory fail closed for every
risk class. Each refusal is ``E_PROFILE_OSS_PROD`` (exit 6) naming what to change.
"""

from __future__ import annotations

from gait.errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROFILES = ("standard", "oss-prod")


def parse_profile(value: str | None) -> str:
    profile = (value or "").strip().lower() or "standard"
    if profile not in PROFILES:
        raise InvalidInput(
            f"unsupported --profile value {value!r} (expected standard or oss-prod)",
            code="E_USAGE",
        )
    return profile


def _high_risk_action_rules(policy: Any) -> list[dict[str, Any]]:
    return [
        rule
        for rule in policy.normalized["Rules"]
        if rule["Effect"] != "block"
        and any(c in ("high", "critical") for c in rule["Match"]["RiskClasses"])
    ]


def check_oss_prod(
    policy: Any, *, simulate: bool, key_mode: str, explicit_key: bool, broker: str
) -> None:
    """Raise ``E_PROFILE_OSS_PROD`` for the first thing the production profile refuses."""

    def refuse(message: str) -> InvalidInput:
        return InvalidInput(f"oss-prod profile {message}", code="E_PROFILE_OSS_PROD")

    if simulate:
        raise refuse("does not allow --simulate")
    if key_mode != "prod":
        raise refuse("requires --key-mode prod")
    if not explicit_key:
        raise refuse("requires --private-key or --private-key-env")
    if policy.default_verdict == "allow":
        raise refuse(
            "rejects policy default_verdict=allow; use default_verdict: block or require_approval"
        )
    rules = _high_risk_action_rules(policy)
    if any(not rule.get("RequireBrokerCredential") for rule in rules):
        raise refuse(
            "requires high-risk allow/approval rules to set require_broker_credential: true"
        )
    if rules and (broker or "off") == "off":
        raise refuse("requires --credential-broker for high-risk policies")
