"""The reference's policy keys beyond the core match/rule set (issue 15), compiled once.

Each feature keeps its own module (delegation, credential, context, agent identity, freeze
windows, sandbox, scripts, ``mcp_trust``); this module holds the YAML shapes of their keys, turns
a rule's raw values into one ``RuleExtras`` (or None when the rule uses none of them, so such
rules cost nothing at evaluation) and adds each key to the policy digest payload exactly where
and how the reference hashes it (omitted when empty, Go field names).
"""

from __future__ import annotations

from gait.plain import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

STR, INT, BOOL, STRS, NUM = "str", "int", "bool", "strs", "num"

MATCH_SPEC = {
    "skill_publishers": STRS,
    "skill_sources": STRS,
    "context_tool_names": STRS,
    "context_data_classes": STRS,
    "context_endpoint_classes": STRS,
    "context_autonomy_levels": STRS,
    "require_delegation": BOOL,
    "allowed_delegator_identities": STRS,
    "allowed_delegate_identities": STRS,
    "delegation_scopes": STRS,
    "max_delegation_depth": INT,
}
RULE_SPEC = {
    "require_declared_agent": BOOL,
    "allowed_agent_ids": STRS,
    "denied_agent_ids": STRS,
    "required_agent_manifest_digest": STR,
    "allowed_agent_manifest_publishers": STRS,
    "allowed_agent_manifest_sources": STRS,
    "required_agent_lifecycle_states": STRS,
    "require_agent_owner": BOOL,
    "require_unexpired_agent": BOOL,
    "block_standing_credentials": BOOL,
    "allowed_credential_sources": STRS,
    "allowed_credential_issuers": STRS,
    "allowed_credential_access_types": STRS,
    "max_credential_ttl_seconds": INT,
    "require_jit_credential": BOOL,
    "require_context_evidence": BOOL,
    "required_context_evidence_mode": STR,
    "max_context_age_seconds": INT,
    "require_broker_credential": BOOL,
    "broker_reference": STR,
    "broker_scopes": STRS,
    "freeze_window": {
        "enabled": BOOL,
        "timezone": STR,
        "effect": STR,
        "reason": STR,
        "environments": STRS,
        "risk_classes": STRS,
        "windows": ("list", {"name": STR, "start": STR, "end": STR}),
    },
    "sandbox": {
        "enabled": BOOL,
        "allowed_network_modes": STRS,
        "allowed_writable_path_prefixes": STRS,
        "required_read_only_roots": STRS,
        "allowed_env_exposure_modes": STRS,
        "max_timeout_seconds": INT,
        "allowed_filesystem_isolations": STRS,
        "allowed_user_modes": STRS,
    },
}
TOP_SPEC = {
    "scripts": {"max_steps": INT, "require_approval_above": INT, "block_mixed_risk": BOOL},
    "mcp_trust": {
        "enabled": BOOL,
        "snapshot": STR,
        "action": STR,
        "required_risk_classes": STRS,
        "min_score": NUM,
        "max_age": STR,
        "publisher_allowlist": STRS,
        "require_registry": BOOL,
    },
}
FAIL_CLOSED_SPEC = {"required_high_risk_fields": STRS}
_RULE_KEYS = frozenset(RULE_SPEC)
_MATCH_KEYS = frozenset(MATCH_SPEC)

if TYPE_CHECKING:  # typing is not loaded by a decision (issue 16 item 6)
    Check = Callable[[Any], bool]
    # A constraint: (intent, now) -> None or (effect, reasons, violations, sandbox_status).
    Constraint = Callable[[Any, Callable[[], Any]], Any]


def err(message: str) -> Exception:
    from gait.gate.policy import PolicyInvalid

    return PolicyInvalid(f"policy invalid: {message}", code="E_POLICY_PARSE")


def norm(values: list[str] | None, *, lower: bool) -> list[str]:
    """Go's normalizeStringList[Lower]: trimmed, non-empty, unique, sorted."""
    if not values:
        return []
    out = set()
    for value in values or ():
        text = value.strip()
        if lower:
            text = text.lower()
        if text:
            out.add(text)
    return sorted(out)


class RuleExtras(Frozen):
    """What a rule's extension keys add: match predicates, verdict constraints, gate flags."""

    __slots__ = _fields = (
        "checks",
        "constraints",
        "require_delegation",
        "delegation_scopes",
        "require_broker_credential",
        "broker_reference",
        "broker_scopes",
        "uses_clock",
    )
    checks: tuple[Check, ...]
    constraints: tuple[Constraint, ...]
    require_delegation: bool
    delegation_scopes: tuple[str, ...]
    require_broker_credential: bool
    broker_reference: str
    broker_scopes: tuple[str, ...]
    uses_clock: bool

    def __init__(
        self,
        checks: tuple[Check, ...],
        constraints: tuple[Constraint, ...],
        require_delegation: bool,
        delegation_scopes: tuple[str, ...],
        require_broker_credential: bool,
        broker_reference: str,
        broker_scopes: tuple[str, ...],
        uses_clock: bool = False,
    ) -> None:
        _set = object.__setattr__
        _set(self, "checks", checks)
        _set(self, "constraints", constraints)
        _set(self, "require_delegation", require_delegation)
        _set(self, "delegation_scopes", delegation_scopes)
        _set(self, "require_broker_credential", require_broker_credential)
        _set(self, "broker_reference", broker_reference)
        _set(self, "broker_scopes", broker_scopes)
        _set(self, "uses_clock", uses_clock)


def compile_rule_extras(
    raw: dict[str, Any], match: dict[str, Any], name: str
) -> tuple[RuleExtras | None, dict[str, Any], dict[str, Any]]:
    """(extras or None, additions to the Match payload, additions to the rule payload)."""
    if _RULE_KEYS.isdisjoint(raw) and _MATCH_KEYS.isdisjoint(match):
        return None, {}, {}  # most rules: none of these keys, nothing to compile
    # The features' modules load only for a rule that uses one (not per gate process).
    from gait.gate import agent_identity, context, credential, delegation, freeze_window, sandbox

    match_payload: dict[str, Any] = {}
    rule_payload: dict[str, Any] = {}
    checks: list[Check] = []
    constraints: list[Constraint] = []

    for key, field_name in (
        ("skill_publishers", "SkillPublishers"),
        ("skill_sources", "SkillSources"),
    ):
        values = norm(match.get(key), lower=True)
        if values:
            match_payload[field_name] = values
            checks.append(_skill_check(key[len("skill_") : -1], frozenset(values)))
    checks.extend(context.compile_match(match, match_payload))
    dlg = delegation.compile_match(match, match_payload, name)
    if dlg is not None:
        checks.append(dlg)
    scopes = tuple(norm(match.get("delegation_scopes"), lower=True))
    require_delegation = bool(match.get("require_delegation"))

    for compile_constraint in (
        context.compile_rule,
        agent_identity.compile_rule,
        credential.compile_rule,
        freeze_window.compile_rule,
        sandbox.compile_rule,
    ):
        constraint = compile_constraint(raw, rule_payload, name)
        if constraint is not None:
            constraints.append(constraint)

    require_broker = bool(raw.get("require_broker_credential"))
    broker_reference = (raw.get("broker_reference") or "").strip()
    broker_scopes = norm(raw.get("broker_scopes"), lower=True)
    if require_broker:
        rule_payload["RequireBrokerCredential"] = True
    if broker_reference:
        rule_payload["BrokerReference"] = broker_reference
    if broker_scopes:
        rule_payload["BrokerScopes"] = broker_scopes

    used = (
        checks
        or constraints
        or require_delegation
        or scopes
        or require_broker
        or broker_reference
        or broker_scopes
    )
    if not used:
        return None, match_payload, rule_payload
    extras = RuleExtras(
        checks=tuple(checks),
        constraints=tuple(constraints),
        require_delegation=require_delegation,
        delegation_scopes=scopes,
        require_broker_credential=require_broker,
        broker_reference=broker_reference,
        broker_scopes=tuple(broker_scopes),
        uses_clock=bool(
            raw.get("require_unexpired_agent") or rule_payload.get("FreezeWindow") is not None
        ),
    )
    return extras, match_payload, rule_payload


def _skill_check(field_name: str, allowed: frozenset[str]) -> Check:
    def check(intent: Any) -> bool:
        skill = intent.doc.get("skill_provenance")
        if skill is None:
            return False
        return skill.get(field_name, "").strip().lower() in allowed

    return check


def apply_constraints(
    extras: RuleExtras,
    intent: Any,
    now: Callable[[], Any],
    effect: str,
    reasons: set[str],
    violations: set[str],
    most_restrictive: Callable[[str, str], str],
    decisions: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """Apply the rule's constraints in the reference's order; (effect, sandbox is valid).

    A constraint that reports a decision record (freeze window, sandbox) returns it as a fifth
    element, ``(trace field, record)``; it goes into ``decisions`` when one is given.
    """
    sandbox_valid = False
    for constraint in extras.constraints:
        hit = constraint(intent, now)
        if hit is None:
            continue
        hit_effect, hit_reasons, hit_violations, status = hit[:4]
        if len(hit) > 4 and decisions is not None:
            decisions[hit[4][0]] = hit[4][1]
        if status == "valid":
            sandbox_valid = True
        if hit_effect:
            effect = most_restrictive(effect, hit_effect)
            reasons.update(hit_reasons)
            violations.update(hit_violations)
    return effect, sandbox_valid
