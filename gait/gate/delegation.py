"""Delegation in policies (issue 15, item 2): which delegation chains a rule matches.

``require_delegation``, ``allowed_delegator_identities``, ``allowed_delegate_identities``,
``delegation_scopes`` and ``max_delegation_depth`` are match keys: a rule that sets any of them
matches only an intent carrying a delegation that satisfies all of them. The gate then asks
for delegation tokens proving that chain (``require_delegation``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compile_match(
    match: dict[str, Any], payload: dict[str, Any], name: str
) -> Callable[[Any], bool] | None:
    from gait.gate.policy_keys import err, norm

    require = bool(match.get("require_delegation"))
    delegators = frozenset(norm(match.get("allowed_delegator_identities"), lower=False))
    delegates = frozenset(norm(match.get("allowed_delegate_identities"), lower=False))
    scopes = frozenset(norm(match.get("delegation_scopes"), lower=True))
    depth = match.get("max_delegation_depth")
    if depth is not None and depth < 0:
        raise err(f"max_delegation_depth must be >= 0 for {name}")
    if require:
        payload["RequireDelegation"] = True
    if delegators:
        payload["AllowedDelegatorIdentities"] = sorted(delegators)
    if delegates:
        payload["AllowedDelegateIdentities"] = sorted(delegates)
    if scopes:
        payload["DelegationScopes"] = sorted(scopes)
    if depth is not None:
        payload["MaxDelegationDepth"] = depth
    if not (require or delegators or delegates or scopes or depth is not None):
        return None

    def check(intent: Any) -> bool:
        delegation = intent.doc.get("delegation")
        if delegation is None:
            return False
        chain = delegation.get("chain", [])
        if depth is not None and len(chain) > depth:
            return False
        if delegators and not any(
            link["delegator_identity"].strip() in delegators for link in chain
        ):
            return False
        if delegates and delegation["requester_identity"].strip() not in delegates:
            if not any(link["delegate_identity"].strip() in delegates for link in chain):
                return False
        if scopes and delegation.get("scope_class", "").strip().lower() not in scopes:
            if not any(link.get("scope_class", "").strip().lower() in scopes for link in chain):
                return False
        return True

    return check


def trace_delegation_ref(
    delegation: dict[str, Any], token_ref: str, reason_codes: list[str]
) -> dict[str, Any]:
    """The trace's ``delegation_ref`` object for an intent carrying a delegation, as the
    reference writes it: the valid token ids (else the intent's first token ref), requester,
    chain depth, scope class, the chain's canonical digest and the ``delegation_*`` reasons;
    empty fields omitted."""
    from gait.canon import digest

    ref = token_ref.strip() or next(iter(delegation.get("token_refs") or []), "").strip()
    out: dict[str, Any] = {}
    if ref:
        out["delegation_token_ref"] = ref
    out["requester_identity"] = delegation["requester_identity"]
    if delegation.get("chain"):
        out["delegation_depth"] = len(delegation["chain"])
    if delegation.get("scope_class"):
        out["scope_class"] = delegation["scope_class"]
    out["chain_digest"] = digest(delegation)
    reasons = sorted({r for r in reason_codes if r.startswith("delegation_")})
    if reasons:
        out["reason_codes"] = reasons
    return out
