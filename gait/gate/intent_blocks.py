"""The optional blocks of an IntentRequest: ``script``, ``skill_provenance``, ``delegation``
and the context's ``sandbox`` and ``agent_identity``.

Split from gait.gate.intent, which calls these readers only for an intent that has the block,
so that a plain decision does not load them (issue 16 item 6); the rules and every message are
the reference's, as there.
"""

from __future__ import annotations

from gait import gocompat, timefmt
from gait.gate.intent import (
    MAX_SCRIPT_STEPS,
    _normalize_args,
    normalize_provenance,
    normalize_targets,
)
from gait.gate.intent_fields import (
    HEX64,
    array,
    boolean,
    fail,
    integer,
    mapping,
    rfc3339,
    string,
    string_list,
    time_before_eq,
)
from gait.gate.intent_secrets import looks_like_secret
from gait.gate.vocabulary import SANDBOX_ENUMS
from gait.gocompat import omit_empty
from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_RAW_ENV_ASSIGNMENT = lazy(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _normalize_sandbox(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = mapping(raw, "context.sandbox")
    out: dict[str, Any] = {}
    for name, allowed in SANDBOX_ENUMS.items():
        text = string(data.get(name), f"context.sandbox.{name}").strip().lower()
        if text and text not in allowed:
            raise fail(f"context.sandbox.{name} is unsupported: {text}")
        if text:
            out[name] = text
    timeout = integer(data.get("timeout_seconds"), "context.sandbox.timeout_seconds")
    if timeout < 0:
        raise fail("context.sandbox.timeout_seconds must be >= 0")
    if timeout:
        out["timeout_seconds"] = timeout
    for name in ("writable_paths", "read_only_roots"):
        paths = set()
        for index, item in enumerate(array(data.get(name), f"context.sandbox.{name}")):
            text = gocompat.clean_path(string(item, f"context.sandbox.{name}[{index}]").strip())
            if text in ("", "."):
                continue
            if _RAW_ENV_ASSIGNMENT.match(text):
                raise fail(
                    f"context.sandbox.{name}[{index}] must not contain raw environment "
                    "variable assignments"
                )
            paths.add(text)
        if paths:
            out[name] = sorted(paths)
    evidence_ref = string(data.get("evidence_ref"), "context.sandbox.evidence_ref").strip()
    evidence_digest = (
        string(data.get("evidence_digest"), "context.sandbox.evidence_digest").strip().lower()
    )
    if evidence_digest and not HEX64.match(evidence_digest):
        raise fail("context.sandbox.evidence_digest must be sha256 hex")
    if evidence_ref:
        if _RAW_ENV_ASSIGNMENT.match(evidence_ref):
            raise fail(
                "context.sandbox.evidence_ref must not contain raw environment variable assignments"
            )
        safe = evidence_ref.lower().startswith(
            ("ref:", "receipt:", "proof:", "sandbox:", "sha256:")
        )
        if not safe and looks_like_secret(evidence_ref):
            raise fail(
                "context.sandbox.evidence_ref must not contain secret-like sandbox "
                "material; use sandbox evidence refs or digests instead"
            )
        out["evidence_ref"] = evidence_ref
    if evidence_digest:
        out["evidence_digest"] = evidence_digest
    return out or None


def _normalize_agent_identity(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = mapping(raw, "context.agent_identity")
    where = "context.agent_identity"
    manifest = string(data.get("manifest_digest"), f"{where}.manifest_digest").strip().lower()
    if manifest and not HEX64.match(manifest):
        raise fail(f"{where}.manifest_digest must be sha256 hex")
    issued = rfc3339(data.get("issued_at"), f"{where}.issued_at")
    approved = rfc3339(data.get("approved_at"), f"{where}.approved_at")
    expires = rfc3339(data.get("expires_at"), f"{where}.expires_at")
    zero = timefmt.ZERO_TIME
    if issued != zero and approved != zero and timefmt.parse(approved) < timefmt.parse(issued):
        raise fail(f"{where}.approved_at must be on or after issued_at")
    if expires != zero:
        if issued != zero and time_before_eq(expires, issued):
            raise fail(f"{where}.expires_at must be after issued_at")
        if approved != zero and time_before_eq(expires, approved):
            raise fail(f"{where}.expires_at must be after approved_at")
    states = string_list(data.get("lifecycle_states"), f"{where}.lifecycle_states")
    out = omit_empty(
        {},
        ("lifecycle_states", states),
        ("owner", string(data.get("owner"), f"{where}.owner").strip()),
        ("publisher", string(data.get("publisher"), f"{where}.publisher").strip()),
        ("manifest_digest", manifest),
        ("source", string(data.get("source"), f"{where}.source").strip().lower()),
    )
    out["issued_at"] = issued
    out["approved_at"] = approved
    out["expires_at"] = expires
    if boolean(data.get("revoked"), f"{where}.revoked"):
        out["revoked"] = True
    return out


def _normalize_skill_provenance(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = mapping(raw, "skill_provenance")
    name = string(data.get("skill_name"), "skill_provenance.skill_name").strip()
    source = string(data.get("source"), "skill_provenance.source").strip().lower()
    publisher = string(data.get("publisher"), "skill_provenance.publisher").strip()
    if not name or not source or not publisher:
        raise fail("skill provenance requires skill_name, source, and publisher")
    digest_value = string(data.get("digest"), "skill_provenance.digest").strip().lower()
    if digest_value and not HEX64.match(digest_value):
        raise fail(f"invalid skill provenance digest: {digest_value}")
    version = string(data.get("skill_version"), "skill_provenance.skill_version").strip()
    key_id = string(data.get("signature_key_id"), "skill_provenance.signature_key_id").strip()
    return omit_empty(
        {"skill_name": name, "source": source, "publisher": publisher},
        ("skill_version", version),
        ("digest", digest_value),
        ("signature_key_id", key_id),
    )


def _normalize_delegation(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = mapping(raw, "delegation")
    requester = string(data.get("requester_identity"), "delegation.requester_identity").strip()
    if not requester:
        raise fail("delegation.requester_identity is required")
    scope_class = string(data.get("scope_class"), "delegation.scope_class").strip().lower()
    token_refs = string_list(data.get("token_refs"), "delegation.token_refs")
    chain: list[dict[str, Any]] = []
    for index, item in enumerate(array(data.get("chain"), "delegation.chain")):
        where = f"delegation.chain[{index}]"
        link = mapping(item, where)
        delegator = string(link.get("delegator_identity"), f"{where}.delegator_identity").strip()
        delegate = string(link.get("delegate_identity"), f"{where}.delegate_identity").strip()
        if not delegator or not delegate:
            raise fail(f"{where} requires delegator_identity and delegate_identity")
        if index > 0 and chain[index - 1]["delegate_identity"] != delegator:
            raise fail(
                f"{where} delegator_identity must match "
                f"delegation.chain[{index - 1}].delegate_identity"
            )
        issued = rfc3339(link.get("issued_at"), f"{where}.issued_at")
        expires = rfc3339(link.get("expires_at"), f"{where}.expires_at")
        _expires_after_issued(issued, expires, f"{where} expires_at must be after issued_at")
        link_scope = string(link.get("scope_class"), f"{where}.scope_class").strip().lower()
        entry = omit_empty(
            {"delegator_identity": delegator, "delegate_identity": delegate},
            ("scope_class", link_scope),
            ("token_ref", string(link.get("token_ref"), f"{where}.token_ref").strip()),
        )
        entry["issued_at"] = issued
        entry["expires_at"] = expires
        chain.append(entry)
    issued = rfc3339(data.get("issued_at"), "delegation.issued_at")
    expires = rfc3339(data.get("expires_at"), "delegation.expires_at")
    _expires_after_issued(issued, expires, "delegation.expires_at must be after issued_at")
    if chain and chain[-1]["delegate_identity"] != requester:
        raise fail(
            "delegation.chain last delegate_identity must match delegation.requester_identity"
        )
    out = omit_empty(
        {"requester_identity": requester},
        ("scope_class", scope_class),
        ("token_refs", token_refs),
        ("chain", chain),
    )
    out["issued_at"] = issued
    out["expires_at"] = expires
    return out


def _expires_after_issued(issued: str, expires: str, message: str) -> None:
    """Both set (not the zero time) means expiry strictly after issue."""
    zero = timefmt.ZERO_TIME
    if issued != zero and expires != zero and time_before_eq(expires, issued):
        raise fail(message)


def _normalize_script(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = mapping(raw, "script")
    steps_raw = array(data.get("steps"), "script.steps")
    if not steps_raw:
        raise fail("script.steps must not be empty")
    if len(steps_raw) > MAX_SCRIPT_STEPS:
        raise fail(f"script.steps exceeds max supported steps ({MAX_SCRIPT_STEPS})")
    steps = []
    for index, item in enumerate(steps_raw):
        where = f"script.steps[{index}]"
        step = mapping(item, where)
        tool_name = string(step.get("tool_name"), f"{where}.tool_name").strip().lower()
        if not tool_name:
            raise fail(f"{where}.tool_name is required")
        out: dict[str, Any] = {
            "tool_name": tool_name,
            "args": _normalize_args(step.get("args"), f"{where}.args"),
        }
        targets = normalize_targets(step.get("targets"), tool_name, f"{where}.targets")
        if targets:
            out["targets"] = targets
        provenance = normalize_provenance(step.get("arg_provenance"), f"{where}.arg_provenance")
        if provenance:
            out["arg_provenance"] = provenance
        steps.append(out)
    return {"steps": steps}
