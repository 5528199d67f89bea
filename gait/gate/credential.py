"""Credential constraints of a rule (issue 15, item 4): just-in-time, brokered credentials.

``block_standing_credentials``, ``allowed_credential_sources|issuers|access_types``,
``max_credential_ttl_seconds`` and ``require_jit_credential`` check the credential evidence an
intent's context declares; a matched rule whose evidence falls short blocks with the
reference's ``credential_*`` reason codes. The broker keys (``require_broker_credential``,
``broker_reference``, ``broker_scopes``) are gate-time requirements carried on the decision.
"""

from __future__ import annotations

from typing import Any

from gait.canon import digest
from gait.gate.vocabulary import CREDENTIAL_ACCESS_TYPES, CREDENTIAL_SOURCES

_STANDING = frozenset({"", "cloud_admin", "inherited", "standing", "static", "unknown"})


def compile_rule(raw: dict[str, Any], payload: dict[str, Any], name: str) -> Any:
    from gait.gate.policy_keys import err, norm

    block_standing = bool(raw.get("block_standing_credentials"))
    sources = norm(raw.get("allowed_credential_sources"), lower=True)
    for source in sources:
        if source not in CREDENTIAL_SOURCES:
            raise err(f"unsupported allowed_credential_source {source!r} for {name}")
    issuers = norm(raw.get("allowed_credential_issuers"), lower=False)
    access_types = norm(raw.get("allowed_credential_access_types"), lower=True)
    for access in access_types:
        if access not in CREDENTIAL_ACCESS_TYPES:
            raise err(f"unsupported allowed_credential_access_type {access!r} for {name}")
    max_ttl = raw.get("max_credential_ttl_seconds") or 0
    if max_ttl < 0:
        raise err(f"max_credential_ttl_seconds must be >= 0 for {name}")
    jit = bool(raw.get("require_jit_credential"))
    for key, value in (
        ("BlockStandingCredentials", block_standing),
        ("AllowedCredentialSources", sources),
        ("AllowedCredentialIssuers", issuers),
        ("AllowedCredentialAccessTypes", access_types),
        ("MaxCredentialTTLSeconds", max_ttl if max_ttl > 0 else 0),
        ("RequireJITCredential", jit),
    ):
        if value:
            payload[key] = value
    if not (block_standing or sources or issuers or access_types or max_ttl > 0 or jit):
        return None

    def constraint(intent: Any, now: Any) -> Any:
        ctx = intent.context
        reasons: set[str] = set()
        violations: set[str] = set()

        def add(code: str) -> None:
            reasons.add(code)
            violations.add(code)

        source = ctx.get("credential_source", "").strip().lower()
        access = ctx.get("credential_access_type", "").strip().lower()
        issuer = ctx.get("credential_issuer", "").strip()
        if not ctx.get("credential_ref", "").strip():
            add("credential_evidence_missing")
        if not source:
            add("credential_source_unknown")
        if not access:
            add("credential_access_type_unknown")
        if jit:
            if not access:
                add("credential_evidence_missing")
            elif access != "jit":
                add("credential_not_jit")
        if block_standing and access in _STANDING:
            add("standing_credential_disallowed")
        if sources and (not source or source not in sources):
            add("credential_source_disallowed")
        if issuers and (not issuer or issuer not in issuers):
            add("credential_issuer_disallowed")
        if access_types and (not access or access not in access_types):
            add("credential_access_type_disallowed")
        if max_ttl > 0:
            ttl = ctx.get("credential_ttl_seconds", 0)
            if ttl <= 0:
                add("credential_evidence_missing")
            elif ttl > max_ttl:
                add("credential_ttl_exceeded")
        binding = ctx.get("credential_target_binding", "").strip()
        if binding and binding != target_binding(intent):
            add("credential_target_binding_mismatch")
        run_id = ctx.get("run_id", "").strip()
        run_binding = ctx.get("credential_run_binding", "").strip()
        if run_id and run_binding and run_binding != run_id:
            add("credential_run_binding_mismatch")
        job_id = ctx.get("job_id", "").strip()
        job_binding = ctx.get("credential_job_binding", "").strip()
        if job_id and job_binding and job_binding != job_id:
            add("credential_job_binding_mismatch")
        if not reasons:
            return None
        return "block", reasons, violations, ""

    return constraint


def target_binding(intent: Any) -> str:
    """H(the intent's normalised targets): what a credential is bound to."""
    return digest(intent.targets)
