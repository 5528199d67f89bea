"""The policy digest's payload: the normalised policy as the reference's Go structs marshal it.

``policy_digest`` is H(the normalised policy) where the normalised policy is the reference's
``Policy`` struct after normalisation, marshalled by Go's ``encoding/json`` (FORMATS 5.6): its
field names (PascalCase), its field order, and ``omitempty`` on exactly the fields the struct
tags say. A digest computed here must equal the reference's for the same YAML, so these builders
say field by field which keys are always present and which are omitted when empty; the
extension keys of this project (``Environments``, ``ArgConstraints``) are omitted when empty so
that a reference policy digests alike. What a field means is policy.py's business.
"""

from __future__ import annotations

from gait.gocompat import omit_empty

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HINT_FIELDS = {
    "readOnlyHint": "ReadOnlyHint",
    "destructiveHint": "DestructiveHint",
    "idempotentHint": "IdempotentHint",
    "openWorldHint": "OpenWorldHint",
}


def rate_limit(requests: int, window: str, scope: str) -> dict[str, Any]:
    return {"Requests": requests, "Window": window, "Scope": scope}


def match(
    *,
    tool_names: list[str],
    risk_classes: list[str],
    target_kinds: list[str],
    target_values: list[str],
    provenance: list[str],
    identities: list[str],
    prefixes: list[str],
    endpoint_classes: list[str],
    discovery: list[str],
    annotations: dict[str, bool | None],
    data_classes: list[str],
    dest_kinds: list[str],
    dest_values: list[str],
    dest_ops: list[str],
    environments: list[str],
    arg_constraints: list[dict[str, Any]],
) -> dict[str, Any]:
    """``PolicyMatch``: the first seven fields always, the rest omitted when empty."""
    payload: dict[str, Any] = {
        "ToolNames": tool_names,
        "RiskClasses": risk_classes,
        "TargetKinds": target_kinds,
        "TargetValues": target_values,
        "ProvenanceSources": provenance,
        "Identities": identities,
        "WorkspacePrefixes": prefixes,
    }
    hints = {HINT_FIELDS[key]: value for key, value in annotations.items() if value is not None}
    omit_empty(
        payload,
        ("EndpointClasses", endpoint_classes),
        ("DiscoveryMethods", discovery),
        ("ToolAnnotations", hints),
        ("DataClasses", data_classes),
        ("DestinationKinds", dest_kinds),
        ("DestinationValues", dest_values),
        ("DestinationOps", dest_ops),
        ("Environments", environments),
        ("ArgConstraints", arg_constraints),
    )
    return payload


def rule(
    *,
    name: str,
    priority: int,
    effect: str,
    match: dict[str, Any],
    reason_codes: list[str],
    violations: list[str],
    min_approvals: int,
    distinct_approvers: bool,
    rate_limit: dict[str, Any] | None,
    destructive_budget: dict[str, Any] | None,
    dataflow: dict[str, Any] | None,
    endpoint: dict[str, Any] | None,
) -> dict[str, Any]:
    """``PolicyRule``: the first six fields always, the rest omitted when empty."""
    payload: dict[str, Any] = {
        "Name": name,
        "Priority": priority,
        "Effect": effect,
        "Match": match,
        "ReasonCodes": reason_codes,
        "Violations": violations,
    }
    return omit_empty(
        payload,
        ("MinApprovals", min_approvals),
        ("RequireDistinctApprovers", distinct_approvers),
        ("RateLimit", rate_limit),
        ("DestructiveBudget", destructive_budget),
        ("Dataflow", dataflow),
        ("Endpoint", endpoint),
    )


def dataflow(
    tainted: list[str],
    kinds: list[str],
    values: list[str],
    ops: list[str],
    action: str,
    reason: str,
    violation: str,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Enabled": True,
        "TaintedSources": tainted,
        "Action": action,
        "ReasonCode": reason,
        "Violation": violation,
    }
    return omit_empty(
        payload,
        ("DestinationKinds", kinds),
        ("DestinationValues", values),
        ("DestinationOperations", ops),
    )


def endpoint(
    *,
    path_allow: list[str],
    path_deny: list[str],
    domain_allow: list[str],
    domain_deny: list[str],
    egress: list[str],
    action: str,
    destructive_action: str,
    reason: str,
    violation: str,
) -> dict[str, Any]:
    """``EndpointPolicy``: every field, empty or not."""
    return {
        "Enabled": True,
        "PathAllowlist": path_allow,
        "PathDenylist": path_deny,
        "DomainAllowlist": domain_allow,
        "DomainDenylist": domain_deny,
        "EgressClasses": egress,
        "Action": action,
        "DestructiveAction": destructive_action,
        "ReasonCode": reason,
        "Violation": violation,
    }


def fail_closed(
    enabled: bool, risk_classes: list[str], fields: list[str], high_risk_fields: list[str]
) -> dict[str, Any]:
    payload = {"Enabled": enabled, "RiskClasses": risk_classes, "RequiredFields": fields}
    return omit_empty(payload, ("RequiredHighRiskFields", high_risk_fields))


def policy(
    *,
    schema_id: str,
    schema_version: str,
    default_verdict: str,
    fail_closed: dict[str, Any],
    rules: list[dict[str, Any]],
    scripts: dict[str, Any] | None,
    mcp_trust: dict[str, Any] | None,
) -> dict[str, Any]:
    """``Policy``: rules in evaluation order (priority, then name)."""
    payload: dict[str, Any] = {
        "SchemaID": schema_id,
        "SchemaVersion": schema_version,
        "DefaultVerdict": default_verdict,
        "FailClosed": fail_closed,
        "Rules": rules,
    }
    return omit_empty(payload, ("Scripts", scripts), ("MCPTrust", mcp_trust))
